"""Fan-out of notices from the follower thread to the open WebSockets (one queue each).

A socket that falls `QUEUE_MAX` notices behind is closed rather than buffered without
bound; the dashboard reconnects and reloads what it shows."""

from __future__ import annotations

import asyncio

from nvr.ui_web.notices import Notice

QUEUE_MAX = 256


class Subscriber:
    def __init__(self, session_hash: str) -> None:
        self.session_hash = session_hash
        self.queue: asyncio.Queue[Notice] = asyncio.Queue(QUEUE_MAX)
        self.overflowed = asyncio.Event()

    def offer(self, notice: Notice) -> None:
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.overflowed.set()


class Hub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscriber] = set()
        self.published = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the sockets live on; notices before this are dropped."""
        self._loop = loop

    def publish(self, notice: Notice) -> None:
        """Thread-safe: called by the follower thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._fan_out, notice)

    def _fan_out(self, notice: Notice) -> None:
        self.published += 1
        for sub in list(self._subscribers):
            sub.offer(notice)

    def subscribe(self, session_hash: str) -> Subscriber:
        sub = Subscriber(session_hash)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def __len__(self) -> int:
        return len(self._subscribers)
