"""Cameras per machine: N simulated cameras recorded by N camera workers, beside a bare
PyAV ingest+decode loop of the same streams, measured the same way in the same run.

    .venv/bin/python bench/bench_cameras.py [--cameras 4,8,16,32] [--seconds 60]

For each N: `Fleet(N)` (one GStreamer RTSP server per camera, main 1080p ~4 Mbit/s and
sub 360p 15 fps), then two phases, one after the other, each with one spawned process
per camera (as the supervisor runs `camera_main`):

* nvr:  a `CameraWorker` (continuous recording, 10 s segments, motion at 10 fps on the
        sub stream, live view into shared memory), events into `Emitter(MemoryLog())`
        (`camera_main` itself needs a running appender; this is its body otherwise);
* peer: the bare loop: main stream demuxed only, sub stream demuxed and decoded, one
        thread each, same open options, no recording, no motion, no live view.

Each process connects, warms up, then the parent snapshots /proc/<pid>/stat (utime +
stime) of the camera processes only (not the simulator servers), waits `--seconds`,
and snapshots again. Sub-stream frames are counted by both sides the same way: frames
decoded in the window (vs 15 fps x window), pts gaps (the camera stamps frame n at
epoch + n/15 s, so a gap in pts is a frame that never arrived or was dropped), and the
lag of the newest decoded frame behind the camera's clock, read from its burnt-in stamp.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

FPS = 15
SUB_PTS_STEP = 90_000 // FPS  # RTP clock of H.264 is 90 kHz
TARGET_RATIO = 1.5
SPAWN = mp.get_context("spawn")
TICK = os.sysconf("SC_CLK_TCK")


# -- counting sub frames (both sides) -----------------------------------------------------


class FrameCounter:
    """Frames decoded, pts gaps and the newest frame, from the decoding thread."""

    def __init__(self, epoch_ns: int) -> None:
        self.epoch_ns = epoch_ns
        self.frames = 0
        self.gaps = 0  # frames missing between consecutive decoded frames
        self.last_pts: int | None = None
        self.last_frame: Any = None
        self.last_mono_ns = 0

    def see(self, frame: Any) -> None:
        pts = frame.pts
        if pts is not None and self.last_pts is not None:
            step = round((pts - self.last_pts) / SUB_PTS_STEP)
            if step > 1:
                self.gaps += step - 1
        self.last_pts = pts
        self.last_frame = frame
        self.last_mono_ns = time.monotonic_ns()
        self.frames += 1

    def snapshot(self) -> dict[str, Any]:
        """Counters, and how many frames the newest decoded frame is behind the camera."""
        lag = None
        frame = self.last_frame
        if frame is not None:
            import numpy as np

            from nvr.sim.clips import LOOP_FRAMES, read_stamp

            y = frame.planes[0]
            grey = np.frombuffer(memoryview(y), np.uint8).reshape(frame.height, y.line_size)
            stamp = read_stamp(grey)
            if stamp is not None:
                due = (time.monotonic_ns() - self.epoch_ns) * FPS // 1_000_000_000
                lag = (due - stamp) % LOOP_FRAMES
        return {"frames": self.frames, "gaps": self.gaps, "lag": lag, "t": time.monotonic_ns()}


# -- the two kinds of camera process -----------------------------------------------------


def _control(conn: Connection, counter: FrameCounter, extra: Any) -> None:
    """Answer the parent's 'snap' with counters until it says 'stop'."""
    while True:
        msg = conn.recv()
        if msg == "stop":
            return
        conn.send(counter.snapshot() | extra())


def nvr_main(
    camera_id: str, main_url: str, sub_url: str, root: str, epoch_ns: int, conn: Connection
) -> None:
    from nvr.domain.codec import decode_payload
    from nvr.domain.config import CameraSettings
    from nvr.domain.events import SegmentClosed
    from nvr.eventlog.memory import MemoryLog
    from nvr.workers.camera import CameraWorker
    from nvr.workers.emitter import Emitter

    counter = FrameCounter(epoch_ns)

    class CountingWorker(CameraWorker):
        def _publish(self, frame: Any, now: int) -> None:
            counter.see(frame)
            super()._publish(frame, now)

    settings = CameraSettings(
        name=camera_id, main_url=main_url, sub_url=sub_url,
        recording_mode="continuous", motion_fps=10.0,
    )  # fmt: skip
    log = MemoryLog()
    emitter = Emitter(log, actor=f"worker/camera-{camera_id}")
    worker = CountingWorker(
        camera_id, settings, root=Path(root), emitter=emitter, segment_s=10.0, live_view=True
    )
    worker.start()

    def segments() -> int:
        emitter.flush(10)
        return sum(isinstance(decode_payload(e), SegmentClosed) for e in log.read())

    def extra() -> dict[str, Any]:
        return {
            "main_packets": worker.streams["main"].packets,
            "reconnects": sum(s.reconnects for s in worker.streams.values()),
            "segments": segments(),
        }

    while not (worker.streams["main"].connected and worker.streams["sub"].connected):
        time.sleep(0.05)
    conn.send("ready")
    try:
        _control(conn, counter, extra)
    finally:
        worker.stop()
        emitter.flush(30)
        conn.send({"segments_total": segments(), "events": log.head()})
        emitter.close()


