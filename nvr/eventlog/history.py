"""A human-readable history format (JSON Lines) to export a log and import one.

One event per line: {"position", "recorded_at", "stream", "stream_version", "type",
"schema_version", "actor", "event_id", "causation_id", "correlation_id", "data"}.
On import only "stream", "type" and "data" are required; a given "event_id" makes the
import idempotent and a given "recorded_at" is kept. Blank lines and lines starting with
"#" are comments. `position` and `stream_version` are informational on import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from nvr.domain import codec
from nvr.domain.envelope import Envelope, Proposed
from nvr.domain.errors import EventDecodeError
from nvr.domain.events import BY_TAG
from nvr.domain.ids import format_id, new_event_id, parse_id
from nvr.domain.timefmt import format_ns, parse_ns

_json = msgspec.json.Encoder(order="deterministic")


class HistoryError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"history line {line}: {reason}")
        self.line = line


class Line(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The import schema of one line (unknown keys are a typo, so they are refused)."""

    stream: str
    type: str
    data: dict[str, Any]
    position: int | None = None
    recorded_at: str | None = None
    stream_version: int | None = None
    schema_version: int | None = None
    actor: str = "import"
    event_id: str | None = None
    causation_id: str | None = None
    correlation_id: str | None = None


_line_decoder = msgspec.json.Decoder(Line)


def export_line(env: Envelope) -> bytes:
    data = msgspec.to_builtins(codec.decode_payload(env))
    data.pop("type", None)
    return _json.encode(
        {
            "position": env.position,
            "recorded_at": format_ns(env.recorded_at_ns),
            "stream": env.stream,
            "stream_version": env.stream_version,
            "type": env.type,
            "schema_version": BY_TAG[env.type].VERSION,  # `data` is upcast to it
            "actor": env.actor,
            "event_id": format_id(env.event_id),
            "causation_id": format_id(env.causation_id) or None,
            "correlation_id": format_id(env.correlation_id) or None,
            "data": data,
        }
    )


def export(envs: Iterable[Envelope]) -> Iterator[bytes]:
    for env in envs:
        yield export_line(env) + b"\n"


def parse(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Proposed]]:
    """(line number, proposed event) for each event line; raises HistoryError on the first bad one."""
    for number, raw in enumerate(lines, 1):
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            yield number, _proposed(_line_decoder.decode(text))
        except (msgspec.DecodeError, EventDecodeError, ValueError) as exc:
            raise HistoryError(number, str(exc)) from None


def _proposed(line: Line) -> Proposed:
    cls = BY_TAG.get(line.type)
    if cls is None:
        raise ValueError(f"unknown event type {line.type!r}")
    version = line.schema_version or cls.VERSION
    body = dict(line.data, type=line.type)
    if version == cls.VERSION:
        payload = codec.encode(msgspec.convert(body, cls))
    else:
        payload = codec.encode(body)
        codec.decode_event(line.type, version, payload)  # old shapes must upcast cleanly
    return Proposed(
        event_id=parse_id(line.event_id) if line.event_id else new_event_id(),
        stream=line.stream,
        type=line.type,
        schema_version=version,
        actor=line.actor,
        payload=msgspec.Raw(payload),
        causation_id=parse_id(line.causation_id) if line.causation_id else None,
        correlation_id=parse_id(line.correlation_id) if line.correlation_id else None,
        recorded_at_ns=parse_ns(line.recorded_at) if line.recorded_at else None,
    )
