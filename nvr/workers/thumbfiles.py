"""Thumbnail images and their files: a frame as a small JPEG with motion boxes outlined,
where it lives (`<storage>/.thumbs/<camera>/<subject>.jpg`), and an atomic, durable write."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import cv2
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation, VideoReformatter

from nvr.domain.values import Box

__all__ = [
    "JPEG_QUALITY",
    "THUMBS_DIR",
    "THUMB_WIDTH",
    "thumb_path",
    "to_jpeg",
    "write_thumbnail",
]

THUMB_WIDTH = 320
JPEG_QUALITY = 80
BOX_BGR = (0, 255, 0)  # green: stands out on the street scenes cameras mostly see
THUMBS_DIR = ".thumbs"

# A plain file name: no separator and no leading dot, so never "." or ".." (nor hidden).
# Camera ids are [a-z0-9_-]; segment and motion ids add digits, capitals and dots at most.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def to_jpeg(
    frame: VideoFrame,
    boxes: Iterable[Box] = (),
    *,
    width: int = THUMB_WIDTH,
    quality: int = JPEG_QUALITY,
) -> bytes:
    """`frame` scaled to `width` pixels wide (aspect kept), with `boxes` (normalised
    x, y, w, h) outlined, as JPEG."""
    height = max(1, round(width * frame.height / frame.width))
    # Scale and convert to BGR in one swscale pass; area averaging for a clean downscale.
    small = _reformatter().reformat(
        frame, width, height, "bgr24", interpolation=Interpolation.AREA, threads=1
    )
    image = small.to_ndarray()
    for box in boxes:
        x0, y0 = _pixel(box.x, width), _pixel(box.y, height)
        x1, y1 = _pixel(box.x + box.w, width), _pixel(box.y + box.h, height)
        cv2.rectangle(image, (x0, y0), (x1, y1), BOX_BGR, 2)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(data)


def thumb_path(storage_root: Path, camera_id: str, subject_id: str) -> Path:
    """`<storage_root>/.thumbs/<camera_id>/<subject_id>.jpg`. Raises ValueError for an id
    that is not a plain file name, so no id can lead outside that directory."""
    for name, value in (("camera_id", camera_id), ("subject_id", subject_id)):
        if not _ID.fullmatch(value):
            raise ValueError(f"{name} {value!r} is not a plain file name")
    return storage_root / THUMBS_DIR / camera_id / f"{subject_id}.jpg"


def write_thumbnail(path: Path, jpeg: bytes) -> int:
    """Write `jpeg` to `path` atomically and durably; returns the bytes written.

    A temporary file in the same directory is written and fsynced, renamed over `path`,
    then the directory is fsynced (and the parent of any directory made here), so after
    a crash `path` holds either the old thumbnail or the whole new one."""
    parent = path.parent
    made = [d for d in (parent, *parent.parents) if not d.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes it private; thumbnails are served
            f.write(jpeg)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    for d in [parent, *(m.parent for m in made)]:
        _fsync_dir(d)
    return len(jpeg)


_local = threading.local()


def _reformatter() -> VideoReformatter:
    """One reformatter per thread: it keeps its scaler between calls instead of building
    one per thumbnail, and a scaler is not safe to share between threads."""
    found: VideoReformatter | None = getattr(_local, "reformatter", None)
    if found is None:
        found = _local.reformatter = VideoReformatter()
    return found


def _pixel(v: float, size: int) -> int:
    return min(size - 1, max(0, round(v * size)))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
