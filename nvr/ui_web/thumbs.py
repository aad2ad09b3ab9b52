"""Thumbnails: `<storage>/.thumbs/<camera>/<id>.jpg`, served only for a camera the caller
may see and only for a segment or motion of that camera that the export says has one.

No part of the URL becomes a path by itself: the ids must be plain names, the export
must hold that id for that camera with that exact relative path, and the resolved file
must still be inside `.thumbs` (a symlink out of it is refused)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from nvr.domain import access
from nvr.ui_web import reads
from nvr.ui_web.guard import require
from nvr.ui_web.state import web_of

log = logging.getLogger(__name__)

THUMBS_DIR = ".thumbs"
SUBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # as the thumbnailer names files
MAX_BYTES = 2 * 1024 * 1024
RESOURCE = "GET /api/cameras/{camera_id}/thumbnails/{subject_id}.jpg"


def read_thumbnail(storage: Path, relative: str) -> bytes | None:
    root = (storage / THUMBS_DIR).resolve()
    path = (storage / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    with path.open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    return data if len(data) <= MAX_BYTES else None


async def thumbnail(request: Request) -> Response:
    web = web_of(request)
    cam, subject = request.path_params["camera_id"], request.path_params["subject_id"]
    if not access.CAMERA_ID.fullmatch(cam) or not SUBJECT_ID.fullmatch(subject):
        raise HTTPException(404)
    found = await anyio.to_thread.run_sync(reads.thumbnail, web.export_path, cam, subject)
    action: access.Action = "playback.view" if found and found[0] == "motion" else "live.view"
    await require(request, action, RESOURCE, cam, subject_id=subject)
    if found is None:
        raise HTTPException(404)
    expected = f"{THUMBS_DIR}/{cam}/{subject}.jpg"
    if found[1] != expected:
        log.warning("web: export names thumbnail %r for %s/%s; refused", found[1], cam, subject)
        raise HTTPException(404)
    data = await anyio.to_thread.run_sync(read_thumbnail, web.storage, expected)
    if data is None:
        raise HTTPException(404)
    # A subject's thumbnail never changes, so the browser may keep it (privately).
    return Response(data, media_type="image/jpeg",
                    headers={"cache-control": "private, max-age=3600"})  # fmt: skip


routes: list[BaseRoute] = [
    Route("/api/cameras/{camera_id}/thumbnails/{subject_id}.jpg", thumbnail, methods=["GET"]),
]
