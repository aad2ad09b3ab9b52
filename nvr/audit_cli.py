"""The auditor's commands: `nvr export-sqlite`, `nvr replay --at`, `nvr audit` and the
deep part of `nvr log verify --deep` (projections rebuilt and compared, segment files
checked against their closing events)."""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nvr.cli import print_json
from nvr.domain.envelope import Envelope
from nvr.domain.timefmt import format_ns, parse_ns
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.port import EventLog
from nvr.projections import queries
from nvr.projections.catalog import all_projections
from nvr.projections.config import ConfigProjection
from nvr.projections.export import MemoryExport, SqliteExport
from nvr.projections.runtime import fold
from nvr.projections.sqlite_tables import TableBuffer
from nvr.workers.projector import EXPORT_NAME


def export_sqlite(log_dir: Path, out: Path) -> int:
    store = LmdbStore(log_dir)
    export = SqliteExport(out, all_projections())
    try:
        before = export.position
        export.catch_up(store)  # type: ignore[arg-type]
        print_json({"path": str(out), "from": before, "position": export.position})
    finally:
        export.close()
        store.close()
    return 0


def _until(store: LmdbStore, at_ns: int) -> Iterator[Envelope]:
    for env in store.read():
        if env.recorded_at_ns > at_ns:
            return
        yield env


def replay_at(log_dir: Path, at: str) -> int:
    """Fold every projection over the events recorded up to `at` and print the state."""
    try:
        at_ns = parse_ns(at)
    except ValueError as exc:
        print(f"nvr: --at: {exc} (use RFC 3339, e.g. 2026-11-24T14:00:00Z)", file=sys.stderr)
        return 2
    store = LmdbStore(log_dir)
    try:
        export = MemoryExport(all_projections())
        export.fold(_until(store, at_ns))
        config_proj = ConfigProjection()
        config, _ = fold(config_proj, config_proj.initial(), _until(store, at_ns))
    finally:
        store.close()
    rows = export.tables.rows
    cameras: dict[str, Any] = {}
    for (cid,), st in sorted(rows["camera_status"].items()):
        settings = config.cameras.get(cid)
        cameras[cid] = {
            "name": st["name"], "removed": bool(st["removed"]),
            "recording_mode": settings.recording_mode if settings else st["recording_mode"],
            "connected": bool(st["main_connected"]), "recording": st["recording_type"] or None,
            "not_recording_because": st["cause"] or None,
            "presets": sorted(p["preset_name"] for p in rows["camera_presets"].values() if p["camera_id"] == cid),
            "locks": sorted(p["protection_id"] for p in rows["protections"].values() if p["camera_id"] == cid),
            "storage_bytes": sum(u["bytes"] for u in rows["storage_usage"].values() if u["camera_id"] == cid),
        }  # fmt: skip
    users = {
        u["username"]: {"role": u["role"], "disabled": bool(u["disabled"])}
        for u in sorted(rows["users"].values(), key=lambda u: u["username"])
    }
    sessions = sorted(
        (s["username"], s["client_addr"])
        for s in rows["sessions"].values()
        if s["ended_ns"] is None
    )
    print_json({
        "at": format_ns(at_ns), "position": export.position, "cameras": cameras,
        "config": {cid: s for cid, s in sorted(config.cameras.items())},
        "users": users, "open_sessions": [{"username": u, "from": a} for u, a in sessions],
    })  # fmt: skip
    return 0


def caught_up_copy(data_dir: Path, into: Path) -> Path:
    """A private copy of the live export (SQLite's online backup: safe while the projector
    writes it), caught up with the log. The live file is never written from here."""
    live = data_dir / EXPORT_NAME
    copy = into / EXPORT_NAME
    if live.exists():
        src = queries.connect(live)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    store = LmdbStore(data_dir / "log")
    export = SqliteExport(copy, all_projections())
    try:
        export.catch_up(store)  # type: ignore[arg-type]
    finally:
        export.close()
        store.close()
    return copy


def audit(data_dir: Path, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        live = data_dir / EXPORT_NAME
        path = caught_up_copy(data_dir, Path(tmp)) if args.refresh or not live.exists() else live
        db = queries.connect(path)
        try:
            items = queries.audit(
                db, actor=args.actor, camera_id=args.camera,
                since_ns=parse_ns(args.since) if args.since else None,
                until_ns=parse_ns(args.until) if args.until else None,
            )  # fmt: skip
        finally:
            db.close()
    for item in items:
        print_json(item)
    return 0


def deep_verify(
    data_dir: Path,
    *,
    storage: Path | None = None,
    files: bool = True,
    events: EventLog | None = None,
) -> list[str]:
    """Problems found by rebuilding every projection and by checking segment files
    (paths are relative to `storage`, by default the `recordings` beside `data_dir`).
    `events` is the log when this process already has it open."""
    store = events or LmdbStore(data_dir / "log")
    try:
        return _deep(data_dir, store, storage or data_dir.parent / "recordings", files)  # type: ignore[arg-type]
    finally:
        if events is None:
            store.close()


def _deep(data_dir: Path, events: EventLog, storage: Path, files: bool) -> list[str]:
    problems: list[str] = []
    live_path = data_dir / EXPORT_NAME
    with tempfile.TemporaryDirectory() as tmp:
        fresh = SqliteExport(Path(tmp) / "fresh.sqlite", all_projections())
        live = queries.connect(live_path) if live_path.exists() else None
        upto = events.head()
        if live is not None:
            upto = live.execute("SELECT min(position) FROM tracking").fetchone()[0] or 0
        fresh.fold(events.read(1, upto + 1))
        fresh.commit()
        if live is not None:
            buffer = TableBuffer(live, [t for p in fresh.projections for t in p.tables])
            for table, digest in fresh.checksums().items():
                if buffer.checksum(table) != digest:
                    problems.append(
                        f"projection table {table} differs from a rebuild at position {upto}"
                    )
            live.close()
        if files:
            problems += _check_files(fresh, storage)
        fresh.close()
    return problems


def _check_files(export: SqliteExport, storage: Path) -> list[str]:
    problems = []
    for path, digest, sid in export.db.execute(
        "SELECT file_path, sha256, segment_id FROM recordings WHERE end_ns IS NOT NULL"
    ):
        file = storage / path
        if not file.exists():
            problems.append(f"segment {sid}: {path} is missing")
            continue
        h = hashlib.sha256()
        with file.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != digest:
            problems.append(f"segment {sid}: {path} does not match the sha256 of its closing event")
    return problems
