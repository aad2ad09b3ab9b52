"""Measures durable appends through the appender from concurrent producer processes, against raw LMDB durable puts."""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections import deque
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import lmdb
import machine
import workload

from nvr.eventlog.client import AppenderClient
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.records import pos_key
from nvr.eventlog.verify import verify_log

TARGET_EVENTS_S = 50_000
TARGET_P99_MS = 25.0
TARGET_RATIO = 0.5
OTHERS_LIMIT = 0.3  # other load (share of a core) above which a run is flagged as disturbed


@dataclass(frozen=True)
class ProducerResult:
    events: int
    errors: int
    start_ns: int
    end_ns: int
    cpu_s: float
    latencies_ns: bytes  # array("q")


def producer(
    log_dir: str, index: int, count: int, batch: int, window: int, barrier: Barrier
) -> ProducerResult:
    """Append `count` events of camera/c<index> in requests of `batch`, `window` in flight."""
    proposals = workload.camera_proposals(f"c{index}", count)
    requests = [proposals[i : i + batch] for i in range(0, count, batch)]
    client = AppenderClient(log_dir)
    latencies = array("q")
    inflight: deque[tuple[int, int, int]] = deque()  # (request id, size, submitted at)
    appended = errors = 0

    def collect_one() -> None:
        nonlocal appended, errors
        rid, result = client.collect()
        done = time.perf_counter_ns()
        want, size, sent = inflight.popleft()
        if rid != want:
            raise RuntimeError(f"answer {rid} out of order (expected {want})")
        latencies.append(done - sent)
        if isinstance(result, list) and len(result) == size:
            appended += size
        else:
            errors += 1

    barrier.wait()
    cpu = time.process_time()
    start = time.perf_counter_ns()
    for req in requests:
        if len(inflight) >= window:
            collect_one()
        sent = time.perf_counter_ns()
        inflight.append((client.submit(req), len(req), sent))
    while inflight:
        collect_one()
    end = time.perf_counter_ns()
    cpu = time.process_time() - cpu
    client.close()
    return ProducerResult(appended, errors, start, end, cpu, latencies.tobytes())


def _run_producer(args: tuple[str, int, int, int, int, Barrier], out: Any) -> None:
    out.put(producer(*args))


