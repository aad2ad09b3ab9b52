"""The Starlette app factory: routes, the security middleware, error handlers, and the
lifespan that catches up with the log, follows it, issues the setup token when no
account exists, and sweeps sessions past their timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import Response

from nvr.clock import Clock, SystemClock
from nvr.domain.errors import Rejected
from nvr.eventlog.port import EventLog
from nvr.ui_web import (
    api,
    auth,
    live,
    media,
    openapi,
    pages,
    sessions,
    setup,
    thumbs,
    users_api,
    ws,
)
from nvr.ui_web.config import WebConfig
from nvr.ui_web.errors import http_error
from nvr.ui_web.guard import end_session
from nvr.ui_web.jsonio import json_response
from nvr.ui_web.security import Shield
from nvr.ui_web.state import Web

log = logging.getLogger(__name__)
NS = 1_000_000_000


def print_setup_token(token: str) -> None:
    print(
        f"vigil web: no account exists. Create the first admin at /login with setup token "
        f"{token} (or run `nvr user add NAME --role admin`).",
        file=sys.stderr,
        flush=True,
    )


async def rejected(request: Request, exc: Exception) -> Response:
    """A rule of the domain refused the input: its message is ours, never the input."""
    return json_response({"error": "Unprocessable Content", "detail": str(exc)}, 422)


async def sweep(web: Web) -> None:
    """Log out sessions past a timeout even if their browser never comes back, so the
    log (and the sessions table) says when each one ended."""
    while True:
        await asyncio.sleep(web.config.sweep_s)
        now = web.clock.now_ns()
        with web.follower.lock:
            done = [(h, s.username, r) for h, s in web.directory.sessions.items()
                    if (r := sessions.expired(s, web.config, now)) is not None]  # fmt: skip
            web.directory.forget_failures(now - int(web.config.lockout_window_s * NS))
        for digest, username, reason in done:
            try:
                await end_session(web, digest, username, reason, actor="web")
            except Exception:  # the log is unavailable: the next sweep tries again
                log.exception("web: could not log out an expired session")


def create_app(
    config: WebConfig,
    *,
    clock: Clock | None = None,
    events: EventLog | None = None,
    announce: Callable[[str], None] = print_setup_token,
) -> Starlette:
    """The app. `events` defaults to the log at `config.log_dir` through its appender."""
    if events is None:
        from nvr.eventlog.client import RemoteLog

        events = RemoteLog(config.log_dir, deadline_s=config.log_deadline_s)
    web = Web(config, clock or SystemClock(), events)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        web.hub.bind(asyncio.get_running_loop())
        await anyio.to_thread.run_sync(web.follower.catch_up)
        stop = threading.Event()
        follow = threading.Thread(target=web.follower.run, args=(stop,), name="web-follow")
        follow.start()
        sweeper = asyncio.create_task(sweep(web))
        try:
            await setup.issue_token(web, announce)
            yield
        finally:
            sweeper.cancel()
            stop.set()
            await anyio.to_thread.run_sync(follow.join)

    routes = [*pages.routes, *auth.routes, *setup.routes, *api.routes, *thumbs.routes, *media.routes,
              *users_api.routes, *openapi.routes, *ws.routes, *live.routes]  # fmt: skip
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Shield,
                tls=config.tls,
                allowed_origins=config.allowed_origins,
                buckets=web.api_buckets,
            ),
            # Inside Shield, so its 413 carries the security headers too.
            Middleware(RequestBodyLimitMiddleware, max_body_size=config.max_body_bytes),
        ],
        exception_handlers={HTTPException: http_error, Rejected: rejected},
        lifespan=lifespan,
    )
    app.state.web = web
    return app
