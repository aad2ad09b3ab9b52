"""The web process's shared state (`Web`): settings, clock, log, the followed directory,
throttles and the notification hub, and the one way requests append events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from nvr.clock import Clock
from nvr.domain.envelope import Proposed
from nvr.eventlog.errors import LogError, WrongExpectedVersion
from nvr.eventlog.port import EventLog
from nvr.ui_web.config import WebConfig
from nvr.ui_web.directory import Directory
from nvr.ui_web.follower import Follower
from nvr.ui_web.hub import Hub
from nvr.ui_web.limits import Buckets
from nvr.ui_web.passwords import Passwords

log = logging.getLogger(__name__)


class Web:
    def __init__(self, config: WebConfig, clock: Clock, events: EventLog) -> None:
        self.config = config
        self.clock = clock
        self.events = events
        self.hub = Hub()
        self.follower = Follower(events, self.hub.publish)
        self.passwords = Passwords(
            config.argon2_time_cost, config.argon2_memory_kib, config.argon2_parallelism
        )
        self.api_buckets = Buckets(clock, config.api_burst, config.api_rate_per_s)
        self.login_buckets = Buckets(clock, config.login_burst, 1.0 / config.login_refill_s)
        self.export_path = Path(config.export_path)
        self.storage = Path(config.storage_dir)
        self.setup_token_hash: str | None = None  # set while no account exists
        self.setup_lock = asyncio.Lock()
        self.viewed: dict[tuple[str, str, str], int] = {}  # (session, resource, camera) -> mono ns
        self.ending: set[str] = set()  # session hashes whose logout is being appended
        self.requests = 0

    @property
    def directory(self) -> Directory:
        return self.follower.directory

    async def sync(self) -> None:
        """Wait until the directory includes everything committed before this call, so a
        change made elsewhere (`nvr user disable`) holds from the very next request."""
        head = self.events.head()  # one short LMDB read
        if self.follower.directory.position >= head:
            return
        done = await anyio.to_thread.run_sync(
            self.follower.wait_applied, head, self.config.log_deadline_s
        )
        if not done:
            raise HTTPException(503)

    async def append(self, events: Sequence[Proposed]) -> list[int]:
        """Append through the log and wait until the directory includes the events.

        Fails closed: when the log cannot take the events (appender down past
        `log_deadline_s`, disk full), the request is answered 503 and nothing happens. A
        conditional append that lost a race (`expected_version`) is answered 409."""
        try:
            positions = await anyio.to_thread.run_sync(self.events.append, list(events))
        except WrongExpectedVersion:
            raise HTTPException(409) from None
        except LogError as exc:
            log.error("web: append failed: %s", exc)
            raise HTTPException(503) from None
        done = await anyio.to_thread.run_sync(
            self.follower.wait_applied, max(positions), self.config.log_deadline_s
        )
        if not done:
            raise HTTPException(503)
        return positions


def web_of(conn: HTTPConnection) -> Web:
    web = conn.app.state.web
    assert isinstance(web, Web)
    return web


def client_addr(conn: HTTPConnection) -> str:
    """The peer address. Forwarding headers are not trusted (uvicorn runs with
    proxy_headers off), so a client cannot pick the address its lockout is keyed by."""
    return conn.client.host if conn.client else "unknown"
