"""The simulated cameras: clip files, stamps, RTSP streams, motion timing, faults, auth, CLI.

Everything runs against real processes on 127.0.0.1. Timing comes from the cameras' own
clock (`Fleet.frame_due`) and from frames as they arrive; nothing sleeps.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr.clock import SystemClock
from nvr.sim.clips import (
    FPS,
    LOOP_FRAMES,
    MOTION_END_FRAME,
    MOTION_START_FRAME,
    STAMP_BOX,
    ClipSet,
    ClipSpec,
    ensure_clips,
    moving,
    object_box,
    read_stamp,
)
from nvr.sim.fleet import Fleet
from nvr.sim.scene import KEYFRAME_INTERVAL_FRAMES, Scene
from tests.procs import Lines

REPO = Path(__file__).resolve().parent.parent
Gray = npt.NDArray[np.uint8]

# A camera worker's fast open: no probing beyond the SDP (which carries SPS/PPS and
# a=framerate), so opening takes milliseconds instead of about 3.5 s of stream analysis.
FAST_OPEN = {"analyzeduration": "0", "probesize": "32", "fpsprobesize": "0"}


def open_rtsp(url: str, timeout_s: float = 5.0) -> av.container.InputContainer:
    options = {"rtsp_transport": "tcp", "timeout": str(int(timeout_s * 1e6)), **FAST_OPEN}
    container = av.open(url, options=options)
    if not container.streams.video[0].codec_context.width:
        # Under heavy load the fast open sometimes misses the picture size; the camera
        # worker reopens with probing then (nvr/workers/ingest.py), and so does this.
        container.close()
        options |= {"probesize": "1000000", "analyzeduration": "2000000"}
        container = av.open(url, options=options)
    return container


def luma(frame: av.VideoFrame) -> Gray:
    """The Y plane, without its line padding."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, : frame.width]


def frames(container: av.container.InputContainer) -> Iterator[tuple[av.Packet, Gray]]:
    """Each decoded frame's luma with the packet it came from, from the first keyframe on
    (what comes before it, after a join mid-GOP, cannot be decoded)."""
    keyed = False
    for packet in packets(container):
        keyed = keyed or packet.is_keyframe
        if keyed:
            for frame in packet.decode():
                yield packet, luma(frame)


def packets(container: av.container.InputContainer) -> Iterator[av.Packet]:
    """Packets with data, decodable or not (a join mid-GOP starts with P-frames)."""
    return (p for p in container.demux(container.streams.video[0]) if p.size)


def stamps_until(url: str, last: int, timeout_s: float = 10.0) -> dict[int, Gray]:
    """Frames from `url` by stamp, up to and including stamp `last`."""
    seen: dict[int, Gray] = {}
    deadline = SystemClock().monotonic_ns() + int(timeout_s * 1e9)
    with open_rtsp(url) as c:
        for _, gray in frames(c):
            stamp = read_stamp(gray)
            if stamp is not None:
                seen[stamp] = gray.copy()
                if stamp == last:
                    return seen
            assert SystemClock().monotonic_ns() < deadline, f"no stamp {last}: {sorted(seen)}"
    raise AssertionError(f"stream ended before stamp {last}: {sorted(seen)}")


# A frame is decoded here within this many frames of its due time: 0-3 on an idle machine,
# up to 6 measured with both cores busy (a 1080p keyframe decodes slowly then).
MAX_LAG_FRAMES = 8


def lag(fleet: Fleet, i: int, stamp: int) -> int:
    """How many frames behind camera i's clock a frame with this stamp arrived."""
    return (fleet.frame_due(i) - stamp) % LOOP_FRAMES


@pytest.fixture(scope="session")
def clips() -> ClipSet:
    """The clip set, generated once per machine (about 10 s on 2 cores) and cached."""
    return ensure_clips()


@pytest.fixture
def fleet(clips: ClipSet) -> Iterator[Fleet]:
    # Started just before a keyframe, so a test's first decode waits well under a GOP.
    with Fleet(2, clips, start_frame=KEYFRAME_INTERVAL_FRAMES - 5) as f:
        yield f


# -- clips and stamps ---------------------------------------------------------------------


def test_clip_files(clips: ClipSet) -> None:
    for path, size in ((clips.sub, (640, 360)), (clips.main, (1920, 1080))):
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            ctx = stream.codec_context
            assert (ctx.name, ctx.profile, (ctx.width, ctx.height)) == ("h264", "Main", size)
            keyframes, count, decoded = [], 0, 0
            for packet in c.demux(stream):
                if packet.size:
                    keyframes += [count] if packet.is_keyframe else []
                    count += 1
                if path == clips.sub or count <= 2 * KEYFRAME_INTERVAL_FRAMES:
                    for frame in packet.decode():  # every sub frame, the start of main
                        assert read_stamp(luma(frame)) == decoded
                        decoded += 1
            assert ctx.has_b_frames == 0
        assert count == LOOP_FRAMES
        assert keyframes == list(range(0, LOOP_FRAMES, KEYFRAME_INTERVAL_FRAMES))
    main_bps = clips.main.stat().st_size * 8 / (LOOP_FRAMES / FPS)
    assert 3.6e6 < main_bps < 4.4e6


