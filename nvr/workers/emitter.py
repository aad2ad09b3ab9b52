"""Appending a worker's events without blocking its video threads.

Events are queued and a background thread appends them in batches, in order, retrying
through appender restarts with the same event ids (so nothing is lost or doubled).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol

from nvr.domain.codec import propose
from nvr.domain.envelope import Proposed
from nvr.domain.events import Event
from nvr.eventlog.errors import AppenderUnavailable, LogFull

log = logging.getLogger(__name__)


class Appends(Protocol):
    def append(self, events: list[Proposed]) -> list[int]: ...


class Emitter:
    def __init__(self, log_: Appends, *, actor: str, batch: int = 256) -> None:
        self._log = log_
        self.actor = actor
        self._queue: queue.Queue[Proposed | None] = queue.Queue()
        self._batch = batch
        self._done = threading.Condition()
        self.appended = 0
        self.submitted = 0
        self._thread = threading.Thread(target=self._run, name=f"emitter-{actor}", daemon=True)
        self._thread.start()

    def emit(self, event: Event, stream: str) -> None:
        self.submitted += 1
        self._queue.put(propose(event, stream=stream, actor=self.actor))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything emitted so far is in the log."""
        target = self.submitted
        with self._done:
            return self._done.wait_for(lambda: self.appended >= target, timeout)

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            while True:
                try:
                    self._log.append(batch)
                    break
                except (AppenderUnavailable, LogFull) as exc:
                    # Keep the events (same ids) and try again: nothing is dropped.
                    log.warning("cannot append %d events yet: %s", len(batch), exc)
                    threading.Event().wait(1.0)
            with self._done:
                self.appended += len(batch)
                self._done.notify_all()
