"""Who may do what: roles, actions, the permission matrix, per-camera access, and the
rules a new or changed account must follow. Pure: no I/O, no clock.

A camera-scoped action needs both the role's permission and the camera in the user's
list (`cameras` None: every camera, the rule for every role, admins included).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

from nvr.domain.errors import Rejected
from nvr.domain.values import Role

Action = Literal[
    "dashboard.view",  # the dashboard page and the notification socket
    "live.view",  # camera list, status, live thumbnails, live video
    "playback.view",  # recorded footage, motion events and their thumbnails
    "ptz.control",
    "recording.manual",
    "export.create",
    "system.view",  # health and storage
    "config.view",
    "config.change",
    "users.manage",
    "audit.view",
]

ROLES: tuple[Role, ...] = ("admin", "operator", "viewer")
ACTIONS: tuple[Action, ...] = (
    "dashboard.view", "live.view", "playback.view", "ptz.control", "recording.manual",
    "export.create", "system.view", "config.view", "config.change", "users.manage",
    "audit.view",
)  # fmt: skip

CAMERA_ACTIONS: frozenset[Action] = frozenset(
    {"live.view", "playback.view", "ptz.control", "recording.manual", "export.create"}
)
"""Actions on one camera: allowed only for the cameras the user may see."""

_VIEWER: frozenset[Action] = frozenset({"dashboard.view", "live.view", "playback.view"})
_OPERATOR_MORE: frozenset[Action] = frozenset(
    {"ptz.control", "recording.manual", "export.create", "system.view"}
)
_OPERATOR = _VIEWER | _OPERATOR_MORE

PERMISSIONS: Mapping[Role, frozenset[Action]] = {
    "admin": frozenset(ACTIONS),
    "operator": frozenset(_OPERATOR),
    "viewer": _VIEWER,
}
"""The matrix: admin everything; operator live, playback, PTZ, manual recording, export
and system health, no configuration or users; viewer live and playback only."""

Denial = Literal["role", "camera"]

USERNAME = re.compile(r"[a-z][a-z0-9_.-]{0,31}")
"""Lower case, so `Ann` and `ann` cannot be two accounts; safe in a stream id and a path."""
CAMERA_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
PASSWORD_MIN = 10
PASSWORD_MAX = 256


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The rights of one enabled account at one moment."""

    username: str
    role: Role
    cameras: tuple[str, ...] | None = None  # None: every camera


def allowed(who: Principal, action: Action) -> bool:
    return action in PERMISSIONS[who.role]


def sees(who: Principal, camera_id: str) -> bool:
    return who.cameras is None or camera_id in who.cameras


def check(who: Principal, action: Action, camera_id: str | None = None) -> Denial | None:
    """Why `who` may not do `action` (on `camera_id`), or None when allowed.

    The role is checked first, so a viewer asking for PTZ on a hidden camera is told
    "role", never whether the camera exists."""
    if not allowed(who, action):
        return "role"
    if camera_id is not None and action in CAMERA_ACTIONS and not sees(who, camera_id):
        return "camera"
    return None


def visible(who: Principal, camera_ids: Iterable[str]) -> list[str]:
    return [c for c in camera_ids if sees(who, c)]


def check_username(name: str) -> None:
    if not USERNAME.fullmatch(name):
        raise Rejected(
            "a username is 1 to 32 characters: a lower-case letter, then letters, digits, "
            "'_', '.' or '-'"
        )


def check_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Rejected(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters")


def check_cameras(cameras: Iterable[str] | None) -> tuple[str, ...] | None:
    """The camera list of an account, checked and without repeats (order kept)."""
    if cameras is None:
        return None
    out: list[str] = []
    for cam in cameras:
        if not CAMERA_ID.fullmatch(cam):
            raise Rejected(f"{cam!r} is not a camera id")
        if cam not in out:
            out.append(cam)
    return tuple(out)


def check_admin_remains(
    roles: Mapping[str, Role], disabled: Iterable[str], username: str, new_role: Role | None
) -> None:
    """Refuse a change that leaves no enabled admin (nobody could manage users again).

    `roles` maps every account to its role; `new_role` None means the account is disabled."""
    off = set(disabled)
    admins = {u for u, r in roles.items() if r == "admin" and u not in off}
    if username in admins and new_role != "admin" and len(admins) == 1:
        raise Rejected(f"{username} is the last enabled admin")
