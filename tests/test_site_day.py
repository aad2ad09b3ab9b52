"""The golden site day (replay/site-day.jsonl): regenerated identically, and a history that
holds together (what a real recorder, supervisor and housekeeper would have written)."""

from __future__ import annotations

from pathlib import Path

from nvr.domain.codec import decode_payload
from nvr.domain.events import (
    FootageProtected,
    FootageUnprotected,
    RecordingStarted,
    RecordingStopped,
    SegmentClosed,
    SegmentDeleted,
    SegmentOpened,
    WorkerExited,
)
from nvr.eventlog import history
from nvr.eventlog.memory import MemoryLog
from nvr.sample_site import main, site_day

REPLAY = Path(__file__).resolve().parent.parent / "replay"


def test_the_committed_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    out = tmp_path / "site-day.jsonl"
    main(out)
    assert out.read_bytes() == (REPLAY / "site-day.jsonl").read_bytes()


def test_the_day_holds_together() -> None:
    log = MemoryLog()
    log.append(list(site_day()))
    events = [(env.recorded_at_ns, decode_payload(env)) for env in log.read()]
    opened: dict[str, SegmentOpened] = {}
    closed: dict[str, SegmentClosed] = {}
    deleted: set[str] = set()
    locks: dict[str, FootageProtected] = {}
    recording: dict[str, str] = {}
    last_end: dict[str, int] = {}
    for _, e in events:
        if isinstance(e, SegmentOpened):
            assert e.segment_id not in opened
            assert e.start_ns >= last_end.get(e.camera_id, 0), "segments of a camera overlap"
            opened[e.segment_id] = e
        elif isinstance(e, SegmentClosed):
            assert e.segment_id in opened and e.segment_id not in closed
            closed[e.segment_id] = e
            last_end[e.camera_id] = e.end_ns
        elif isinstance(e, SegmentDeleted):
            assert e.segment_id in closed and e.segment_id not in deleted, (
                "deleted before closed, or twice"
            )
            seg = closed[e.segment_id]
            assert not any(lk.camera_id == seg.camera_id and lk.start_ns < seg.end_ns and seg.start_ns < lk.end_ns
                           for lk in locks.values()), "locked footage deleted"  # fmt: skip
            deleted.add(e.segment_id)
        elif isinstance(e, FootageProtected):
            locks[e.protection_id] = e
        elif isinstance(e, FootageUnprotected):
            del locks[e.protection_id]
        elif isinstance(e, RecordingStarted):
            assert e.camera_id not in recording
            recording[e.camera_id] = e.recording_id
        elif isinstance(e, RecordingStopped):
            assert recording.pop(e.camera_id) == e.recording_id
        elif isinstance(e, WorkerExited):  # a killed worker reports no stop
            recording.pop(e.worker.removeprefix("camera-"), None)
    assert set(opened) == set(closed)
    assert sum(not c.clean for c in closed.values()) == 1  # the killed worker's segment
    kinds = {type(e).__name__ for _, e in events}
    assert {"EmergencyPurged", "WorkerRestarted", "StreamRecovered", "PresetRenamed", "UserRoleChanged",
            "PlaybackSeeked", "ThumbnailWritten", "RecordingRequested"} <= kinds  # fmt: skip
    assert len({e.camera_id for _, e in events if isinstance(e, SegmentOpened)}) == 4
    exported = b"".join(history.export(log.read()))
    assert exported.count(b"\n") == len(events)
