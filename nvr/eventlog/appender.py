"""The appender: the one process that owns the log's write transactions.

Producers in any process send appends over the socket (`nvr.eventlog.wire`). A writer
thread takes everything pending, commits it as one transaction (one durable sync for
many producers), then answers each producer with its positions and tells subscribers
the new head. A file lock makes sure only one appender runs per log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from nvr.clock import Clock
from nvr.eventlog import wire
from nvr.eventlog.errors import LogError, WrongExpectedVersion
from nvr.eventlog.lmdbstore import DEFAULT_MAP_SIZE, MAX_MAP_SIZE, AppendResult, LmdbStore

log = logging.getLogger(__name__)
SLOW_SUBSCRIBER_BYTES = 1 << 20


class _Pending:
    __slots__ = ("events", "id", "writer")

    def __init__(self, writer: asyncio.StreamWriter, msg: wire.Append) -> None:
        self.writer, self.id, self.events = writer, msg.id, msg.events


class Appender:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        map_size: int = DEFAULT_MAP_SIZE,
        max_map_size: int = MAX_MAP_SIZE,
    ) -> None:
        self.path = Path(path)
        self.store = LmdbStore(
            self.path, writable=True, clock=clock, map_size=map_size, max_map_size=max_map_size
        )
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._subscribers: set[asyncio.StreamWriter] = set()
        self.groups = 0
        self.events = 0
        self.failure: BaseException | None = None

    def statistics(self) -> dict[str, Any]:
        return {
            "groups": self.groups,
            "requests_pending": len(self._pending),
            "events": self.events,
        }

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until `stop()`; pending appends are committed and answered before return."""
        self._loop = asyncio.get_running_loop()
        server = await asyncio.start_unix_server(self._connection, path=wire.address(self.path))
        thread = threading.Thread(target=self._write_loop, name="log-writer", daemon=True)
        thread.start()
        self._stopped = asyncio.Event()
        if ready:
            ready()
        try:
            await self._stopped.wait()
        finally:
            server.close()
            self._stopping = True
            self._wake.set()
            await asyncio.to_thread(thread.join)
            for w in list(self._subscribers):
                w.close()
            self.store.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(wire.FRAME_HEADER.size)
                (size,) = wire.FRAME_HEADER.unpack(header)
                if size > wire.MAX_FRAME:
                    log.warning("dropping a producer that sent a %d-byte frame", size)
                    return
                body = await reader.readexactly(size)
                try:
                    msg = wire.to_appender.decode(body)
                except msgspec.DecodeError as exc:
                    writer.write(
                        wire.frame(wire.Refused(id=0, kind="InvalidAppend", message=str(exc)))
                    )
                    return
                if isinstance(msg, wire.Append):
                    with self._pending_lock:
                        self._pending.append(_Pending(writer, msg))
                    self._wake.set()
                elif isinstance(msg, wire.Subscribe):
                    self._subscribers.add(writer)
                    writer.write(wire.frame(wire.Committed(head=self.store.head())))
                else:
                    writer.write(wire.frame(wire.Committed(head=self.store.head())))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._subscribers.discard(writer)
            writer.close()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._pending_lock:
                batch, self._pending = self._pending, []
            if batch:
                try:
                    results = self.store.append_group([p.events for p in batch])
                except Exception as exc:
                    # Unexpected: answer everyone, then exit so the supervisor restarts us
                    # with a fresh environment (crash-only; nothing of this group committed).
                    log.exception("log writer failed")
                    self.failure = exc
                    error: AppendResult = LogError(f"appender failed, nothing written: {exc!r}")
                    self._loop.call_soon_threadsafe(
                        self._deliver, batch, [error] * len(batch), self.store.head()
                    )
                    self._loop.call_soon_threadsafe(self._stopped.set)
                    return
                self.groups += 1
                self.events += sum(len(r) for r in results if isinstance(r, list))
                head = self.store.head()
                self._loop.call_soon_threadsafe(self._deliver, batch, results, head)
            elif self._stopping:
                return

    def _deliver(self, batch: list[_Pending], results: list[AppendResult], head: int) -> None:
        # One write (one send) per producer per group, its answers in submission order.
        answers: dict[asyncio.StreamWriter, list[bytes]] = {}
        for p, result in zip(batch, results, strict=True):
            if p.writer.is_closing():
                continue
            answers.setdefault(p.writer, []).append(wire.frame(_answer(p.id, result)))
        for writer, frames in answers.items():
            writer.write(b"".join(frames))
        note = wire.frame(wire.Committed(head=head))
        for w in list(self._subscribers):
            if w.is_closing() or w.transport.get_write_buffer_size() > SLOW_SUBSCRIBER_BYTES:
                self._subscribers.discard(w)
                w.close()
            else:
                w.write(note)


def _answer(req_id: int, result: AppendResult) -> wire.Appended | wire.Refused:
    if isinstance(result, list):
        return wire.Appended(id=req_id, positions=result)
    if isinstance(result, WrongExpectedVersion):
        return wire.Refused(
            id=req_id, kind="WrongExpectedVersion", message=str(result),
            stream=result.stream, expected=result.expected, actual=result.actual,
        )  # fmt: skip
    assert isinstance(result, LogError)
    return wire.Refused(id=req_id, kind=type(result).__name__, message=str(result))


def run(
    path: str | os.PathLike[str], *, ready: Callable[[], None] | None = None, **kw: Any
) -> None:
    """Run an appender in this process until SIGTERM or SIGINT."""

    async def main() -> None:
        appender = Appender(path, **kw)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, appender.stop)
        await appender.serve(ready)
        if appender.failure is not None:
            raise LogError(f"appender stopped after a writer failure: {appender.failure!r}")

    asyncio.run(main())
