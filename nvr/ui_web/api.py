"""The read side of the JSON API: cameras and their status, recent motion, storage,
health and the audit trail. Lists hold only the cameras the caller may see; a camera
outside the caller's list answers 404 exactly like one that does not exist."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from nvr.domain import access
from nvr.domain.timefmt import parse_ns
from nvr.ui_web import reads
from nvr.ui_web.guard import require
from nvr.ui_web.jsonio import json_response
from nvr.ui_web.schemas import (
    AuditOut,
    CameraOut,
    CameraUsage,
    HealthOut,
    MotionOut,
    StorageOut,
)
from nvr.ui_web.state import Web, web_of

MOTION_LIMIT = 50
AUDIT_LIMIT = 200


def thumb_url(camera_id: str, subject_id: str | None) -> str | None:
    return f"/api/cameras/{camera_id}/thumbnails/{subject_id}.jpg" if subject_id else None


def camera_out(row: dict[str, Any]) -> CameraOut:
    return CameraOut(
        camera_id=row["camera_id"], name=row["name"], connected=bool(row["main_connected"]),
        recording=row["recording_type"] or None, recording_mode=row["recording_mode"],
        not_recording_because=row["cause"] or None, last_end_ns=row["last_end_ns"],
        thumbnail=thumb_url(row["camera_id"], row["thumbnail_id"]),
    )  # fmt: skip


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise HTTPException(400)
    return int(raw)


def camera_param(request: Request) -> str | None:
    cam = request.query_params.get("camera")
    if cam is not None and not access.CAMERA_ID.fullmatch(cam):
        raise HTTPException(400)
    return cam


async def cameras(request: Request) -> Response:
    web = web_of(request)
    caller = await require(request, "live.view", "GET /api/cameras")
    rows = await anyio.to_thread.run_sync(reads.cameras, web.export_path)
    out = [camera_out(r) for r in rows if access.sees(caller.principal, r["camera_id"])]
    return json_response(out)


async def camera(request: Request) -> Response:
    web = web_of(request)
    cam = request.path_params["camera_id"]
    if not access.CAMERA_ID.fullmatch(cam):
        raise HTTPException(404)
    await require(request, "live.view", "GET /api/cameras/{camera_id}", cam)
    rows = await anyio.to_thread.run_sync(reads.cameras, web.export_path)
    for row in rows:
        if row["camera_id"] == cam:
            return json_response(camera_out(row))
    raise HTTPException(404)


async def motion(request: Request) -> Response:
    web = web_of(request)
    cam, limit = camera_param(request), int_param(request, "limit", MOTION_LIMIT, 1, 500)
    caller = await require(request, "playback.view", "GET /api/motion", cam)
    if cam is not None:
        ids = [cam]
    else:
        rows = await anyio.to_thread.run_sync(reads.cameras, web.export_path)
        ids = access.visible(caller.principal, (r["camera_id"] for r in rows))
    found = await anyio.to_thread.run_sync(reads.recent_motion, web.export_path, ids, limit)
    return json_response([
        MotionOut(camera_id=m["camera_id"], motion_id=m["motion_id"], start_ns=m["start_ns"],
                  end_ns=m["end_ns"], peak_confidence=m["peak_confidence"],
                  thumbnail=thumb_url(m["camera_id"], m["motion_id"] if m["frame_thumbnail"] else None))
        for m in found
    ])  # fmt: skip


async def storage(request: Request) -> Response:
    web = web_of(request)
    caller = await require(request, "system.view", "GET /api/storage")
    usage = await anyio.to_thread.run_sync(reads.storage, web.export_path)
    rows = [CameraUsage(camera_id=c, bytes=b, segments=s) for c, (b, s) in sorted(usage.items())
            if access.sees(caller.principal, c)]  # fmt: skip
    out = StorageOut(total_bytes=sum(r.bytes for r in rows), cameras=rows, volumes=volumes(web))
    return json_response(out)


def volumes(web: Web) -> list[Any]:
    with web.follower.lock:
        return [web.follower.volumes[v] for v in sorted(web.follower.volumes)]


async def health(request: Request) -> Response:
    web = web_of(request)
    caller = await require(request, "system.view", "GET /api/health")
    head = await anyio.to_thread.run_sync(web.events.head)
    position = await anyio.to_thread.run_sync(reads.export_position, web.export_path)
    rows = await anyio.to_thread.run_sync(reads.cameras, web.export_path)
    mine = [r for r in rows if access.sees(caller.principal, r["camera_id"])]
    vols = volumes(web)
    connected = sum(1 for r in mine if r["main_connected"])
    ok = (
        connected == len(mine)
        and all(v.level == "ok" for v in vols)
        and web.follower.failed is None
    )
    return json_response(HealthOut(ok=ok, log_head=head, export_position=position,
                                   export_lag=max(0, head - position), cameras_total=len(mine),
                                   cameras_connected=connected, volumes=vols))  # fmt: skip


async def audit(request: Request) -> Response:
    web = web_of(request)
    await require(request, "audit.view", "GET /api/audit", None)
    q = request.query_params
    actor = q.get("actor")
    if actor is not None and not 0 < len(actor) <= 64:
        raise HTTPException(400)
    try:
        since = parse_ns(q["since"]) if "since" in q else None
        until = parse_ns(q["until"]) if "until" in q else None
    except ValueError:
        raise HTTPException(400) from None
    cam = camera_param(request)
    before = int_param(request, "before", 0, 1, 2**62) or None
    limit = int_param(request, "limit", AUDIT_LIMIT, 1, 1000)
    rows = await anyio.to_thread.run_sync(lambda: reads.audit(
        web.export_path, actor=actor, camera_id=cam, since_ns=since, until_ns=until,
        before=before, limit=limit))  # fmt: skip
    return json_response([AuditOut(**r) for r in rows])


routes: list[BaseRoute] = [
    Route("/api/cameras", cameras, methods=["GET"]),
    Route("/api/cameras/{camera_id}", camera, methods=["GET"]),
    Route("/api/motion", motion, methods=["GET"]),
    Route("/api/storage", storage, methods=["GET"]),
    Route("/api/health", health, methods=["GET"]),
    Route("/api/audit", audit, methods=["GET"]),
]
