"""The footage projection's working state and the helpers its event handlers share."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import msgspec

from nvr.projections.footage_tables import HOUR_NS
from nvr.projections.tables import Op, Patch, Put, View

GAP_MIN_NS = 500_000_000
"""Shorter breaks between segments are timestamp jitter, not gaps."""


class CamWork(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One camera now. Invariants: `seg_row` != 0 iff a segment is open; `cause` is ''
    while a segment is open (it is the first explanation seen since the last one closed);
    `motions` are the motions started and not yet ended."""

    name: str = ""
    mode: str = "motion"
    removed: bool = False
    connected: bool = False
    seg_id: str = ""
    seg_row: int = 0
    seg_type: str = ""
    rec_id: str = ""
    rec_type: str = ""
    last_end_ns: int = 0
    cause: str = ""
    cause_detail: str = ""
    motions: tuple[tuple[str, int, int], ...] = ()  # (motion_id, row id, start_ns)
    unfiled: tuple[tuple[int, int], ...] = ()  # motions with no segment yet: (row id, start_ns)
    max_segment_ns: int = 0
    max_motion_ns: int = 0


class FootageWork(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    cams: dict[str, CamWork] = {}


@functools.lru_cache(maxsize=64)
def _day(days: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=days)).isoformat()


def timestamp(ns: int) -> str:
    """The roadmap's TIMESTAMP text: UTC `YYYY-MM-DD HH:MM:SS.ffffff` (microseconds
    truncated, as SQLite's date functions read it)."""
    days, rest = divmod(ns // 1000, 86_400_000_000)
    seconds, micros = divmod(rest, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_day(days)} {hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}"


def hour_split(a: int, b: int) -> list[tuple[int, int, int]]:
    """[a, b) cut at UTC hour boundaries: (hour_ns, start, end) pieces."""
    out = []
    while a < b:
        hour = a - a % HOUR_NS
        end = min(b, hour + HOUR_NS)
        out.append((hour, a, end))
        a = end
    return out


def stop_cause(reason: str, mode: str) -> tuple[str, str]:
    if reason == "no reason to record":
        return {
            "off": ("recording mode off", ""),
            "motion": ("no motion", ""),
            "scheduled": ("outside schedule", ""),
        }.get(mode, ("not recording", reason))
    if reason.startswith("storage failed"):
        return ("disk full" if "space" in reason.lower() else "storage failed", reason)
    if reason == "shutdown":
        return ("shut down", "")
    return ("camera lost", reason)


def status_row(cid: str, cam: CamWork) -> dict[str, Any]:
    return {
        "camera_id": cid, "name": cam.name, "recording_mode": cam.mode,
        "removed": int(cam.removed), "main_connected": int(cam.connected),
        "recording_type": cam.rec_type, "last_end_ns": cam.last_end_ns,
        "cause": cam.cause, "cause_detail": cam.cause_detail,
        "max_segment_ns": cam.max_segment_ns, "max_motion_ns": cam.max_motion_ns,
    }  # fmt: skip


def explain(cam: CamWork, cause: str, detail: str) -> CamWork:
    """Keep the first explanation since the last segment closed."""
    if cam.cause:
        return cam
    return msgspec.structs.replace(cam, cause=cause, cause_detail=detail)


def add_hours(
    view: View, cid: str, a: int, b: int, field: str, ops: list[Op], sign: int = 1
) -> None:
    for hour, start, end in hour_split(a, b):
        row = view.get("timeline_hours", (cid, hour))
        if row is None:
            row = {
                "camera_id": cid,
                "hour_ns": hour,
                "recorded_ns": 0,
                "motion_ns": 0,
                "motion_count": 0,
            }
            row[field] = sign * (end - start)
            ops.append(Put("timeline_hours", row))
        else:
            ops.append(
                Patch("timeline_hours", (cid, hour), {field: row[field] + sign * (end - start)})
            )


def count_motion(view: View, cid: str, at_ns: int, ops: list[Op]) -> None:
    hour = at_ns - at_ns % HOUR_NS
    row = view.get("timeline_hours", (cid, hour))
    if row is None:
        ops.append(
            Put(
                "timeline_hours",
                {
                    "camera_id": cid,
                    "hour_ns": hour,
                    "recorded_ns": 0,
                    "motion_ns": 0,
                    "motion_count": 1,
                },
            )
        )
    else:
        ops.append(Patch("timeline_hours", (cid, hour), {"motion_count": row["motion_count"] + 1}))


def gap(cid: str, a: int, b: int, reason: str, detail: str, ops: list[Op]) -> None:
    for _, start, end in hour_split(a, b):
        ops.append(
            Put(
                "timeline_gaps",
                {
                    "camera_id": cid,
                    "start_ns": start,
                    "end_ns": end,
                    "reason": reason,
                    "detail": detail,
                },
            )
        )
