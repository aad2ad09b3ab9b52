"""Event ids: UUIDv7 (time-ordered, random tail), as 16 raw bytes."""

from __future__ import annotations

import uuid

import uuid_utils


def new_event_id() -> bytes:
    """A fresh UUIDv7. Reads the system clock only for the id's ordering prefix."""
    return bytes(uuid_utils.uuid7().bytes)


def format_id(raw: bytes | None) -> str:
    return "" if raw is None else str(uuid.UUID(bytes=raw))


def parse_id(text: str) -> bytes:
    return uuid.UUID(text).bytes
