"""The event-log port: what every log (in-memory, LMDB in-process, LMDB via the appender)
offers, plus `subscribe`, built once on top of it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import msgspec

from nvr.domain.envelope import Envelope, Proposed
from nvr.eventlog.errors import InvalidAppend


class CaughtUp(msgspec.Struct, frozen=True):
    """Yielded by `subscribe` each time the subscriber has seen everything up to `head`."""

    head: int


class EventLog(Protocol):
    def append(self, events: Sequence[Proposed]) -> list[int]:
        """Commit `events` atomically; return their positions once durable.

        An event whose id is already stored is not written again: its original position
        is returned. Raises WrongExpectedVersion, InvalidAppend, LogFull."""
        ...

    def head(self) -> int:
        """The last committed position; 0 when the log is empty."""
        ...

    def get(self, position: int) -> Envelope: ...

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[Envelope]:
        """Events with start <= position < stop (stop None: up to the head when called)."""
        ...

    def read_stream(self, stream: str, from_version: int = 1) -> Iterator[Envelope]: ...

    def read_time(self, since_ns: int, until_ns: int) -> Iterator[Envelope]:
        """Events with since_ns <= recorded_at_ns < until_ns, in position order."""
        ...

    def stream_version(self, stream: str) -> int: ...

    def position_of(self, event_id: bytes) -> int | None: ...

    def wait_for(self, position: int, timeout: float | None = None) -> bool:
        """Block until head >= position (True) or the timeout passes (False)."""
        ...

    def close(self) -> None: ...


def subscribe(
    log: EventLog, from_position: int = 1, *, idle_timeout: float | None = None
) -> Iterator[Envelope | CaughtUp]:
    """Every event from `from_position` on, then new ones as they commit.

    A `CaughtUp(head)` follows each stretch of history; iteration ends only when
    `idle_timeout` seconds pass with nothing new (None: never)."""
    next_pos = from_position
    while True:
        head = log.head()
        if head >= next_pos:
            yield from log.read(next_pos, head + 1)
            next_pos = head + 1
        yield CaughtUp(head)
        if not log.wait_for(next_pos, idle_timeout):
            return


def validate_stream_id(stream: str) -> None:
    if not stream or "\x00" in stream or len(stream.encode()) > 400:
        raise InvalidAppend(f"bad stream id {stream!r}: 1 to 400 bytes, no NUL")
