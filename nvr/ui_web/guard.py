"""Who is calling and may they: the session behind a request, its timeouts, the CSRF
check, the permission check, and the events that record views and refusals.

Every route that touches data calls `require`. A refusal is logged (`web.access_denied`)
before it is answered: 403 when the role lacks the action, 404 when the camera is not
the user's (the same answer as a camera that does not exist)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from nvr.domain import access
from nvr.domain.codec import propose
from nvr.domain.events import AccessDenied, LoggedOut, ResourceViewed
from nvr.domain.values import ui_stream, user_stream
from nvr.ui_web import sessions
from nvr.ui_web.directory import Account, ui_session_of
from nvr.ui_web.state import Web, client_addr, web_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NS = 1_000_000_000


@dataclass(frozen=True)
class Caller:
    account: Account
    session_hash: str
    token: str
    addr: str

    @property
    def principal(self) -> access.Principal:
        return self.account.principal()

    @property
    def ui_session(self) -> str:
        return ui_session_of(self.session_hash)

    @property
    def actor(self) -> str:
        return f"user/{self.account.username}"


async def current(conn: HTTPConnection) -> Caller | None:
    """The signed-in caller, or None. A session past a timeout is logged out here."""
    web = web_of(conn)
    token = conn.cookies.get(sessions.COOKIE)
    if token is None or not sessions.well_formed(token):
        return None
    await web.sync()
    digest = sessions.token_hash(token)
    now = web.clock.now_ns()
    with web.follower.lock:
        session = web.directory.sessions.get(digest)
        account = web.directory.accounts.get(session.username) if session else None
        if session is None or account is None or account.disabled:
            return None
        reason = sessions.expired(session, web.config, now)
        if reason is None:
            session.last_seen_ns = max(session.last_seen_ns, now)
    if reason is not None:
        await end_session(web, digest, account.username, reason, actor="web")
        return None
    return Caller(account=account, session_hash=digest, token=token, addr=client_addr(conn))


async def end_session(web: Web, digest: str, username: str, reason: str, *, actor: str) -> None:
    if digest in web.ending:  # another request is already logging it out
        return
    web.ending.add(digest)
    try:
        event = LoggedOut(username=username, session_hash=digest, reason=reason)
        await web.append([propose(event, stream=user_stream(username), actor=actor)])
    finally:
        web.ending.discard(digest)


async def require(
    conn: HTTPConnection,
    action: access.Action,
    resource: str,
    camera_id: str | None = None,
    *,
    subject_id: str = "",
) -> Caller:
    """The caller, allowed to do `action` (on `camera_id`); otherwise an HTTP error.

    State-changing requests must carry the session's CSRF token in `X-CSRF-Token`; the
    Origin check has already run in the middleware."""
    web = web_of(conn)
    caller = await current(conn)
    if caller is None:
        raise HTTPException(401)
    method = conn.scope.get("method", "GET")
    if method not in SAFE_METHODS and not sessions.csrf_ok(
        caller.token, conn.headers.get(sessions.CSRF_HEADER)
    ):
        await denied(web, caller, resource, "csrf", camera_id)
        raise HTTPException(403)
    refusal = access.check(caller.principal, action, camera_id)
    if refusal is not None:
        await denied(web, caller, resource, refusal, camera_id)
        raise HTTPException(403 if refusal == "role" else 404)
    if method in SAFE_METHODS:  # a change is recorded by its own event
        await viewed(web, caller, resource, camera_id, subject_id)
    return caller


async def denied(
    web: Web, caller: Caller, resource: str, reason: str, camera_id: str | None = None
) -> None:
    event = AccessDenied(ui_session=caller.ui_session, username=caller.account.username,
                         resource=resource, client_addr=caller.addr, reason=reason,
                         camera_id=camera_id)  # fmt: skip
    await web.append([propose(event, stream=ui_stream(caller.ui_session), actor=caller.actor)])


async def viewed(
    web: Web, caller: Caller, resource: str, camera_id: str | None, subject_id: str = ""
) -> None:
    """Log the view unless this session viewed this resource within the window: an open
    dashboard refreshing thumbnails would otherwise write an event every few seconds."""
    now = web.clock.monotonic_ns()
    window = int(web.config.view_log_window_s * NS)
    key = (caller.session_hash, resource, camera_id or "")
    last = web.viewed.get(key)
    if last is not None and now - last < window:
        return
    if len(web.viewed) > 10_000:
        web.viewed = {k: t for k, t in web.viewed.items() if now - t < window}
    event = ResourceViewed(ui_session=caller.ui_session, username=caller.account.username,
                           resource=resource, client_addr=caller.addr, camera_id=camera_id,
                           subject_id=subject_id)  # fmt: skip
    await web.append([propose(event, stream=ui_stream(caller.ui_session), actor=caller.actor)])
    web.viewed[key] = now
