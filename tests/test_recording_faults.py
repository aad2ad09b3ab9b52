"""Recording against what goes wrong: bad credentials and unreachable cameras (clear,
isolated), a full disk (a clear stop, nothing corrupt, resumes), and the proof that
recording never re-encodes (slice bytes equal the camera's; ffprobe agrees on timing)."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from nvr.domain.codec import decode_payload
from nvr.domain.config import CameraSettings
from nvr.domain.events import Event, RecordingStarted, RecordingStopped, SegmentClosed, StreamLost
from nvr.eventlog.memory import MemoryLog
from nvr.eventlog.port import CaughtUp, subscribe
from nvr.sim.clips import ensure_clips
from nvr.sim.fleet import Fleet
from nvr.workers.camera import CameraWorker
from nvr.workers.emitter import Emitter

S = 1_000_000_000
FRAME_NS = S // 15


def worker(log: MemoryLog, root: Path, camera_id: str, main: str, sub: str = "", **kw: object) -> CameraWorker:
    settings = CameraSettings(name=camera_id, main_url=main, sub_url=sub, recording_mode="continuous")
    emitter = Emitter(log, actor=f"worker/{camera_id}")
    w = CameraWorker(camera_id, settings, root=root, emitter=emitter, segment_s=2, read_timeout_s=2,
                     live_view=False, **kw)  # type: ignore[arg-type]  # fmt: skip
    w.start()
    return w


def until(log: MemoryLog, want: object, timeout: float, after: int = 0) -> tuple[int, Event]:
    """The first event after `after` for which `want(event)` holds (waits on the log)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for item in subscribe(log, after + 1, idle_timeout=0.3):
            if isinstance(item, CaughtUp):
                after = item.head
                if time.monotonic() > end:
                    break
                continue
            event = decode_payload(item)
            if want(event):  # type: ignore[operator]
                return item.position, event
    raise AssertionError(f"no matching event within {timeout} s")


def stop_all(*workers: CameraWorker) -> None:
    for w in workers:
        w.stop()
        w.emitter.flush(10)


def test_bad_credentials_and_unreachable_cameras_are_clear_and_isolated(tmp_path: Path) -> None:
    log = MemoryLog()
    with Fleet(2, credentials=("admin", "s3cret")) as fleet:
        good = worker(log, tmp_path, "good", fleet.url(0, credentials=False), credentials=("admin", "s3cret"))
        wrong = worker(log, tmp_path, "wrong", fleet.url(1, credentials=False), credentials=("admin", "guess"))
        gone = worker(log, tmp_path, "gone", "rtsp://127.0.0.1:9/main")
        try:
            _, auth = until(log, lambda e: isinstance(e, StreamLost) and e.camera_id == "wrong", 10)
            _, refused = until(log, lambda e: isinstance(e, StreamLost) and e.camera_id == "gone", 10)
            assert isinstance(auth, StreamLost) and auth.reason == "auth"
            assert isinstance(refused, StreamLost) and refused.reason == "refused"
            # The good camera records regardless.
            until(log, lambda e: isinstance(e, SegmentClosed) and e.camera_id == "good", 15)
        finally:
            stop_all(good, wrong, gone)
    events = [decode_payload(e) for e in log.read()]
    # A failing camera is reported once, not on every retry.
    assert sum(isinstance(e, StreamLost) and e.camera_id == "wrong" for e in events) == 1
    assert not any(isinstance(e, RecordingStarted) and e.camera_id in ("wrong", "gone") for e in events)
    assert "s3cret" not in repr(events) and "guess" not in repr(events)


def nal_units_annexb(data: bytes) -> list[bytes]:
    units = []
    for part in data.split(b"\x00\x00\x01"):
        part = part.rstrip(b"\x00")
        if part:
            units.append(part)
    return units


def nal_units_avcc(data: bytes) -> list[bytes]:
    units, i = [], 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        units.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return units


def is_slice(nal: bytes) -> bool:
    return nal[0] & 0x1F in (1, 5)


def test_recording_keeps_the_cameras_bytes_and_timing(tmp_path: Path) -> None:
    log = MemoryLog()
    with Fleet(1) as fleet:
        w = worker(log, tmp_path, "cam", fleet.url(0))
        try:
            pos, _ = until(log, lambda e: isinstance(e, SegmentClosed), 15)
            until(log, lambda e: isinstance(e, SegmentClosed), 10, after=pos)
        finally:
            stop_all(w)
    closed = [e for e in map(decode_payload, log.read()) if isinstance(e, SegmentClosed)]
    assert len(closed) >= 3
    camera_slices = {n for n in nal_units_annexb(ensure_clips().main.read_bytes()) if is_slice(n)}
    for seg in closed:
        path = tmp_path / seg.path
        with av.open(str(path)) as c:
            recorded = [n for p in c.demux(c.streams.video[0]) if p.size for n in nal_units_avcc(bytes(p)) if is_slice(n)]
        assert recorded and all(n in camera_slices for n in recorded), "a slice differs from the camera's"
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets:format=duration",
             "-of", "json", str(path)], capture_output=True, text=True, check=True,
        )  # fmt: skip
        info = json.loads(probe.stdout)
        frames = int(info["streams"][0]["nb_read_packets"])
        assert abs(float(info["format"]["duration"]) * S - frames * FRAME_NS) <= FRAME_NS
        if seg.clean:
            assert abs((seg.end_ns - seg.start_ns) - frames * FRAME_NS) <= FRAME_NS
    for a, b in itertools.pairwise(closed):
        assert abs(b.start_ns - a.end_ns) <= FRAME_NS, "segments are continuous to within one frame"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_full_disk_stops_recording_clearly_and_it_resumes(small_disk: Path) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (21 << 20))  # leave about 3 MB: a few seconds of main stream
    log = MemoryLog()
    with Fleet(1) as fleet:
        w = worker(log, small_disk / "rec", "cam", fleet.url(0))
        try:
            pos, stopped = until(log, lambda e: isinstance(e, RecordingStopped), 30)
            assert isinstance(stopped, RecordingStopped) and "storage failed" in stopped.reason
            assert "space" in stopped.reason.lower()
            filler.unlink()  # space returns
            _, again = until(log, lambda e: isinstance(e, RecordingStarted), 15, after=pos)
            assert isinstance(again, RecordingStarted)
            until(log, lambda e: isinstance(e, SegmentClosed) and e.clean, 15, after=pos)
        finally:
            stop_all(w)
    # Nothing corrupt: every reported segment, the cut one too, opens and decodes.
    for seg in (e for e in map(decode_payload, log.read()) if isinstance(e, SegmentClosed)):
        with av.open(str(small_disk / "rec" / seg.path)) as c:
            assert sum(1 for _ in c.decode(video=0)) > 0
