"""Closing segments a killed worker left open: before a camera worker records again, each
`segment.opened` of its camera without a `segment.closed` is measured from the file on
disk (packets demuxed, nothing decoded) and closed with `clean=False`, so no footage on
disk is left unindexed and no row stays open forever."""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from nvr.domain.codec import decode_payload
from nvr.domain.events import Event, SegmentClosed, SegmentOpened
from nvr.domain.values import camera_stream
from nvr.eventlog.port import EventLog
from nvr.workers.segments import sha256_of

log = logging.getLogger(__name__)

LOOK_BACK = 5000
"""Events of the camera's stream searched for open segments (a worker closes or leaves
open at most its last one, so the tail is enough)."""

NS = 1_000_000_000


def open_segments(
    events: EventLog, camera_id: str, root: Path | None = None
) -> list[SegmentOpened]:
    """Segments of `camera_id` opened and not closed, in the tail of its stream; with
    `root`, also files newer than every segment the log knows (the worker was killed
    before its `segment.opened` reached the log), as openings to record."""
    stream = camera_stream(camera_id)
    first = max(1, events.stream_version(stream) - LOOK_BACK + 1)
    found: dict[str, SegmentOpened] = {}
    latest = 0
    for env in events.read_stream(stream, first):
        if env.type == "segment.opened":
            opened = decode_payload(env)
            assert isinstance(opened, SegmentOpened)
            found[opened.segment_id] = opened
            latest = max(latest, opened.start_ns)
        elif env.type == "segment.closed":
            closed = decode_payload(env)
            assert isinstance(closed, SegmentClosed)
            found.pop(closed.segment_id, None)
            latest = max(latest, closed.start_ns)
    unknown = _unlogged_files(root, camera_id, latest) if root is not None else []
    return list(found.values()) + unknown


def _unlogged_files(root: Path, camera_id: str, after_ns: int) -> list[SegmentOpened]:
    """Segment files (`<camera>/<day>/<camera>-<start_ns>.mp4`) in the last two day
    folders that start after `after_ns`."""
    days = sorted((root / camera_id).glob("????-??-??"))[-2:]
    out = []
    for day in days:
        for file in sorted(day.glob(f"{camera_id}-*.mp4")):
            stamp = file.stem.removeprefix(f"{camera_id}-")
            if stamp.isdigit() and int(stamp) > after_ns:
                rel = str(file.relative_to(root))
                out.append(
                    SegmentOpened(
                        camera_id=camera_id, segment_id=file.stem, path=rel, start_ns=int(stamp)
                    )
                )
    return out


def measure(root: Path, opened: SegmentOpened) -> SegmentClosed:
    """What the file holds: the readable packets' span and keyframes, its size and hash."""
    path = root / opened.path
    end_ns, keyframes = opened.start_ns, []
    size = path.stat().st_size if path.exists() else 0
    if size:
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                base = Fraction(stream.time_base or Fraction(1, 90_000))
                for packet in container.demux(stream):
                    if packet.pts is None or not packet.size:
                        continue
                    at = opened.start_ns + int((packet.pts + (packet.duration or 0)) * base * NS)
                    end_ns = max(end_ns, at)
                    if packet.is_keyframe:
                        keyframes.append(opened.start_ns + int(packet.pts * base * NS))
        except (av.FFmpegError, OSError) as exc:  # a fragment cut mid-write: keep what read
            log.warning("segment %s: reading stopped early: %s", opened.segment_id, exc)
    return SegmentClosed(
        camera_id=opened.camera_id, segment_id=opened.segment_id, path=opened.path,
        bytes=size, start_ns=opened.start_ns, end_ns=end_ns, keyframes_ns=tuple(keyframes),
        sha256=sha256_of(path) if size else "", recording_id=opened.recording_id, clean=False,
    )  # fmt: skip


def salvage(events: EventLog, root: Path, camera_id: str, emit: Callable[[Event], None]) -> int:
    """Close every segment of `camera_id` left open (and record the opening of any file
    the log never heard of); returns how many."""
    count = 0
    logged = {o.segment_id for o in open_segments(events, camera_id)}
    for opened in open_segments(events, camera_id, root):
        if opened.segment_id not in logged:
            emit(opened)  # its opening never reached the log
        closed = measure(root, opened)
        log.warning(
            "segment %s was left open (worker killed): closed with %d bytes, %.1f s",
            opened.segment_id, closed.bytes, (closed.end_ns - closed.start_ns) / NS,
        )  # fmt: skip
        emit(closed)
        count += 1
    return count
