"""Remux CPU per video-second: `SegmentWriter` beside `ffmpeg -c copy`, same stream, same run.

    .venv/bin/python bench/bench_remux.py [--loops 10] [--reps 3] [--profile]

The source is the simulator's main clip (1080p, ~4 Mbit/s, 15 fps, 2 s GOP, 30 s loop)
copied `--loops` times into an MP4 with timestamps (raw Annex-B has none). Cases, each
reading that file and writing fragmented MP4 into a fresh directory, interleaved over
`--reps` repetitions (median reported):

* demux:   PyAV demux alone (the part of `segments` that is not remux);
* segments: PyAV demux -> `SegmentWriter.write` (10 s segments; each closed segment is
            fsynced, its directory fsynced, and hashed with sha256, as in production);
* ffmpeg:  `ffmpeg -c copy -f mp4 -movflags frag_keyframe+empty_moov+default_base_moof`
           into one file (the peer), and the same with `-flush_packets 1`, which the
           segment writer sets.

CPU is process time (user + system): getrusage(RUSAGE_SELF) around the Python loops,
RUSAGE_CHILDREN around ffmpeg. `--profile` prints a cProfile of one `segments` run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

from nvr.domain.events import Event
from nvr.sim.clips import FPS, ensure_clips
from nvr.workers.segments import SegmentWriter

TARGET_RATIO = 1.0
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


def cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def make_source(h264: Path, loops: int, out: Path) -> float:
    """An MP4 of `loops` copies of the raw clip; returns its duration in seconds."""
    raw = out.with_suffix(".h264")  # Annex-B concatenates byte-wise (each loop opens with an IDR)
    data = h264.read_bytes()
    with open(raw, "wb") as f:
        for _ in range(loops):
            f.write(data)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "h264", "-framerate", str(FPS), "-i", str(raw),
         "-c", "copy", "-f", "mp4", str(out)],
        check=True,
    )  # fmt: skip
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.duration is not None and s.time_base is not None
        return float(s.duration * s.time_base)


def run_demux(src: Path, out: Path) -> int:
    n = 0
    with av.open(str(src)) as inp:
        st = inp.streams.video[0]
        for pkt in inp.demux(st):
            if pkt.size:
                n += 1
    return n


def run_segments(src: Path, out: Path) -> int:
    events: list[Event] = []
    with av.open(str(src)) as inp:
        st = inp.streams.video[0]
        writer = SegmentWriter(out, "bench", st, segment_s=10.0, emit=events.append)
        anchored = False
        for pkt in inp.demux(st):
            if not pkt.size:
                continue
            if not anchored:
                writer.anchor(time.time_ns(), pkt.pts or 0)
                anchored = True
            writer.write(pkt)
        writer.close()
    return sum(type(e).__name__ == "SegmentClosed" for e in events)


def ffmpeg_copy(flush: bool) -> Callable[[Path, Path], int]:
    def run(src: Path, out: Path) -> int:
        extra = ["-flush_packets", "1"] if flush else []
        subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
             "-map", "0:v:0", "-c", "copy", *extra, "-f", "mp4", "-movflags", MOVFLAGS,
             str(out / "out.mp4")],
            check=True,
        )  # fmt: skip
        return 1

    return run


def ffmpeg_startup(src: Path, out: Path) -> int:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
         "-map", "0:v:0", "-c", "copy", "-frames:v", "1", "-f", "mp4", "-movflags", MOVFLAGS,
         str(out / "out.mp4")],
        check=True,
    )  # fmt: skip
    return 1


def measure(fn: Callable[[Path, Path], int], src: Path, who: int) -> tuple[float, float, int]:
    """(CPU s, wall s, files written)."""
    out = Path(tempfile.mkdtemp(prefix="vigil-bench-remux-"))
    try:
        c0, t0 = cpu(who), time.perf_counter()
        files = fn(src, out)
        return cpu(who) - c0, time.perf_counter() - t0, files
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--loops", type=int, default=10, help="copies of the 30 s clip (default 10)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile one segments run")
    a = ap.parse_args()

    clips = ensure_clips()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-remux-src-"))
    try:
        src = work / "main.mp4"
        video_s = make_source(clips.main, a.loops, src)
        mbit = src.stat().st_size * 8 / video_s / 1e6
        print(f"bench_remux: source {video_s:.0f} s of main stream ({mbit:.2f} Mbit/s, "
              f"{FPS} fps), {a.reps} reps, median; CPU = user + system process time")  # fmt: skip
        cases: list[tuple[str, Callable[[Path, Path], int], int]] = [
            ("demux (PyAV, no output)", run_demux, resource.RUSAGE_SELF),
            ("segments (PyAV demux + SegmentWriter)", run_segments, resource.RUSAGE_SELF),
            ("ffmpeg -c copy frag mp4", ffmpeg_copy(False), resource.RUSAGE_CHILDREN),
            ("ffmpeg -c copy frag mp4 -flush_packets 1", ffmpeg_copy(True), resource.RUSAGE_CHILDREN),
            ("ffmpeg startup alone (-frames:v 1)", ffmpeg_startup, resource.RUSAGE_CHILDREN),
        ]  # fmt: skip
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _, _ in cases}
        for _ in range(a.reps):
            for name, fn, who in cases:
                runs[name].append(measure(fn, src, who))
        med: dict[str, float] = {}
        print("\n| case | CPU ms per video-second | CPU s total | wall s | files |")
        print("|---|---|---|---|---|")
        for name, _, _ in cases:
            c = statistics.median(r[0] for r in runs[name])
            w = statistics.median(r[1] for r in runs[name])
            med[name] = c
            print(f"| {name} | {1000 * c / video_s:.2f} | {c:.3f} | {w:.2f} | {runs[name][0][2]} |")
        seg = med["segments (PyAV demux + SegmentWriter)"]
        ff = med["ffmpeg -c copy frag mp4"]
        ff_flush = med["ffmpeg -c copy frag mp4 -flush_packets 1"]
        print(f"\nratio segments / ffmpeg: {seg / ff:.2f}x  (vs ffmpeg -flush_packets 1: "
              f"{seg / ff_flush:.2f}x); target <= {TARGET_RATIO:.1f}x -> "
              f"{'met' if seg / ff <= TARGET_RATIO else 'NOT met'}")  # fmt: skip
        print(f"per camera at 1x real time: segments {100 * seg / video_s:.2f}% of a core, "
              f"ffmpeg {100 * ff / video_s:.2f}%")  # fmt: skip

        if a.profile:
            out = Path(tempfile.mkdtemp(prefix="vigil-bench-remux-prof-"))
            prof = cProfile.Profile()
            try:
                prof.runcall(run_segments, src, out)
            finally:
                shutil.rmtree(out, ignore_errors=True)
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
            print("\ncProfile of one segments run (by own time):")
            print(s.getvalue())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
