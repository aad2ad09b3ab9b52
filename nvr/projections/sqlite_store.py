"""A projection store in SQLite: the state snapshot and its position in one transaction."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

S = TypeVar("S")

SCHEMA = """
CREATE TABLE IF NOT EXISTS tracking (
    projection TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    state BLOB NOT NULL
)
"""


class SqliteSnapshotStore(Generic[S]):
    """Suits small states (the whole state is one row). `version` mismatch reads as empty,
    so a changed fold is rebuilt from the log rather than trusted."""

    def __init__(self, path: str | os.PathLike[str], name: str, version: int, state_type: type[S]):
        self.path = Path(path)
        self.name, self.version = name, version
        self._decoder = msgspec.msgpack.Decoder(state_type)
        self._encoder = msgspec.msgpack.Encoder()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)

    def load(self) -> tuple[S | None, int]:
        row = self._db.execute(
            "SELECT version, position, state FROM tracking WHERE projection = ?", (self.name,)
        ).fetchone()
        if row is None or row[0] != self.version:
            return None, 0
        return self._decoder.decode(row[2]), int(row[1])

    def commit(self, state: S, position: int) -> None:
        blob = self._encoder.encode(state)
        with self._db:  # one transaction: the rows and the tracking position together
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO tracking (projection, version, position, state) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(projection) DO UPDATE SET version = excluded.version, "
                "position = excluded.position, state = excluded.state",
                (self.name, self.version, position, blob),
            )

    def close(self) -> None:
        self._db.close()
