"""The footage projection: segments as `recordings` rows, `motion_events`, the timeline
(gaps with their reasons, hourly totals), camera status, storage use and evidence locks.

The working state (`CamWork` per camera) holds only what is open now (the segment being
written, the recording, motions going on) and why the camera is not recording; the rest
is in the tables. One pure function per event type; see docs/design/projections.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from msgspec.structs import replace

from nvr.domain.envelope import Envelope
from nvr.domain.events import Event
from nvr.domain.values import RECORDING_PRECEDENCE
from nvr.projections.footage_state import (
    GAP_MIN_NS,
    CamWork,
    FootageWork,
    add_hours,
    count_motion,
    explain,
    gap,
    status_row,
    stop_cause,
    timestamp,
)
from nvr.projections.footage_tables import FOOTAGE_TABLES
from nvr.projections.tables import Drop, Op, Patch, Put, Table, View

Handler = Callable[[CamWork, str, View, Envelope, Any, list[Op]], CamWork]


def _boxes(boxes: Any) -> str:
    return msgspec.json.encode([[b.x, b.y, b.w, b.h] for b in boxes]).decode()


def camera_added(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    return replace(cam, name=e.settings.name, mode=e.settings.recording_mode, removed=False)


def camera_removed(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    return explain(replace(cam, removed=True), "camera removed", e.reason)


def stream_lost(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    if e.stream != "main":
        return cam
    return explain(replace(cam, connected=False), "camera lost", e.reason)


def stream_recovered(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    return replace(cam, connected=True) if e.stream == "main" else cam


def worker_exited(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    detail = e.reason or (f"signal {e.signal}" if e.signal else f"exit code {e.exit_code}")
    if "configuration" in e.reason:
        return explain(cam, "configuration changed", detail)
    return explain(cam, "worker restart", detail)


def segment_opened(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    row_id = env.position
    kind = cam.rec_type or "continuous"
    if cam.last_end_ns and not cam.seg_row and e.start_ns - cam.last_end_ns > GAP_MIN_NS:
        gap(cid, cam.last_end_ns, e.start_ns, cam.cause or "not recording", cam.cause_detail, ops)
    filed = [mid for mid, start in cam.unfiled if start >= e.start_ns]
    ops.append(Put("recordings", {
        "id": row_id, "camera_id": cid, "start_time": timestamp(e.start_ns), "end_time": None,
        "file_path": e.path, "motion_events": len(filed), "size_mb": None, "thumbnail_path": None,
        "recording_type": kind, "created_at": timestamp(env.recorded_at_ns),
        "segment_id": e.segment_id, "recording_id": e.recording_id or cam.rec_id,
        "start_ns": e.start_ns, "end_ns": None, "bytes": None, "sha256": None, "clean": None,
        "keyframes_json": None,
    }))  # fmt: skip
    for mid in filed:
        ops.append(Patch("motion_events", (mid,), {"recording_id": row_id}))
    return replace(cam, seg_id=e.segment_id, seg_row=row_id, seg_type=kind, unfiled=(),
                   cause="", cause_detail="")  # fmt: skip


def segment_closed(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    row = view.find("recordings", "segment_id", e.segment_id)
    if row is None:  # its opening was not seen (a log starting mid-segment): open it now
        segment_opened(replace(cam, seg_row=1), cid, view, env, e, ops)
        row = {"id": env.position, "recording_type": cam.rec_type or "continuous"}
    offsets = [k - e.start_ns for k in e.keyframes_ns]
    ops.append(Patch("recordings", (row["id"],), {
        "end_time": timestamp(e.end_ns), "end_ns": e.end_ns, "bytes": e.bytes,
        "size_mb": round(e.bytes / 1e6, 3), "sha256": e.sha256, "clean": int(e.clean),
        "keyframes_json": msgspec.json.encode(offsets).decode(),
    }))  # fmt: skip
    add_hours(view, cid, e.start_ns, e.end_ns, "recorded_ns", ops)
    kind = row["recording_type"]
    usage = view.get("storage_usage", (cid, kind))
    if usage is None:
        ops.append(
            Put(
                "storage_usage",
                {"camera_id": cid, "recording_type": kind, "bytes": e.bytes, "segments": 1},
            )
        )
    else:
        ops.append(
            Patch(
                "storage_usage",
                (cid, kind),
                {"bytes": usage["bytes"] + e.bytes, "segments": usage["segments"] + 1},
            )
        )
    ended = e.segment_id == cam.seg_id
    return replace(
        cam,
        seg_id="" if ended else cam.seg_id, seg_row=0 if ended else cam.seg_row,
        seg_type="" if ended else cam.seg_type,
        last_end_ns=max(cam.last_end_ns, e.end_ns),
        max_segment_ns=max(cam.max_segment_ns, e.end_ns - e.start_ns),
    )  # fmt: skip


def segment_deleted(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    row = view.find("recordings", "segment_id", e.segment_id)
    if row is None or row["end_ns"] is None:
        return cam  # unknown or still open: nothing indexed to remove
    ops.append(Drop("recordings", (row["id"],)))
    add_hours(view, cid, row["start_ns"], row["end_ns"], "recorded_ns", ops, sign=-1)
    usage = view.get("storage_usage", (cid, row["recording_type"]))
    if usage is not None:
        ops.append(
            Patch(
                "storage_usage",
                (cid, row["recording_type"]),
                {"bytes": usage["bytes"] - row["bytes"], "segments": usage["segments"] - 1},
            )
        )
    if row["motion_events"]:
        for motion in view.find_all("motion_events", "recording_id", row["id"]):
            ops.append(Patch("motion_events", (motion["id"],), {"recording_id": None}))
    reason = "emergency purge" if e.rule == "floor" else f"deleted by retention ({e.rule})"
    gap(
        cid,
        row["start_ns"],
        row["end_ns"],
        reason,
        f"policy v{e.policy_version}: {e.reason}".rstrip(": "),
        ops,
    )
    return cam


def recording_started(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    kind = e.recording_type
    if cam.seg_row and RECORDING_PRECEDENCE[kind] > RECORDING_PRECEDENCE.get(cam.seg_type, -1):
        ops.append(Patch("recordings", (cam.seg_row,), {"recording_type": kind}))
        cam = replace(cam, seg_type=kind)
    return replace(cam, rec_id=e.recording_id, rec_type=kind)


def recording_stopped(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    if e.recording_id != cam.rec_id:
        return cam
    cam = replace(cam, rec_id="", rec_type="")
    if e.reason.startswith("superseded"):
        return cam
    return explain(cam, *stop_cause(e.reason, cam.mode))


def motion_started(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    row_id = env.position
    ops.append(Put("motion_events", {
        "id": row_id, "recording_id": cam.seg_row or None, "timestamp": timestamp(e.at_ns),
        "confidence": e.confidence, "bbox_json": _boxes(e.boxes), "frame_thumbnail": None,
        "camera_id": cid, "motion_id": e.motion_id, "start_ns": e.at_ns, "end_ns": None,
        "peak_confidence": e.confidence,
    }))  # fmt: skip
    if cam.seg_row:
        rec = view.get("recordings", (cam.seg_row,))
        if rec is not None:
            ops.append(
                Patch("recordings", (cam.seg_row,), {"motion_events": rec["motion_events"] + 1})
            )
    count_motion(view, cid, e.at_ns, ops)
    unfiled = cam.unfiled if cam.seg_row else (*cam.unfiled, (row_id, e.at_ns))
    return replace(cam, motions=(*cam.motions, (e.motion_id, row_id, e.at_ns)), unfiled=unfiled)


def motion_ended(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    found = [m for m in cam.motions if m[0] == e.motion_id]
    if not found:
        return cam
    _, row_id, start = found[0]
    end = max(start, e.at_ns)
    ops.append(
        Patch("motion_events", (row_id,), {"end_ns": end, "peak_confidence": e.peak_confidence})
    )
    add_hours(view, cid, start, end, "motion_ns", ops)
    return replace(cam, motions=tuple(m for m in cam.motions if m[0] != e.motion_id),
                   max_motion_ns=max(cam.max_motion_ns, end - start))  # fmt: skip


def thumbnail_written(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    if e.subject == "segment":
        row = view.find("recordings", "segment_id", e.subject_id)
        if row is not None:
            ops.append(Patch("recordings", (row["id"],), {"thumbnail_path": e.path}))
    else:
        row = view.find("motion_events", "motion_id", e.subject_id)
        if row is not None:
            ops.append(Patch("motion_events", (row["id"],), {"frame_thumbnail": e.path}))
    return cam


def footage_protected(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    ops.append(Put("protections", {
        "protection_id": e.protection_id, "camera_id": cid, "start_ns": e.start_ns,
        "end_ns": e.end_ns, "reason": e.reason, "actor": env.actor,
        "created_at": timestamp(env.recorded_at_ns),
    }))  # fmt: skip
    return cam


def footage_unprotected(
    cam: CamWork, cid: str, view: View, env: Envelope, e: Any, ops: list[Op]
) -> CamWork:
    ops.append(Drop("protections", (e.protection_id,)))
    return cam


HANDLERS: dict[str, Handler] = {
    "camera.added": camera_added, "camera.configured": camera_added,
    "camera.removed": camera_removed,
    "stream.lost": stream_lost, "stream.recovered": stream_recovered,
    "stream.connected": stream_recovered,
    "worker.exited": worker_exited,
    "segment.opened": segment_opened, "segment.closed": segment_closed,
    "segment.deleted": segment_deleted,
    "recording.started": recording_started, "recording.stopped": recording_stopped,
    "motion.started": motion_started, "motion.ended": motion_ended,
    "thumbnail.written": thumbnail_written,
    "footage.protected": footage_protected, "footage.unprotected": footage_unprotected,
}  # fmt: skip


class FootageProjection:
    name = "footage"
    version = 2  # 2: stream.connected marks the main stream connected
    tables: tuple[Table, ...] = FOOTAGE_TABLES
    work_type = FootageWork
    handles = frozenset({
        "camera.added", "camera.configured", "camera.removed",
        "stream.lost", "stream.recovered", "stream.connected",
        "segment.opened", "segment.closed", "segment.deleted",
        "recording.started", "recording.stopped",
        "motion.started", "motion.ended",
        "worker.exited", "thumbnail.written",
        "footage.protected", "footage.unprotected",
    })  # fmt: skip

    def initial(self) -> FootageWork:
        return FootageWork()

    def evolve(
        self, work: FootageWork, view: View, env: Envelope, event: Event
    ) -> tuple[FootageWork, Sequence[Op]]:
        if env.type == "worker.exited":
            worker: str = event.worker  # type: ignore[attr-defined]
            if not worker.startswith("camera-"):
                return work, ()
            cid = worker.removeprefix("camera-")
        else:
            cid = getattr(event, "camera_id", "")
        cam = work.cams.get(cid, CamWork(name=cid))
        ops: list[Op] = []
        new = HANDLERS[env.type](cam, cid, view, env, event, ops)
        if new is cam:
            return work, ops
        if cid not in work.cams or _shown(new) != _shown(cam):
            ops.append(Put("camera_status", status_row(cid, new)))
        cam = new
        cams = dict(work.cams)
        cams[cid] = cam
        return FootageWork(cams=cams), ops


def _shown(cam: CamWork) -> tuple[Any, ...]:
    """What `camera_status` shows of a camera (its row is rewritten only when this changes)."""
    return (cam.name, cam.mode, cam.removed, cam.connected, cam.rec_type, cam.last_end_ns,
            cam.cause, cam.cause_detail, cam.max_segment_ns, cam.max_motion_ns)  # fmt: skip
