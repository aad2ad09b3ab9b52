"""Read the SQLite export: the timeline of a window, seeking to an instant, the audit trail.

Window queries are bounded: every row kind has a known longest span per camera
(`camera_status.max_segment_ns`, `max_motion_ns`; gaps are cut at hour boundaries), so a
window reads the index range [start - longest, end) rather than everything before it;
windows longer than RAW_MAX_NS read the hourly totals instead of single segments.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from nvr.projections.footage_tables import HOUR_NS

RAW_MAX_NS = 6 * HOUR_NS


class Span(msgspec.Struct, frozen=True, kw_only=True):
    """`kind`: "recorded" (one segment), "motion" or "gap"; `end_ns` None while open."""

    kind: str
    start_ns: int
    end_ns: int | None
    label: str = ""  # recording type, or the gap's reason
    detail: str = ""
    ref: str = ""  # segment id, motion id


class Hour(msgspec.Struct, frozen=True, kw_only=True):
    hour_ns: int
    recorded_ns: int
    motion_ns: int
    motion_count: int


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    camera_id: str
    start_ns: int
    end_ns: int
    spans: tuple[Span, ...] = ()  # windows up to RAW_MAX_NS
    hours: tuple[Hour, ...] = ()  # longer windows


class SeekPoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where to play `camera_id` from `at_ns`: open `path`, seek to `keyframe_offset_ns`
    (media time from the segment's start) and decode forward to `offset_ns`. `exact` is
    False when `at_ns` fell in a gap and this is the next footage after it."""

    camera_id: str
    segment_id: str
    path: str
    segment_start_ns: int
    offset_ns: int
    keyframe_offset_ns: int
    exact: bool


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the export (concurrent with the writer, thanks to WAL)."""
    return sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, check_same_thread=False)


def _longest(db: sqlite3.Connection, camera_id: str) -> tuple[int, int]:
    row = db.execute(
        "SELECT max_segment_ns, max_motion_ns FROM camera_status WHERE camera_id = ?", (camera_id,)
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def timeline(db: sqlite3.Connection, camera_id: str, start_ns: int, end_ns: int) -> Timeline:
    if end_ns - start_ns > RAW_MAX_NS:
        rows = db.execute(
            "SELECT hour_ns, recorded_ns, motion_ns, motion_count FROM timeline_hours "
            "WHERE camera_id = ? AND hour_ns >= ? AND hour_ns < ? ORDER BY hour_ns",
            (camera_id, start_ns - start_ns % HOUR_NS, end_ns),
        )
        hours = tuple(
            Hour(hour_ns=h, recorded_ns=r, motion_ns=m, motion_count=c) for h, r, m, c in rows
        )
        return Timeline(camera_id=camera_id, start_ns=start_ns, end_ns=end_ns, hours=hours)
    seg_max, motion_max = _longest(db, camera_id)
    spans: list[Span] = []
    # Closed rows from the bounded index range, then the few still open (end_ns NULL,
    # found through the (end_ns, camera_id) index however long ago they started).
    closed = "camera_id = ? AND start_ns >= ? AND start_ns < ? AND end_ns > ?"
    still_open = "end_ns IS NULL AND camera_id = ? AND start_ns < ?"
    for s, e, kind, sid in db.execute(
        f"SELECT start_ns, end_ns, recording_type, segment_id FROM recordings WHERE {closed} "
        f"UNION ALL SELECT start_ns, end_ns, recording_type, segment_id FROM recordings "
        f"INDEXED BY recordings_i1 WHERE {still_open}",
        (camera_id, start_ns - seg_max, end_ns, start_ns, camera_id, end_ns),
    ):
        spans.append(Span(kind="recorded", start_ns=s, end_ns=e, label=kind, ref=sid))
    for s, e, mid in db.execute(
        f"SELECT start_ns, end_ns, motion_id FROM motion_events WHERE {closed} "
        f"UNION ALL SELECT start_ns, end_ns, motion_id FROM motion_events "
        f"INDEXED BY motion_events_i1 WHERE {still_open}",
        (camera_id, start_ns - motion_max, end_ns, start_ns, camera_id, end_ns),
    ):
        spans.append(Span(kind="motion", start_ns=s, end_ns=e, ref=mid))
    for s, e, reason, detail in db.execute(
        "SELECT start_ns, end_ns, reason, detail FROM timeline_gaps WHERE camera_id = ? "
        "AND start_ns >= ? AND start_ns < ? AND end_ns > ?",
        (camera_id, start_ns - HOUR_NS, end_ns, start_ns),
    ):
        spans.append(Span(kind="gap", start_ns=s, end_ns=e, label=reason, detail=detail))
    spans.extend(_open_gap(db, camera_id, start_ns, end_ns))
    spans.sort(key=lambda sp: (sp.start_ns, sp.kind))
    return Timeline(camera_id=camera_id, start_ns=start_ns, end_ns=end_ns, spans=tuple(spans))


def _open_gap(db: sqlite3.Connection, camera_id: str, start_ns: int, end_ns: int) -> list[Span]:
    """The gap going on now (since the last segment closed), when it reaches the window."""
    row = db.execute(
        "SELECT last_end_ns, cause, cause_detail FROM camera_status WHERE camera_id = ? "
        "AND cause != ''",
        (camera_id,),
    ).fetchone()
    if row is None or not row[0] or row[0] >= end_ns:
        return []
    return [Span(kind="gap", start_ns=row[0], end_ns=None, label=row[1], detail=row[2])]


def seek(db: sqlite3.Connection, camera_id: str, at_ns: int) -> SeekPoint | None:
    seg_max, _ = _longest(db, camera_id)
    row = db.execute(
        "SELECT segment_id, file_path, start_ns, keyframes_json FROM recordings "
        "WHERE camera_id = ? AND start_ns >= ? AND start_ns <= ? AND end_ns > ? "
        "ORDER BY start_ns DESC LIMIT 1",
        (camera_id, at_ns - seg_max, at_ns, at_ns),
    ).fetchone()
    exact = row is not None
    if row is None:
        row = db.execute(
            "SELECT segment_id, file_path, start_ns, keyframes_json FROM recordings "
            "WHERE camera_id = ? AND start_ns > ? AND end_ns IS NOT NULL ORDER BY start_ns LIMIT 1",
            (camera_id, at_ns),
        ).fetchone()
        if row is None:
            return None
    sid, path, start, keyframes = row
    offset = max(0, at_ns - start) if exact else 0
    offsets: list[int] = json.loads(keyframes or "[0]")
    key = max((k for k in offsets if k <= offset), default=0)
    return SeekPoint(camera_id=camera_id, segment_id=sid, path=path, segment_start_ns=start,
                     offset_ns=offset, keyframe_offset_ns=key, exact=exact)  # fmt: skip


def audit(
    db: sqlite3.Connection,
    *,
    actor: str | None = None,
    camera_id: str | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The audit trail in time order, filtered; `actor` matches `user/ann` or just `ann`."""
    where, params = ["1 = 1"], []  # type: list[str], list[Any]
    if actor:
        where.append("(actor = ? OR actor = ?)")
        params += [actor, f"user/{actor}"]
    if camera_id:
        where.append("camera_id = ?")
        params.append(camera_id)
    if since_ns is not None:
        where.append("at_ns >= ?")
        params.append(since_ns)
    if until_ns is not None:
        where.append("at_ns < ?")
        params.append(until_ns)
    sql = f"SELECT id, at, actor, action, stream, camera_id, client_addr, detail_json FROM audit WHERE {' AND '.join(where)} ORDER BY id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    keys = ("position", "at", "actor", "action", "stream", "camera_id", "client_addr", "detail")
    out = []
    for row in db.execute(sql, params):
        item = dict(zip(keys, row, strict=True))
        item["detail"] = json.loads(item["detail"])
        out.append(item)
    return out
