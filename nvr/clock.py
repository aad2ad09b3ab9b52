"""The one place Vigil reads time: a real clock and a simulated twin for tests.

Everything else takes a `Clock` (or a `now_ns` argument) instead of calling `time`.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Wall-clock time, nanoseconds since the Unix epoch (UTC)."""
        ...

    def monotonic_ns(self) -> int:
        """A clock that never goes back, for durations and timeouts."""
        ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class SimulatedClock:
    """A clock that moves only when told to. Thread-safe."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns
        self._mono = 0
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now

    def monotonic_ns(self) -> int:
        with self._lock:
            return self._mono

    def advance(self, ns: int) -> None:
        if ns < 0:
            raise ValueError("a simulated clock only moves forward; use set_wall() to step it")
        with self._lock:
            self._now += ns
            self._mono += ns

    def set_wall(self, ns: int) -> None:
        """Step the wall clock anywhere, as NTP or an operator may do to a real one;
        the monotonic clock does not move."""
        with self._lock:
            self._now = ns