def peer_main(main_url: str, sub_url: str, epoch_ns: int, conn: Connection) -> None:
    import av

    from nvr.workers.ingest import open_options

    counter = FrameCounter(epoch_ns)
    stop = threading.Event()
    main_packets = [0]
    opened = threading.Barrier(3)

    def run(url: str, decode: bool) -> None:
        container = av.open(url, options=open_options(5.0), timeout=5.0)
        stream = container.streams.video[0]
        opened.wait()
        try:
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                if not packet.size:
                    continue
                if decode:
                    for frame in packet.decode():
                        counter.see(frame)
                else:
                    main_packets[0] += 1
        finally:
            container.close()

    threads = [
        threading.Thread(target=run, args=(main_url, False), daemon=True),
        threading.Thread(target=run, args=(sub_url, True), daemon=True),
    ]
    for t in threads:
        t.start()
    opened.wait()
    conn.send("ready")
    try:
        _control(conn, counter, lambda: {"main_packets": main_packets[0], "reconnects": 0,
                                         "segments": 0})  # fmt: skip
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        conn.send({"segments_total": 0, "events": 0})


# -- measuring from outside --------------------------------------------------------------


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB: PSS shares the libraries' pages among the processes mapping them."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


@dataclass
class Phase:
    kind: str
    n: int
    window_s: float = 0.0
    cpu_pct: list[float] = field(default_factory=list)  # per camera process, % of one core
    sim_cpu_pct: float = 0.0  # all simulator servers together
    machine_pct: float = 0.0  # whole machine, % of all cores
    rss_mib: list[float] = field(default_factory=list)
    pss_mib: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    due: list[float] = field(default_factory=list)  # 15 fps x each process's own window
    gaps: list[int] = field(default_factory=list)
    lags: list[int | None] = field(default_factory=list)
    main_packets: list[int] = field(default_factory=list)
    segments: int = 0
    reconnects: int = 0

    @property
    def expected(self) -> float:
        return FPS * self.window_s

    def shortfall(self) -> int:
        """Frames short of the camera's rate, beyond one frame of window-edge slack."""
        return sum(max(0, round(d - f) - 1) for d, f in zip(self.due, self.frames, strict=True))


def run_phase(kind: str, fleet: Any, root: Path, warmup_s: float, seconds: float) -> Phase:
    n = len(fleet)
    tag = uuid.uuid4().hex[:6]
    procs, conns = [], []
    for i in range(n):
        parent, child = SPAWN.Pipe()
        epoch = fleet.cameras[i].epoch_ns
        main_url, sub_url = fleet.url(i, "main"), fleet.url(i, "sub")
        if kind == "nvr":
            args: tuple[Any, ...] = (f"bench{tag}-{i}", main_url, sub_url, str(root), epoch, child)
            target: Any = nvr_main
        else:
            args, target = (main_url, sub_url, epoch, child), peer_main
        p = SPAWN.Process(target=target, args=args, name=f"{kind}-{i}", daemon=True)
        p.start()
        procs.append(p)
        conns.append(parent)
    try:
        for i, c in enumerate(conns):
            if not c.poll(60) or c.recv() != "ready":
                raise RuntimeError(f"{kind} camera {i} did not connect")
        time.sleep(warmup_s)
        pids = [p.pid for p in procs]
        sim_pids = [fleet.pid(i) for i in range(n)]
        for c in conns:
            c.send("snap")
        before = [c.recv() for c in conns]
        t0 = time.monotonic()
        cpu0 = [cpu_ticks(pid) for pid in pids]
        sim0 = sum(cpu_ticks(pid) for pid in sim_pids)
        m0 = machine_busy()
        time.sleep(seconds)
        cpu1 = [cpu_ticks(pid) for pid in pids]
        sim1 = sum(cpu_ticks(pid) for pid in sim_pids)
        m1 = machine_busy()
        window = time.monotonic() - t0
        for c in conns:
            c.send("snap")
        after = [c.recv() for c in conns]
        mem = [memory_kib(pid) for pid in pids]
        ph = Phase(kind, n, window_s=window)
        ph.cpu_pct = [100 * (b - a) / TICK / window for a, b in zip(cpu0, cpu1, strict=True)]
        ph.sim_cpu_pct = 100 * (sim1 - sim0) / TICK / window
        ph.machine_pct = 100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
        ph.rss_mib = [r / 1024 for r, _ in mem]
        ph.pss_mib = [p / 1024 for _, p in mem]
        ph.frames = [a["frames"] - b["frames"] for a, b in zip(after, before, strict=True)]
        ph.due = [FPS * (a["t"] - b["t"]) / 1e9 for a, b in zip(after, before, strict=True)]
        ph.gaps = [a["gaps"] - b["gaps"] for a, b in zip(after, before, strict=True)]
        ph.lags = [a["lag"] for a in after]
        ph.main_packets = [
            a["main_packets"] - b["main_packets"] for a, b in zip(after, before, strict=True)
        ]
        ph.reconnects = sum(a["reconnects"] for a in after)
        for c in conns:
            c.send("stop")
        finals = [c.recv() if c.poll(60) else {"segments_total": 0} for c in conns]
        ph.segments = sum(f["segments_total"] for f in finals)
        return ph
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
                p.join()


