"""`/ws`: one WebSocket per dashboard, pushing notices followed from the log, filtered
by what the user may see at the moment each is sent.

The handshake needs a valid session and this site's Origin (checked in the
middleware: a cross-site page cannot open it with the user's cookie). The socket closes
when its session ends (logout, timeout, password change, disable) within `RECHECK_S`.
"""

from __future__ import annotations

import anyio
import msgspec
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from nvr.domain import access
from nvr.ui_web import sessions
from nvr.ui_web.errors import error_response
from nvr.ui_web.guard import Caller, current, viewed
from nvr.ui_web.notices import may_see
from nvr.ui_web.state import Web, web_of

RECHECK_S = 2.0
SESSION_ENDED = 4401  # private-use close codes: the page goes back to the login screen
FALLEN_BEHIND = 4429
_encoder = msgspec.json.Encoder()


def still_allowed(web: Web, caller: Caller) -> access.Principal | None:
    """The caller's rights now, or None once the session is over."""
    with web.follower.lock:
        session = web.directory.sessions.get(caller.session_hash)
        account = web.directory.accounts.get(caller.account.username)
        if session is None or account is None or account.disabled:
            return None
        if sessions.expired(session, web.config, web.clock.now_ns()) is not None:
            return None
        return account.principal()


async def notifications(ws: WebSocket) -> None:
    web = web_of(ws)
    caller = await current(ws)
    if caller is None or not access.allowed(caller.principal, "dashboard.view"):
        # Refused before accept, as an HTTP answer that carries the security headers.
        await ws.send_denial_response(error_response("/api/", 403))
        return
    await viewed(web, caller, "WS /ws", None)
    await ws.accept()
    sub = web.hub.subscribe(caller.session_hash)
    code = 1000
    try:
        hello = {"type": "hello", "position": web.directory.position}
        await ws.send_text(_encoder.encode(hello).decode())
        async with anyio.create_task_group() as tg:

            async def read_until_closed() -> None:
                # The client has nothing to say; reading only notices it leaving.
                try:
                    while (await ws.receive())["type"] != "websocket.disconnect":
                        pass
                except (WebSocketDisconnect, RuntimeError):
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(read_until_closed)
            while True:
                notice = None
                with anyio.move_on_after(RECHECK_S):
                    notice = await sub.queue.get()
                who = still_allowed(web, caller)
                if who is None:
                    code = SESSION_ENDED
                    break
                if sub.overflowed.is_set():
                    code = FALLEN_BEHIND
                    break
                if notice is not None and may_see(who, notice):
                    await ws.send_text(_encoder.encode(notice).decode())
            tg.cancel_scope.cancel()
        await ws.close(code=code)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the client went away
    finally:
        web.hub.unsubscribe(sub)


routes: list[BaseRoute] = [WebSocketRoute("/ws", notifications)]
