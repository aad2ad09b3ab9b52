"""Errors raised by the pure core and by anything that decodes stored events."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error Vigil raises on purpose."""


class Rejected(DomainError):
    """A command was refused by `decide`; the message says why in operator terms."""


class EventDecodeError(DomainError):
    """A stored event cannot be turned into a typed event. Never skipped silently."""

    def __init__(self, position: int | None, reason: str) -> None:
        where = f"at position {position}" if position is not None else "in input"
        super().__init__(f"cannot decode event {where}: {reason}")
        self.position = position
        self.reason = reason


class UnknownEventType(EventDecodeError):
    pass


class NewerSchemaVersion(EventDecodeError):
    pass
