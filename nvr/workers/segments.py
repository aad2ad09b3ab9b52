"""Recording by remux: packets of a camera's main stream into keyframe-aligned,
fragmented MP4 segment files that a stock player opens, even cut short by kill -9.

No decoding, no encoding: packet bytes go to the file as the camera sent them. Each
fragment starts at a keyframe and is flushed as soon as it is complete, so a killed
writer loses at most the group of pictures in progress. A finished segment is fsynced,
its directory fsynced, then reported with its sha256 (the caller appends the event).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from nvr.domain.events import Event, SegmentClosed, SegmentOpened

MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
NS = 1_000_000_000


def segment_path(root: Path, camera_id: str, start_ns: int) -> Path:
    """`<root>/<camera>/<YYYY-MM-DD>/<camera>-<start_ns>.mp4` (UTC date)."""
    import datetime as dt

    day = dt.datetime.fromtimestamp(start_ns // NS, dt.UTC).strftime("%Y-%m-%d")
    return root / camera_id / day / f"{camera_id}-{start_ns}.mp4"


def fsync_file_and_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Open:
    """The segment being written. Invariant: it starts with a keyframe."""

    def __init__(
        self, path: Path, template: av.video.stream.VideoStream, start_ns: int, start_pts: int
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.container = av.open(str(path), "w", format="mp4", options=MP4_OPTIONS)
        self.stream = self.container.add_stream_from_template(template)
        self.start_ns = start_ns
        self.start_pts = start_pts
        self.end_ns = start_ns
        self.keyframes_ns: list[int] = []
        self.packets = 0


class SegmentWriter:
    """Cuts one stream's packets into segments of about `segment_s` seconds, each
    starting at a keyframe. Wall time of a packet = `anchor_ns` + (pts - anchor_pts) in
    seconds (docs/design/time.md); the caller gives the anchor when the stream starts.

    `emit(event)` is called with SegmentOpened / SegmentClosed; the closing event is
    emitted only after the file and its directory are durable."""

    def __init__(
        self,
        root: Path,
        camera_id: str,
        template: av.video.stream.VideoStream,
        *,
        segment_s: float,
        emit: Callable[[Event], None],
        recording_id: Callable[[], str] = lambda: "",
    ) -> None:
        self.root, self.camera_id, self.template = root, camera_id, template
        self.segment_ns = int(segment_s * NS)
        self.emit = emit
        self.recording_id = recording_id
        self.time_base = Fraction(template.time_base or Fraction(1, 90_000))
        # Integer arithmetic on the hot path (Fraction costs ~2 µs a packet).
        self._ns_num = self.time_base.numerator * NS
        self._ns_den = self.time_base.denominator
        self.current: _Open | None = None
        self.anchor_ns = 0
        self.anchor_pts: int | None = None
        self.bytes_written = 0
        self.last_pts: int | None = None

    def anchor(self, wall_ns: int, pts: int) -> None:
        """Tie media time to wall time (at stream start or after a discontinuity)."""
        self.anchor_ns, self.anchor_pts = wall_ns, pts

    def wall_ns(self, pts: int) -> int:
        assert self.anchor_pts is not None
        # Floor division, as int() of a Fraction would truncate: the same for pts >= anchor.
        return self.anchor_ns + (pts - self.anchor_pts) * self._ns_num // self._ns_den

    def write(self, packet: av.Packet) -> None:  # type: ignore[type-arg]
        """Mux one packet. Before the first keyframe packets are dropped (late join)."""
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None:
            # Cameras send a first keyframe without a pts: place it one frame after the last.
            pts = 0 if self.last_pts is None else self.last_pts + int(packet.duration or 0)
        if self.anchor_pts is None:
            raise RuntimeError("anchor() the stream before writing")
        wall = self.wall_ns(pts)
        cur = self.current
        if packet.is_keyframe and (cur is None or wall - cur.start_ns >= self.segment_ns):
            if cur is not None:
                self.close(end_ns=wall)
            cur = self._open(wall, pts)
        if cur is None:
            return  # mid-GOP: wait for a keyframe
        if packet.is_keyframe:
            cur.keyframes_ns.append(wall)
        # Muxing rewrites the packet's timestamps in place; the recorder may write the same
        # packet again (pre-roll replay into a later segment), so restore them afterwards.
        saved = (packet.pts, packet.dts, packet.time_base)
        packet.pts = pts - cur.start_pts
        packet.dts = (packet.dts - cur.start_pts) if packet.dts is not None else packet.pts
        packet.stream = cur.stream
        try:
            cur.container.mux(packet)
        finally:
            packet.pts, packet.dts, packet.time_base = saved
        cur.packets += 1
        self.bytes_written += packet.size
        duration = int(packet.duration or 0)
        cur.end_ns = max(cur.end_ns, self.wall_ns(pts + duration) if duration else wall)
        self.last_pts = pts

    def _open(self, start_ns: int, start_pts: int) -> _Open:
        path = segment_path(self.root, self.camera_id, start_ns)
        self.current = _Open(path, self.template, start_ns, start_pts)
        self.emit(
            SegmentOpened(
                camera_id=self.camera_id,
                segment_id=path.stem,
                path=str(path.relative_to(self.root)),
                start_ns=start_ns,
                recording_id=self.recording_id(),
            )
        )
        return self.current

    def close(self, end_ns: int | None = None, *, clean: bool = True) -> None:
        """Finish the open segment, make it durable, then report it.

        `clean=False` abandons a segment whose writes failed (a full disk): what reached
        the file stays playable up to its last complete fragment and is reported as such."""
        cur = self.current
        if cur is None:
            return
        self.current = None
        try:
            cur.container.close()
            fsync_file_and_dir(cur.path)
        except OSError:
            if clean:
                raise
        if not cur.path.exists():
            return
        self.emit(
            SegmentClosed(
                camera_id=self.camera_id,
                segment_id=cur.path.stem,
                path=str(cur.path.relative_to(self.root)),
                bytes=cur.path.stat().st_size,
                start_ns=cur.start_ns,
                end_ns=max(end_ns or cur.end_ns, cur.start_ns),
                keyframes_ns=tuple(cur.keyframes_ns),
                sha256=sha256_of(cur.path),
                recording_id=self.recording_id(),
                clean=clean,
            )
        )
