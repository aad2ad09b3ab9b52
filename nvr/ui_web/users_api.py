"""Accounts, for admins: list, create, change role or password, disable. Each change is
its user event; a password change or a disable also ends the account's sessions.

There is no delete: the log keeps every account, and a disabled one cannot sign in."""

from __future__ import annotations

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from nvr.domain import access
from nvr.domain.codec import propose
from nvr.domain.envelope import Proposed
from nvr.domain.events import UserCreated, UserDisabled, UserRoleChanged
from nvr.domain.values import Role, user_stream
from nvr.ui_web.auth import password_events
from nvr.ui_web.directory import Account, revocations
from nvr.ui_web.guard import require
from nvr.ui_web.jsonio import json_response, read_json
from nvr.ui_web.schemas import DisableIn, UserIn, UserOut, UserPatch
from nvr.ui_web.state import Web, web_of


def user_out(web: Web, account: Account) -> UserOut:
    cams = list(account.cameras) if account.cameras is not None else None
    return UserOut(username=account.username, role=account.role, cameras=cams,
                   disabled=account.disabled,
                   open_sessions=len(web.directory.open_sessions(account.username)))  # fmt: skip


def target(web: Web, request: Request) -> Account:
    name = request.path_params["username"]
    with web.follower.lock:
        account = web.directory.accounts.get(name) if access.USERNAME.fullmatch(name) else None
    if account is None:
        raise HTTPException(404)
    return account


def keep_an_admin(web: Web, username: str, new_role: Role | None) -> None:
    with web.follower.lock:
        accounts = list(web.directory.accounts.values())
    access.check_admin_remains({a.username: a.role for a in accounts},
                               [a.username for a in accounts if a.disabled], username, new_role)  # fmt: skip


async def list_users(request: Request) -> Response:
    web = web_of(request)
    await require(request, "users.manage", "GET /api/users")
    with web.follower.lock:
        out = [user_out(web, a) for _, a in sorted(web.directory.accounts.items())]
    return json_response(out)


async def get_user(request: Request) -> Response:
    web = web_of(request)
    await require(request, "users.manage", "GET /api/users/{username}")
    account = target(web, request)
    with web.follower.lock:
        return json_response(user_out(web, account))


async def create_user(request: Request) -> Response:
    web = web_of(request)
    caller = await require(request, "users.manage", "POST /api/users")
    body = await read_json(request, UserIn)
    access.check_username(body.username)
    access.check_password(body.password)
    cameras = access.check_cameras(body.cameras)
    with web.follower.lock:
        if body.username in web.directory.accounts:
            raise HTTPException(409)
    password_hash = await anyio.to_thread.run_sync(web.passwords.hash, body.password)
    event = UserCreated(username=body.username, role=body.role, password_hash=password_hash,
                        cameras=cameras)  # fmt: skip
    # expected_version 0: a name taken meanwhile (by `nvr user add`) is refused with 409.
    await web.append([propose(event, stream=user_stream(body.username), actor=caller.actor,
                              expected_version=0)])  # fmt: skip
    return _answer(web, body.username, 201)


async def change_user(request: Request) -> Response:
    web = web_of(request)
    caller = await require(request, "users.manage", "PATCH /api/users/{username}")
    account = target(web, request)
    body = await read_json(request, UserPatch)
    events: list[Proposed] = []
    if body.role is not None and body.role != account.role:
        keep_an_admin(web, account.username, body.role)
        change = UserRoleChanged(username=account.username, old_role=account.role,
                                 new_role=body.role)  # fmt: skip
        events.append(propose(change, stream=user_stream(account.username), actor=caller.actor))
    if body.password is not None:
        access.check_password(body.password)
        new_hash = await anyio.to_thread.run_sync(web.passwords.hash, body.password)
        events += password_events(web, account.username, new_hash, caller.actor)
    if events:
        await web.append(events)
    return _answer(web, account.username, 200)


async def disable_user(request: Request) -> Response:
    web = web_of(request)
    caller = await require(request, "users.manage", "POST /api/users/{username}/disable")
    account = target(web, request)
    body = await read_json(request, DisableIn)
    if not account.disabled:
        keep_an_admin(web, account.username, None)
        with web.follower.lock:
            ended = revocations(web.directory, account.username, "disabled", caller.actor)
        off = UserDisabled(username=account.username, reason=body.reason)
        await web.append(
            [propose(off, stream=user_stream(account.username), actor=caller.actor), *ended]
        )
    return _answer(web, account.username, 200)


def _answer(web: Web, username: str, status: int) -> Response:
    with web.follower.lock:
        return json_response(user_out(web, web.directory.accounts[username]), status)


routes: list[BaseRoute] = [
    Route("/api/users", list_users, methods=["GET"]),
    Route("/api/users", create_user, methods=["POST"]),
    Route("/api/users/{username}", get_user, methods=["GET"]),
    Route("/api/users/{username}", change_user, methods=["PATCH"]),
    Route("/api/users/{username}/disable", disable_user, methods=["POST"]),
]
