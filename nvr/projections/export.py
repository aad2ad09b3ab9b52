"""Table projections kept up to date from the log: in memory, or in the SQLite export file.

`Folder` reads each event once and gives it to every projection that handles it and has
not yet included its position. `SqliteExport` is the file `nvr export-sqlite` writes and
the UIs read: WAL mode (readable by any SQLite tool while Vigil writes),
`synchronous=FULL`, a numbered `schema_version`, and one transaction per commit holding
the rows and every projection's tracking row. A projection whose version changed is
rebuilt from position 1; a file that fails its integrity check is moved aside and
rebuilt.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from nvr.domain.codec import decode_payload
from nvr.domain.envelope import Envelope
from nvr.eventlog.port import CaughtUp, EventLog, subscribe
from nvr.projections.sqlite_tables import TableBuffer, create_sql
from nvr.projections.tables import MemoryTables, Op, TableProjection, View

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""The export file's schema. Bump it with every change of any exported table, add the
step to MIGRATIONS and a test that upgrades a file of every older version."""

_META = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tracking (
    projection TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    work BLOB NOT NULL
);
"""


class ExportError(RuntimeError):
    pass


class Folder:
    """Folds envelopes into several table projections over one view/apply pair."""

    def __init__(self, projections: Sequence[TableProjection], view: View) -> None:
        self.projections = list(projections)
        self.view = view
        self.works: dict[str, Any] = {p.name: p.initial() for p in self.projections}
        self.positions: dict[str, int] = {p.name: 0 for p in self.projections}
        self._cond = threading.Condition()
        self.committed = 0

    @property
    def position(self) -> int:
        """The position every projection includes."""
        return min(self.positions.values(), default=0)

    def apply(self, ops: Sequence[Op]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        with self._cond:
            self.committed = self.position
            self._cond.notify_all()

    def fold(self, envs: Iterable[Envelope]) -> None:
        projections, works, positions = self.projections, self.works, self.positions
        for env in envs:
            event = None
            for p in projections:
                if positions[p.name] >= env.position:
                    continue
                positions[p.name] = env.position
                if env.type in p.handles:
                    if event is None:
                        event = decode_payload(env)
                    works[p.name], ops = p.evolve(works[p.name], self.view, env, event)
                    if ops:
                        self.apply(ops)

    def catch_up(self, events: EventLog, chunk: int = 20_000) -> int:
        head = events.head()
        while self.position < head:
            stop = min(head, self.position + chunk) + 1
            self.fold(events.read(self.position + 1, stop))
            self.commit()
        return self.position

    def follow(self, events: EventLog, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Fold new events as they commit until `stop` is set; commits whenever caught up."""
        while not stop.is_set():
            pending = 0
            for item in subscribe(events, self.position + 1, idle_timeout=poll_s):
                if isinstance(item, CaughtUp):
                    if pending:
                        self.commit()
                        pending = 0
                    if stop.is_set():
                        return
                    continue
                self.fold((item,))
                pending += 1
                if pending >= 10_000:
                    self.commit()
                    pending = 0

    def wait_committed(self, position: int, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.committed >= position, timeout)


class MemoryExport(Folder):
    """The same fold into dicts: the reference for tests, and the auditor's `replay --at`."""

    def __init__(self, projections: Sequence[TableProjection]) -> None:
        self.tables = MemoryTables(t for p in projections for t in p.tables)
        super().__init__(projections, self.tables)

    def apply(self, ops: Sequence[Op]) -> None:
        self.tables.apply(ops)


class SqliteExport(Folder):
    def __init__(self, path: str | Path, projections: Sequence[TableProjection]) -> None:
        self.path = Path(path)
        self.db = _open_checked(self.path)
        specs = [t for p in projections for t in p.tables]
        self.buffer = TableBuffer(self.db, specs)
        super().__init__(projections, self.buffer)
        self._encoder = msgspec.msgpack.Encoder()
        self._prepare()

    def _prepare(self) -> None:
        db = self.db
        db.executescript(_META)  # idempotent; executescript runs outside a transaction
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            db.execute("ROLLBACK")
            raise ExportError(
                f"{self.path}: schema version {row[0]} is newer than this Vigil's {SCHEMA_VERSION}"
            )
        elif row[0] < SCHEMA_VERSION:
            for version in range(row[0], SCHEMA_VERSION):
                MIGRATIONS[version](db)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        for p in self.projections:
            found = db.execute(
                "SELECT version, position, work FROM tracking WHERE projection = ?", (p.name,)
            ).fetchone()
            if found is not None and found[0] == p.version:
                self.positions[p.name] = found[1]
                self.works[p.name] = msgspec.msgpack.decode(found[2], type=p.work_type)
                for t in p.tables:
                    for sql in create_sql(t):
                        db.execute(sql)
                continue
            if found is not None:
                log.warning(
                    "projection %s changed (v%s -> v%s): rebuilding", p.name, found[0], p.version
                )
            for t in p.tables:  # a new or changed projection starts from an empty table
                db.execute(f"DROP TABLE IF EXISTS {t.name}")
                for sql in create_sql(t):
                    db.execute(sql)
            db.execute("DELETE FROM tracking WHERE projection = ?", (p.name,))
        db.execute("COMMIT")
        self.committed = self.position

    def apply(self, ops: Sequence[Op]) -> None:
        self.buffer.apply(ops)

    def commit(self) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            self.buffer.flush()
            db.executemany(
                "INSERT INTO tracking (projection, version, position, work) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(projection) DO UPDATE SET version = excluded.version, "
                "position = excluded.position, work = excluded.work",
                [
                    (
                        p.name,
                        p.version,
                        self.positions[p.name],
                        self._encoder.encode(self.works[p.name]),
                    )
                    for p in self.projections
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        super().commit()

    def checksums(self) -> dict[str, str]:
        return {t.name: self.buffer.checksum(t.name) for p in self.projections for t in p.tables}

    def close(self) -> None:
        self.db.close()


MIGRATIONS: dict[int, Any] = {}
"""version n -> a function upgrading a connection from n to n + 1 (inside a transaction)."""


def _open_checked(path: Path) -> sqlite3.Connection:
    """Open the export, moving a file that is not a sound SQLite database aside first."""
    if path.exists():
        problem = _integrity_problem(path)
        if problem:
            aside = path.with_name(path.name + ".corrupt")
            log.error(
                "%s is damaged (%s): moved to %s and rebuilt from the log", path, problem, aside
            )
            path.replace(aside)
            for extra in ("-wal", "-shm"):
                Path(str(path) + extra).unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    # A large page cache keeps the index pages a rebuild touches in memory.
    db.execute("PRAGMA cache_size=-131072")
    return db


def _integrity_problem(path: Path) -> str:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "" if result == [("ok",)] else "; ".join(str(r[0]) for r in result[:3])
