"""A camera worker against simulated RTSP cameras: continuous and motion recording,
camera killed, restarted and stalled; every change of state an event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av

from nvr.clock import SystemClock
from nvr.domain.codec import decode_payload
from nvr.domain.config import CameraSettings
from nvr.domain.events import (
    Event,
    MotionEnded,
    MotionStarted,
    RecordingStarted,
    RecordingStopped,
    SegmentClosed,
    SegmentOpened,
    StreamLost,
    StreamRecovered,
)
from nvr.domain.values import Zone
from nvr.eventlog.memory import MemoryLog
from nvr.eventlog.port import CaughtUp, subscribe
from nvr.sim.fleet import Fleet
from nvr.sim.scene import (
    BASE_HEIGHT,
    FPS,
    LOOP_FRAMES,
    MOTION_END_FRAME,
    MOTION_START_FRAME,
    STAMP_BOX,
)
from nvr.workers.camera import CameraWorker
from nvr.workers.emitter import Emitter
from nvr.workers.segments import sha256_of

S = 1_000_000_000
STAMP_MASK = Zone(
    name="frame stamp",
    points=((0, 0), ((STAMP_BOX[2] + 8) / 640, 0), ((STAMP_BOX[2] + 8) / 640, (STAMP_BOX[3] + 8) / BASE_HEIGHT),
            (0, (STAMP_BOX[3] + 8) / BASE_HEIGHT)),
)  # fmt: skip


class Watch:
    """Reads a worker's events in order, waiting on the log (no sleeps)."""

    def __init__(self, log: MemoryLog) -> None:
        self.log = log
        self.items: Iterator[object] = subscribe(log, 1, idle_timeout=0.2)
        self.seen: list[Event] = []

    def next(self, want: Callable[[Event], bool], timeout: float) -> tuple[Event, float]:
        """The next event matching `want` and the monotonic time it was seen."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            item = next(self.items, None)
            if item is None:  # idle timeout: subscribe again from where we are
                self.items = subscribe(self.log, len(self.seen) + 1, idle_timeout=0.2)
                continue
            if isinstance(item, CaughtUp):
                continue
            event = decode_payload(item)  # type: ignore[arg-type]
            self.seen.append(event)
            if want(event):
                return event, time.monotonic()
        raise AssertionError(
            f"no matching event within {timeout} s; saw {[type(e).__name__ for e in self.seen]}"
        )


def start_worker(
    fleet: Fleet, root: Path, **settings: object
) -> tuple[CameraWorker, MemoryLog, Emitter, Watch]:
    log = MemoryLog()
    emitter = Emitter(log, actor="worker/cam")
    config = CameraSettings(
        name="cam", main_url=fleet.url(0, "main", credentials=False), sub_url=fleet.url(0, "sub", credentials=False),
        motion_masks=(STAMP_MASK,), **settings,  # type: ignore[arg-type]
    )  # fmt: skip
    worker = CameraWorker(
        "cam", config, root=root, emitter=emitter, segment_s=2, read_timeout_s=2, live_view=False
    )
    worker.start()
    watch = Watch(log)
    return worker, log, emitter, watch


def test_continuous_recording_through_a_camera_restart(fleet: Fleet, tmp_path: Path) -> None:
    worker, log, emitter, watch = start_worker(fleet, tmp_path, recording_mode="continuous")
    try:
        watch.next(lambda e: isinstance(e, SegmentClosed), 10)
        fleet.kill(0)
        killed = time.monotonic()
        lost, t_lost = watch.next(lambda e: isinstance(e, StreamLost) and e.stream == "main", 10)
        assert t_lost - killed < 5 and isinstance(lost, StreamLost) and lost.reason == "eof"
        watch.next(lambda e: isinstance(e, RecordingStopped), 5)
        fleet.restart(0)
        restarted = time.monotonic()
        _, t_rec = watch.next(lambda e: isinstance(e, RecordingStarted), 10)
        assert t_rec - restarted < 2.0  # recording again within 2 s
        _, t_seg = watch.next(lambda e: isinstance(e, SegmentOpened), 10)
        assert t_seg - restarted < 4.5  # the first keyframe (2 s GOP) starts the segment
        recovered = [e for e in watch.seen if isinstance(e, StreamRecovered) and e.stream == "main"]
        assert recovered and recovered[0].outage_ns > 0
    finally:
        worker.stop()
        emitter.flush(10)
    events = [decode_payload(e) for e in log.read()]
    closed = [e for e in events if isinstance(e, SegmentClosed)]
    recording_events = [e for e in events if isinstance(e, RecordingStarted | RecordingStopped)]
    assert len(closed) >= 2
    assert isinstance(recording_events[-1], RecordingStopped) and recording_events[-1].reason == "shutdown"
    for seg in closed:
        path = tmp_path / seg.path
        assert seg.sha256 == sha256_of(path)
        with av.open(str(path)) as c:
            frames = sum(1 for _ in c.decode(video=0))
        assert abs(frames - (seg.end_ns - seg.start_ns) * FPS / S) <= 2
    # Nothing is left open: every start has its stop, every opened segment closed.
    assert sum(isinstance(e, RecordingStarted) for e in events) == sum(
        isinstance(e, RecordingStopped) for e in events
    )
    assert sum(isinstance(e, SegmentOpened) for e in events) == len(closed)


def test_stalled_camera_is_detected_and_recovers(fleet: Fleet, tmp_path: Path) -> None:
    worker, _, emitter, watch = start_worker(fleet, tmp_path, recording_mode="continuous")
    try:
        watch.next(lambda e: isinstance(e, SegmentOpened), 10)
        fleet.stall(0)
        stalled = time.monotonic()
        lost, t_lost = watch.next(lambda e: isinstance(e, StreamLost) and e.stream == "main", 15)
        assert isinstance(lost, StreamLost) and lost.reason == "timeout"
        assert t_lost - stalled < 2 * 2 + 1.5  # within the read timeout (FFmpeg may wait it twice)
        fleet.resume(0)
        watch.next(lambda e: isinstance(e, StreamRecovered) and e.stream == "main", 10)
    finally:
        worker.stop()
        emitter.flush(10)


def test_motion_recording_follows_the_scripted_motion(fleet: Fleet, tmp_path: Path) -> None:
    """The simulated object moves in seconds 10-20 of each 30 s loop."""
    clock = SystemClock()
    wall_minus_mono = clock.now_ns() - clock.monotonic_ns()
    epoch_wall = fleet.cameras[0].epoch_ns + wall_minus_mono
    worker, _, emitter, watch = start_worker(
        fleet,
        tmp_path,
        recording_mode="motion",
        pre_roll_s=3.0,
        post_roll_s=2.0,
        motion_fps=10.0,
        motion_threshold=0.1,
    )
    try:
        started, _ = watch.next(lambda e: isinstance(e, MotionStarted), 40)
        assert isinstance(started, MotionStarted)
        frame = (started.at_ns - epoch_wall) * FPS // S
        loop_start = frame - frame % LOOP_FRAMES
        expected = epoch_wall + (loop_start + MOTION_START_FRAME) * S // FPS
        assert abs(started.at_ns - expected) < S // 2 + S // 5, (
            "motion seen within 0.5 s (+ transport)"
        )
        rec, _ = watch.next(lambda e: isinstance(e, RecordingStarted), 5)
        assert isinstance(rec, RecordingStarted) and rec.recording_type == "motion"
        assert rec.started_ns <= started.at_ns - 2 * S  # the pre-roll is in the recording
        ended, _ = watch.next(lambda e: isinstance(e, MotionEnded), 20)
        assert isinstance(ended, MotionEnded)
        expected_end = epoch_wall + (loop_start + MOTION_END_FRAME) * S // FPS
        assert abs(ended.at_ns - expected_end) < S // 2 + S // 5
        stopped, _ = watch.next(lambda e: isinstance(e, RecordingStopped), 10)
        assert isinstance(stopped, RecordingStopped)
        assert stopped.stopped_ns - ended.at_ns <= 2 * S + S // 2  # post-roll + 0.5 s
    finally:
        worker.stop()
        emitter.flush(10)


def test_live_frames_in_shared_memory_and_main_stream_on_demand(fleet: Fleet, tmp_path: Path) -> None:
    from nvr.shm import FrameReader, RingUnavailable, ring_name

    log = MemoryLog()
    emitter = Emitter(log, actor="worker/live")
    config = CameraSettings(name="live", main_url=fleet.url(0, "main", credentials=False),
                            sub_url=fleet.url(0, "sub", credentials=False), recording_mode="off")  # fmt: skip
    worker = CameraWorker("live", config, root=tmp_path, emitter=emitter, segment_s=2, read_timeout_s=2)
    worker.start()
    clock = SystemClock()

    def open_ring(kind: str) -> FrameReader:
        end = time.monotonic() + 10
        while True:
            try:
                return FrameReader.open(ring_name("live", kind))
            except RingUnavailable:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)  # the ring appears when the stream connects: nothing to wait on

    try:
        sub = open_ring("sub")
        assert sub.wait(5) and (frame := sub.latest()) is not None
        assert (frame.geometry.width, frame.geometry.height) == (640, 360)
        main = open_ring("main")
        assert not main.wait(1.0), "nobody asked: the main stream is not decoded"
        assert worker.streams["main"].decoded == 0
        main.want(clock.monotonic_ns() + 4 * S)  # the full view asks for 4 s
        assert main.wait(5) and (big := main.latest()) is not None
        assert (big.geometry.width, big.geometry.height) == (1920, 1080)
        decoded = worker.streams["main"].decoded
        assert decoded > 0
        sub.close()
        main.close()
    finally:
        worker.stop()
        emitter.flush(10)
