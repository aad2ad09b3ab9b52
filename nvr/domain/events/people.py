"""Users, sessions and the operator's view intents.

Users live in `user/<username>`; a desktop or browser session's view in `ui/<session>`.
Secrets never enter the log in clear: passwords as argon2id hashes, session ids as hashes.
"""

from __future__ import annotations

from nvr.domain.events.base import Event
from nvr.domain.values import Layout, Role


class UserCreated(Event, tag="user.created", frozen=True, kw_only=True):
    username: str
    role: Role
    password_hash: str
    cameras: tuple[str, ...] | None = None


class UserRoleChanged(Event, tag="user.role_changed", frozen=True, kw_only=True):
    username: str
    old_role: Role
    new_role: Role


class UserPasswordChanged(Event, tag="user.password_changed", frozen=True, kw_only=True):
    username: str
    password_hash: str


class UserDisabled(Event, tag="user.disabled", frozen=True, kw_only=True):
    username: str
    reason: str = ""


class LoginSucceeded(Event, tag="session.login_succeeded", frozen=True, kw_only=True):
    username: str
    session_hash: str
    client_addr: str
    user_agent: str = ""


class LoginFailed(Event, tag="session.login_failed", frozen=True, kw_only=True):
    username: str
    client_addr: str
    reason: str


class LoggedOut(Event, tag="session.logged_out", frozen=True, kw_only=True):
    """`reason`: logout, idle-timeout, absolute-timeout, password-changed, disabled."""

    username: str
    session_hash: str
    reason: str = "logout"


class LayoutChanged(Event, tag="view.layout_changed", frozen=True, kw_only=True):
    ui_session: str
    layout: Layout


class TileAssigned(Event, tag="view.tile_assigned", frozen=True, kw_only=True):
    ui_session: str
    tile: int
    camera_id: str | None


class PlaybackSeeked(Event, tag="view.playback_seeked", frozen=True, kw_only=True):
    ui_session: str
    camera_ids: tuple[str, ...]
    target_ns: int


class PlaybackRateChanged(Event, tag="view.playback_rate_changed", frozen=True, kw_only=True):
    ui_session: str
    rate: float
