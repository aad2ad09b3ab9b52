"""The event-log contract, run against the in-memory log, the in-process LMDB log and
the LMDB log through the appender process."""

from __future__ import annotations

import msgspec
import pytest

from nvr.domain.codec import decode_payload, propose
from nvr.domain.envelope import Proposed
from nvr.domain.events import CameraRemoved, MotionStarted, StreamLost
from nvr.eventlog.errors import InvalidAppend, WrongExpectedVersion
from nvr.eventlog.port import CaughtUp, EventLog, subscribe
from nvr.eventlog.verify import verify_log

T0 = 1_795_478_400_000_000_000


def lost(camera: str = "c1", reason: str = "eof", at: int | None = None) -> Proposed:
    p = propose(
        StreamLost(camera_id=camera, stream="main", reason=reason),
        stream=f"camera/{camera}",
        actor="test",
    )
    return p if at is None else msgspec.structs.replace(p, recorded_at_ns=at)


def verify(log: EventLog) -> bool:
    target = getattr(log, "store", log)
    return verify_log(target).ok


def test_empty_log(any_log: EventLog) -> None:
    assert any_log.head() == 0
    assert list(any_log.read()) == []
    assert any_log.stream_version("camera/c1") == 0
    assert list(any_log.read_stream("camera/c1")) == []
    assert any_log.wait_for(1, timeout=0.01) is False


def test_append_assigns_contiguous_positions_and_versions(any_log: EventLog) -> None:
    a, b, c = lost("c1"), lost("c2"), lost("c1", "timeout")
    assert any_log.append([a, b]) == [1, 2]
    assert any_log.append([c]) == [3]
    envs = list(any_log.read())
    assert [e.position for e in envs] == [1, 2, 3]
    assert [(e.stream, e.stream_version) for e in envs] == [
        ("camera/c1", 1), ("camera/c2", 1), ("camera/c1", 2),
    ]  # fmt: skip
    assert [e.event_id for e in envs] == [a.event_id, b.event_id, c.event_id]
    assert decode_payload(envs[2]) == StreamLost(camera_id="c1", stream="main", reason="timeout")
    assert all(e.actor == "test" and e.type == "stream.lost" for e in envs)
    assert envs[0].recorded_at_ns <= envs[1].recorded_at_ns <= envs[2].recorded_at_ns
    assert any_log.get(2) == envs[1]
    assert any_log.head() == 3
    assert any_log.stream_version("camera/c1") == 2
    assert any_log.position_of(b.event_id) == 2
    assert verify(any_log)


def test_read_bounds(any_log: EventLog) -> None:
    any_log.append([lost() for _ in range(5)])
    assert [e.position for e in any_log.read(2, 4)] == [2, 3]
    assert [e.position for e in any_log.read(4)] == [4, 5]
    assert [e.position for e in any_log.read(9)] == []
    with pytest.raises(KeyError):
        any_log.get(6)


def test_retried_append_returns_original_positions(any_log: EventLog) -> None:
    a, b = lost(), lost()
    assert any_log.append([a, b]) == [1, 2]
    assert any_log.append([a, b]) == [1, 2]
    assert any_log.append([b]) == [2]
    assert any_log.head() == 2
    assert [e.position for e in any_log.read()] == [1, 2]


def test_expected_version(any_log: EventLog) -> None:
    any_log.append([lost()])
    ok = msgspec.structs.replace(lost(), expected_version=1)
    assert any_log.append([ok]) == [2]
    stale = msgspec.structs.replace(lost(), expected_version=1)
    with pytest.raises(WrongExpectedVersion) as info:
        any_log.append([stale])
    assert (info.value.stream, info.value.expected, info.value.actual) == ("camera/c1", 1, 2)
    assert any_log.head() == 2
    # A retry of a committed conditional append is answered, not refused.
    assert any_log.append([ok]) == [2]
    new_stream = msgspec.structs.replace(lost("c9"), expected_version=0)
    assert any_log.append([new_stream]) == [3]


