"""Footage over HTTP: `video.mp4` (playback of any range, with HTTP Range for seeking)
and `clip.mp4` (the same file as a download, recorded as a `web.clip_exported` event with
the reason given). Both are remuxed from the segment files (`clips.py`), never
transcoded, and only for a camera the caller may see.

Assembled files are a cache under `DATA/web/clips/`, named by a hash of the camera, the
range and the segments used, and removed an hour after they were made."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from nvr.domain import access
from nvr.domain.codec import propose
from nvr.domain.events.web import ClipExported
from nvr.domain.timefmt import parse_ns
from nvr.domain.values import ui_stream
from nvr.projections import queries
from nvr.ui_web.clips import MAX_SPAN_NS, Piece, assemble, pieces
from nvr.ui_web.guard import require
from nvr.ui_web.state import Web, web_of

CACHE_S = 3600
REASON_MAX = 500


def _time(text: str | None) -> int:
    if not text:
        raise HTTPException(400, "start and end are required")
    try:
        return int(text) if text.isdigit() else parse_ns(text)
    except ValueError:
        raise HTTPException(400, "times are RFC 3339 or integer ns") from None


def _camera(request: Request) -> str:
    cam: str = request.path_params["camera_id"]
    if not access.CAMERA_ID.fullmatch(cam):
        raise HTTPException(404)
    return cam


def _range(request: Request) -> tuple[str, int, int]:
    cam = _camera(request)
    start, end = _time(request.query_params.get("start")), _time(request.query_params.get("end"))
    if not 0 < end - start <= MAX_SPAN_NS:
        raise HTTPException(400, "end must follow start, at most 2 hours later")
    return cam, start, end


def _build(web: Web, cam: str, start: int, end: int) -> Path | None:
    """The assembled clip (cached), or None when there is no footage in the range."""
    if not web.export_path.exists():
        return None
    db = queries.connect(web.export_path)
    try:
        parts: list[Piece] = pieces(db, cam, start, end)
    finally:
        db.close()
    if not parts:
        return None
    cache = Path(web.config.data_dir) / "web" / "clips"
    cache.mkdir(parents=True, exist_ok=True)
    _sweep(cache)
    key = hashlib.sha256(repr((cam, start, end, [(p.path, p.end_ns) for p in parts])).encode())
    out = cache / f"{key.hexdigest()[:32]}.mp4"
    if not out.exists():
        part = out.with_suffix(f".{os.getpid()}.part")
        assemble(web.storage, parts, start, end, part)
        part.replace(out)
    return out


def _sweep(cache: Path) -> None:
    cutoff = time.time() - CACHE_S
    for f in cache.glob("*.mp4"):
        if f.stat().st_mtime < cutoff:
            f.unlink(missing_ok=True)


async def video(request: Request) -> Response:
    cam = _camera(request)
    await require(request, "playback.view", "GET /api/cameras/{camera_id}/video.mp4", cam)
    cam, start, end = _range(request)
    web = web_of(request)
    out = await anyio.to_thread.run_sync(_build, web, cam, start, end)
    if out is None:
        raise HTTPException(404)
    return FileResponse(out, media_type="video/mp4", headers={"cache-control": "private, no-store"})


async def clip(request: Request) -> Response:
    cam = _camera(request)
    caller = await require(request, "export.create", "GET /api/cameras/{camera_id}/clip.mp4", cam)
    cam, start, end = _range(request)
    reason = request.query_params.get("reason", "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise HTTPException(400, "say why the clip is exported (reason, up to 500 characters)")
    web = web_of(request)
    out = await anyio.to_thread.run_sync(_build, web, cam, start, end)
    if out is None:
        raise HTTPException(404)
    event = ClipExported(ui_session=caller.ui_session, username=caller.account.username,
                         camera_id=cam, start_ns=start, end_ns=end, reason=reason,
                         client_addr=caller.addr, bytes=out.stat().st_size)  # fmt: skip
    await web.append([propose(event, stream=ui_stream(caller.ui_session), actor=caller.actor)])
    name = f"{cam}-{start}-{end}.mp4"
    return FileResponse(out, media_type="video/mp4", filename=name,
                        headers={"cache-control": "private, no-store"})  # fmt: skip


routes: list[BaseRoute] = [
    Route("/api/cameras/{camera_id}/video.mp4", video, methods=["GET"]),
    Route("/api/cameras/{camera_id}/clip.mp4", clip, methods=["GET"]),
]
