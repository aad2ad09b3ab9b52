"""When to record, and the pre-roll: drives the segment writer from the main stream.

The recorder keeps the last `pre_roll_s` of main-stream packets in memory as whole
groups of pictures, so a motion recording can start at a keyframe before the motion.
It records while any reason holds: the mode (continuous, scheduled), motion (plus
post-roll), or an operator's manual or panic recording. Each start and stop is an event.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av

from nvr.domain.config import WEEKDAYS, ScheduleWindow, in_schedule
from nvr.domain.events import Event, RecordingStarted, RecordingStopped
from nvr.domain.values import RECORDING_PRECEDENCE, RecordingMode, RecordingType
from nvr.workers.segments import NS, SegmentWriter

STORAGE_RETRY_NS = NS  # after a failed write, look for free space once a second
MIN_FREE_BYTES = 16 << 20  # and resume only with room for a few segments of a 4 Mbit/s camera

Packet = Any  # av.Packet (PyAV's stubs make it generic over its stream type)


class Recorder:
    """Thread-safe: packets come from the main-stream thread, motion from the sub stream's.

    Invariants: a recording is open exactly while the writer has a segment open or is
    waiting for the next keyframe; every RecordingStarted has one RecordingStopped."""

    def __init__(
        self,
        camera_id: str,
        root: Path,
        *,
        mode: RecordingMode,
        schedule: tuple[ScheduleWindow, ...] = (),
        schedule_tz: str = "UTC",
        pre_roll_s: float,
        post_roll_s: float,
        segment_s: float,
        emit: Callable[[Event], None],
    ) -> None:
        self.camera_id, self.root = camera_id, root
        self.mode = mode
        self.schedule = schedule
        self.tz = ZoneInfo(schedule_tz)
        self.pre_roll_ns = int(pre_roll_s * NS)
        self.post_roll_ns = int(post_roll_s * NS)
        self.segment_s = segment_s
        self.emit = emit
        self._lock = threading.Lock()
        self._gops: deque[list[tuple[int, Packet]]] = deque()
        self._writer: SegmentWriter | None = None
        self._recording: tuple[str, RecordingType] | None = None
        self._motion_active = False
        self._motion_until = 0
        self._manual: set[RecordingType] = set()
        self._storage_error = ""
        self._retry_at = 0
        self._bytes_before = 0  # written by the writers of earlier connections
        self.min_free_bytes = MIN_FREE_BYTES
        self._count = 0

    # -- inputs --------------------------------------------------------------------------

    def stream_started(self, template: av.video.stream.VideoStream, wall_ns: int, pts: int) -> None:
        with self._lock:
            self._writer = SegmentWriter(
                self.root, self.camera_id, template, segment_s=self.segment_s, emit=self.emit,
                recording_id=lambda: self._recording[0] if self._recording else "",
            )  # fmt: skip
            self._writer.anchor(wall_ns, pts)
            self._gops.clear()

    def stream_ended(self, wall_ns: int, reason: str) -> None:
        with self._lock:
            self._stop(wall_ns, reason)
            if self._writer is not None:
                self._bytes_before += self._writer.bytes_written
            self._writer = None
            self._gops.clear()

    def motion(self, active: bool, at_ns: int) -> None:
        with self._lock:
            self._motion_active = active
            if not active:
                self._motion_until = at_ns + self.post_roll_ns

    def request(self, kind: RecordingType, on: bool) -> None:
        """An operator's manual or panic recording (or a schedule) switched on or off."""
        with self._lock:
            (self._manual.add if on else self._manual.discard)(kind)

    def packet(self, packet: Packet) -> None:
        with self._lock:
            writer = self._writer
            if writer is None:
                return
            pts = packet.pts if packet.pts is not None else (writer.last_pts or 0)
            wall = writer.wall_ns(pts)
            self._buffer(packet, wall)
            wanted = self._wanted(wall)
            if wanted is None:
                if self._recording is not None:
                    self._stop(wall, "no reason to record")
                return
            if self._storage_error and not self._storage_back(wall):
                return
            try:
                if self._recording is None or wanted != self._recording[1]:
                    # A new reason, or the strongest one changed (manual ended while
                    # continuous goes on): the footage goes on, under the new reason.
                    self._start(wanted, wall)
                else:
                    writer.write(packet)
            except OSError as exc:
                self._storage_failed(exc, wall)

    def close(self, wall_ns: int, reason: str = "shutdown") -> None:
        with self._lock:
            self._stop(wall_ns, reason)

    @property
    def bytes_written(self) -> int:
        """Bytes of video written to segments since this recorder was made."""
        writer = self._writer
        return self._bytes_before + (writer.bytes_written if writer is not None else 0)

    @property
    def recording(self) -> RecordingType | None:
        return None if self._recording is None else self._recording[1]

    # -- internals (lock held) ----------------------------------------------------------

    def _wanted(self, wall: int) -> RecordingType | None:
        reasons: list[RecordingType] = list(self._manual)
        if self.mode == "continuous":
            reasons.append("continuous")
        if self.mode == "motion" and (self._motion_active or wall < self._motion_until):
            reasons.append("motion")
        if self.mode == "scheduled" and self._scheduled(wall):
            reasons.append("scheduled")
        if not reasons:
            return None
        return max(reasons, key=_precedence)

    def _storage_failed(self, exc: OSError, wall: int) -> None:
        """A write failed (disk full, I/O error): keep what reached the disk, stop
        recording with the reason, and wait for space before trying again."""
        if self._writer is not None:
            self._writer.close(end_ns=wall, clean=False)
        self._storage_error = f"storage failed: {exc.strerror or exc}"
        self._retry_at = wall + STORAGE_RETRY_NS
        self._stop(wall, self._storage_error)

    def _storage_back(self, wall: int) -> bool:
        """Whether storage has room again (checked at most every STORAGE_RETRY_NS)."""
        if wall < self._retry_at:
            return False
        self._retry_at = wall + STORAGE_RETRY_NS
        try:
            if shutil.disk_usage(self.root).free < self.min_free_bytes:
                return False
        except OSError:  # the storage itself is gone (unmounted): keep waiting
            return False
        self._storage_error = ""
        return True

    def _scheduled(self, wall: int) -> bool:
        local = dt.datetime.fromtimestamp(wall / NS, self.tz)
        return in_schedule(self.schedule, WEEKDAYS[local.weekday()], local.hour * 60 + local.minute)

    def _buffer(self, packet: Packet, wall: int) -> None:
        if packet.is_keyframe or not self._gops:
            self._gops.append([])
        self._gops[-1].append((wall, packet))
        # Keep whole GOPs covering at least the pre-roll behind the newest packet.
        while len(self._gops) > 1 and self._gops[1][0][0] <= wall - self.pre_roll_ns:
            self._gops.popleft()

    def _start(self, kind: RecordingType, wall: int) -> None:
        assert self._writer is not None
        if self._recording is not None:
            self._stop(wall, f"superseded by {kind}", keep_segment=True)
        self._count += 1
        # Footage starts at the oldest buffered keyframe: the pre-roll (or a new segment).
        first = self._gops[0][0][0] if self._gops and self._gops[0][0][1].is_keyframe else wall
        rid = f"{self.camera_id}-{kind}-{first}"
        self._recording = (rid, kind)
        self.emit(
            RecordingStarted(
                camera_id=self.camera_id, recording_id=rid, recording_type=kind, started_ns=first
            )
        )
        if self._writer.current is None:
            # The pre-roll: replay the buffered GOPs (the newest packet is among them).
            for gop in self._gops:
                for _, p in gop:
                    self._writer.write(p)
        else:
            self._writer.write(self._gops[-1][-1][1])

    def _stop(self, wall: int, reason: str, keep_segment: bool = False) -> None:
        if self._recording is None:
            return
        rid, kind = self._recording
        if self._writer is not None and not keep_segment:
            self._writer.close(end_ns=wall)
        self.emit(RecordingStopped(camera_id=self.camera_id, recording_id=rid, recording_type=kind,
                                   stopped_ns=wall, reason=reason))  # fmt: skip
        self._recording = None


def _precedence(kind: RecordingType) -> int:
    return RECORDING_PRECEDENCE[kind]
