"""Camera lifecycle, streams, segments, recordings and motion events.

All of them live in the stream `camera/<camera_id>`. Times named `*_ns` are wall-clock
nanoseconds since the Unix epoch as measured by the recorder (docs/design/time.md).
"""

from __future__ import annotations

from typing import Literal

from nvr.domain.config import CameraSettings
from nvr.domain.events.base import Event
from nvr.domain.values import Box, RecordingType, StreamKind


class CameraAdded(Event, tag="camera.added", frozen=True, kw_only=True):
    camera_id: str
    settings: CameraSettings


class CameraConfigured(Event, tag="camera.configured", frozen=True, kw_only=True):
    """The whole accepted settings after a change (not a diff), so any past config is one read."""

    camera_id: str
    settings: CameraSettings
    changed: tuple[str, ...] = ()


class CameraRemoved(Event, tag="camera.removed", frozen=True, kw_only=True):
    camera_id: str
    reason: str = ""


class StreamConnected(Event, tag="stream.connected", frozen=True, kw_only=True):
    camera_id: str
    stream: StreamKind
    codec: str
    width: int
    height: int
    fps: float


class StreamLost(Event, tag="stream.lost", frozen=True, kw_only=True):
    """`reason` is a stable code: timeout, eof, refused, auth, decode-error, stalled, worker-exit."""

    camera_id: str
    stream: StreamKind
    reason: str
    detail: str = ""
    last_frame_ns: int = 0


class StreamRecovered(Event, tag="stream.recovered", frozen=True, kw_only=True):
    camera_id: str
    stream: StreamKind
    outage_ns: int
    attempts: int = 1


class SegmentOpened(Event, tag="segment.opened", frozen=True, kw_only=True):
    camera_id: str
    segment_id: str
    path: str
    start_ns: int
    recording_id: str = ""


class SegmentClosed(Event, tag="segment.closed", frozen=True, kw_only=True):
    """A finished segment file. `keyframes_ns` are the wall times of its keyframes."""

    camera_id: str
    segment_id: str
    path: str
    bytes: int
    start_ns: int
    end_ns: int
    keyframes_ns: tuple[int, ...]
    sha256: str
    recording_id: str = ""
    clean: bool = True


class SegmentDeleted(Event, tag="segment.deleted", frozen=True, kw_only=True):
    """A retention decision, logged before the file is removed."""

    camera_id: str
    segment_id: str
    path: str
    bytes: int
    policy_version: int
    rule: str
    reason: str = ""


class RecordingRequested(Event, tag="recording.requested", frozen=True, kw_only=True):
    """An operator asked for a manual or panic recording (`on`) or for its end. The
    camera's recorder acts on it and reports `recording.started` / `recording.stopped`."""

    camera_id: str
    recording_type: RecordingType
    on: bool
    reason: str = ""


class RecordingStarted(Event, tag="recording.started", frozen=True, kw_only=True):
    camera_id: str
    recording_id: str
    recording_type: RecordingType
    started_ns: int


class RecordingStopped(Event, tag="recording.stopped", frozen=True, kw_only=True):
    camera_id: str
    recording_id: str
    recording_type: RecordingType
    stopped_ns: int
    reason: str = ""


class MotionStarted(Event, tag="motion.started", frozen=True, kw_only=True):
    camera_id: str
    motion_id: str
    at_ns: int
    confidence: float
    boxes: tuple[Box, ...] = ()


class MotionEnded(Event, tag="motion.ended", frozen=True, kw_only=True):
    camera_id: str
    motion_id: str
    at_ns: int
    peak_confidence: float
    boxes: tuple[Box, ...] = ()


class FootageProtected(Event, tag="footage.protected", frozen=True, kw_only=True):
    """An evidence lock: footage of `camera_id` overlapping [start_ns, end_ns) is never
    deleted by retention or emergency purge until the lock is lifted."""

    camera_id: str
    protection_id: str
    start_ns: int
    end_ns: int
    reason: str = ""


class FootageUnprotected(Event, tag="footage.unprotected", frozen=True, kw_only=True):
    camera_id: str
    protection_id: str
    reason: str = ""


class ThumbnailWritten(Event, tag="thumbnail.written", frozen=True, kw_only=True):
    """A small JPEG made from a segment: `subject` is "segment" (its first keyframe) or
    "motion" (the frame at the motion's start); `subject_id` the segment or motion id."""

    camera_id: str
    subject: Literal["segment", "motion"]
    subject_id: str
    path: str
    bytes: int
    at_ns: int