def test_append_is_all_or_nothing(any_log: EventLog) -> None:
    good = lost()
    bad = msgspec.structs.replace(lost(), expected_version=5)
    with pytest.raises(WrongExpectedVersion):
        any_log.append([good, bad])
    assert any_log.head() == 0
    with pytest.raises(InvalidAppend):
        any_log.append([good, msgspec.structs.replace(lost(), type="no.such.type")])
    assert any_log.head() == 0
    assert any_log.append([good]) == [1]


@pytest.mark.parametrize(
    "change",
    [
        {"stream": ""},
        {"stream": "camera/\x00x"},
        {"type": "no.such.type"},
        {"type": "camera.removed"},  # payload of another type
        {"schema_version": 7},
        {"payload": msgspec.Raw(b"\xc1")},
        {"event_id": b"short"},
    ],
)
def test_malformed_events_are_refused(any_log: EventLog, change: dict[str, object]) -> None:
    with pytest.raises(InvalidAppend):
        any_log.append([msgspec.structs.replace(lost(), **change)])
    assert any_log.head() == 0


def test_same_id_twice_in_one_append_is_refused(any_log: EventLog) -> None:
    a = lost()
    with pytest.raises(InvalidAppend):
        any_log.append([a, msgspec.structs.replace(a, stream="camera/other")])
    assert any_log.head() == 0


def test_read_stream(any_log: EventLog) -> None:
    any_log.append([lost("c1"), lost("c2"), lost("c1"), lost("c1")])
    assert [e.position for e in any_log.read_stream("camera/c1")] == [1, 3, 4]
    assert [e.stream_version for e in any_log.read_stream("camera/c1", 2)] == [2, 3]
    assert [e.position for e in any_log.read_stream("camera/c")] == []
    assert [e.position for e in any_log.read_stream("camera/c2")] == [2]


def test_read_time_range(any_log: EventLog) -> None:
    s = 1_000_000_000
    any_log.append([lost(at=T0 + k * s) for k in range(10)])
    assert [e.position for e in any_log.read_time(T0 + 2 * s, T0 + 5 * s)] == [3, 4, 5]
    assert [e.position for e in any_log.read_time(T0 + 9 * s, T0 + 99 * s)] == [10]
    assert [e.position for e in any_log.read_time(0, T0)] == []
    assert [e.position for e in any_log.read_time(T0 + 99 * s, T0 + 100 * s)] == []


def test_recorded_time_never_goes_back(any_log: EventLog) -> None:
    any_log.append([lost(at=T0 + 100)])
    with pytest.raises(InvalidAppend):
        any_log.append([lost(at=T0)])
    any_log.append([lost()])  # the writer's clock is later than T0 here
    times = [e.recorded_at_ns for e in any_log.read()]
    assert times == sorted(times)


def test_subscribe_yields_history_then_caught_up(any_log: EventLog) -> None:
    any_log.append([lost(), lost()])
    items = subscribe(any_log, 1, idle_timeout=0.05)
    assert [getattr(i, "position", None) for i in [next(items), next(items)]] == [1, 2]
    assert next(items) == CaughtUp(2)
    any_log.append([lost()])
    assert next(items).position == 3  # type: ignore[union-attr]
    assert next(items) == CaughtUp(3)
    assert list(items) == []  # idle timeout ends it


def test_wait_for(any_log: EventLog) -> None:
    assert any_log.wait_for(0, timeout=0) is True
    assert any_log.wait_for(1, timeout=0.01) is False
    any_log.append([lost()])
    assert any_log.wait_for(1, timeout=5) is True


def test_payload_round_trip_with_nested_values(any_log: EventLog) -> None:
    from nvr.domain.values import Box

    event = MotionStarted(
        camera_id="c1", motion_id="m1", at_ns=T0, confidence=0.5,
        boxes=(Box(x=0.1, y=0.2, w=0.3, h=0.4),),
    )  # fmt: skip
    any_log.append([propose(event, stream="camera/c1", actor="w"), propose(
        CameraRemoved(camera_id="c1"), stream="camera/c1", actor="admin")])  # fmt: skip
    decoded = [decode_payload(e) for e in any_log.read()]
    assert decoded == [event, CameraRemoved(camera_id="c1")]
