"""The outermost middleware: security headers on every response, the Origin check on
every state-changing request and WebSocket handshake, the API rate limit per client
address, and a generic 500 for anything unexpected (details only in the log).

Plain ASGI, so it sees every response, including Starlette's own 404, 405 and 413."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nvr.ui_web.errors import error_response
from nvr.ui_web.limits import Buckets

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob:; font-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
HSTS = ("strict-transport-security", "max-age=63072000")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LIMITED_PREFIXES = ("/api/", "/ws")
MAX_HEADER_BYTES = 16 * 1024
"""The server's own parser refuses bigger headers only when they arrive in pieces, so the
limit is also enforced here, whatever the timing."""


class Shield:
    def __init__(
        self, app: ASGIApp, *, tls: bool, allowed_origins: Iterable[str], buckets: Buckets
    ) -> None:
        self.app = app
        self.tls = tls
        self.allowed = frozenset(o.rstrip("/") for o in allowed_origins)
        self.buckets = buckets
        self.headers = (*HEADERS, HSTS) if tls else HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        path: str = scope.get("path", "")
        refusal = self._refusal(scope, path)
        if refusal is not None:
            status, extra = refusal
            await self._answer(scope, receive, send_with_headers, path, status, extra)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            ref = secrets.token_hex(6)
            log.exception("web: unhandled error (ref %s) on %s", ref, path)
            if scope["type"] == "http" and not started:
                await error_response(path, 500, ref=ref)(scope, receive, send_with_headers)
            elif scope["type"] == "websocket" and not started:
                await send({"type": "websocket.close", "code": 1011})

    def _refusal(self, scope: Scope, path: str) -> tuple[int, dict[str, str]] | None:
        if sum(len(k) + len(v) for k, v in scope.get("headers", ())) > MAX_HEADER_BYTES:
            return 431, {}
        if path.startswith(LIMITED_PREFIXES):
            addr = scope["client"][0] if scope.get("client") else "unknown"
            wait = self.buckets.take(addr)
            if wait > 0:
                return 429, {"retry-after": str(max(1, round(wait)))}
        method = scope.get("method", "GET")
        unsafe = scope["type"] == "websocket" or method in UNSAFE_METHODS
        if unsafe and not self.same_origin(Headers(scope=scope)):
            return 403, {}
        return None

    def same_origin(self, headers: Headers) -> bool:
        """A browser names the page that sent the request; it must be this site. A
        request without Origin (or from a cross-site fetch) is refused: the browser's
        own forms and scripts always send it on POST and WebSocket."""
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = headers.get("origin")
        if origin is None:
            return False
        if self.allowed:
            return origin in self.allowed
        host = headers.get("host", "")
        schemes = ("https",) if self.tls else ("https", "http")  # http: behind a TLS proxy
        return any(origin == f"{s}://{host}" for s in schemes)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, path: str, status: int,
        extra: dict[str, str],
    ) -> None:  # fmt: skip
        if scope["type"] == "websocket":
            # Refuse the handshake with an HTTP answer (ASGI websocket denial response).
            await send({"type": "websocket.http.response.start", "status": status,
                        "headers": [(k.encode(), v.encode()) for k, v in extra.items()]})  # fmt: skip
            await send({"type": "websocket.http.response.body", "body": b""})
            return
        await error_response(path, status, headers=extra)(scope, receive, send)
