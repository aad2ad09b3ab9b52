"""Makes the thumbnails of new segments and motion events, in the housekeeper's process:
reads the export for closed segments and motions without one, writes the JPEG under
`<storage>/.thumbs/` and records a `thumbnail.written` event. CPU is capped by a duty
cycle, newest work first after a backlog, so recording never waits on it."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from nvr.domain.codec import propose
from nvr.domain.events import ThumbnailWritten
from nvr.domain.values import Box, camera_stream
from nvr.eventlog.port import EventLog
from nvr.projections import queries
from nvr.workers.thumbnails import (
    ThumbnailError,
    motion_thumbnail,
    segment_thumbnail,
    thumb_path,
    write_thumbnail,
)

log = logging.getLogger(__name__)

ACTOR = "worker/housekeeper"
Work = tuple[str, str, str, str, int, int, tuple[Box, ...]]
"""(camera, subject, subject id, segment path, segment start, frame time, boxes)"""
BATCH = 32
DUTY = 0.25
"""Share of one core thumbnails may use: after a thumbnail taking t, rest 3 t."""


class Thumbnailer:
    def __init__(self, events: EventLog, export_path: Path, root: Path) -> None:
        self.events, self.export_path, self.root = events, export_path, root
        self.segment_mark = 0  # rows up to these ids are done (or skipped for good)
        self.motion_mark = 0
        self.written = 0
        self.failed = 0

    def run(self, stop: threading.Event, interval_s: float = 2.0) -> None:
        while not stop.wait(interval_s):
            try:
                self.round(stop)
            except (sqlite3.Error, OSError) as exc:
                log.warning("thumbnails: %s", exc)

    def round(self, stop: threading.Event | None = None) -> int:
        """Thumbnails for what closed since the last round; returns how many were made."""
        if not self.export_path.exists():
            return 0
        db = queries.connect(self.export_path)
        try:
            todo = self._segments(db) + self._motions(db)
        except sqlite3.OperationalError:  # the projector has not created the tables yet
            return 0
        finally:
            db.close()
        made = 0
        for camera_id, subject, subject_id, path, start_ns, at_ns, boxes in todo:
            if stop is not None and stop.is_set():
                break
            began = time.monotonic()
            try:
                if subject == "segment":
                    jpeg = segment_thumbnail(self.root / path)
                else:
                    jpeg = motion_thumbnail(self.root / path, start_ns, at_ns, boxes)
                target = thumb_path(self.root, camera_id, subject_id)
                size = write_thumbnail(target, jpeg)
            except (ThumbnailError, ValueError) as exc:
                self.failed += 1
                log.warning("no thumbnail for %s %s: %s", subject, subject_id, exc)
                continue
            event = ThumbnailWritten(camera_id=camera_id, subject=subject, subject_id=subject_id,  # type: ignore[arg-type]
                                     path=str(target.relative_to(self.root)), bytes=size, at_ns=at_ns)  # fmt: skip
            self.events.append([propose(event, stream=camera_stream(camera_id), actor=ACTOR)])
            made += 1
            self.written += 1
            if stop is not None:
                stop.wait((time.monotonic() - began) * (1 - DUTY) / DUTY)
        return made

    def _segments(self, db: sqlite3.Connection) -> list[Work]:
        out: list[Work] = []
        for rid, cid, sid, path, start, end, thumb in db.execute(
            "SELECT id, camera_id, segment_id, file_path, start_ns, end_ns, thumbnail_path "
            "FROM recordings WHERE id > ? ORDER BY id LIMIT ?",
            (self.segment_mark, BATCH),
        ):
            if end is None:
                break  # still being written: come back to it
            self.segment_mark = rid
            if thumb is None:
                out.append((cid, "segment", sid, path, start, start, ()))
        return out

    def _motions(self, db: sqlite3.Connection) -> list[Work]:
        out: list[Work] = []
        for mid, cid, motion_id, at, until, thumb, boxes, path, start, end in db.execute(
            "SELECT m.id, m.camera_id, m.motion_id, m.start_ns, m.end_ns, m.frame_thumbnail, m.bbox_json, "
            "r.file_path, r.start_ns, r.end_ns FROM motion_events m "
            "LEFT JOIN recordings r ON r.id = m.recording_id WHERE m.id > ? ORDER BY m.id LIMIT ?",
            (self.motion_mark, BATCH),
        ):
            if (path is not None and end is None) or (path is None and until is None):
                break  # its segment is still being written, or may yet open (pre-roll)
            self.motion_mark = mid
            if thumb is None and path is not None and start <= at < end:
                parsed = tuple(Box(x=b[0], y=b[1], w=b[2], h=b[3]) for b in _boxes(boxes))
                out.append((cid, "motion", motion_id, path, start, at, parsed))
        return out


def _boxes(text: str | None) -> list[list[float]]:
    import json

    return json.loads(text) if text else []
