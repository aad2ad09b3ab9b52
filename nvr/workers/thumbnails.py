"""Thumbnails from segment files: decode a segment's first keyframe, or the frame shown at a
wall time, as little as possible, and make a small JPEG of it (with motion boxes).

Wall time and media time in a segment. `SegmentWriter` (segments.py) writes each packet
with `pts_file = pts_camera - pts_camera(first keyframe)`, so the segment's first keyframe
has pts 0, and reports `start_ns` = the wall time of that keyframe. Wall and media time
advance together inside a connection (the anchor is linear, drift is not corrected;
docs/design/time.md), so a frame's wall time is

    wall_ns = start_ns + pts_file * time_base * 1e9

and the frame shown at `at_ns` is the last one with `pts_file * time_base * 1e9`, floored
to the nanosecond, at or before `at_ns - start_ns`. The writer floors its wall times to the
nanosecond too, so a frame's reported time (`keyframes_ns`, say) selects that frame, never
the one before; as the anchor may fall between two nanoseconds, a time 1 ns before a frame's
reported time may select it as well. (This holds when the file keeps the camera's time
base, as it does for 90 kHz RTP; a muxer that rescales adds its rounding.)

thumbfiles.py makes the JPEG and writes the file. Nothing here emits events: the caller
records `thumbnail.written`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import av
from av.codec.context import ThreadType
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from nvr.domain.values import Box
from nvr.workers.thumbfiles import (
    JPEG_QUALITY,
    THUMB_WIDTH,
    thumb_path,
    to_jpeg,
    write_thumbnail,
)

__all__ = [
    "JPEG_QUALITY",
    "THUMB_WIDTH",
    "ThumbnailError",
    "first_frame",
    "frame_at",
    "motion_thumbnail",
    "segment_thumbnail",
    "thumb_path",
    "to_jpeg",
    "write_thumbnail",
]

NS = 1_000_000_000

# Stream parameters come from the moov box; without `skip_frame` the probe would decode
# the first keyframe just to learn the pixel format (~45 ms at 1080p), then we would again.
_OPEN_OPTIONS = {"skip_frame": "all", "probesize": "32", "analyzeduration": "0"}

if TYPE_CHECKING:  # the stubs make Packet generic; the runtime class is not subscriptable
    Packet = av.Packet[VideoStream]


class ThumbnailError(Exception):
    """No thumbnail can be made from `path`, for `reason`, which starts with "missing",
    "empty", "unreadable", "truncated", "corrupt" or, for a time outside the segment,
    "time"."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def first_frame(path: Path) -> tuple[VideoFrame, int]:
    """The segment's first keyframe, decoded alone, and the frames decoded (always 1)."""
    with _opened(path) as (container, stream):
        packet = next(_packets(container, stream), None)
        if packet is None:
            raise ThumbnailError(path, "truncated: no complete frame")
        if not packet.is_keyframe:
            raise ThumbnailError(path, "corrupt: the segment does not start with a keyframe")
        frames = _decode(path, stream, [packet])
        return frames[0], len(frames)


