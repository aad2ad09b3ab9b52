"""Measures writer-to-reader latency of 640x360 frames through a shared-memory ring, beside a Pipe.

Each case runs a writer (this process) and one reader (a spawned process). The writer
stamps CLOCK_MONOTONIC just before it hands a frame over; the reader stamps it again once
it holds its own copy, so a latency covers the copy in, the wake-up and the copy out.

* shm:  FrameWriter.write -> notice -> FrameReader.wait + latest(out) (a copy).
* pipe: Connection.send_bytes of the same frame, flattened -> recv_bytes (the peer).

At 15 fps the writer sleeps between frames, like a camera; flat out it never pauses, and
the ring reader sees only the frames it has time for (the pipe applies back-pressure).
Also measures the cost of first writes into a fresh ring, with and without pre-faulting.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import uuid
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from nvr.shm import FrameReader, FrameWriter, Geometry, PixelFormat, ring_name

W, H = 640, 360
STOP_PTS = -1
TARGET_P99_MS = 5.0
SPAWN = mp.get_context("spawn")


@dataclass(frozen=True)
class Result:
    fmt: str
    rate: str
    transport: str
    written: int
    latencies_ns: array[int]
    writer_cpu_us: float  # per frame written
    reader_cpu_us: float  # per frame received

    def pct(self, q: float) -> float:
        return float(np.percentile(np.frombuffer(self.latencies_ns, np.int64), q)) / 1e6


def shm_reader(name: str, conn: Connection) -> None:
    with FrameReader.open(name) as r:
        out = np.empty(r.geometry.shape, np.uint8)
        latencies = array("q")
        conn.send("ready")
        cpu0 = time.process_time()
        while r.wait(10.0):
            f = r.latest(out)
            now = time.monotonic_ns()
            if f is None:
                continue
            if f.pts == STOP_PTS:
                break
            latencies.append(now - f.wall_ns)
        conn.send((latencies, time.process_time() - cpu0))


def pipe_reader(rx: Connection, conn: Connection) -> None:
    latencies = array("q")
    conn.send("ready")
    cpu0 = time.process_time()
    while True:
        data = rx.recv_bytes()
        now = time.monotonic_ns()
        if len(data) == 8:
            break
        latencies.append(now - int.from_bytes(data[:8], "little"))
    conn.send((latencies, time.process_time() - cpu0))


def frames(g: Geometry) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, g.shape, dtype=np.uint8) for _ in range(8)]


def run_case(fmt: PixelFormat, fps: float | None, seconds: float, transport: str) -> Result:
    g = Geometry(W, H, fmt)
    pool = frames(g)
    ctl, child_ctl = SPAWN.Pipe()
    period = 1.0 / fps if fps else 0.0
    writer: FrameWriter | None = None
    if transport == "shm":
        name = ring_name(f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}", "sub")
        writer = FrameWriter.create(name, W, H, fmt)
        proc = SPAWN.Process(target=shm_reader, args=(name, child_ctl))
    else:
        rx, tx = SPAWN.Pipe(duplex=False)
        proc = SPAWN.Process(target=pipe_reader, args=(rx, child_ctl))
    proc.start()
    child_ctl.close()
    assert ctl.recv() == "ready"
    written = 0
    cpu0 = time.process_time()
    start = time.monotonic()
    next_at = start
    while time.monotonic() - start < seconds:
        if period:
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))
        pixels = pool[written % len(pool)]
        if writer is not None:
            writer.write(pixels, wall_ns=time.monotonic_ns(), pts=written)
        else:
            flat = pixels.reshape(-1)  # a 2-D array through send_bytes breaks its framing
            flat[:8] = np.frombuffer(time.monotonic_ns().to_bytes(8, "little"), np.uint8)
            tx.send_bytes(flat.data)
        written += 1
    writer_cpu = time.process_time() - cpu0
    if writer is not None:
        writer.write(pool[0], wall_ns=0, pts=STOP_PTS)
    else:
        tx.send_bytes(b"\0" * 8)
    latencies, reader_cpu = ctl.recv()
    proc.join(10)
    if writer is not None:
        writer.close()
    rate = f"{fps:g} fps" if fps else "flat out"
    return Result(
        fmt.name.lower(),
        rate,
        transport,
        written,
        latencies,
        writer_cpu / written * 1e6,
        reader_cpu / max(1, len(latencies)) * 1e6,
    )


def first_writes(fmt: PixelFormat, prefault: bool, slots: int = 4) -> tuple[float, float]:
    """Mean µs per write for the first lap of a fresh ring, then for a later lap."""
    g = Geometry(W, H, fmt)
    pool = frames(g)
    name = ring_name(f"bench-{os.getpid()}-{uuid.uuid4().hex[:6]}", "fresh")
    with FrameWriter.create(name, W, H, fmt, slots, prefault=prefault) as w:
        laps = []
        for _ in range(3):
            t0 = time.perf_counter_ns()
            for i in range(slots):
                w.write(pool[i], wall_ns=0)
            laps.append((time.perf_counter_ns() - t0) / slots / 1e3)
    return laps[0], laps[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each 15 fps case")
    ap.add_argument("--burst-seconds", type=float, default=3.0, help="length of each flat-out case")
    ap.add_argument(
        "--formats", default="gray8,i420", help="comma-separated: gray8,bgr24,i420,nv12"
    )
    args = ap.parse_args()
    fmts = [PixelFormat.parse(f) for f in args.formats.split(",")]
    print(
        f"bench_shm  {time.strftime('%Y-%m-%d %H:%M')}  cores={os.cpu_count()}  "
        f"python={sys.version.split()[0]}  numpy={np.__version__}  frame={W}x{H}"
    )
    print(
        f"15 fps cases {args.seconds:g} s, flat-out cases {args.burst_seconds:g} s; one reader process"
    )
    print()
    print(
        f"{'format':<7}{'rate':<10}{'via':<6}{'written':>8}{'read':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'wr µs/f':>9}{'rd µs/f':>9}"
    )
    results = []
    for fmt in fmts:
        for fps, seconds in ((15.0, args.seconds), (None, args.burst_seconds)):
            for transport in ("shm", "pipe"):
                r = run_case(fmt, fps, seconds, transport)
                results.append(r)
                print(
                    f"{r.fmt:<7}{r.rate:<10}{r.transport:<6}{r.written:>8}{len(r.latencies_ns):>7}"
                    f"{r.pct(50):>8.3f}{r.pct(99):>8.3f}{r.pct(100):>8.3f}"
                    f"{r.writer_cpu_us:>9.0f}{r.reader_cpu_us:>9.0f}"
                )
    print()
    print("first lap of a fresh 4-slot ring vs the third lap, µs per write:")
    for fmt in fmts:
        for prefault in (False, True):
            first, later = first_writes(fmt, prefault)
            print(
                f"  {fmt.name.lower():<6} prefault={'yes' if prefault else 'no ':<4}"
                f"first {first:>7.0f}   later {later:>6.0f}   ({first / later:.1f}x)"
            )
    print()
    worst = max(r.pct(99) for r in results if r.transport == "shm")
    verdict = "PASS" if worst <= TARGET_P99_MS else "FAIL"
    print(f"shm p99, worst case: {worst:.3f} ms (target <= {TARGET_P99_MS:g} ms)  {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
