"""The housekeeper: checks storage at least every 30 s, records level changes, and applies
retention. Every deletion is first a `segment.deleted` event (policy version and rule),
committed, and only then is the file removed; on start, deletions decided but not
carried out (a crash between the two) are finished. See docs/design/retention.md."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import msgspec

from nvr.clock import Clock, SystemClock
from nvr.domain.codec import decode_payload, propose
from nvr.domain.envelope import Proposed
from nvr.domain.events import (
    EmergencyPurged,
    FootageProtected,
    FootageUnprotected,
    RetentionPolicyChanged,
    SegmentDeleted,
    StorageWarning,
)
from nvr.domain.retention import RetentionPolicy
from nvr.domain.retention_plan import Deletion, Lock, SegmentInfo, plan
from nvr.domain.values import STORAGE_STREAM, camera_stream
from nvr.eventlog.client import RemoteLog
from nvr.eventlog.port import EventLog
from nvr.projections import queries
from nvr.workers.logs import setup_logging
from nvr.workers.thumbnailer import Thumbnailer
from nvr.workers.thumbnails import thumb_path

log = logging.getLogger(__name__)

RETENTION_STREAM = "system/retention"
ACTOR = "worker/housekeeper"
LOOK_BACK = 2000
MAX_PER_ROUND = 2000
"""Deletions decided in one round (one append); a longer backlog, say after a policy was
shortened, goes over the next rounds, which then follow at once."""
HEARTBEAT_S = 1.0
Level = Literal["ok", "low", "critical"]


def level_of(free: int, floor: int) -> Level:
    """critical below the floor (emergency purge), low below twice the floor (warning)."""
    if free < floor:
        return "critical"
    return "low" if free < 2 * floor else "ok"


class Housekeeper:
    def __init__(
        self,
        events: EventLog,
        export_path: Path,
        root: Path,
        policy: RetentionPolicy,
        *,
        source: str = "",
        clock: Clock | None = None,
    ) -> None:
        self.events, self.export_path, self.root = events, export_path, root
        self.policy, self.source = policy, source
        self.clock = clock or SystemClock()
        self.level: Level | None = None
        self.version = 0
        self.deleted = 0
        self.freed = 0
        self.last_error = ""
        # (log position, {segment id: (camera, bytes)}) of deletions the export may not show yet
        self.pending: list[tuple[int, dict[str, tuple[str, int]]]] = []
        self.export_position = 0

    # -- start --------------------------------------------------------------------------

    def start(self) -> None:
        self.version = self.ensure_policy()
        finished = self.recover()
        if finished:
            log.warning("finished %d deletions decided before a crash", finished)

    def ensure_policy(self) -> int:
        """The current policy's version, recording a new version when it changed."""
        version, current = 0, None
        stream = RETENTION_STREAM
        for env in self.events.read_stream(stream, max(1, self.events.stream_version(stream) - 10)):
            event = decode_payload(env)
            if isinstance(event, RetentionPolicyChanged):
                version, current = event.version, event.policy
        if current == self.policy:
            return version
        changed = RetentionPolicyChanged(
            version=version + 1, policy=self.policy, source=self.source
        )
        self.events.append([propose(changed, stream=stream, actor=ACTOR)])
        return version + 1

    def recover(self) -> int:
        """Remove the files of deletions already decided (the tail of each camera's stream)."""
        done = 0
        for cid in self._cameras():
            stream = camera_stream(cid)
            first = max(1, self.events.stream_version(stream) - LOOK_BACK + 1)
            for env in self.events.read_stream(stream, first):
                if env.type == "segment.deleted":
                    event = decode_payload(env)
                    assert isinstance(event, SegmentDeleted)
                    done += self._remove(self.root / event.path)
                    self._remove(thumb_file(self.root, event.camera_id, event.segment_id))
        return done

    # -- each round ---------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """One round: storage level, then whatever the policy deletes. Returns statistics."""
        usage = shutil.disk_usage(self.root)
        level = level_of(usage.free, self.policy.floor_bytes)
        batch: list[Proposed] = []
        if level != self.level:
            warning = StorageWarning(volume=str(self.root), level=level, free_bytes=usage.free,
                                     total_bytes=usage.total, floor_bytes=self.policy.floor_bytes)  # fmt: skip
            batch.append(propose(warning, stream=STORAGE_STREAM, actor=ACTOR))
            self.level = level
        planned = self._plan(usage.free)
        deletions = planned[:MAX_PER_ROUND]
        if any(d.rule == "floor" for d in deletions):
            purged = [d for d in deletions if d.rule == "floor"]
            batch.append(propose(EmergencyPurged(
                volume=str(self.root), free_bytes=usage.free, floor_bytes=self.policy.floor_bytes,
                segment_ids=tuple(d.segment_id for d in purged), freed_bytes=sum(d.bytes for d in purged),
            ), stream=STORAGE_STREAM, actor=ACTOR))  # fmt: skip
        for d in deletions:
            event = SegmentDeleted(camera_id=d.camera_id, segment_id=d.segment_id, path=d.path,
                                   bytes=d.bytes, policy_version=self.version, rule=d.rule, reason=d.reason)  # fmt: skip
            batch.append(propose(event, stream=camera_stream(d.camera_id), actor=ACTOR))
        if batch:
            positions = self.events.append(batch)  # committed before any file goes
            done = {d.segment_id: (d.camera_id, d.bytes) for d in deletions}
            self.pending.append((positions[-1], done))
        for d in deletions:
            self.deleted += self._remove(self.root / d.path)
            self._remove(thumb_file(self.root, d.camera_id, d.segment_id))  # derived from it
            self.freed += d.bytes
        return {"level": level, "free_bytes": usage.free, "deleted": len(deletions),
                "more": len(planned) > len(deletions),
                "deleted_total": self.deleted, "freed_bytes_total": self.freed,
                "policy_version": self.version}  # fmt: skip

    def _plan(self, free: int) -> list[Deletion]:
        db = self._export()
        if db is None:
            return []
        try:
            cams = [
                r[0] for r in db.execute("SELECT camera_id FROM camera_status ORDER BY camera_id")
            ]
            locks = [
                Lock(camera_id=c, protection_id=p, start_ns=s, end_ns=e)
                for c, p, s, e in db.execute(
                    "SELECT camera_id, protection_id, start_ns, end_ns FROM protections"
                )
            ]
            locks = self._recent_locks(locks, self.export_position)
            totals = dict(
                db.execute(
                    "SELECT camera_id, sum(bytes) FROM storage_usage GROUP BY camera_id"
                ).fetchall()
            )
            # Deletions the export does not show yet: skipped, their bytes already gone.
            gone = {
                sid: (cid, size) for _, batch in self.pending for sid, (cid, size) in batch.items()
            }
            for cid, size in gone.values():
                totals[cid] = totals.get(cid, 0) - size
            segments = {cid: _unless(_segments(db, cid), gone) for cid in cams}
            result = plan(segments, locks, self.policy, self.clock.now_ns(), free, totals=totals)
            return list(result.deletions)
        finally:
            db.close()

    def _export(self) -> sqlite3.Connection | None:
        """The export (it may lag the log: deletions it does not show yet are remembered
        in `pending` and skipped)."""
        if not self.export_path.exists():
            return None
        db = queries.connect(self.export_path)
        try:
            position = db.execute("SELECT min(position) FROM tracking").fetchone()[0] or 0
        except sqlite3.OperationalError:
            db.close()
            return None
        self.pending = [(p, ids) for p, ids in self.pending if p > position]
        self.export_position = position
        return db

    def _recent_locks(self, locks: list[Lock], position: int) -> list[Lock]:
        """Locks as of the log's head: the export's, updated with the lock events it does not
        show yet (a lock made a moment ago must hold this round already)."""
        current = {(lk.camera_id, lk.protection_id): lk for lk in locks}
        for env in self.events.read(position + 1):
            if env.type == "footage.protected":
                e = decode_payload(env)
                assert isinstance(e, FootageProtected)
                current[(e.camera_id, e.protection_id)] = Lock(
                    camera_id=e.camera_id, protection_id=e.protection_id,
                    start_ns=e.start_ns, end_ns=e.end_ns,
                )  # fmt: skip
            elif env.type == "footage.unprotected":
                u = decode_payload(env)
                assert isinstance(u, FootageUnprotected)
                current.pop((u.camera_id, u.protection_id), None)
        return list(current.values())

    def _cameras(self) -> list[str]:
        db = queries.connect(self.export_path) if self.export_path.exists() else None
        if db is None:
            return []
        try:
            return [r[0] for r in db.execute("SELECT camera_id FROM camera_status")]
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()

    @staticmethod
    def _remove(path: Path | None) -> int:
        if path is None:
            return 0
        try:
            path.unlink()
        except FileNotFoundError:
            return 0
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return 1


