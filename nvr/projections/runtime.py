"""The projection runtime: a pure fold, a store that commits state and position together,
a runner that catches up and follows the log, and a rebuild that swaps a fresh store in.

Invariant: the stored state is exactly `fold(initial, events 1..position)`; replaying
from any tracked position therefore changes nothing, and a rebuild equals the live store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

from nvr.domain.codec import decode_payload
from nvr.domain.envelope import Envelope
from nvr.domain.events import Event
from nvr.eventlog.port import CaughtUp, EventLog, subscribe

S = TypeVar("S")


class Projection(Protocol[S]):
    name: str
    version: int
    """Bump when the fold changes meaning: stores of another version are rebuilt."""
    handles: frozenset[str] | None
    """The event types folded; others are skipped without decoding their payload."""
    state_type: type[S]

    def initial(self) -> S: ...

    def evolve(self, state: S, env: Envelope, event: Event) -> S:
        """Pure: no I/O, no clock, no mutation of `state`."""
        ...


class Store(Protocol[S]):
    def load(self) -> tuple[S | None, int]:
        """The committed state and the position it includes (None, 0 when empty)."""
        ...

    def commit(self, state: S, position: int) -> None:
        """Write `state` and `position` in one transaction."""
        ...


def fold(projection: Projection[S], state: S, envs: Iterable[Envelope]) -> tuple[S, int]:
    """Fold `envs` into `state`; returns the new state and the last position seen (0: none)."""
    handles = projection.handles
    evolve = projection.evolve
    last = 0
    for env in envs:
        last = env.position
        if handles is None or env.type in handles:
            state = evolve(state, env, decode_payload(env))
    return state, last


class MemoryStore(Generic[S]):
    def __init__(self) -> None:
        self.state: S | None = None
        self.position = 0
        self.commits = 0

    def load(self) -> tuple[S | None, int]:
        return self.state, self.position

    def commit(self, state: S, position: int) -> None:
        self.state, self.position = state, position
        self.commits += 1


class Runner(Generic[S]):
    """Keeps one store up to date with the log. `commit_every` bounds the work lost
    (and replayed) after a crash; a commit also happens whenever the runner catches up."""

    def __init__(
        self, log: EventLog, projection: Projection[S], store: Store[S], commit_every: int = 10_000
    ) -> None:
        self.log, self.projection, self.store = log, projection, store
        self.commit_every = commit_every
        loaded, self.position = store.load()
        self.state: S = projection.initial() if loaded is None else loaded
        self.committed = self.position
        self._cond = threading.Condition()

    def _commit(self) -> None:
        self.store.commit(self.state, self.position)
        with self._cond:
            self.committed = self.position
            self._cond.notify_all()

    def wait_committed(self, position: int, timeout: float | None = None) -> bool:
        """Block until the store includes `position` (True) or the timeout passes."""
        with self._cond:
            return self._cond.wait_for(lambda: self.committed >= position, timeout)

    def catch_up(self) -> int:
        """Fold everything committed so far; returns the position now included."""
        head = self.log.head()
        while self.position < head:
            stop = min(head, self.position + self.commit_every) + 1
            self.state, last = fold(
                self.projection, self.state, self.log.read(self.position + 1, stop)
            )
            if last == 0:
                break
            self.position = last
            self._commit()
        return self.position

    def follow(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        """Fold new events as they commit until `stop` is set (checked every `poll_s`)."""
        while not stop.is_set():
            pending = 0
            for item in subscribe(self.log, self.position + 1, idle_timeout=poll_s):
                if isinstance(item, CaughtUp):
                    if pending:
                        self._commit()
                        pending = 0
                    if stop.is_set():
                        return
                    continue
                self.state = fold(self.projection, self.state, (item,))[0]
                self.position = item.position
                pending += 1
                if pending >= self.commit_every:
                    self._commit()
                    pending = 0


def rebuild(log: EventLog, projection: Projection[S], fresh: Store[S]) -> S:
    """Replay the whole log into an empty store. The caller swaps the result in with one
    commit to the live store (`live.commit(state, fresh_position)`)."""
    runner = Runner(log, projection, fresh)
    if runner.position != 0:
        raise ValueError("rebuild needs an empty store")
    runner.catch_up()
    return runner.state
