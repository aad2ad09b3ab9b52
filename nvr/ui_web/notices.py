"""What the dashboard is told as it happens: camera lost and recovered, motion, recording
started and stopped, storage warnings. Pure: an event in, a notice (or None) out."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from nvr.domain import access
from nvr.domain.access import Principal
from nvr.domain.envelope import Envelope
from nvr.domain.events import Event

TAGS = frozenset({
    "stream.lost", "stream.recovered", "motion.started", "recording.started",
    "recording.stopped", "storage.warning",
})  # fmt: skip

Level = Literal["info", "warning", "critical"]


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """One message on the `/ws` socket (`type` "notice")."""

    kind: str  # camera.lost, camera.recovered, motion, recording.started, ...
    level: Level
    text: str
    position: int
    at_ns: int  # when the log recorded it
    camera_id: str | None = None
    type: str = "notice"


def notice_of(env: Envelope, event: Event) -> Notice | None:
    e: Any = event
    kind, level, cam = env.type, "info", getattr(e, "camera_id", None)
    if kind == "stream.lost":
        if e.stream != "main":
            return None
        kind, level, text = "camera.lost", "warning", f"Camera {cam} lost ({e.reason})"
    elif kind == "stream.recovered":
        if e.stream != "main":
            return None
        secs = e.outage_ns / 1e9
        kind, text = "camera.recovered", f"Camera {cam} back after {secs:.0f} s"
    elif kind == "motion.started":
        kind, text = "motion", f"Motion on {cam} ({e.confidence:.0%})"
    elif kind == "recording.started":
        text = f"{cam}: {e.recording_type} recording started"
    elif kind == "recording.stopped":
        text = f"{cam}: {e.recording_type} recording stopped"
    elif kind == "storage.warning":
        level = {"ok": "info", "low": "warning", "critical": "critical"}[e.level]
        free_gib = e.free_bytes / 2**30
        kind, text = "storage", f"Storage {e.volume}: {e.level}, {free_gib:.1f} GiB free"
    else:
        return None
    return Notice(kind=kind, level=level, text=text, position=env.position,  # type: ignore[arg-type]
                  at_ns=env.recorded_at_ns, camera_id=cam)  # fmt: skip


def may_see(who: Principal, notice: Notice) -> bool:
    """Camera notices follow the camera's visibility; storage needs `system.view`."""
    if notice.camera_id is None:
        return access.allowed(who, "system.view")
    action: access.Action = "playback.view" if notice.kind == "motion" else "live.view"
    return access.check(who, action, notice.camera_id) is None
