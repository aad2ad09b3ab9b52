"""Turning proposed events into records: ids, versions, positions, times and the hash chain.

Written once and used by every log implementation, so they all obey the same rules:
- an event id already stored (or earlier in the same group) is not written again;
- `expected_version`, when given, must equal the stream's version before the event;
- a request is all-or-nothing; positions are contiguous;
- `recorded_at_ns` is the clock's time clamped so it never decreases; an imported
  history may carry its own times, never decreasing and never ahead of the clock;
- event ids are UUIDv7.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nvr.domain import codec
from nvr.domain.envelope import Envelope, Proposed
from nvr.domain.errors import EventDecodeError
from nvr.eventlog.errors import InvalidAppend, WrongExpectedVersion
from nvr.eventlog.port import validate_stream_id
from nvr.eventlog.records import chain


class Head:
    """The tip of the log. Invariant: `hash` is the chain hash of record `position`."""

    __slots__ = ("hash", "last_t", "position")

    def __init__(self, position: int, hash_: bytes, last_t: int) -> None:
        self.position, self.hash, self.last_t = position, hash_, last_t


class NewRecord:
    __slots__ = ("event_id", "position", "recorded_at_ns", "stream", "stream_version", "value")

    def __init__(self, env: Envelope, value: bytes) -> None:
        self.position = env.position
        self.stream = env.stream
        self.stream_version = env.stream_version
        self.event_id = env.event_id
        self.recorded_at_ns = env.recorded_at_ns
        self.value = value


class Sequencer:
    """Plans one group commit. Nothing it does touches storage; the caller writes
    `records` in one transaction and, once committed, adopts `head` and `versions`."""

    def __init__(
        self,
        head: Head,
        stream_version: Callable[[str], int],
        stored_position: Callable[[bytes], int | None],
    ) -> None:
        self.head = Head(head.position, head.hash, head.last_t)
        self.versions: dict[str, int] = {}
        self._stream_version = stream_version
        self._stored_position = stored_position
        self._group_ids: dict[bytes, int] = {}
        self._valid_streams: set[str] = set()  # stream ids already validated in this group
        self.records: list[NewRecord] = []

    def version(self, stream: str) -> int:
        v = self.versions.get(stream)
        return self._stream_version(stream) if v is None else v

    def plan(self, request: Sequence[Proposed], now_ns: int) -> list[int]:
        """Positions for `request`, adding its new records; raises and adds nothing if refused."""
        positions: list[int] = []
        fresh: list[tuple[int, Proposed, int, int]] = []  # (index, event, version, time)
        local_versions: dict[str, int] = {}
        last_t = self.head.last_t
        seen: set[bytes] = set()
        # The hot loop of every append: attribute lookups hoisted into locals.
        group_ids, stored_position = self._group_ids, self._stored_position
        valid_streams, decode_event = self._valid_streams, codec.decode_event
        for p in request:
            event_id, stream = p.event_id, p.stream
            if len(event_id) != 16 or event_id[6] >> 4 != 7:
                raise InvalidAppend("event_id must be a UUIDv7 (16 bytes)")
            known = group_ids.get(event_id)
            if known is None:
                known = stored_position(event_id)
            if known is not None:
                positions.append(known)
                continue
            if event_id in seen:
                raise InvalidAppend(f"event id {event_id.hex()} twice in one append")
            seen.add(event_id)
            if stream not in valid_streams:  # a pure check: once per stream per group
                validate_stream_id(stream)
                valid_streams.add(stream)
            try:
                decode_event(p.type, p.schema_version, p.payload)
            except EventDecodeError as exc:
                raise InvalidAppend(str(exc)) from None
            current = local_versions.get(stream)
            if current is None:
                current = self.version(stream)
            if p.expected_version is not None and p.expected_version != current:
                raise WrongExpectedVersion(stream, p.expected_version, current)
            if p.recorded_at_ns is not None:
                if p.recorded_at_ns < last_t:
                    raise InvalidAppend("imported recorded_at_ns goes back in time")
                if p.recorded_at_ns > now_ns:
                    raise InvalidAppend("imported recorded_at_ns is ahead of the log's clock")
                last_t = p.recorded_at_ns
            elif now_ns > last_t:
                last_t = now_ns
            local_versions[stream] = current + 1
            fresh.append((len(positions), p, current + 1, last_t))
            positions.append(0)
        # Every check passed: assign positions and build the records.
        position, h = self.head.position, self.head.hash
        encode, records = codec.encode, self.records
        for index, p, version, t in fresh:
            position += 1
            env = Envelope(
                position=position,
                stream=p.stream,
                stream_version=version,
                event_id=p.event_id,
                recorded_at_ns=t,
                type=p.type,
                schema_version=p.schema_version,
                actor=p.actor,
                payload=p.payload,
                causation_id=p.causation_id,
                correlation_id=p.correlation_id,
            )
            body = encode(env)
            h = chain(h, body)
            records.append(NewRecord(env, h + body))
            group_ids[p.event_id] = position
            positions[index] = position
        if fresh:
            self.head = Head(position, h, last_t)  # last_t: the time of the last fresh event
        self.versions.update(local_versions)
        return positions
