"""The LMDB layout of the log, its readers and its single writer.

One environment (a directory holding data.mdb and lock.mdb) with five databases:
  events   u64be position               -> chain hash (32) + msgpack envelope
  ids      event id (16 bytes)           -> u64be position
  streams  stream utf-8 + NUL + u64be ver -> u64be position
  time     u64be recorded_at_ns + u64be position -> empty
  meta     b"format" -> FORMAT;  b"head" -> u64be position + chain hash + u64be time
Durable defaults: sync and metasync on, no writemap (a full disk is an error, not SIGBUS).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import lmdb

from nvr.clock import Clock, SystemClock
from nvr.domain.envelope import Envelope, Proposed
from nvr.eventlog.errors import AppenderBusy, LogCorrupt, LogError, LogFull
from nvr.eventlog.records import GENESIS_HASH, decode_record, key_pos, pos_key
from nvr.eventlog.sequencer import Head, Sequencer

FORMAT = b"vigil-log/1"
DEFAULT_MAP_SIZE = 256 << 20
MAX_MAP_SIZE = 1 << 40
READ_CHUNK = 2048
_HEAD = struct.Struct(">Q32sQ")
_U64 = struct.Struct(">Q")
T = TypeVar("T")

AppendResult = list[int] | LogError


class LmdbStore:
    """An open log directory. Read methods work in any process; `append_group` only in
    the one process that owns writing (the appender, or an in-process `LmdbLog`).

    Must be opened in the process that uses it (after fork/spawn, never inherited).
    Every transaction is short and its buffers are copied before it ends.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        writable: bool = False,
        map_size: int = DEFAULT_MAP_SIZE,
        max_map_size: int = MAX_MAP_SIZE,
        clock: Clock | None = None,
    ) -> None:
        self.path = Path(path)
        self.writable = writable
        self._max_map_size = max_map_size
        self._map_size = map_size
        self._clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._versions: dict[str, int] = {}
        try:
            self._open()
        except BaseException:
            if hasattr(self, "_env"):
                self._env.close()
            if hasattr(self, "_lock_file"):
                self._lock_file.close()
            raise

    # -- environment -------------------------------------------------------------------

    def _open(self) -> None:
        if self.writable:
            self.path.mkdir(parents=True, exist_ok=True)
            if not hasattr(self, "_lock_file"):
                self._lock_file = _take_writer_lock(self.path)
        elif not (self.path / "data.mdb").exists():
            raise LogError(f"no event log at {self.path} (start the appender first)")
        try:
            self._env = lmdb.open(
                str(self.path),
                map_size=self._map_size,
                max_dbs=8,
                max_readers=510,
                readonly=not self.writable,
                sync=True,
                metasync=True,
                writemap=False,
                create=self.writable,
                lock=True,
            )
        except lmdb.Error as exc:
            raise LogError(f"cannot open event log at {self.path}: {exc}") from exc
        if self.writable:
            # Readers killed inside a read transaction pin pages until this clears them.
            self._env.reader_check()
        create = self.writable
        self._events = self._env.open_db(b"events", create=create)
        self._ids = self._env.open_db(b"ids", create=create)
        self._streams = self._env.open_db(b"streams", create=create)
        self._time = self._env.open_db(b"time", create=create)
        self._meta = self._env.open_db(b"meta", create=create)
        if self.writable:
            with self._env.begin(write=True) as txn:
                fmt = txn.get(b"format", db=self._meta)
                if fmt is None:
                    txn.put(b"format", FORMAT, db=self._meta)
        with self._env.begin() as txn:
            fmt = txn.get(b"format", db=self._meta)
        if fmt is not None and fmt != FORMAT:
            raise LogError(
                f"event log at {self.path} has format {fmt.decode(errors='replace')!r}; "
                f"this Vigil reads {FORMAT.decode()!r} (written by a newer version?)"
            )
        self._head = self._read_head()

    def close(self) -> None:
        with self._lock:
            self._env.close()
            if self.writable:
                self._lock_file.close()

    def _check_pid(self) -> None:
        if os.getpid() != self._pid:
            raise LogError("an LMDB log handle was inherited across fork; open it in the child")

    def _txn(self, fn: Callable[[Any], T], write: bool = False) -> T:
        """Run `fn` in one short transaction, adopting a map grown by the writer."""
        self._check_pid()
        with self._lock:
            for _ in range(3):
                try:
                    with self._env.begin(write=write, buffers=False) as txn:
                        return fn(txn)
                except lmdb.MapResizedError:
                    self._env.set_mapsize(0)
            raise LogError("map kept being resized under the reader")

    def _read_head(self) -> Head:
        raw = self._txn(lambda txn: txn.get(b"head", db=self._meta))
        if raw is None:
            return Head(0, GENESIS_HASH, 0)
        pos, h, t = _HEAD.unpack(raw)
        return Head(pos, h, t)

    # -- reading -----------------------------------------------------------------------

    def head(self) -> int:
        if not self.writable:
            self._head = self._read_head()
        return self._head.position

    def head_state(self) -> Head:
        return self._read_head()

    def raw(self, position: int) -> bytes:
        value = self._txn(lambda txn: txn.get(pos_key(position), db=self._events))
        if value is None:
            raise KeyError(position)
        return bytes(value)

    def get(self, position: int) -> Envelope:
        return decode_record(self.raw(position), position)

    def read_raw(self, start: int = 1, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(position, stored value) pairs in order, chunked into short transactions."""
        for chunk in self._chunks(start, stop):
            yield from chunk

    def _chunks(self, start: int, stop: int | None) -> Iterator[list[tuple[int, bytes]]]:
        pos = max(start, 1)
        while stop is None or pos < stop:
            chunk = self._txn(lambda txn, p=pos: self._chunk(txn, p, stop))  # type: ignore[misc]
            if not chunk:
                return
            yield chunk
            pos = chunk[-1][0] + 1

    def _chunk(self, txn: Any, start: int, stop: int | None) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        cur = txn.cursor(db=self._events)
        if not cur.set_range(pos_key(start)):
            return out
        expected = start
        unpack = _U64.unpack  # the replay hot loop: key_pos inlined
        for key, value in cur.iternext():
            (pos,) = unpack(key)
            if stop is not None and pos >= stop:
                break
            if pos != expected:
                if out:  # hand over what precedes the gap; the next chunk reports it
                    break
                raise LogCorrupt(expected, f"missing record (next stored is {pos})")
            out.append((pos, value))
            expected += 1
            if len(out) >= READ_CHUNK:
                break
        return out

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[Envelope]:
        if stop is None:
            stop = self.head() + 1
        for chunk in self._chunks(
            start, stop
        ):  # chunks, not read_raw: one generator less per event
            for pos, value in chunk:
                yield decode_record(value, pos)

    def read_stream(self, stream: str, from_version: int = 1) -> Iterator[Envelope]:
        prefix = stream.encode() + b"\x00"

        def chunk(txn: Any, version: int) -> list[tuple[int, bytes]]:
            out: list[tuple[int, bytes]] = []
            cur = txn.cursor(db=self._streams)
            if not cur.set_range(prefix + _U64.pack(version)):
                return out
            for key, value in cur.iternext():
                if not key.startswith(prefix) or len(key) != len(prefix) + 8:
                    break
                pos = key_pos(value)
                out.append((pos, txn.get(value, db=self._events)))
                if len(out) >= READ_CHUNK:
                    break
            return out

        version = max(from_version, 1)
        while True:
            got = self._txn(lambda txn, v=version: chunk(txn, v))  # type: ignore[misc]
            for pos, value in got:
                if value is None:
                    raise LogCorrupt(pos, f"stream index of {stream!r} points at no record")
                yield decode_record(value, pos)
            if len(got) < READ_CHUNK:
                return
            version += len(got)

    def read_time(self, since_ns: int, until_ns: int) -> Iterator[Envelope]:
        def first_last(txn: Any) -> tuple[int, int]:
            cur = txn.cursor(db=self._time)
            lo = hi = 0
            if cur.set_range(_U64.pack(max(since_ns, 0))):
                lo = key_pos(cur.key()[8:])
            if cur.set_range(_U64.pack(max(until_ns, 0))):
                hi = key_pos(cur.key()[8:])
            return lo, hi

        lo, hi = self._txn(first_last)
        if lo == 0:
            return iter(())
        return self.read(lo, hi if hi else None)

    def stream_version(self, stream: str) -> int:
        return self._txn(lambda txn: self._stored_version(txn, stream))

    def _stored_version(self, txn: Any, stream: str) -> int:
        prefix = stream.encode() + b"\x00"
        cur = txn.cursor(db=self._streams)
        found = cur.set_range(stream.encode() + b"\x01")
        found = cur.prev() if found else cur.last()
        if found and cur.key().startswith(prefix) and len(cur.key()) == len(prefix) + 8:
            return int(_U64.unpack(cur.key()[-8:])[0])
        return 0

    def position_of(self, event_id: bytes) -> int | None:
        raw = self._txn(lambda txn: txn.get(event_id, db=self._ids))
        return None if raw is None else key_pos(raw)

    def stats(self) -> dict[str, Any]:
        def read(txn: Any) -> dict[str, Any]:
            return {
                "events": txn.stat(self._events)["entries"],
                "streams_index": txn.stat(self._streams)["entries"],
                "ids_index": txn.stat(self._ids)["entries"],
                "time_index": txn.stat(self._time)["entries"],
            }

        out = self._txn(read)
        head = self._read_head()
        info = self._env.info()
        out.update(
            head=head.position,
            head_hash=head.hash.hex(),
            last_recorded_at_ns=head.last_t,
            map_size=info["map_size"],
            used_bytes=(info["last_pgno"] + 1) * self._env.stat()["psize"],
            readers=info["num_readers"],
            path=str(self.path),
        )
        return out

    def check_indexes(self) -> tuple[int, str] | None:
        """The first record whose id, stream or time index entry is missing or wrong."""

        def check(txn: Any, start: int) -> tuple[int, tuple[int, str] | None]:
            cur = txn.cursor(db=self._events)
            last = start - 1
            if not cur.set_range(pos_key(start)):
                return last, None
            for key, value in cur.iternext():
                pos = key_pos(key)
                env = decode_record(value, pos)
                stream_key = env.stream.encode() + b"\x00" + _U64.pack(env.stream_version)
                if txn.get(env.event_id, db=self._ids) != key:
                    return pos, (pos, "event id index does not point at this record")
                if txn.get(stream_key, db=self._streams) != key:
                    return pos, (pos, "stream index does not point at this record")
                if txn.get(_U64.pack(env.recorded_at_ns) + key, db=self._time) is None:
                    return pos, (pos, "time index lacks this record")
                last = pos
                if pos - start >= READ_CHUNK:
                    break
            return last, None

        start = 1
        while True:
            last, problem = self._txn(lambda txn, s=start: check(txn, s))  # type: ignore[misc]
            if problem or last < start:
                break
            start = last + 1
        if problem:
            return problem
        counts = self.stats()
        for name in ("ids_index", "streams_index", "time_index"):
            if counts[name] != counts["events"]:
                return counts[
                    "events"
                ], f"{name} holds {counts[name]} entries for {counts['events']} events"
        return None

    # -- writing (the owner process only) ----------------------------------------------

    def append_group(self, requests: Sequence[Sequence[Proposed]]) -> list[AppendResult]:
        """Commit many producers' requests in one durable transaction (one fsync pair).

        Each request is all-or-nothing; a refused one gets its error, the rest commit."""
        if not self.writable:
            raise LogError("this log handle is read-only; appends go through the appender")
        self._check_pid()
        with self._lock:
            while True:
                try:
                    return self._try_group(requests)
                except lmdb.MapFullError:
                    if not self._grow():
                        return [LogFull(f"event log map is full at {self._map_size} bytes")] * len(
                            requests
                        )
                except lmdb.Error as exc:
                    # A failed commit (ENOSPC, EIO) may leave the handle unusable: reopen.
                    self._reopen()
                    return [_io_error(exc)] * len(requests)
                except LogError as exc:  # e.g. LogCorrupt from an index: nothing committed
                    self._versions.clear()
                    return [exc] * len(requests)

    def _try_group(self, requests: Sequence[Sequence[Proposed]]) -> list[AppendResult]:
        now = self._clock.now_ns()
        results: list[AppendResult] = []
        with self._env.begin(write=True) as txn:
            ids_db = self._ids

            def stored_position(event_id: bytes) -> int | None:
                raw = txn.get(event_id, db=ids_db)
                return None if raw is None else key_pos(raw)

            seq = Sequencer(self._head, lambda s: self._cached_version(txn, s), stored_position)
            for req in requests:
                try:
                    results.append(seq.plan(req, now))
                except LogError as exc:
                    results.append(exc)
            if not seq.records:
                return results
            # One cursor per database: same puts and checks as txn.put, less overhead each.
            events, ids = txn.cursor(db=self._events), txn.cursor(db=ids_db)
            streams, times = txn.cursor(db=self._streams), txn.cursor(db=self._time)
            pack = _U64.pack
            for rec in seq.records:
                key = pack(rec.position)
                stream_key = rec.stream.encode() + b"\x00" + pack(rec.stream_version)
                if not (
                    events.put(key, rec.value, append=True)
                    and ids.put(rec.event_id, key, overwrite=False)
                    and streams.put(stream_key, key, overwrite=False)
                    and times.put(pack(rec.recorded_at_ns) + key, b"", append=True)
                ):
                    raise LogCorrupt(rec.position, "index already holds this key")
            h = seq.head
            txn.put(b"head", _HEAD.pack(h.position, h.hash, h.last_t), db=self._meta)
        # Committed: adopt the new tip.
        self._head = seq.head
        self._versions.update(seq.versions)
        return results

    def _cached_version(self, txn: Any, stream: str) -> int:
        v = self._versions.get(stream)
        if v is None:
            v = self._versions[stream] = self._stored_version(txn, stream)
        return v

    def _grow(self) -> bool:
        if self._map_size >= self._max_map_size:
            return False
        self._map_size = min(self._map_size * 2, self._max_map_size)
        self._env.set_mapsize(self._map_size)
        return True

    def _reopen(self) -> None:
        try:
            self._env.close()
        finally:
            self._versions.clear()
            self._open()


def _take_writer_lock(path: Path) -> IO[str]:
    """Exactly one writer per log: an exclusive lock the kernel drops if the writer dies."""
    lock_file = open(path / "writer.lock", "a+")  # noqa: SIM115
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise AppenderBusy(f"another process is writing the event log at {path}") from None
    return lock_file


def _io_error(exc: lmdb.Error) -> LogError:
    text = str(exc)
    if "No space" in text or "Disk quota" in text or f"errno {errno.ENOSPC}" in text:
        return LogFull(f"disk full, nothing written: {text}")
    return LogError(f"event log write failed, nothing written: {text}")