def start_appender(data: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nvr", "--data", str(data), "appender"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if '"ready": true' not in line:
        proc.kill()
        raise RuntimeError(f"appender did not start: {line!r}")
    return proc


def stop_appender(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    if proc.wait(timeout=30) != 0:
        raise RuntimeError(f"appender exited with {proc.returncode}")


def percentile(sorted_values: list[int], q: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return float(sorted_values[rank - 1])


@dataclass(frozen=True)
class OursResult:
    events: int
    errors: int
    seconds: float
    latencies_ns: list[int]
    appender_cpu_s: float
    producers_cpu_s: float
    machine_busy_s: float
    records: list[tuple[bytes, bytes]]
    verify: str

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def run_ours(
    tmp: Path, producers: int, per_producer: int, batch: int, window: int, verify: bool
) -> OursResult:
    data = tmp / "ours"
    appender = start_appender(data)
    log_dir = str(data / "log")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(producers + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_run_producer, args=((log_dir, i, per_producer, batch, window, barrier), out)
        )
        for i in range(producers)
    ]
    try:
        for p in procs:
            p.start()
        barrier.wait(timeout=120)  # every producer has built its events and is ready
        cpu_before, busy_before = machine.process_cpu_s(appender.pid), machine.busy_s()
        results: list[ProducerResult] = []
        while len(results) < producers:
            try:
                results.append(out.get(timeout=1.0))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError("a producer failed (see its traceback above)") from None
        appender_cpu = machine.process_cpu_s(appender.pid) - cpu_before
        busy = machine.busy_s() - busy_before
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        stop_appender(appender)
    start = min(r.start_ns for r in results)
    end = max(r.end_ns for r in results)
    latencies: list[int] = []
    for r in results:
        latencies.extend(array("q", r.latencies_ns))
    store = LmdbStore(log_dir)
    try:
        head = store.head()
        events = sum(r.events for r in results)
        if head != events:
            raise RuntimeError(f"log head is {head}, producers were acknowledged {events} events")
        records = [(pos_key(pos), value) for pos, value in store.read_raw()]
        report = "skipped"
        if verify:
            rep = verify_log(store)
            report = "ok" if rep.ok else f"FAILED at {rep.first_bad_position}: {rep.problem}"
    finally:
        store.close()
    return OursResult(
        events=events,
        errors=sum(r.errors for r in results),
        seconds=(end - start) / 1e9,
        latencies_ns=sorted(latencies),
        appender_cpu_s=appender_cpu,
        producers_cpu_s=sum(r.cpu_s for r in results),
        machine_busy_s=busy,
        records=records,
        verify=report,
    )


def run_raw(tmp: Path, records: list[tuple[bytes, bytes]], per_txn: int) -> float:
    """Events/s putting `records` into a fresh LMDB db, `per_txn` per durable transaction."""
    path = tmp / "raw"
    path.mkdir()
    size = sum(len(k) + len(v) for k, v in records)
    env = lmdb.open(
        str(path),
        map_size=max(4 * size, 64 << 20),
        max_dbs=2,
        sync=True,
        metasync=True,
        writemap=False,
    )
    try:
        db = env.open_db(b"events")
        groups = [records[i : i + per_txn] for i in range(0, len(records), per_txn)]
        start = time.perf_counter_ns()
        for group in groups:
            with env.begin(write=True, db=db) as txn:
                for key, value in group:
                    if not txn.put(key, value, append=True):
                        raise RuntimeError("raw put refused")
        seconds = (time.perf_counter_ns() - start) / 1e9
        with env.begin(db=db) as txn:
            if txn.stat(db)["entries"] != len(records):
                raise RuntimeError("raw peer lost records")
    finally:
        env.close()
    return len(records) / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--producers", type=int, default=8, help="producer processes (default 8)")
    ap.add_argument(
        "--events", type=int, default=240_000, help="total events per run (default 240000)"
    )
    ap.add_argument("--batch", type=int, default=50, help="events per append request (default 50)")
    ap.add_argument(
        "--window", type=int, default=4, help="requests in flight per producer (default 4)"
    )
    ap.add_argument(
        "--raw-batch", type=int, default=100, help="events per raw LMDB transaction (default 100)"
    )
    ap.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs; medians are reported (default 3)",
    )
    ap.add_argument(
        "--dir", type=Path, default=None, help="parent of the temp dirs (default: system temp)"
    )
    ap.add_argument(
        "--no-verify", action="store_true", help="skip verifying the hash chain after each run"
    )
    args = ap.parse_args()
    per_producer = args.events // args.producers

    print(f"bench_append  {time.strftime('%Y-%m-%d %H:%M')}  cores={os.cpu_count()}  python={sys.version.split()[0]}  "
          f"lmdb={lmdb.__version__}  loadavg={os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"workload: {args.producers} producer processes x {per_producer} events (camera mix), {args.batch} events/request, "
          f"window {args.window}; durable: sync+metasync on, no writemap")  # fmt: skip
    print(
        f"peer: raw py-lmdb puts of the same record bytes, {args.raw_batch}/txn, same durable flags, 1 process"
    )
    print()
    print(f"{'run':>3} {'ours ev/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'appender':>9} "
          f"{'us/ev':>6} {'producers':>10} {'others':>7} {'raw ev/s':>9} {'ratio':>6} {'probe':>6}  verify")  # fmt: skip
    runs: list[tuple[OursResult, float]] = []
    disturbed: list[int] = []
    for n in range(1, args.runs + 1):
        probe = machine.cpu_probe_ms()
        tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-append-", dir=args.dir))
        try:
            ours = run_ours(
                tmp, args.producers, per_producer, args.batch, args.window, not args.no_verify
            )
            raw_rate = run_raw(tmp, ours.records, args.raw_batch)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        ours = replace(ours, records=[])  # keep memory flat across runs
        runs.append((ours, raw_rate))
        lat = ours.latencies_ns
        others = max(0.0, ours.machine_busy_s - ours.appender_cpu_s - ours.producers_cpu_s)
        if others / ours.seconds > OTHERS_LIMIT:
            disturbed.append(n)
        print(
            f"{n:>3} {ours.rate:>10,.0f} {percentile(lat, 50) / 1e6:>7.2f} {percentile(lat, 99) / 1e6:>7.2f} "
            f"{lat[-1] / 1e6:>7.2f} {ours.appender_cpu_s / ours.seconds:>9.0%} "
            f"{ours.appender_cpu_s / ours.events * 1e6:>6.1f} {ours.producers_cpu_s / ours.seconds:>10.0%} "
            f"{others / ours.seconds:>7.0%} {raw_rate:>9,.0f} {ours.rate / raw_rate:>6.2f} {probe:>6.1f}  {ours.verify}"
        )

    # Medians over the runs, each measure on its own; the ratio is of the two medians.
    rate = statistics.median(r.rate for r, _ in runs)
    raw_rate = statistics.median(raw for _, raw in runs)
    p50 = statistics.median(percentile(r.latencies_ns, 50) for r, _ in runs) / 1e6
    p99 = statistics.median(percentile(r.latencies_ns, 99) for r, _ in runs) / 1e6
    ratio = rate / raw_rate

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print()
    print(
        f"medians of {len(runs)} runs. CPU during the timed phase, in shares of one core: appender "
        "(and its CPU us per event), the 8 producers together, and everything else on the machine "
        "(others, incl. the kernel's work for them); probe: ms for a fixed Python loop just before "
        "the run (machine speed; lower is faster)"
    )
    print(f"{'measure':<44}{'value':>12}{'target':>12}  result")
    rows = [
        (f"ours: events/s ({args.producers} producers via appender)", f"{rate:,.0f}", f">= {TARGET_EVENTS_S:,}",
         verdict(rate >= TARGET_EVENTS_S)),
        ("ours: ack latency p50 (ms)", f"{p50:.2f}", "", ""),
        ("ours: ack latency p99 (ms)", f"{p99:.2f}", f"<= {TARGET_P99_MS:g}", verdict(p99 <= TARGET_P99_MS)),
        (f"peer: raw LMDB events/s ({args.raw_batch}/txn)", f"{raw_rate:,.0f}", "", ""),
        ("ratio ours/raw", f"{ratio:.2f}", f">= {TARGET_RATIO}", verdict(ratio >= TARGET_RATIO)),
    ]  # fmt: skip
    for name, value, target, result in rows:
        print(f"{name:<44}{value:>12}{target:>12}  {result}")
    if disturbed:
        print(
            f"warning: run(s) {', '.join(map(str, disturbed))} shared the machine with other work "
            f"(others > {OTHERS_LIMIT:.0%} of a core): their figures understate this code"
        )
    ok = all(r.errors == 0 and r.verify in ("ok", "skipped") for r, _ in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
