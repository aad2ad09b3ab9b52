"""An in-memory event log: the verified fake that the contract suite holds the LMDB log to."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence

from nvr.clock import Clock, SystemClock
from nvr.domain.envelope import Envelope, Proposed
from nvr.eventlog.records import GENESIS_HASH, decode_record
from nvr.eventlog.sequencer import Head, Sequencer


class MemoryLog:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._values: list[bytes] = []
        self._times: list[int] = []
        self._ids: dict[bytes, int] = {}
        self._streams: dict[str, list[int]] = {}
        self._head = Head(0, GENESIS_HASH, 0)
        self._cond = threading.Condition()

    def append(self, events: Sequence[Proposed]) -> list[int]:
        with self._cond:
            seq = Sequencer(self._head, lambda s: len(self._streams.get(s, ())), self._ids.get)
            positions = seq.plan(events, self._clock.now_ns())
            for rec in seq.records:
                self._values.append(rec.value)
                self._times.append(rec.recorded_at_ns)
                self._ids[rec.event_id] = rec.position
                self._streams.setdefault(rec.stream, []).append(rec.position)
            self._head = seq.head
            self._cond.notify_all()
            return positions

    def head(self) -> int:
        return self._head.position

    def head_hash(self) -> bytes:
        return self._head.hash

    def raw(self, position: int) -> bytes:
        return self._values[position - 1]

    def read_raw(self, start: int = 1, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        stop = len(self._values) + 1 if stop is None else min(stop, len(self._values) + 1)
        for pos in range(max(start, 1), stop):
            yield pos, self._values[pos - 1]

    def head_state(self) -> Head:
        return self._head

    def get(self, position: int) -> Envelope:
        if not 1 <= position <= len(self._values):
            raise KeyError(position)
        return decode_record(self._values[position - 1], position)

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[Envelope]:
        stop = len(self._values) + 1 if stop is None else min(stop, len(self._values) + 1)
        for pos in range(max(start, 1), stop):
            yield decode_record(self._values[pos - 1], pos)

    def read_stream(self, stream: str, from_version: int = 1) -> Iterator[Envelope]:
        for pos in self._streams.get(stream, [])[max(from_version, 1) - 1 :]:
            yield self.get(pos)

    def read_time(self, since_ns: int, until_ns: int) -> Iterator[Envelope]:
        lo = bisect.bisect_left(self._times, since_ns)
        hi = bisect.bisect_left(self._times, until_ns)
        return self.read(lo + 1, hi + 1)

    def stream_version(self, stream: str) -> int:
        return len(self._streams.get(stream, ()))

    def position_of(self, event_id: bytes) -> int | None:
        return self._ids.get(event_id)

    def wait_for(self, position: int, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._head.position >= position, timeout)

    def close(self) -> None:
        pass
