"""The SQLite store of table projections: rows and tracking positions in one transaction.

Changes are buffered per row between commits, so a row opened and closed within one
batch is written once (what makes a rebuild fast), and `get` sees the buffer first. A
commit writes the buffered rows and every projection's tracking row (position and
working state) in one `BEGIN IMMEDIATE` transaction: after a crash the file holds
exactly the fold of events 1..position for each projection.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from nvr.projections.tables import Drop, Key, Op, Patch, Put, Row, Table, table_checksum

_PUT, _PATCH, _DROP, _CLEAN = 0, 1, 2, 3
"""Buffered: a whole new row; changed columns of a stored row; a deletion; a stored row
read and cached unchanged (not written at flush)."""


def create_sql(spec: Table) -> list[str]:
    cols = ", ".join(f"{name} {decl}" for name, decl in spec.columns)
    pk = ", ".join(spec.names[: spec.key])
    out = [f"CREATE TABLE IF NOT EXISTS {spec.name} ({cols}, PRIMARY KEY ({pk}))"]
    if "PRIMARY KEY" in spec.columns[0][1]:
        # The column declares itself the key (the roadmap's `id INTEGER PRIMARY KEY ...`).
        out[0] = f"CREATE TABLE IF NOT EXISTS {spec.name} ({cols})"
    for i, idx in enumerate(spec.indexes):
        out.append(f"CREATE INDEX IF NOT EXISTS {spec.name}_i{i} ON {spec.name} ({', '.join(idx)})")
    for i, idx in enumerate(spec.unique):
        out.append(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {spec.name}_u{i} ON {spec.name} ({', '.join(idx)})"
        )
    return out


class TableBuffer:
    """Row changes since the last commit, at most one per row, over a SQLite connection."""

    def __init__(self, db: sqlite3.Connection, specs: Iterable[Table]) -> None:
        self.db = db
        self.specs = {s.name: s for s in specs}
        self.pending: dict[str, dict[Key, tuple[int, Row | None]]] = defaultdict(dict)
        # Rows put since the last commit, by their unique columns' values.
        self.pending_by: dict[tuple[str, str, Any], Key] = {}
        self.uniques = {s.name: [u[0] for u in s.unique] for s in self.specs.values()}
        self._where = {
            s.name: " AND ".join(f"{c} = ?" for c in s.names[: s.key]) for s in self.specs.values()
        }

    def _stored(self, table: str, key: Key) -> Row | None:
        spec = self.specs[table]
        cur = self.db.execute(f"SELECT * FROM {table} WHERE {self._where[table]}", key)
        found = cur.fetchone()
        return dict(zip(spec.names, found, strict=True)) if found is not None else None

    def get(self, table: str, key: Key) -> Row | None:
        pending = self.pending[table]
        kind, row = pending.get(key, (-1, None))
        if kind in (_PUT, _CLEAN):
            assert row is not None
            return dict(row)
        if kind == _DROP:
            return None
        stored = self._stored(table, key)
        if stored is None:
            return None
        if kind == _PATCH:
            assert row is not None
            stored.update(row)
            pending[key] = (_PUT, stored)  # the merged row, so the next read needs no query
        else:
            pending[key] = (_CLEAN, stored)
        return dict(stored)

    def find(self, table: str, column: str, value: Any) -> Row | None:
        key = self.pending_by.get((table, column, value))
        if key is None:
            spec = self.specs[table]
            pk = ", ".join(spec.names[: spec.key])
            found = self.db.execute(f"SELECT {pk} FROM {table} WHERE {column} = ?", (value,))
            row = found.fetchone()
            if row is None:
                return None
            key = tuple(row)
        return self.get(table, key)

    def find_all(self, table: str, column: str, value: Any) -> list[Row]:
        spec = self.specs[table]
        pk = ", ".join(spec.names[: spec.key])
        keys = {
            tuple(r)
            for r in self.db.execute(f"SELECT {pk} FROM {table} WHERE {column} = ?", (value,))
        }
        for key, (kind, row) in self.pending[table].items():
            if kind == _PUT or (kind == _PATCH and row is not None and column in row):
                keys.add(key)
        found = (self.get(table, key) for key in keys)
        return [r for r in found if r is not None and r[column] == value]

    def apply(self, ops: Iterable[Op]) -> None:
        for op in ops:
            pending = self.pending[op.table]
            if isinstance(op, Put):
                spec = self.specs[op.table]
                key = spec.key_of(op.row)
                pending[key] = (_PUT, dict(op.row))
                for col in self.uniques[op.table]:
                    self.pending_by[(op.table, col, op.row[col])] = key
            elif isinstance(op, Patch):
                kind, row = pending.get(op.key, (-1, None))
                if kind == _DROP:
                    continue
                if kind == -1:
                    pending[op.key] = (_PATCH, dict(op.values))
                else:
                    assert row is not None
                    row.update(op.values)
                    if kind == _CLEAN:
                        pending[op.key] = (_PUT, row)
            else:
                assert isinstance(op, Drop)
                pending[op.key] = (_DROP, None)

    def flush(self) -> None:
        """Write the buffered changes (inside the caller's transaction)."""
        for table, pending in self.pending.items():
            spec = self.specs[table]
            where = self._where[table]
            drops = [key for key, (kind, _) in pending.items() if kind == _DROP]
            if drops:
                self.db.executemany(f"DELETE FROM {table} WHERE {where}", drops)
            puts = [row for kind, row in pending.values() if kind == _PUT]
            if puts:
                marks = ", ".join("?" * len(spec.names))
                self.db.executemany(
                    f"INSERT OR REPLACE INTO {table} ({', '.join(spec.names)}) VALUES ({marks})",
                    [tuple(r[c] for c in spec.names) for r in puts if r is not None],
                )
            by_cols: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
            for key, (kind, row) in pending.items():
                if kind == _PATCH and row:
                    cols = tuple(sorted(row))
                    by_cols[cols].append(tuple(row[c] for c in cols) + key)
            for cols, params in by_cols.items():
                sets = ", ".join(f"{c} = ?" for c in cols)
                self.db.executemany(f"UPDATE {table} SET {sets} WHERE {where}", params)
        self.pending.clear()
        self.pending_by.clear()

    def checksum(self, table: str) -> str:
        spec = self.specs[table]
        cur = self.db.execute(f"SELECT * FROM {table}")
        return table_checksum(spec, (dict(zip(spec.names, r, strict=True)) for r in cur))
