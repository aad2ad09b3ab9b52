"""Measures replay of a 1M-event LMDB log (typed decode, projection rebuild) against a raw typed py-lmdb scan."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lmdb
import machine
import msgspec
import workload

from nvr.domain.codec import decode_payload
from nvr.domain.events import AnyEvent
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.local import LmdbLog
from nvr.eventlog.records import HASH_SIZE
from nvr.projections.runtime import MemoryStore, rebuild
from nvr.projections.summary import LogSummary, SummaryProjection

TARGET_REPLAY_EVENTS_S = 500_000
OTHERS_LIMIT = 0.3  # other load (share of a core) above which a pass is flagged as disturbed


class TypedRecord(msgspec.Struct, kw_only=True, gc=False):
    """The raw peer's view of a stored envelope: every field, the payload decoded in the
    same pass into its typed event (what `read()` + `decode_payload()` produce in two)."""

    p: int
    s: str
    v: int
    id: bytes
    t: int
    ty: str
    sv: int
    a: str
    d: AnyEvent
    c: bytes | None = None
    r: bytes | None = None


def build_log(path: Path, events: int, batch: int) -> tuple[int, float]:
    """Append up to `events` (16 cameras plus user and worker streams) in batches;
    returns the number appended (0 when reusing a full log) and the seconds taken."""
    start = time.perf_counter()
    log = LmdbLog(path)
    try:
        head = log.head()
        for first in range(head, events, batch):
            log.append(workload.mixed_proposals(min(batch, events - first), first=first))
        appended = log.head() - head
    finally:
        log.close()
    return appended, time.perf_counter() - start


def raw_typed_scan(path: Path) -> int:
    """The peer: one read transaction, one cursor, one msgspec decoder, zero-copy values."""
    decode = msgspec.msgpack.Decoder(TypedRecord).decode
    env = lmdb.open(str(path), readonly=True, lock=True, max_dbs=8, subdir=True)
    try:
        db = env.open_db(b"events", create=False)
        n = 0
        with env.begin(db=db, buffers=True) as txn:
            for _key, value in txn.cursor().iternext():
                decode(value[HASH_SIZE:])
                n += 1
    finally:
        env.close()
    return n


def our_replay(path: Path) -> int:
    """Ours: `LmdbStore.read()` (chunked short transactions, position and envelope checks)
    then `decode_payload` (upcasting, type checks) for every event."""
    store = LmdbStore(path)
    try:
        n = 0
        for env in store.read():
            decode_payload(env)
            n += 1
    finally:
        store.close()
    return n


def our_rebuild(path: Path) -> int:
    """A full rebuild of the example projection into an empty in-memory store."""
    store = LmdbStore(path)
    try:
        fresh: MemoryStore[LogSummary] = MemoryStore()
        state = rebuild(store, SummaryProjection(), fresh)  # type: ignore[arg-type]
    finally:
        store.close()
    return state.events


def timed(
    fn: Callable[[Path], int], path: Path, expected: int, gc_mode: str
) -> tuple[float, float]:
    """Events/s of one pass of `fn` over the log, and the load of other processes meanwhile
    (share of one core)."""
    gc.collect()
    if gc_mode == "off":
        gc.disable()
    busy, cpu = machine.busy_s(), time.process_time()
    start = time.perf_counter()
    n = fn(path)
    seconds = time.perf_counter() - start
    others = max(0.0, machine.busy_s() - busy - (time.process_time() - cpu)) / seconds
    gc.enable()
    if n != expected:
        raise RuntimeError(f"{fn.__name__} saw {n} events, the log holds {expected}")
    return n / seconds, others


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--events", type=int, default=1_000_000, help="events in the log (default 1000000)"
    )
    ap.add_argument(
        "--batch", type=int, default=5000, help="events per append while building (default 5000)"
    )
    ap.add_argument("--repeat", type=int, default=3, help="passes of each measurement (default 3)")
    ap.add_argument(
        "--gc",
        choices=("freeze", "on", "off"),
        default="freeze",
        help="freeze: gc.freeze() after building, collector on (default); on: untouched; "
        "off: gc.disable() during each timed pass",
    )
    ap.add_argument(
        "--log", type=Path, default=None, help="build (or reuse) the log here and keep it"
    )
    args = ap.parse_args()

    tmp: Path | None = None
    if args.log is None:
        tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-replay-"))
        path = tmp / "log"
    else:
        path = args.log
    try:
        built, build_s = build_log(path, args.events, args.batch)
        store = LmdbStore(path)
        head, size = store.head(), store.stats()["used_bytes"]
        store.close()
        if head != args.events:
            raise RuntimeError(f"the log at {path} holds {head} events, not {args.events}")
        gc.collect()
        if args.gc in ("freeze", "off"):
            gc.freeze()  # setup garbage and module objects out of every later collection
        probe_before = machine.cpu_probe_ms()
        raw: list[float] = []
        ours: list[float] = []
        proj: list[float] = []
        others: list[float] = []
        for _ in range(args.repeat):  # interleaved, so drift on the machine hits all alike
            for fn, rates in ((raw_typed_scan, raw), (our_replay, ours), (our_rebuild, proj)):
                rate, other = timed(fn, path, head, args.gc)
                rates.append(rate)
                others.append(other)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    gc_note = {
        "freeze": "gc.freeze() after building the log; collector on during the passes",
        "on": "collector untouched",
        "off": "gc.freeze() after building, gc.disable() during each timed pass",
    }[args.gc]
    print(f"bench_replay  {time.strftime('%Y-%m-%d %H:%M')}  cores={os.cpu_count()}  python={sys.version.split()[0]}  "
          f"lmdb={lmdb.__version__}  msgspec={msgspec.__version__}  loadavg={os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"cpu probe (ms for a fixed Python loop, lower is faster): {probe_before:.1f} before the passes, "
          f"{machine.cpu_probe_ms():.1f} after")  # fmt: skip
    setup = f"appended {built:,} in {build_s:.1f} s (setup, not measured)" if built else "reused"
    print(
        f"log: {head:,} events (16 camera streams + user/worker streams), {size / 2**20:.0f} MiB used; {setup}"
    )
    print(
        f"gc: {gc_note}; {args.repeat} interleaved passes each, median (best) shown; "
        "single thread, log in the page cache (warm)"
    )
    print()
    med_raw = statistics.median(raw)
    rows = [
        ("peer: raw typed scan (cursor + 1 msgspec decoder)", raw, ""),
        ("ours: LmdbStore.read() + decode_payload()", ours, f">= {TARGET_REPLAY_EVENTS_S:,}"),
        ("ours: rebuild(SummaryProjection) -> MemoryStore", proj, ""),
    ]
    print(f"{'measure':<52}{'events/s':>11}{'best':>11}{'vs raw':>8}{'target':>12}  result")
    for name, rates, target in rows:
        med = statistics.median(rates)
        result = ""
        if target:
            result = "met" if med >= TARGET_REPLAY_EVENTS_S else "MISSED"
        print(
            f"{name:<52}{med:>11,.0f}{max(rates):>11,.0f}{med / med_raw:>8.2f}{target:>12}  {result}"
        )
    if max(others) > OTHERS_LIMIT:
        print(
            f"warning: other processes used up to {max(others):.0%} of a core during the passes "
            f"(> {OTHERS_LIMIT:.0%}): figures understate this code"
        )
    else:
        print(f"other load during the passes: at most {max(others):.0%} of a core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
