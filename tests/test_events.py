"""The event catalogue: round trips of every type, golden records that decode forever,
upcasting, and the rules every event class follows."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr.domain import codec
from nvr.domain.errors import EventDecodeError, NewerSchemaVersion, UnknownEventType
from nvr.domain.events import BY_TAG, EVENT_TYPES, Event, StreamLost, tag_of
from nvr.eventlog import history
from nvr.eventlog.memory import MemoryLog
from nvr.eventlog.records import decode_record
from tests.samples import strategy

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: tag_of(c))
def test_event_classes_follow_the_rules(cls: type[Event]) -> None:
    cfg = cls.__struct_config__
    assert cfg.frozen and cfg.tag_field == "type"
    params = inspect.signature(cls).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert isinstance(cfg.tag, str) and "." in cfg.tag
    assert not cfg.array_like and not cfg.forbid_unknown_fields
    assert cls.__name__[0].isupper() and cls.VERSION >= 1


def test_tags_are_unique() -> None:
    assert len(BY_TAG) == len(EVENT_TYPES)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: tag_of(c))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_encode_decode_round_trip(cls: type[Event], data: st.DataObject) -> None:
    event = data.draw(strategy(cls))
    raw = codec.encode(event)
    assert codec.decode_event(tag_of(cls), cls.VERSION, raw) == event
    # ... and through the log's stored record and the JSON history format.
    log = MemoryLog()
    log.append([codec.propose(event, stream="s/1", actor="a")])
    env = decode_record(log.raw(1), 1)
    assert codec.decode_payload(env) == event
    [(_, again)] = list(history.parse([history.export_line(env)]))
    assert codec.decode_event(again.type, again.schema_version, again.payload) == event


def golden_lines() -> list[dict[str, Any]]:
    lines = []
    for path in sorted(GOLDEN.glob("events-v*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return lines


@pytest.mark.parametrize("line", golden_lines(), ids=lambda d: f"{d['type']}-v{d['version']}")
def test_golden_records_decode_forever(line: dict[str, Any]) -> None:
    """Guards against a change to an event class that breaks records already on disk."""
    value = bytes.fromhex(line["record"])
    env = codec.decode_envelope(value[32:])
    event = codec.decode_payload(env)
    assert env.type == line["type"]
    expected = msgspec.convert(line["decoded"], type(event))
    assert event == expected


def test_every_event_type_has_a_golden_record() -> None:
    covered = {(d["type"], d["version"]) for d in golden_lines()}
    missing = {(tag_of(c), c.VERSION) for c in EVENT_TYPES} - covered
    assert not missing, f"add golden records (tests/golden/make_golden.py) for {sorted(missing)}"


def test_upcasting_old_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend stream.lost moved to v2, where v1's "why" became "reason" and "detail".
    monkeypatch.setattr(StreamLost, "VERSION", 2)
    old = codec.encode({"type": "stream.lost", "camera_id": "c", "stream": "sub", "why": "eof: gone"})

    def v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
        reason, _, detail = d.pop("why").partition(": ")
        return {**d, "reason": reason, "detail": detail}

    event = codec.decode_event("stream.lost", 1, old, 5, {("stream.lost", 1): v1_to_v2})
    assert event == StreamLost(camera_id="c", stream="sub", reason="eof", detail="gone")
    with pytest.raises(EventDecodeError, match=r"position 5: no upcaster from stream.lost v1"):
        codec.decode_event("stream.lost", 1, old, 5, {})


def test_newer_version_and_unknown_type_name_the_position() -> None:
    raw = codec.encode(StreamLost(camera_id="c", stream="main", reason="eof"))
    with pytest.raises(NewerSchemaVersion, match=r"at position 42.*newer Vigil"):
        codec.decode_event("stream.lost", 2, raw, 42)
    with pytest.raises(UnknownEventType, match=r"at position 7.*'camera.exploded'"):
        codec.decode_event("camera.exploded", 1, raw, 7)
    with pytest.raises(EventDecodeError, match="at position 8"):
        codec.decode_event("stream.lost", 1, b"\x92\x01", 8)