@functools.cache
def small_scene() -> Scene:
    return Scene(640, 360, seed=1, noise=2)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 3 * LOOP_FRAMES))
def test_stamp_round_trip(n: int) -> None:
    scene = small_scene()
    gray = scene.render(n)[: 640 * 360].reshape(360, 640)
    assert read_stamp(gray) == n % LOOP_FRAMES
    padded = np.zeros((360, 704), np.uint8)
    padded[:, :640] = gray
    assert read_stamp(padded) == n % LOOP_FRAMES  # a Y plane with line padding


def test_unreadable_stamps_are_none() -> None:
    """Guards against reading a number from a frame that carries none, or a damaged one."""
    gray = small_scene().render(77)[: 640 * 360].reshape(360, 640).copy()
    assert read_stamp(gray) == 77
    assert read_stamp(np.full((360, 640), 128, np.uint8)) is None
    assert read_stamp(np.random.default_rng(0).integers(0, 256, (360, 640), np.uint8)) is None
    assert read_stamp(gray[:300]) is None  # not a multiple of 360 rows
    for cell in (0, 5, 13, 15):  # a sentinel, two data bits and the last sentinel
        damaged = gray.copy()
        row, col = divmod(cell, 8)
        y, x = 16 + 16 * row, 16 + 16 * col
        damaged[y : y + 16, x : x + 16] = 255 - damaged[y : y + 16, x : x + 16]
        assert read_stamp(damaged) is None, cell


def _ensure_in(root: str) -> str:
    spec = ClipSpec(main_size=(640, 360), sub_size=(640, 360), main_kbps=300, preset="ultrafast")
    return str(ensure_clips(spec, Path(root)).main)


def test_concurrent_generation_is_safe(tmp_path: Path) -> None:
    """Guards against two processes generating into each other's files or a reader seeing
    a half-written clip: one generates under the lock, the other waits and reuses it."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        paths = pool.map(_ensure_in, [str(tmp_path)] * 2)
    assert paths[0] == paths[1]
    entries = sorted(p.name for p in tmp_path.iterdir())
    key = Path(paths[0]).parent.name
    assert entries == [key, f"{key}.lock"]  # no temporary directory left behind
    assert Path(paths[0]).stat().st_size > 0


# -- streams ------------------------------------------------------------------------------


def test_main_and_sub_are_h264(fleet: Fleet) -> None:
    for i in range(len(fleet)):
        for path, size in (("main", (1920, 1080)), ("sub", (640, 360))):
            with open_rtsp(fleet.url(i, path)) as c:
                ctx = c.streams.video[0].codec_context
                assert (ctx.name, ctx.width, ctx.height) == ("h264", *size), (i, path)
                assert c.streams.video[0].average_rate == FPS


def test_stamps_follow_the_camera_clock(fleet: Fleet) -> None:
    """Sub and main frames carry consecutive stamps, 1/15 s apart in pts, and arrive when the
    camera's clock says they are due: the two streams show the same frame at the same time."""

    def watch(path: str) -> None:
        stamps, pts = [], []
        with open_rtsp(fleet.url(0, path)) as c:
            for packet, gray in frames(c):
                stamp = read_stamp(gray)
                assert stamp is not None
                assert lag(fleet, 0, stamp) <= MAX_LAG_FRAMES, (path, stamp, fleet.frame_due(0))
                stamps.append(stamp)
                pts.append(packet.pts)
                if len(stamps) == 15:
                    break
            tb = c.streams.video[0].time_base
        assert stamps[0] % KEYFRAME_INTERVAL_FRAMES == 0  # decoding starts at a keyframe
        assert [(b - a) % LOOP_FRAMES for a, b in pairwise(stamps)] == [1] * 14
        steps = {(b - a) * tb for a, b in pairwise(pts) if a is not None}
        assert steps == {Fraction(1, FPS)}  # (the very first packet may have no pts)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(watch, ["sub", "main"]))


def test_late_joiner_starts_mid_gop(fleet: Fleet) -> None:
    """Like a real camera, a client joining a running stream gets whatever frame is on the
    wire, usually not a keyframe, and sees the same timeline as the first client."""
    with open_rtsp(fleet.url(1, "sub")) as first:
        for _ in packets(first):  # each packet arrives as the camera's clock ticks
            if fleet.frame_due(1) % KEYFRAME_INTERVAL_FRAMES == 10:
                break  # a third of the way into a GOP: the join below is mid-GOP
        with open_rtsp(fleet.url(1, "sub")) as late:
            stream = packets(late)
            assert not next(stream).is_keyframe
            for packet in stream:
                decoded = [read_stamp(luma(f)) for f in packet.decode()]
                if decoded:
                    assert decoded[0] is not None
                    assert decoded[0] % KEYFRAME_INTERVAL_FRAMES == 0
                    assert lag(fleet, 1, decoded[0]) <= MAX_LAG_FRAMES
                    break


