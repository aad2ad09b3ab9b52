"""The housekeeper against a real log, export and files: deletions are decided as events
first, locks are honoured, the policy is versioned, and a housekeeper killed with
SIGKILL at any point leaves no file deleted without its event and, after recovery, no
deletion event whose file is still there."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import msgspec

from nvr.clock import SimulatedClock
from nvr.domain.codec import decode_payload, propose
from nvr.domain.envelope import Proposed
from nvr.domain.events import (
    FootageProtected,
    RetentionPolicyChanged,
    SegmentClosed,
    SegmentDeleted,
    SegmentOpened,
    StorageWarning,
)
from nvr.domain.retention import CameraRetention, RetentionPolicy
from nvr.eventlog.local import LmdbLog
from nvr.projections.catalog import all_projections
from nvr.projections.export import SqliteExport
from nvr.workers.housekeeper import Housekeeper

S = 1_000_000_000
DAY = 86_400 * S
NOW = 1_795_478_400_000_000_000 + 10 * DAY
POLICY = RetentionPolicy(
    cameras=(("gate", CameraRetention(days=2)),), default=CameraRetention(days=30)
)


def segments(storage: Path, camera: str, first: int, count: int, start_ns: int) -> list[Proposed]:
    """`count` 10 s segments with real (tiny) files, opened and closed."""
    out = []
    for n in range(first, first + count):
        start = start_ns + n * 10 * S
        rel = f"{camera}/{camera}-{n:05d}.mp4"
        path = storage / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        stream = f"camera/{camera}"
        out.append(propose(SegmentOpened(camera_id=camera, segment_id=f"{camera}-{n}", path=rel, start_ns=start),
                           stream=stream, actor="t"))  # fmt: skip
        out.append(propose(SegmentClosed(camera_id=camera, segment_id=f"{camera}-{n}", path=rel, bytes=1000,
                                         start_ns=start, end_ns=start + 10 * S, keyframes_ns=(start,), sha256="00"),
                           stream=stream, actor="t"))  # fmt: skip
    return out


def caught_up(data: Path, events: LmdbLog) -> None:
    export = SqliteExport(data / "vigil.sqlite", all_projections())
    export.catch_up(events)
    export.close()


def typed(events: LmdbLog, cls: type) -> list:  # type: ignore[type-arg]
    return [e for e in map(decode_payload, events.read()) if isinstance(e, cls)]


def test_expired_footage_is_decided_then_deleted_and_locks_hold(tmp_path: Path) -> None:
    storage, data = tmp_path / "rec", tmp_path / "data"
    events = LmdbLog(data / "log")
    old = NOW - 3 * DAY
    events.append(segments(storage, "gate", 0, 20, old) + segments(storage, "yard", 0, 5, old))
    lock = FootageProtected(
        camera_id="gate", protection_id="case-7", start_ns=old + 50 * S, end_ns=old + 75 * S
    )
    events.append([propose(lock, stream="camera/gate", actor="user/ann")])
    caught_up(data, events)
    # A lock made after the export was last updated holds all the same.
    late = FootageProtected(
        camera_id="gate", protection_id="case-8", start_ns=old + 150 * S, end_ns=old + 155 * S
    )
    events.append([propose(late, stream="camera/gate", actor="user/ann")])
    thumbs = storage / ".thumbs" / "gate"
    thumbs.mkdir(parents=True)
    (thumbs / "gate-0.jpg").write_bytes(b"jpeg")  # deleted with its segment
    (thumbs / "gate-5.jpg").write_bytes(b"jpeg")  # its segment is locked
    keeper = Housekeeper(events, data / "vigil.sqlite", storage, POLICY, clock=SimulatedClock(NOW))  # type: ignore[arg-type]
    keeper.start()
    stats = keeper.check()
    assert sorted(p.name for p in thumbs.iterdir()) == ["gate-5.jpg"]
    deleted = typed(events, SegmentDeleted)
    # gate keeps 2 days: its 3-day-old segments go, except the three the first lock
    # overlaps (50-60, 60-70, 70-80 s) and the one under the late lock (150-160 s); yard
    # keeps the default 30 days.
    kept = {"gate-5", "gate-6", "gate-7", "gate-15"}
    assert {d.segment_id for d in deleted} == {f"gate-{n}" for n in range(20)} - kept
    assert all(d.rule == "days" and d.policy_version == 1 for d in deleted)
    assert stats["deleted"] == 16
    assert [p.version for p in typed(events, RetentionPolicyChanged)] == [1]
    assert len(typed(events, StorageWarning)) == 1
    on_disk = {p.stem for p in (storage / "gate").glob("*.mp4")}
    assert on_disk == {"gate-00005", "gate-00006", "gate-00007", "gate-00015"}
    assert len(list((storage / "yard").glob("*.mp4"))) == 5
    # A second round after the export caught up deletes nothing more; the same policy
    # at the next start records no new version.
    caught_up(data, events)
    assert keeper.check()["deleted"] == 0
    Housekeeper(events, data / "vigil.sqlite", storage, POLICY).start()  # type: ignore[arg-type]
    assert [p.version for p in typed(events, RetentionPolicyChanged)] == [1]
    changed = RetentionPolicy(default=CameraRetention(days=7))
    Housekeeper(events, data / "vigil.sqlite", storage, changed).start()  # type: ignore[arg-type]
    assert [p.version for p in typed(events, RetentionPolicyChanged)] == [1, 2]
    events.close()


def test_a_killed_housekeeper_never_deletes_without_its_event(tmp_path: Path) -> None:
    storage, data = tmp_path / "rec", tmp_path / "data"
    rng = random.Random(11)
    policy = msgspec.json.encode(POLICY).decode()
    for round_ in range(6):
        events = LmdbLog(data / "log")
        events.append(segments(storage, "gate", round_ * 150, 150, NOW - 5 * DAY))
        caught_up(data, events)
        events.close()
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.housekeeper_child", str(data), str(storage), policy, str(NOW)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        # Kill it somewhere in its round: before, while appending, while unlinking, after.
        try:
            child.wait(rng.uniform(0.0, 0.15))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        child.wait(10)
        for pipe in (child.stdin, child.stdout):
            assert pipe is not None
            pipe.close()
        events = LmdbLog(data / "log")
        decided = {d.path for d in typed(events, SegmentDeleted)}
        present = {str(p.relative_to(storage)) for p in storage.rglob("*.mp4")}
        made = {f"gate/gate-{n:05d}.mp4" for n in range((round_ + 1) * 150)}
        assert made - present <= decided, "a file went without its deletion event"
        # Recovery at the next start finishes what was decided.
        caught_up(data, events)
        Housekeeper(events, data / "vigil.sqlite", storage, POLICY).start()  # type: ignore[arg-type]
        present = {str(p.relative_to(storage)) for p in storage.rglob("*.mp4")}
        assert not decided & present, "a deletion event whose file is still there"
        events.close()
