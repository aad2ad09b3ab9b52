"""Accounts, open sessions and recent login failures, folded from the log.

The web process keeps this in memory and follows the log, so a user disabled by
`nvr user disable` loses access at the next request, without waiting for the SQLite
export. `nvr user` folds the same way to find the sessions it must end. No I/O, no
clock: every time comes from the events (`recorded_at_ns`) or from the caller.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import msgspec

from nvr.domain.access import Principal
from nvr.domain.codec import decode_payload, propose
from nvr.domain.envelope import Envelope, Proposed
from nvr.domain.events import Event, LoggedOut
from nvr.domain.values import Role, user_stream

TAGS = frozenset({
    "user.created", "user.role_changed", "user.password_changed", "user.disabled",
    "session.login_succeeded", "session.login_failed", "session.logged_out",
    "web.viewed", "web.setup_token_used",
})  # fmt: skip
"""The events the directory folds; others are skipped without decoding."""

COUNTED_FAILURES = frozenset({"bad password", "unknown user", "disabled"})
"""Failures that count towards a lockout; refusals while locked do not extend it."""
FAILURES_KEPT = 256  # per key: enough for every threshold


def ui_session_of(session_hash: str) -> str:
    """The public name of a browser session in the log (`ui/<this>` holds its views)."""
    return f"web-{session_hash[:16]}"


class Account(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    role: Role
    password_hash: str
    cameras: tuple[str, ...] | None
    disabled: bool = False

    def principal(self) -> Principal:
        return Principal(username=self.username, role=self.role, cameras=self.cameras)


class Session(msgspec.Struct, kw_only=True):
    """An open session. `last_seen_ns` moves with every request (in memory) and with every
    logged view (from the log, so it survives a restart of the web process)."""

    session_hash: str
    username: str
    client_addr: str
    started_ns: int
    last_seen_ns: int


class Directory:
    """Invariants: every session belongs to an account that exists, is enabled and has
    not changed its password since the session began; `position` is the last event
    folded. Not thread-safe: the follower applies, others read under its lock."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, Session] = {}
        self._by_ui: dict[str, str] = {}
        self.failures: dict[str, deque[int]] = {}  # "user:NAME", "addr:ADDR", "pair:NAME ADDR"
        self.used_setup_tokens: set[str] = set()
        self.position = 0

    def apply(self, env: Envelope, event: Event) -> None:
        e: Any = event
        at = env.recorded_at_ns
        kind = env.type
        if kind == "user.created":
            self.accounts[e.username] = Account(username=e.username, role=e.role,
                                                password_hash=e.password_hash, cameras=e.cameras)  # fmt: skip
        elif kind in ("user.role_changed", "user.password_changed", "user.disabled"):
            old = self.accounts.get(e.username)
            if old is None:
                return
            if kind == "user.role_changed":
                self.accounts[e.username] = msgspec.structs.replace(old, role=e.new_role)
                return
            if kind == "user.password_changed":
                self.accounts[e.username] = msgspec.structs.replace(
                    old, password_hash=e.password_hash
                )
            else:
                self.accounts[e.username] = msgspec.structs.replace(old, disabled=True)
            for h in [h for h, s in self.sessions.items() if s.username == e.username]:
                self._end(h)
        elif kind == "session.login_succeeded":
            account = self.accounts.get(e.username)
            if account is not None and not account.disabled:
                self.sessions[e.session_hash] = Session(
                    session_hash=e.session_hash, username=e.username, client_addr=e.client_addr,
                    started_ns=at, last_seen_ns=at,
                )  # fmt: skip
                self._by_ui[ui_session_of(e.session_hash)] = e.session_hash
        elif kind == "session.logged_out":
            self._end(e.session_hash)
        elif kind == "session.login_failed" and e.reason in COUNTED_FAILURES:
            keys = [f"addr:{e.client_addr}"]
            if e.username:
                keys += [f"user:{e.username}", f"pair:{e.username} {e.client_addr}"]
            for key in keys:
                self.failures.setdefault(key, deque(maxlen=FAILURES_KEPT)).append(at)
        elif kind == "web.viewed":
            session = self.sessions.get(self._by_ui.get(e.ui_session, ""))
            if session is not None:
                session.last_seen_ns = max(session.last_seen_ns, at)
        elif kind == "web.setup_token_used":
            self.used_setup_tokens.add(e.token_hash)

    def _end(self, session_hash: str) -> None:
        if self.sessions.pop(session_hash, None) is not None:
            self._by_ui.pop(ui_session_of(session_hash), None)

    def open_sessions(self, username: str) -> list[str]:
        return sorted(h for h, s in self.sessions.items() if s.username == username)

    def failures_since(self, key: str, since_ns: int) -> list[int]:
        return [t for t in self.failures.get(key, ()) if t >= since_ns]

    def forget_failures(self, before_ns: int) -> None:
        """Drop keys whose last failure is older than `before_ns` (bounds memory)."""
        for key in [k for k, q in self.failures.items() if not q or q[-1] < before_ns]:
            del self.failures[key]


def fold(directory: Directory, envs: Iterable[Envelope]) -> Directory:
    """Apply `envs` in order, decoding only the payloads the directory needs."""
    for env in envs:
        if env.type in TAGS:
            directory.apply(env, decode_payload(env))
        directory.position = env.position
    return directory


def revocations(directory: Directory, username: str, reason: str, actor: str) -> list[Proposed]:
    """A `session.logged_out` for every open session of `username`, appended with the
    password change or the disabling that ends them (the fold ends them either way)."""
    return [
        propose(LoggedOut(username=username, session_hash=h, reason=reason),
                stream=user_stream(username), actor=actor)
        for h in directory.open_sessions(username)
    ]  # fmt: skip
