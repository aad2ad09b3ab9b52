"""Encoding payloads and envelopes, and decoding them back with upcasting.

Encoders and decoders are built once (they are the hot path of every replay).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from nvr.domain.envelope import Envelope, Proposed
from nvr.domain.errors import EventDecodeError, NewerSchemaVersion, UnknownEventType
from nvr.domain.events import BY_TAG, AnyEvent, Event, tag_of
from nvr.domain.ids import new_event_id

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the payload of (tag, version N) as a plain dict into the shape of version N+1."""

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""Registered upcasters keyed by (tag, from_version). Empty while every type is at v1."""

_encoder = msgspec.msgpack.Encoder()
_payload_decoder = msgspec.msgpack.Decoder(AnyEvent)
_envelope_decoder = msgspec.msgpack.Decoder(Envelope)


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def propose(
    event: Event,
    *,
    stream: str,
    actor: str,
    expected_version: int | None = None,
    event_id: bytes | None = None,
    causation_id: bytes | None = None,
    correlation_id: bytes | None = None,
) -> Proposed:
    """Wrap a typed event for appending. A retry must reuse the same `event_id`."""
    return Proposed(
        event_id=event_id if event_id is not None else new_event_id(),
        stream=stream,
        type=tag_of(type(event)),
        schema_version=type(event).VERSION,
        actor=actor,
        payload=msgspec.Raw(_encoder.encode(event)),
        expected_version=expected_version,
        causation_id=causation_id,
        correlation_id=correlation_id,
    )


def decode_envelope(data: bytes | memoryview, position: int | None = None) -> Envelope:
    try:
        return _envelope_decoder.decode(data)
    except (msgspec.DecodeError, ValueError) as exc:  # ValueError: bad UTF-8 in a string
        raise EventDecodeError(position, f"envelope: {exc}") from None


def decode_payload(
    env: Envelope, upcasters: Mapping[tuple[str, int], Upcaster] | None = None
) -> Event:
    """The typed event of an envelope, upcast to the current version of its type."""
    # Fast path of every replay: a current-version payload that decodes to its own type.
    # Anything else (unknown tag, old or newer version, bad payload) takes decode_event,
    # which upcasts or raises exactly as if called directly.
    cls = BY_TAG.get(env.type)
    if cls is not None and env.schema_version == cls.VERSION:
        try:
            event = _payload_decoder.decode(env.payload)
        except (msgspec.DecodeError, ValueError):  # ValidationError is a DecodeError
            pass
        else:
            if type(event) is cls:
                return event
    return decode_event(env.type, env.schema_version, env.payload, env.position, upcasters)


def decode_event(
    tag: str,
    version: int,
    raw: bytes | msgspec.Raw,
    position: int | None = None,
    upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
) -> Event:
    cls = BY_TAG.get(tag)
    if cls is None:
        raise UnknownEventType(position, f"unknown event type {tag!r}")
    if version > cls.VERSION:
        raise NewerSchemaVersion(
            position,
            f"{tag} v{version} was written by a newer Vigil (this one knows v{cls.VERSION})",
        )
    try:
        if version == cls.VERSION:
            event = _payload_decoder.decode(raw)
        else:
            event = _upcast(tag, version, cls, raw, position, upcasters or UPCASTERS)
    except msgspec.ValidationError as exc:
        raise EventDecodeError(position, f"{tag} v{version}: {exc}") from None
    except (msgspec.DecodeError, ValueError) as exc:
        raise EventDecodeError(position, f"{tag} v{version}: {exc}") from None
    if type(event) is not cls:
        raise EventDecodeError(
            position, f"envelope says {tag!r}, payload is {tag_of(type(event))!r}"
        )
    return event


def _upcast(
    tag: str,
    version: int,
    cls: type[Event],
    raw: bytes | msgspec.Raw,
    position: int | None,
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> Event:
    data = msgspec.msgpack.decode(raw)
    if not isinstance(data, dict):
        raise EventDecodeError(position, f"{tag} v{version}: payload is not a map")
    while version < cls.VERSION:
        step = upcasters.get((tag, version))
        if step is None:
            raise EventDecodeError(position, f"no upcaster from {tag} v{version}")
        data = step(data)
        version += 1
    data["type"] = tag
    return msgspec.convert(data, cls)
