"""Row-per-entity projections: a pure fold that emits row changes, and the memory tables.

A `TableProjection` keeps a small working state (what is open right now: segments,
recordings, motions) and a set of tables. `evolve(work, view, env, event)` returns the
new working state and the row changes (`Put`, `Patch`, `Drop`); it may read rows through
`view` but never writes anything itself. State = (work, tables), so this is still a pure
fold: the same events give the same rows, whether folded in one go or across restarts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from nvr.domain.envelope import Envelope
from nvr.domain.events import Event

Row = dict[str, Any]
Key = tuple[Any, ...]


@dataclass(frozen=True, kw_only=True)
class Table:
    """A table's shape: columns as (name, SQL declaration) in order; the first `key`
    columns are its primary key; `indexes` as column lists; `unique` single columns that
    `View.find` looks rows up by."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: int = 1
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    names: tuple[str, ...] = field(init=False)
    key_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(c for c, _ in self.columns)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "key_names", names[: self.key])

    def key_of(self, row: Mapping[str, Any]) -> Key:
        if self.key == 1:
            return (row[self.key_names[0]],)
        return tuple(row[c] for c in self.key_names)


class Put(msgspec.Struct, frozen=True, gc=False):
    """Insert or replace a whole row: `row` has every column of the table (the memory
    tables check it; the SQLite store trusts it). As in SQLite's INSERT OR REPLACE, a
    row with the same value in a unique column is replaced too."""

    table: str
    row: Row


class Patch(msgspec.Struct, frozen=True, gc=False):
    """Set some columns of the row with this key; nothing happens if there is none."""

    table: str
    key: Key
    values: Row


class Drop(msgspec.Struct, frozen=True, gc=False):
    table: str
    key: Key


Op = Put | Patch | Drop


class View(Protocol):
    def get(self, table: str, key: Key) -> Row | None:
        """The row as the fold has built it so far (including uncommitted changes)."""
        ...

    def find(self, table: str, column: str, value: Any) -> Row | None:
        """The row whose unique `column` (declared in `Table.unique`) equals `value`."""
        ...

    def find_all(self, table: str, column: str, value: Any) -> list[Row]:
        """Every row whose `column` equals `value` (keep to indexed columns and rare calls)."""
        ...


class TableProjection(Protocol):
    name: str
    version: int
    handles: frozenset[str]
    tables: tuple[Table, ...]
    work_type: type[Any]

    def initial(self) -> Any: ...

    def evolve(
        self, work: Any, view: View, env: Envelope, event: Event
    ) -> tuple[Any, Sequence[Op]]: ...


class MemoryTables:
    """Tables as dicts keyed by primary key; the reference the SQLite store is checked against."""

    def __init__(self, tables: Iterable[Table]) -> None:
        self.specs = {t.name: t for t in tables}
        self.rows: dict[str, dict[Key, Row]] = {name: {} for name in self.specs}
        self.by: dict[str, dict[str, dict[Any, Key]]] = {
            t.name: {u[0]: {} for u in t.unique} for t in self.specs.values()
        }

    def get(self, table: str, key: Key) -> Row | None:
        row = self.rows[table].get(key)
        return dict(row) if row is not None else None

    def find(self, table: str, column: str, value: Any) -> Row | None:
        key = self.by[table][column].get(value)
        return self.get(table, key) if key is not None else None

    def find_all(self, table: str, column: str, value: Any) -> list[Row]:
        return [dict(r) for r in self.rows[table].values() if r[column] == value]

    def _unindex(self, table: str, row: Row | None) -> None:
        if row is not None:
            for col, index in self.by[table].items():
                index.pop(row[col], None)

    def apply(self, ops: Iterable[Op]) -> None:
        for op in ops:
            rows = self.rows[op.table]
            if isinstance(op, Put):
                spec = self.specs[op.table]
                key = spec.key_of(op.row)
                if len(op.row) != len(spec.names) or any(c not in op.row for c in spec.names):
                    raise ValueError(f"{op.table}: a Put needs exactly the columns {spec.names}")
                self._unindex(op.table, rows.get(key))
                rows[key] = row = dict(op.row)
                for col, index in self.by[op.table].items():
                    # SQLite's INSERT OR REPLACE: a row holding the same unique value goes.
                    other = index.get(row[col])
                    if other is not None and other != key:
                        self._unindex(op.table, rows.pop(other))
                    index[row[col]] = key
            elif isinstance(op, Patch):
                found = rows.get(op.key)
                if found is not None:
                    found.update(op.values)  # unique columns are never patched
            else:
                self._unindex(op.table, rows.pop(op.key, None))

    def dump_json(self) -> bytes:
        """Every table, rows in key order, as canonical JSON with one row per line (the
        golden files' format: a changed row is a one-line diff)."""
        enc = msgspec.json.Encoder(order="sorted")
        parts = []
        for name in sorted(self.specs):
            rows = [self.rows[name][k] for k in sorted(self.rows[name])]
            body = ",\n".join("  " + enc.encode(r).decode() for r in rows)
            parts.append(f'"{name}": [' + (f"\n{body}\n" if rows else "") + "]")
        return ("{\n" + ",\n".join(parts) + "\n}").encode()

    def checksums(self) -> dict[str, str]:
        return {
            name: table_checksum(self.specs[name], self.rows[name].values()) for name in self.specs
        }


def table_checksum(spec: Table, rows: Iterable[Mapping[str, Any]]) -> str:
    """BLAKE2b over the rows in primary-key order, each as a msgpack array in column order:
    equal for equal contents whatever store holds them."""
    enc = msgspec.msgpack.Encoder()
    h = hashlib.blake2b(digest_size=16)
    ordered = sorted((spec.key_of(r), [r[c] for c in spec.names]) for r in rows)
    for _, values in ordered:
        h.update(enc.encode(values))
    return h.hexdigest()