def frame_at(path: Path, start_ns: int, at_ns: int) -> tuple[VideoFrame, int]:
    """The full-resolution frame shown at wall time `at_ns` in the segment that starts at
    `start_ns`, and how many frames were decoded to get it: from the keyframe at or before
    it up to the frame itself, never more than one GOP."""
    offset_ns = at_ns - start_ns
    if offset_ns < 0:
        raise ThumbnailError(path, f"time {at_ns} is before the segment's start {start_ns}")
    with _opened(path) as (container, stream):
        tb = stream.time_base
        assert tb is not None  # always set for a stream read from a file
        # The last pts whose time, floored to the ns, is at or before offset_ns.
        target = ((offset_ns + 1) * tb.denominator - 1) // (tb.numerator * NS)
        # A file cut short before its first whole fragment has no index to seek with; it is
        # then read from the start, where it ends at once.
        with suppress(av.error.FFmpegError):
            container.seek(target, stream=stream, backward=True, any_frame=False)
        gop: list[Packet] = []
        end = -1  # media end of the packets read
        ran_out, cut = True, False  # no packet after the target; the file was cut short
        for packet in _packets(container, stream):
            if packet is None:
                cut = True
                break
            dts = packet.dts if packet.dts is not None else packet.pts
            assert dts is not None and packet.pts is not None  # mp4 samples have both
            if dts > target:
                ran_out = False  # it and all after it are shown later (dts <= pts)
                break
            if packet.is_keyframe:
                gop.clear()  # a later keyframe still before the target: start from it
            if gop or packet.is_keyframe:
                gop.append(packet)
            end = max(end, packet.pts + (packet.duration or 1))
        if ran_out and target >= end:
            if cut or end < 0:
                raise ThumbnailError(path, f"truncated: the file ends before {at_ns}")
            raise ThumbnailError(path, f"time {at_ns} is after the last frame in the file")
        if not gop:
            raise ThumbnailError(path, f"corrupt: no keyframe at or before {at_ns}")
        frames = _decode(path, stream, gop)
        shown = [f for f in frames if f.pts is not None and f.pts <= target]
        if not shown:
            raise ThumbnailError(path, f"corrupt: no frame decoded at or before {at_ns}")
        return shown[-1], len(frames)


def segment_thumbnail(path: Path) -> bytes:
    """A JPEG of the segment's first keyframe."""
    return to_jpeg(first_frame(path)[0])


def motion_thumbnail(path: Path, start_ns: int, at_ns: int, boxes: Sequence[Box] = ()) -> bytes:
    """A JPEG of the frame shown at `at_ns`, with the motion's `boxes` outlined."""
    return to_jpeg(frame_at(path, start_ns, at_ns)[0], boxes)


@contextmanager
def _opened(path: Path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """The segment's container and video stream; any failure as a ThumbnailError."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ThumbnailError(path, "missing") from None
    except OSError as e:
        raise ThumbnailError(path, f"unreadable: {e.strerror}") from e
    if size == 0:
        raise ThumbnailError(path, "empty")
    try:
        container = av.open(str(path), options=_OPEN_OPTIONS)
    except EOFError as e:  # av.error.EOFError: the header itself is cut short
        raise ThumbnailError(path, "truncated: the header is incomplete") from e
    except (av.error.FFmpegError, OSError) as e:
        raise ThumbnailError(path, f"corrupt: not a readable video file ({e})") from e
    with container:
        if not container.streams.video:
            raise ThumbnailError(path, "corrupt: no video stream")
        try:
            yield container, container.streams.video[0]
        except av.error.FFmpegError as e:
            raise ThumbnailError(path, f"corrupt: {e}") from e


def _packets(container: InputContainer, stream: VideoStream) -> Iterator[Packet | None]:
    """Complete packets in file order, then None if the file was cut inside a sample.

    The muxer writes a fragment whole once its GOP is complete, so kill -9 leaves whole
    fragments; a write cut short inside one (a crash or a full disk mid-write) ends in a
    partial sample, which the demuxer marks corrupt: the usable data ends there."""
    for packet in container.demux(stream):
        if packet.is_corrupt:
            yield None
            return
        if packet.size:
            yield packet


def _decode(path: Path, stream: VideoStream, packets: list[Packet]) -> list[VideoFrame]:
    """Decode `packets` (a keyframe and what follows it): every frame, in display order."""
    ctx = stream.codec_context
    if len(packets) > 1:
        # Frame threads overlap the P-frames' work; the flush below drains them, so nothing
        # after the last packet given is decoded.
        ctx.thread_type = ThreadType.FRAME
    try:
        frames = [f for p in packets for f in ctx.decode(p)]
        frames += ctx.decode(None)
    except av.error.FFmpegError as e:
        raise ThumbnailError(path, f"corrupt: cannot decode ({e})") from e
    if not frames:
        raise ThumbnailError(path, "corrupt: the keyframe does not decode to a picture")
    return frames
