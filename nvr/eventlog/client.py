"""Producers' side of the appender, and `RemoteLog`: the log as any other process sees it.

Appends go over the appender's socket; reads go straight to the LMDB files. A producer
whose appender dies reconnects and resends what was not acknowledged, with the same
event ids, so an append committed just before the crash is answered with its original
positions instead of being written twice.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from nvr.domain.envelope import Envelope, Proposed
from nvr.eventlog import errors, wire
from nvr.eventlog.lmdbstore import LmdbStore

RETRY_FIRST_S = 0.005
RETRY_MAX_S = 0.25


class AppenderClient:
    """One connection to the appender. Not thread-safe: one per thread or process.

    `submit` sends without waiting (pipelining); `collect` returns the next answer in
    submission order. `append` does both. Every call retries through appender restarts
    until `deadline_s` passes, then raises AppenderUnavailable."""

    def __init__(self, log_dir: str | os.PathLike[str], *, deadline_s: float = 30.0) -> None:
        self._address = wire.address(log_dir)
        self.deadline_s = deadline_s
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._next_id = 1
        self._unacked: OrderedDict[int, list[Proposed]] = OrderedDict()
        self.reconnects = 0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def append(self, events: Sequence[Proposed]) -> list[int]:
        rid = self.submit(events)
        while True:
            got, result = self.collect()
            if got == rid:
                if isinstance(result, errors.LogError):
                    raise result
                return result

    def submit(self, events: Sequence[Proposed]) -> int:
        rid = self._next_id
        self._next_id += 1
        batch = list(events)
        data = wire.frame(wire.Append(id=rid, events=batch))
        if len(data) > wire.MAX_FRAME:
            raise errors.InvalidAppend(f"one append is limited to {wire.MAX_FRAME} bytes; split it")
        self._unacked[rid] = batch
        try:
            if self._sock is None:
                self._connected()  # connecting sends every unacknowledged request, this one too
            else:
                self._sock.sendall(data)
        except OSError:
            self._drop()  # resent by collect() after reconnecting
        return rid

    def collect(self) -> tuple[int, list[int] | errors.LogError]:
        """The next answer, in submission order."""
        if not self._unacked:
            raise RuntimeError("collect() with nothing submitted")
        deadline = time.monotonic() + self.deadline_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._drop()
                raise errors.AppenderUnavailable(
                    f"no answer from the appender within {self.deadline_s:.0f} s"
                )
            try:
                sock = self._connected(deadline)
                sock.settimeout(left)
                msg = self._read_frame(sock)
            except (OSError, EOFError):  # a timeout too: the loop checks the deadline
                self._drop()
                continue
            if isinstance(msg, wire.Committed):
                continue
            rid = msg.id
            if rid not in self._unacked:
                self._drop()
                # A frame the appender could not decode is refused with id 0: find it here,
                # or it would be resent, and refused, on every reconnect from now on.
                bad = _undecodable(self._unacked) if isinstance(msg, wire.Refused) else None
                if bad is None:
                    raise errors.InvalidAppend(
                        f"the appender refused the connection: {getattr(msg, 'message', msg)}"
                    )
                rid = bad
            self._unacked.pop(rid, None)
            if isinstance(msg, wire.Appended):
                return rid, msg.positions
            return rid, _error(msg)

    def _connected(self, deadline: float | None = None) -> socket.socket:
        if self._sock is not None:
            return self._sock
        deadline = deadline or time.monotonic() + self.deadline_s
        delay = RETRY_FIRST_S
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self._address)
                # Resend, in order, everything not yet acknowledged (same ids: idempotent).
                for rid, batch in self._unacked.items():
                    sock.sendall(wire.frame(wire.Append(id=rid, events=batch)))
            except OSError:
                sock.close()
                if time.monotonic() + delay > deadline:
                    raise errors.AppenderUnavailable(
                        f"no appender answered for {self.deadline_s:.0f} s"
                    ) from None
                time.sleep(delay)  # back off while the supervisor restarts the appender
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._sock = sock
            self._buf.clear()
            return sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self.reconnects += 1

    def _read_frame(self, sock: socket.socket) -> Any:
        need = wire.FRAME_HEADER.size
        while True:
            if len(self._buf) >= need:
                (size,) = wire.FRAME_HEADER.unpack_from(self._buf)
                if len(self._buf) >= need + size:
                    body = bytes(self._buf[need : need + size])
                    del self._buf[: need + size]
                    return wire.from_appender.decode(body)
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise EOFError("appender closed the connection")
            self._buf += chunk


_SIMPLE_ERRORS: dict[str, type[errors.LogError]] = {
    "InvalidAppend": errors.InvalidAppend,
    "LogFull": errors.LogFull,
}


def _undecodable(unacked: OrderedDict[int, list[Proposed]]) -> int | None:
    """The first request whose frame does not decode (a payload that is not msgpack)."""
    for rid, batch in unacked.items():
        try:
            wire.to_appender.decode(wire.encoder.encode(wire.Append(id=rid, events=batch)))
        except msgspec.DecodeError:
            return rid
    return None


def _error(msg: wire.Refused) -> errors.LogError:
    if msg.kind == "WrongExpectedVersion":
        return errors.WrongExpectedVersion(msg.stream, msg.expected, msg.actual)
    return _SIMPLE_ERRORS.get(msg.kind, errors.LogError)(msg.message)


class HeadWatcher:
    """Wakes a reader as soon as the appender commits; polls the files if it is down."""

    POLL_S = 0.05

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self._address = wire.address(log_dir)
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self.head = 0

    def wait(self, timeout: float) -> None:
        """Return after a commit notice or after `timeout` (at most POLL_S if disconnected)."""
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self._address)
                sock.sendall(wire.frame(wire.Subscribe()))
                self._sock = sock
            except OSError:
                sock.close()
                time.sleep(min(timeout, self.POLL_S))
                return
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if ready:
            data = self._sock.recv(1 << 16)
            if not data:
                self.close()
                return
            self._buf += data
            hs = wire.FRAME_HEADER.size
            while len(self._buf) >= hs:
                (size,) = wire.FRAME_HEADER.unpack_from(self._buf)
                if len(self._buf) < hs + size:
                    break
                msg = wire.from_appender.decode(bytes(self._buf[hs : hs + size]))
                del self._buf[: hs + size]
                if isinstance(msg, wire.Committed):
                    self.head = max(self.head, msg.head)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class RemoteLog:
    """The event log from a process that does not own writing: appends through the
    appender, reads from the files, wakes on commit notices."""

    def __init__(self, log_dir: str | os.PathLike[str], *, deadline_s: float = 30.0) -> None:
        self.path = Path(log_dir)
        self.client = AppenderClient(log_dir, deadline_s=deadline_s)
        self._watcher = HeadWatcher(log_dir)
        self._append_lock = threading.Lock()
        self._watch_lock = threading.Lock()
        self._store: LmdbStore | None = None

    @property
    def store(self) -> LmdbStore:
        if self._store is None:
            self._store = LmdbStore(self.path)
        return self._store

    def append(self, events: Sequence[Proposed]) -> list[int]:
        with self._append_lock:  # one connection, shared by this process's threads
            return self.client.append(events)

    def head(self) -> int:
        return self.store.head()

    def get(self, position: int) -> Envelope:
        return self.store.get(position)

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[Envelope]:
        return self.store.read(start, stop)

    def read_stream(self, stream: str, from_version: int = 1) -> Iterator[Envelope]:
        return self.store.read_stream(stream, from_version)

    def read_time(self, since_ns: int, until_ns: int) -> Iterator[Envelope]:
        return self.store.read_time(since_ns, until_ns)

    def stream_version(self, stream: str) -> int:
        return self.store.stream_version(stream)

    def position_of(self, event_id: bytes) -> int | None:
        return self.store.position_of(event_id)

    def wait_for(self, position: int, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.head() >= position:
                return True
            left = 1.0 if end is None else end - time.monotonic()
            if left <= 0:
                return False
            with self._watch_lock:  # one subscription socket, one waiter at a time
                if self.head() >= position:  # another waiter took the notice meanwhile
                    return True
                self._watcher.wait(min(left, 1.0))

    def close(self) -> None:
        self.client.close()
        self._watcher.close()
        if self._store is not None:
            self._store.close()
