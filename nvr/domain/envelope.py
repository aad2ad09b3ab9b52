"""The stored record: an envelope of metadata around a payload kept as raw msgpack.

A reader decodes the envelope alone and the payload only when it needs it
(`nvr.domain.codec.decode_payload`), upcasting old versions on the way.
"""

from __future__ import annotations

import uuid

import msgspec


class Envelope(msgspec.Struct, frozen=True, kw_only=True, gc=False, omit_defaults=True):
    """One committed event.

    Invariants: `position` >= 1 and equal to the record's key; positions are contiguous;
    `stream_version` counts from 1 within `stream`; `recorded_at_ns` never decreases with
    position; `type` equals the payload's tag; `event_id` (16 bytes, UUIDv7) is unique.
    """

    position: int = msgspec.field(name="p")
    stream: str = msgspec.field(name="s")
    stream_version: int = msgspec.field(name="v")
    event_id: bytes = msgspec.field(name="id")
    recorded_at_ns: int = msgspec.field(name="t")
    type: str = msgspec.field(name="ty")
    schema_version: int = msgspec.field(name="sv")
    actor: str = msgspec.field(name="a")
    payload: msgspec.Raw = msgspec.field(name="d")
    causation_id: bytes | None = msgspec.field(default=None, name="c")
    correlation_id: bytes | None = msgspec.field(default=None, name="r")

    @property
    def event_uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=self.event_id)


class Proposed(msgspec.Struct, frozen=True, kw_only=True, gc=False, omit_defaults=True):
    """An event offered for appending; the log assigns position, version and time.

    `expected_version` (the stream's version before this event) makes the append
    conditional; `recorded_at_ns` is honoured only by imports of existing histories.
    """

    event_id: bytes
    stream: str
    type: str
    schema_version: int
    actor: str
    payload: msgspec.Raw
    expected_version: int | None = None
    causation_id: bytes | None = None
    correlation_id: bytes | None = None
    recorded_at_ns: int | None = None
