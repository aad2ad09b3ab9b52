"""The people projection: users and roles, sessions, and the audit trail (who did what,
when, from where) that the web UI and `nvr audit` read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from nvr.domain.envelope import Envelope
from nvr.domain.events import Event
from nvr.projections.footage_state import timestamp
from nvr.projections.tables import Op, Patch, Put, Table, View

USERS = Table(
    name="users",
    columns=(
        ("username", "TEXT NOT NULL"),
        ("role", "TEXT NOT NULL"),
        ("disabled", "INTEGER NOT NULL"),
        ("password_hash", "TEXT NOT NULL"),
        ("cameras_json", "TEXT"),  # NULL: every camera
        ("created_at", "TIMESTAMP NOT NULL"),
        ("updated_at", "TIMESTAMP NOT NULL"),
    ),
)

SESSIONS = Table(
    name="sessions",
    columns=(
        ("session_hash", "TEXT NOT NULL"),
        ("username", "TEXT NOT NULL"),
        ("client_addr", "TEXT NOT NULL"),
        ("user_agent", "TEXT NOT NULL"),
        ("started_ns", "INTEGER NOT NULL"),
        ("ended_ns", "INTEGER"),  # NULL while the session is open
        ("end_reason", "TEXT"),
    ),
    indexes=(("username", "started_ns"),),
)

AUDIT = Table(
    name="audit",
    columns=(
        ("id", "INTEGER PRIMARY KEY"),  # the event's log position
        ("at_ns", "INTEGER NOT NULL"),
        ("at", "TIMESTAMP NOT NULL"),
        ("actor", "TEXT NOT NULL"),
        ("action", "TEXT NOT NULL"),  # the event type
        ("stream", "TEXT NOT NULL"),
        ("camera_id", "TEXT"),
        ("client_addr", "TEXT"),
        ("detail_json", "TEXT NOT NULL"),
    ),
    indexes=(("at_ns",), ("actor", "at_ns"), ("camera_id", "at_ns")),
)

AUDITED = frozenset({
    "camera.added", "camera.configured", "camera.removed", "config.imported",
    "recording.requested", "segment.deleted", "storage.emergency_purged",
    "retention.policy_changed", "footage.protected", "footage.unprotected",
    "ptz.moved", "ptz.preset.saved", "ptz.preset.renamed", "ptz.preset.removed",
    "ptz.preset.recalled",
    "user.created", "user.role_changed", "user.password_changed", "user.disabled",
    "session.login_succeeded", "session.login_failed", "session.logged_out",
    "view.layout_changed", "view.tile_assigned", "view.playback_seeked",
    "view.playback_rate_changed",
    "web.viewed", "web.access_denied", "web.setup_token_issued", "web.setup_token_used",
    "web.clip_exported",
})  # fmt: skip
"""What people and policies decide; machine facts (segments, motion, streams) are left out."""

_SECRET = ("password_hash", "session_hash")


def _detail(event: Event) -> str:
    data: dict[str, Any] = msgspec.to_builtins(event)
    data.pop("type", None)
    for key in _SECRET:
        if key in data:
            data[key] = "<hidden>"
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


class PeopleWork(msgspec.Struct, frozen=True, gc=False):
    pass


class PeopleProjection:
    name = "people"
    version = 3  # 2: the web UI's views, refusals, setup tokens; 3: clip exports
    tables: tuple[Table, ...] = (USERS, SESSIONS, AUDIT)
    work_type = PeopleWork
    handles = AUDITED

    def initial(self) -> PeopleWork:
        return PeopleWork()

    def evolve(
        self, work: PeopleWork, view: View, env: Envelope, event: Event
    ) -> tuple[PeopleWork, Sequence[Op]]:
        e: Any = event
        at = timestamp(env.recorded_at_ns)
        ops: list[Op] = [
            Put("audit", {
                "id": env.position, "at_ns": env.recorded_at_ns, "at": at, "actor": env.actor,
                "action": env.type, "stream": env.stream,
                "camera_id": getattr(e, "camera_id", None),
                "client_addr": getattr(e, "client_addr", None), "detail_json": _detail(event),
            })
        ]  # fmt: skip
        kind = env.type
        if kind == "user.created":
            cams = None if e.cameras is None else json.dumps(list(e.cameras))
            ops.append(Put("users", {
                "username": e.username, "role": e.role, "disabled": 0,
                "password_hash": e.password_hash, "cameras_json": cams,
                "created_at": at, "updated_at": at,
            }))  # fmt: skip
        elif kind == "user.role_changed":
            ops.append(Patch("users", (e.username,), {"role": e.new_role, "updated_at": at}))
        elif kind == "user.password_changed":
            ops.append(
                Patch("users", (e.username,), {"password_hash": e.password_hash, "updated_at": at})
            )
        elif kind == "user.disabled":
            ops.append(Patch("users", (e.username,), {"disabled": 1, "updated_at": at}))
        elif kind == "session.login_succeeded":
            ops.append(Put("sessions", {
                "session_hash": e.session_hash, "username": e.username,
                "client_addr": e.client_addr, "user_agent": e.user_agent,
                "started_ns": env.recorded_at_ns, "ended_ns": None, "end_reason": None,
            }))  # fmt: skip
        elif kind == "session.logged_out":
            ops.append(
                Patch(
                    "sessions",
                    (e.session_hash,),
                    {"ended_ns": env.recorded_at_ns, "end_reason": e.reason},
                )
            )
        return work, ops
