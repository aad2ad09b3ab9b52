"""Errors of the event log, each naming what a producer or an auditor can act on."""

from __future__ import annotations

from nvr.domain.errors import DomainError


class LogError(DomainError):
    """Base of event-log errors."""


class WrongExpectedVersion(LogError):
    """An optimistic-concurrency check failed: the stream moved on since it was read."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream!r} is at version {actual}, expected {expected}")
        self.stream, self.expected, self.actual = stream, expected, actual


class InvalidAppend(LogError):
    """The proposed events are malformed (bad stream id, unknown type, undecodable payload)."""


class LogFull(LogError):
    """The disk or the map limit is full. Nothing of the failed append was written;
    the log stays intact and takes appends again once space returns."""


class LogCorrupt(LogError):
    """The stored log is inconsistent at `position` (hash chain, ordering, decoding)."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"log corrupt at position {position}: {reason}")
        self.position, self.reason = position, reason


class AppenderUnavailable(LogError):
    """No appender answered within the producer's deadline."""


class AppenderBusy(LogError):
    """Another appender already owns this log (it holds the writer lock)."""
