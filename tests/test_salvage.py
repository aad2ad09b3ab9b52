"""Segments left open by a killed writer are closed from what the file holds: guards
against footage on disk with no `segment.closed` (unindexed, never deleted, never shown)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nvr.domain.codec import propose
from nvr.domain.events import Event, SegmentClosed, SegmentOpened
from nvr.eventlog.memory import MemoryLog
from nvr.workers.salvage import open_segments, salvage
from nvr.workers.segments import sha256_of
from tests.clips import make_clip

T0 = 1_795_478_400_000_000_000
S = 1_000_000_000


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=10)


def test_a_segment_cut_by_kill_9_is_closed_unclean_from_its_file(
    clip: Path, tmp_path: Path
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.segment_child", str(clip), str(tmp_path), "65"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    assert child.stdin is not None
    child.stdin.close()
    [path] = list(tmp_path.rglob("*.mp4"))
    rel = str(path.relative_to(tmp_path))
    log = MemoryLog()
    done = SegmentOpened(camera_id="cam", segment_id="earlier", path="x.mp4", start_ns=T0 - 60 * S)
    log.append([
        propose(done, stream="camera/cam", actor="t"),
        propose(SegmentClosed(camera_id="cam", segment_id="earlier", path="x.mp4", bytes=1,
                              start_ns=T0 - 60 * S, end_ns=T0, keyframes_ns=(), sha256=""),
                stream="camera/cam", actor="t"),
        propose(SegmentOpened(camera_id="cam", segment_id=path.stem, path=rel, start_ns=T0),
                stream="camera/cam", actor="t"),
    ])  # fmt: skip
    assert [o.segment_id for o in open_segments(log, "cam")] == [path.stem]
    emitted: list[Event] = []
    assert salvage(log, tmp_path, "cam", emitted.append) == 1
    [closed] = emitted
    assert isinstance(closed, SegmentClosed) and not closed.clean
    assert closed.sha256 == sha256_of(path) and closed.bytes == path.stat().st_size
    # 65 packets written at 15 fps with a keyframe every 30: at least two whole GOPs are
    # readable, so the footage spans at least 4 s, from keyframes at 0 s and 2 s.
    assert closed.end_ns - closed.start_ns >= 4 * S
    assert closed.keyframes_ns[:2] == (T0, T0 + 2 * S)


def test_a_missing_file_is_closed_empty() -> None:
    log = MemoryLog()
    log.append([propose(SegmentOpened(camera_id="cam", segment_id="gone", path="no/such.mp4", start_ns=T0),
                        stream="camera/cam", actor="t")])  # fmt: skip
    emitted: list[Event] = []
    assert salvage(log, Path("/nonexistent"), "cam", emitted.append) == 1
    [closed] = emitted
    assert (
        isinstance(closed, SegmentClosed)
        and closed.bytes == 0
        and closed.end_ns == T0
        and not closed.clean
    )


def test_a_file_the_log_never_heard_of_is_recorded_and_closed(clip: Path, tmp_path: Path) -> None:
    """Guards against a worker killed while its `segment.opened` waited to be sent."""
    day = tmp_path / "cam" / "2026-11-24"
    day.mkdir(parents=True)
    old = day / f"cam-{T0 - 60 * S}.mp4"
    new = day / f"cam-{T0}.mp4"
    old.write_bytes(clip.read_bytes())
    new.write_bytes(clip.read_bytes())
    log = MemoryLog()
    log.append([
        propose(SegmentOpened(camera_id="cam", segment_id=old.stem, path=str(old.relative_to(tmp_path)),
                              start_ns=T0 - 60 * S), stream="camera/cam", actor="t"),
        propose(SegmentClosed(camera_id="cam", segment_id=old.stem, path=str(old.relative_to(tmp_path)), bytes=1,
                              start_ns=T0 - 60 * S, end_ns=T0 - 50 * S, keyframes_ns=(), sha256=""),
                stream="camera/cam", actor="t"),
    ])  # fmt: skip
    emitted: list[Event] = []
    assert salvage(log, tmp_path, "cam", emitted.append) == 1
    opened, closed = emitted
    assert (
        isinstance(opened, SegmentOpened)
        and opened.segment_id == new.stem
        and opened.start_ns == T0
    )
    assert (
        isinstance(closed, SegmentClosed) and not closed.clean and closed.sha256 == sha256_of(new)
    )
    assert closed.end_ns - closed.start_ns >= 9 * S  # the whole 10 s clip is readable
