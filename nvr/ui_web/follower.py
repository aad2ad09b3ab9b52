"""Follows the log in a thread: keeps the `Directory` and the storage levels current and
hands new camera and storage events, as notices, to whoever listens (the WebSocket hub).

Requests wait on `wait_applied(position)` after appending, so a login, a logout or a
new account is visible to the very next request (read your own writes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from nvr.domain.codec import decode_payload
from nvr.domain.envelope import Envelope
from nvr.eventlog.port import CaughtUp, EventLog, subscribe
from nvr.ui_web import directory as dirmod
from nvr.ui_web import notices
from nvr.ui_web.directory import Directory
from nvr.ui_web.notices import Notice
from nvr.ui_web.schemas import VolumeLevel

log = logging.getLogger(__name__)


class Follower:
    def __init__(self, events: EventLog, on_notice: Callable[[Notice], None]) -> None:
        self.events = events
        self.directory = Directory()
        self.lock = threading.Lock()  # held while applying; readers take it too
        self._cond = threading.Condition(self.lock)
        self._on_notice = on_notice
        self._notify_from = 0  # events after this position become notices
        self.volumes: dict[str, VolumeLevel] = {}  # the latest storage level per volume
        self.failed: BaseException | None = None

    def catch_up(self) -> int:
        """Fold everything already in the log; only later events become notices."""
        head = self.events.head()
        with self._cond:
            for env in self.events.read(self.directory.position + 1, head + 1):
                self._fold(env)
            self._notify_from = self.directory.position
            self._cond.notify_all()
        return head

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        try:
            while not stop.is_set():
                start = self.directory.position + 1
                for item in subscribe(self.events, start, idle_timeout=poll_s):
                    if isinstance(item, CaughtUp):
                        if stop.is_set():
                            return
                        continue
                    self._apply(item)
        except BaseException as exc:  # recorded, so requests fail closed instead of hanging
            self.failed = exc
            log.exception("web: following the log failed")
            with self._cond:
                self._cond.notify_all()
            raise

    def _apply(self, env: Envelope) -> None:
        with self._cond:
            if env.position <= self.directory.position:
                return
            notice = self._fold(env)
            self._cond.notify_all()
        if notice is not None and env.position > self._notify_from:
            self._on_notice(notice)

    def _fold(self, env: Envelope) -> Notice | None:
        notice = None
        if env.type in dirmod.TAGS:
            self.directory.apply(env, decode_payload(env))
        elif env.type in notices.TAGS:
            event: Any = decode_payload(env)
            notice = notices.notice_of(env, event)
            if env.type == "storage.warning":
                self.volumes[event.volume] = VolumeLevel(
                    volume=event.volume, level=event.level, free_bytes=event.free_bytes,
                    total_bytes=event.total_bytes, at_ns=env.recorded_at_ns,
                )  # fmt: skip
        self.directory.position = env.position
        return notice

    def wait_applied(self, position: int, timeout: float) -> bool:
        with self._cond:
            return (
                self._cond.wait_for(
                    lambda: self.directory.position >= position or self.failed is not None, timeout
                )
                and self.failed is None
            )