def test_motion_only_in_the_window(clips: ClipSet) -> None:
    """Pixels change (outside the stamp, inside the object's boxes) exactly in the scripted
    window. Camera 0 starts 3 s before the motion begins, camera 1 3 s before it ends."""
    starts = [MOTION_START_FRAME - 45, MOTION_END_FRAME - 45]
    with Fleet(2, clips, start_frame=starts) as fl, ThreadPoolExecutor(2) as pool:
        ends = [MOTION_START_FRAME + 10, MOTION_END_FRAME + 10]
        seen = list(pool.map(lambda i: stamps_until(fl.url(i, "sub"), ends[i]), range(2)))
    bx0, by0, bx1, by1 = STAMP_BOX
    for i, by_stamp in enumerate(seen):
        kinds = {True: 0, False: 0}
        for n in sorted(by_stamp):
            if n - 1 not in by_stamp:
                continue
            diff = np.abs(by_stamp[n].astype(np.int16) - by_stamp[n - 1]) > 25
            diff[by0:by1, bx0:bx1] = False
            changed = float(diff.mean())
            kinds[moving(n)] += 1
            if not moving(n):
                assert changed < 5e-4, (i, n, changed)
                continue
            assert changed > 1e-3, (i, n, changed)
            a, b = object_box(n - 1), object_box(n)
            m = 8  # H.264 ringing around the object's edges
            near = diff[max(0, min(a[1], b[1]) - m) : max(a[3], b[3]) + m,
                        max(0, min(a[0], b[0]) - m) : max(a[2], b[2]) + m]  # fmt: skip
            assert near.sum() >= 0.98 * diff.sum(), (i, n, near.sum(), diff.sum())
        assert kinds[True] >= 8 and kinds[False] >= 8, (i, kinds)


# -- faults -------------------------------------------------------------------------------


def test_killed_camera_ends_reads_and_restarts(fleet: Fleet) -> None:
    port = fleet.cameras[1].port
    with open_rtsp(fleet.url(1, "sub")) as c:
        stream = packets(c)
        next(stream)
        fleet.kill(1)
        killed_ns = SystemClock().monotonic_ns()
        with pytest.raises((StopIteration, av.error.FFmpegError)):
            while True:
                next(stream)
        assert SystemClock().monotonic_ns() - killed_ns < 5e9
    with pytest.raises(av.error.ConnectionRefusedError):
        open_rtsp(fleet.url(1, "sub"))
    with open_rtsp(fleet.url(0, "sub")) as c:
        next(packets(c))  # the other camera is fine

    fleet.restart(1)
    assert fleet.cameras[1].port == port
    with open_rtsp(fleet.url(1, "sub")) as c:
        _, gray = next(frames(c))
        stamp = read_stamp(gray)
        assert stamp is not None and lag(fleet, 1, stamp) <= MAX_LAG_FRAMES  # same clock as before


def test_stalled_camera_times_out_and_resumes(fleet: Fleet) -> None:
    """A SIGSTOPped camera keeps its connections open and silent. FFmpeg's RTSP-over-TCP
    read gives up after about twice its `timeout` (measured: 2.2 s for 1 s, 4.2 s for 2 s)."""
    with open_rtsp(fleet.url(0, "sub"), timeout_s=1) as c:
        stream = packets(c)
        next(stream)
        fleet.stall(0)
        stalled_ns = SystemClock().monotonic_ns()
        with pytest.raises(av.error.TimeoutError):
            while True:
                next(stream)
        waited_s = (SystemClock().monotonic_ns() - stalled_ns) / 1e9
        assert 0.9 < waited_s < 3, waited_s
    # Opening a stopped camera: the kernel accepts the connection, nobody answers.
    with pytest.raises(av.error.FFmpegError):
        open_rtsp(fleet.url(0, "sub"), timeout_s=1)

    fleet.resume(0)
    with open_rtsp(fleet.url(0, "sub")) as c:
        _, gray = next(frames(c))
        stamp = read_stamp(gray)
        assert (
            stamp is not None and lag(fleet, 0, stamp) <= MAX_LAG_FRAMES
        )  # skipped ahead, not behind


def test_bad_credentials_are_refused(clips: ClipSet) -> None:
    with Fleet(1, clips, credentials=("admin", "s3cret")) as fl:
        with open_rtsp(fl.url(0, "sub")) as c:
            assert c.streams.video[0].codec_context.width == 640
        for url in (fl.url(0, "sub", credentials=False), fl.url(0, "sub").replace("s3cret", "x")):
            with pytest.raises(av.error.HTTPUnauthorizedError):
                open_rtsp(url)


def test_cli_prints_urls_and_stops_on_ctrl_c(clips: ClipSet) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nvr.sim", "--cameras", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=os.environ | {"VIGIL_CLIP_CACHE": str(clips.main.parent.parent)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = Lines(proc.stdout.fileno(), lambda: "python -m nvr.sim").read(timeout=30)
        main_url, sub_url = line.split(": ", 1)[1].split()
        from nvr.workers.ingest import StreamSource  # reopens when a fast open finds no size

        source = StreamSource(sub_url)
        assert source.info.height == 360
        source.close()
        assert main_url.endswith("/main")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
