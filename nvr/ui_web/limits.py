"""Throttles: token buckets per client address (API requests, login attempts), and the
login lockout, which counts failures from the log so a restart does not reset it."""

from __future__ import annotations

import threading
from collections import OrderedDict

from nvr.clock import Clock
from nvr.ui_web.config import WebConfig
from nvr.ui_web.directory import Directory

NS = 1_000_000_000


class Buckets:
    """A token bucket per key: `burst` tokens, refilled at `rate_per_s`. At most
    `max_keys` buckets are kept; the least recently used go first (a full bucket
    forgotten is the same as a new one)."""

    def __init__(self, clock: Clock, burst: int, rate_per_s: float, max_keys: int = 10_000) -> None:
        self._clock = clock
        self.burst = float(burst)
        self.rate_per_ns = rate_per_s / NS
        self._max = max_keys
        self._state: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.refused = 0

    def take(self, key: str) -> float:
        """0.0 when a token was taken; otherwise the seconds until one is available."""
        now = self._clock.monotonic_ns()
        with self._lock:
            tokens, at = self._state.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate_per_ns)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._state[key] = (tokens, now)
                self.refused += 1
                wait = (1.0 - tokens) / self.rate_per_ns / NS
            while len(self._state) > self._max:
                self._state.popitem(last=False)
            return wait


def locked_out(
    directory: Directory, config: WebConfig, username: str, addr: str, now_ns: int
) -> bool:
    """Too many counted failures within the window: for this account from this address,
    from this address for any account, or for this account from anywhere."""
    since = now_ns - int(config.lockout_window_s * NS)
    checks = [(f"addr:{addr}", config.lockout_addr)]
    if username:
        checks += [
            (f"pair:{username} {addr}", config.lockout_pair),
            (f"user:{username}", config.lockout_account),
        ]
    return any(len(directory.failures_since(key, since)) >= limit for key, limit in checks)
