"""The first admin, when no account exists: a one-time token is printed at start (its
hash logged as `web.setup_token_issued`), and whoever presents it creates the first
admin. Once any account exists, by this route or by `nvr user add`, setup is closed."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from nvr.domain import access
from nvr.domain.codec import propose
from nvr.domain.events import SetupTokenIssued, SetupTokenUsed, UserCreated
from nvr.domain.values import user_stream
from nvr.ui_web import sessions
from nvr.ui_web.auth import WEB_STREAM, throttle
from nvr.ui_web.jsonio import json_response, read_json
from nvr.ui_web.schemas import SetupIn, SetupOut, UserOut
from nvr.ui_web.state import Web, client_addr, web_of

ACTOR = "web/setup"


def needed(web: Web) -> bool:
    with web.follower.lock:
        return web.setup_token_hash is not None and not web.directory.accounts


async def issue_token(web: Web, announce: Callable[[str], None]) -> None:
    """At start, if no account exists: make a token, log its hash, hand it to `announce`
    (by default printed on stderr, never written to a file)."""
    with web.follower.lock:
        if web.directory.accounts:
            return
    token = secrets.token_urlsafe(18)
    digest = sessions.token_hash(token)
    await web.append([propose(SetupTokenIssued(token_hash=digest), stream=WEB_STREAM, actor=ACTOR)])
    web.setup_token_hash = digest
    announce(token)


async def status(request: Request) -> Response:
    web = web_of(request)
    await web.sync()
    return json_response(SetupOut(needed=needed(web)))


async def create_first_admin(request: Request) -> Response:
    web, addr = web_of(request), client_addr(request)
    throttle(web, addr)
    body = await read_json(request, SetupIn)
    await web.sync()  # an admin made by `nvr user add` a moment ago closes setup
    async with web.setup_lock:  # two browsers racing with the token: one admin, one 404
        if not needed(web):
            raise HTTPException(404)
        digest = sessions.token_hash(body.token)
        if not hmac.compare_digest(digest, web.setup_token_hash or ""):
            raise HTTPException(403)
        access.check_username(body.username)
        access.check_password(body.password)
        password_hash = await anyio.to_thread.run_sync(web.passwords.hash, body.password)
        used = SetupTokenUsed(token_hash=digest, username=body.username, client_addr=addr)
        created = UserCreated(username=body.username, role="admin", password_hash=password_hash)
        await web.append([
            propose(used, stream=WEB_STREAM, actor=ACTOR),
            propose(created, stream=user_stream(body.username), actor=ACTOR, expected_version=0),
        ])  # fmt: skip
        web.setup_token_hash = None
    out = UserOut(username=body.username, role="admin", cameras=None, disabled=False,
                  open_sessions=0)  # fmt: skip
    return json_response(out, 201)


routes: list[BaseRoute] = [
    Route("/api/setup", status, methods=["GET"]),
    Route("/api/setup", create_first_admin, methods=["POST"]),
]