def thumb_file(root: Path, camera_id: str, segment_id: str) -> Path | None:
    """Where the thumbnailer put a segment's picture (None for an id it would refuse)."""
    try:
        return thumb_path(root, camera_id, segment_id)
    except ValueError:
        return None


def _unless(segments: Iterator[SegmentInfo], gone: Mapping[str, object]) -> Iterator[SegmentInfo]:
    return (s for s in segments if s.segment_id not in gone)


def _segments(db: sqlite3.Connection, camera_id: str) -> Iterator[SegmentInfo]:
    """Closed segments of one camera, oldest first, read lazily."""
    cur = db.execute(
        "SELECT segment_id, file_path, bytes, start_ns, end_ns, recording_type FROM recordings "
        "WHERE camera_id = ? AND end_ns IS NOT NULL ORDER BY start_ns, segment_id",
        (camera_id,),
    )
    for sid, path, size, start, end, kind in cur:
        yield SegmentInfo(camera_id=camera_id, segment_id=sid, path=path, bytes=size or 0,
                          start_ns=start, end_ns=end, recording_type=kind)  # fmt: skip


class HousekeeperJob(msgspec.Struct, frozen=True, kw_only=True):
    log_dir: str
    export_path: str
    storage_root: str
    policy: RetentionPolicy
    source: str = ""
    interval_s: float = 30.0
    text_log_dir: str = ""


