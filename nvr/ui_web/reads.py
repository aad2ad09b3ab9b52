"""What the web UI reads from the SQLite export (kept current by the projector process).

Blocking: call through a thread. A missing file or table (the projector has not run
yet) reads as empty. Every value reaching SQL is a bound parameter."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from nvr.projections import queries

T = TypeVar("T")
THUMB_LOOKBACK = 50


@contextmanager
def _db(path: Path) -> Iterator[sqlite3.Connection | None]:
    if not path.exists():
        yield None
        return
    with closing(queries.connect(path)) as db:
        yield db


def _read(path: Path, empty: T, fn: Callable[[sqlite3.Connection], T]) -> T:
    with _db(path) as db:
        if db is None:
            return empty
        try:
            return fn(db)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return empty
            raise


def cameras(path: Path) -> list[dict[str, Any]]:
    """Every camera not removed, with its status and the id of its latest thumbnail."""

    def fn(db: sqlite3.Connection) -> list[dict[str, Any]]:
        cols = ("camera_id", "name", "recording_mode", "main_connected", "recording_type",
                "last_end_ns", "cause")  # fmt: skip
        rows = db.execute(
            f"SELECT {', '.join(cols)} FROM camera_status WHERE removed = 0 ORDER BY camera_id"
        ).fetchall()
        out = []
        for row in rows:
            item = dict(zip(cols, row, strict=True))
            # The newest thumbnail among the last THUMB_LOOKBACK segments (a bounded walk
            # back the (camera_id, start_ns) index, even when thumbnails are off).
            thumb = db.execute(
                "SELECT segment_id FROM (SELECT segment_id, thumbnail_path, start_ns FROM "
                "recordings WHERE camera_id = ? ORDER BY start_ns DESC LIMIT ?) "
                "WHERE thumbnail_path IS NOT NULL ORDER BY start_ns DESC LIMIT 1",
                (item["camera_id"], THUMB_LOOKBACK),
            ).fetchone()
            item["thumbnail_id"] = thumb[0] if thumb else None
            out.append(item)
        return out

    return _read(path, [], fn)


def recent_motion(path: Path, camera_ids: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """The latest `limit` motion events over `camera_ids`, newest first (one bounded
    index walk per camera, then merged)."""

    def fn(db: sqlite3.Connection) -> list[dict[str, Any]]:
        cols = ("camera_id", "motion_id", "start_ns", "end_ns", "peak_confidence",
                "frame_thumbnail")  # fmt: skip
        rows: list[dict[str, Any]] = []
        for cam in camera_ids:
            for row in db.execute(
                f"SELECT {', '.join(cols)} FROM motion_events WHERE camera_id = ? "
                "ORDER BY start_ns DESC LIMIT ?",
                (cam, limit),
            ):
                rows.append(dict(zip(cols, row, strict=True)))
        rows.sort(key=lambda r: r["start_ns"], reverse=True)
        return rows[:limit]

    return _read(path, [], fn)


def storage(path: Path) -> dict[str, tuple[int, int]]:
    """Bytes and segments on disk per camera."""

    def fn(db: sqlite3.Connection) -> dict[str, tuple[int, int]]:
        rows = db.execute(
            "SELECT camera_id, sum(bytes), sum(segments) FROM storage_usage GROUP BY camera_id"
        )
        return {cam: (int(b or 0), int(s or 0)) for cam, b, s in rows}

    return _read(path, {}, fn)


def thumbnail(path: Path, camera_id: str, subject_id: str) -> tuple[str, str] | None:
    """("segment" | "motion", the thumbnail's path relative to the storage root) as the
    export recorded it, for a subject of that camera; None when there is none."""

    def fn(db: sqlite3.Connection) -> tuple[str, str] | None:
        row = db.execute(
            "SELECT thumbnail_path FROM recordings WHERE segment_id = ? AND camera_id = ?",
            (subject_id, camera_id),
        ).fetchone()
        if row is not None and row[0]:
            return "segment", str(row[0])
        row = db.execute(
            "SELECT frame_thumbnail FROM motion_events WHERE motion_id = ? AND camera_id = ?",
            (subject_id, camera_id),
        ).fetchone()
        return ("motion", str(row[0])) if row is not None and row[0] else None

    return _read(path, None, fn)


def export_position(path: Path) -> int:
    def fn(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT min(position) FROM tracking").fetchone()
        return int(row[0] or 0)

    return _read(path, 0, fn)


def audit(
    path: Path, *, actor: str | None, camera_id: str | None, since_ns: int | None,
    until_ns: int | None, before: int | None, limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """The audit trail newest first; `before` (a position) pages backwards."""

    def fn(db: sqlite3.Connection) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []  # type: list[str], list[Any]
        for clause, value in (("(actor = ? OR actor = 'user/' || ?)", actor),
                              ("camera_id = ?", camera_id), ("at_ns >= ?", since_ns),
                              ("at_ns < ?", until_ns), ("id < ?", before)):  # fmt: skip
            if value is not None:
                where.append(clause)
                params += [value] * clause.count("?")
        cols = ("position", "at", "actor", "action", "stream", "camera_id", "client_addr",
                "detail")  # fmt: skip
        sql = (
            "SELECT id, at, actor, action, stream, camera_id, client_addr, detail_json "
            f"FROM audit WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        )
        out = []
        for row in db.execute(sql, [*params, limit]):
            item = dict(zip(cols, row, strict=True))
            item["detail"] = json.loads(item["detail"])
            out.append(item)
        return out

    return _read(path, [], fn)
