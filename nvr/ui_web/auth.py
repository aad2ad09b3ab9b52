"""Signing in and out, the caller's own account, and creating the first admin with the
one-time setup token. Every outcome is an event: `session.login_succeeded`,
`session.login_failed`, `session.logged_out`, `user.password_changed`,
`web.setup_token_used` with `user.created`."""

from __future__ import annotations

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from nvr.domain import access
from nvr.domain.codec import propose
from nvr.domain.envelope import Proposed
from nvr.domain.events import LoginFailed, LoginSucceeded, UserPasswordChanged
from nvr.domain.values import user_stream
from nvr.ui_web import sessions
from nvr.ui_web.directory import Account, revocations
from nvr.ui_web.guard import current, denied, end_session, require
from nvr.ui_web.jsonio import json_response, read_json
from nvr.ui_web.limits import locked_out
from nvr.ui_web.schemas import LoginIn, LoginOut, MeOut, PasswordIn
from nvr.ui_web.state import Web, client_addr, web_of

WEB_STREAM = "system/web"


def throttle(web: Web, addr: str) -> None:
    wait = web.login_buckets.take(addr)
    if wait > 0:
        raise HTTPException(429, headers={"Retry-After": str(max(1, round(wait)))})


async def failed(web: Web, account: Account | None, addr: str, reason: str) -> None:
    # An unknown name is not logged: people type their password into the name field.
    name = account.username if account else ""
    event = LoginFailed(username=name, client_addr=addr, reason=reason)
    stream = user_stream(name) if account else WEB_STREAM
    await web.append([propose(event, stream=stream, actor="web")])


async def login(request: Request) -> Response:
    web, addr = web_of(request), client_addr(request)
    throttle(web, addr)
    body = await read_json(request, LoginIn)
    await web.sync()  # an account made or disabled a moment ago counts
    with web.follower.lock:
        account = web.directory.accounts.get(body.username)
        name = account.username if account else ""
        locked = locked_out(web.directory, web.config, name, addr, web.clock.now_ns())
    if locked:
        await failed(web, account, addr, "locked")
        raise HTTPException(429, headers={"Retry-After": str(int(web.config.lockout_window_s))})
    good = await anyio.to_thread.run_sync(
        web.passwords.verify, account.password_hash if account else None, body.password
    )
    reason = "unknown user" if account is None else "disabled" if account.disabled else ""
    if not reason and not good:
        reason = "bad password"
    if reason or account is None:
        await failed(web, account, addr, reason)
        raise HTTPException(401)
    old = await current(request)
    if old is not None:  # a new sign-in replaces the session this browser had
        await end_session(web, old.session_hash, old.account.username, "logout", actor=old.actor)
    token = sessions.new_token()  # always new: a token planted before login is never adopted
    event = LoginSucceeded(username=account.username, session_hash=sessions.token_hash(token),
                           client_addr=addr, user_agent=request.headers.get("user-agent", "")[:200])  # fmt: skip
    await web.append([propose(event, stream=user_stream(account.username), actor=f"user/{account.username}")])  # fmt: skip
    out = LoginOut(username=account.username, role=account.role, csrf=sessions.csrf_token(token))
    response = json_response(out)
    response.headers.append(
        "set-cookie", sessions.cookie_header(token, int(web.config.absolute_timeout_s))
    )
    return response


async def logout(request: Request) -> Response:
    web = web_of(request)
    caller = await current(request)
    response = Response(status_code=204)
    response.headers.append("set-cookie", sessions.clear_cookie_header())
    if caller is None:
        return response
    if not sessions.csrf_ok(caller.token, request.headers.get(sessions.CSRF_HEADER)):
        await denied(web, caller, "POST /api/logout", "csrf")
        raise HTTPException(403)
    await end_session(
        web, caller.session_hash, caller.account.username, "logout", actor=caller.actor
    )
    return response


async def me(request: Request) -> Response:
    caller = await require(request, "dashboard.view", "GET /api/me")
    a = caller.account
    actions: list[str] = [x for x in access.ACTIONS if access.allowed(caller.principal, x)]
    cams = list(a.cameras) if a.cameras is not None else None
    return json_response(MeOut(username=a.username, role=a.role, cameras=cams, actions=actions,
                               csrf=sessions.csrf_token(caller.token)))  # fmt: skip


async def change_own_password(request: Request) -> Response:
    web = web_of(request)
    caller = await require(request, "dashboard.view", "POST /api/me/password")
    body = await read_json(request, PasswordIn)
    a = caller.account
    if not await anyio.to_thread.run_sync(web.passwords.verify, a.password_hash, body.current):
        await failed(web, a, caller.addr, "bad password")  # counts towards the lockout
        raise HTTPException(403)
    access.check_password(body.new)
    new_hash = await anyio.to_thread.run_sync(web.passwords.hash, body.new)
    await web.append(password_events(web, a.username, new_hash, caller.actor))
    response = Response(status_code=204)
    response.headers.append("set-cookie", sessions.clear_cookie_header())
    return response


def password_events(web: Web, username: str, new_hash: str, actor: str) -> list[Proposed]:
    """The change and the end of every session of the account (the caller's too)."""
    change = UserPasswordChanged(username=username, password_hash=new_hash)
    with web.follower.lock:
        ended = revocations(web.directory, username, "password-changed", actor)
    return [propose(change, stream=user_stream(username), actor=actor), *ended]


routes: list[BaseRoute] = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/me/password", change_own_password, methods=["POST"]),
]
