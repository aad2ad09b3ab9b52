"""Session tokens: 256 random bits in a `__Host-` cookie, stored (and logged) only as a
SHA-256 hash; the CSRF token is derived from the session token, so it needs no storage
and survives a restart of the web process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from nvr.ui_web.config import WebConfig
from nvr.ui_web.directory import Session

COOKIE = "__Host-vigil-session"
CSRF_HEADER = "x-csrf-token"
TOKEN_CHARS = 43  # base64url of 32 bytes, unpadded
NS = 1_000_000_000


def new_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str | None) -> bool:
    if token is None or len(token) != TOKEN_CHARS:
        return False
    return all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


def csrf_token(token: str) -> str:
    mac = hmac.new(token.encode(), b"vigil csrf v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_ok(token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(token), presented)


def cookie_header(token: str, max_age_s: int) -> str:
    """`__Host-`: Secure, Path=/, no Domain, so no other host or path can set or read it."""
    return f"{COOKIE}={token}; Max-Age={max_age_s}; Path=/; Secure; HttpOnly; SameSite=Strict"


def clear_cookie_header() -> str:
    return f"{COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"


def expired(session: Session, config: WebConfig, now_ns: int) -> str | None:
    """The `session.logged_out` reason if `session` is past a timeout, else None."""
    if now_ns - session.started_ns > config.absolute_timeout_s * NS:
        return "absolute-timeout"
    if now_ns - session.last_seen_ns > config.idle_timeout_s * NS:
        return "idle-timeout"
    return None