def housekeeper_main(job_bytes: bytes, heartbeat: Connection) -> None:
    """Run the housekeeper until SIGTERM, a round every `interval_s`, heartbeats between."""
    job = msgspec.msgpack.decode(job_bytes, type=HousekeeperJob)
    setup_logging(Path(job.text_log_dir) if job.text_log_dir else None, "housekeeper")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    events = RemoteLog(job.log_dir)
    keeper = Housekeeper(
        events, Path(job.export_path), Path(job.storage_root), job.policy, source=job.source
    )
    stats: dict[str, Any] = {}
    thumbs = Thumbnailer(events, Path(job.export_path), Path(job.storage_root))
    thumbnailer = threading.Thread(target=thumbs.run, args=(stop,), name="thumbnails", daemon=True)
    thumbnailer.start()
    try:
        keeper.start()
        next_round = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_round:
                try:
                    stats = keeper.check()
                    keeper.last_error = ""
                except OSError as exc:  # storage unreachable: say so, try again next round
                    keeper.last_error = str(exc)
                    log.error("storage check failed: %s", exc)
                next_round = now if stats.get("more") else now + job.interval_s
            beat = {**stats, "last_error": keeper.last_error, "thumbnails": thumbs.written}
            heartbeat.send_bytes(msgspec.json.encode(beat))
            stop.wait(min(HEARTBEAT_S, max(0.05, next_round - time.monotonic())))
    finally:
        stop.set()
        thumbnailer.join(30)
        events.close()