def lagmax(ph: Phase) -> int:
    return max((lag for lag in ph.lags if lag is not None), default=0)


def mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else 0.0


def describe(ph: Phase) -> str:
    lags = [lag for lag in ph.lags if lag is not None]
    unread = sum(lag is None for lag in ph.lags)
    return (
        f"  {ph.kind:<4} window {ph.window_s:5.1f} s: CPU/camera mean {mean(ph.cpu_pct):5.2f}% "
        f"(min {min(ph.cpu_pct):.2f}, max {max(ph.cpu_pct):.2f}), simulators {ph.sim_cpu_pct:.1f}%"
        f" of a core, machine {ph.machine_pct:.0f}% of {os.cpu_count()} cores\n"
        f"       RSS/camera {mean(ph.rss_mib):.0f} MiB (PSS {mean(ph.pss_mib):.0f} MiB); "
        f"sub frames decoded {sum(ph.frames)} of {sum(ph.due):.0f} due, pts gaps "
        f"{sum(ph.gaps)}, max lag {max(lags, default=0)} frames"
        + (f" ({unread} stamps unreadable)" if unread else "")
        + f"; main packets {sum(ph.main_packets)} of {ph.expected * ph.n:.0f} due; segments "
        f"{ph.segments}; reconnects {ph.reconnects}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", default="4", help="comma-separated N values (default 4)")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window per phase")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds after connecting")
    ap.add_argument("--keep", action="store_true", help="keep the recorded segments")
    a = ap.parse_args()
    ns = [int(x) for x in a.cameras.split(",")]

    from nvr.sim.clips import ensure_clips
    from nvr.sim.fleet import Fleet

    clips = ensure_clips()
    print(f"bench_cameras: N={ns}, window {a.seconds:.0f} s per phase, warm-up {a.warmup:.0f} s, "
          f"{os.cpu_count()} cores; CPU in % of one core; processes spawned, one per camera")  # fmt: skip
    rows = []
    for n in ns:
        root = Path(tempfile.mkdtemp(prefix=f"vigil-bench-cams{n}-"))
        try:
            with Fleet(n, clips) as fleet:
                print(f"N={n}:", flush=True)
                nvr = run_phase("nvr", fleet, root, a.warmup, a.seconds)
                print(describe(nvr), flush=True)
                peer = run_phase("peer", fleet, root, a.warmup, a.seconds)
                print(describe(peer), flush=True)
            rows.append((nvr, peer))
        finally:
            if not a.keep:
                shutil.rmtree(root, ignore_errors=True)

    print()
    head = ("| N | NVR CPU/cam % | peer CPU/cam % | ratio | NVR RSS/cam MiB (PSS) | "
            "peer RSS/cam MiB (PSS) | sub frames due | NVR dropped (gaps / short / lag) | "
            "peer dropped (gaps / short / lag) | segments | sim CPU % | machine busy % nvr/peer |")  # fmt: skip
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    ok_all = True
    for nvr, peer in rows:
        ratio = mean(nvr.cpu_pct) / max(mean(peer.cpu_pct), 1e-9)
        dropped_nvr = sum(nvr.gaps) + nvr.shortfall()
        ok = ratio <= TARGET_RATIO and dropped_nvr == 0
        ok_all &= ok
        print(
            f"| {nvr.n} | {mean(nvr.cpu_pct):.2f} | {mean(peer.cpu_pct):.2f} | {ratio:.2f}x | "
            f"{mean(nvr.rss_mib):.0f} ({mean(nvr.pss_mib):.0f}) | "
            f"{mean(peer.rss_mib):.0f} ({mean(peer.pss_mib):.0f}) | {sum(nvr.due):.0f} | "
            f"{sum(nvr.gaps)} / {nvr.shortfall()} / {lagmax(nvr)} | "
            f"{sum(peer.gaps)} / {peer.shortfall()} / {lagmax(peer)} | {nvr.segments} | "
            f"{nvr.sim_cpu_pct:.0f} | {nvr.machine_pct:.0f} / {peer.machine_pct:.0f} |"
        )
    print(f"\ntargets: NVR CPU/camera <= {TARGET_RATIO}x peer, no dropped sub frames "
          f"(gaps: pts gaps in decoded frames; short: frames short of 15 fps x window; "
          f"lag: newest decoded frame behind the camera's clock, frames) -> "
          f"{'met' if ok_all else 'NOT met'} for all N")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
