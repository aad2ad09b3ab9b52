"""The event catalogue: every event type, the tagged union, and tag/version lookups."""

from __future__ import annotations

from typing import Union

from nvr.domain.events.base import Event
from nvr.domain.events.cameras import (
    CameraAdded,
    CameraConfigured,
    CameraRemoved,
    FootageProtected,
    FootageUnprotected,
    MotionEnded,
    MotionStarted,
    RecordingRequested,
    RecordingStarted,
    RecordingStopped,
    SegmentClosed,
    SegmentDeleted,
    SegmentOpened,
    StreamConnected,
    StreamLost,
    StreamRecovered,
    ThumbnailWritten,
)
from nvr.domain.events.people import (
    LayoutChanged,
    LoggedOut,
    LoginFailed,
    LoginSucceeded,
    PlaybackRateChanged,
    PlaybackSeeked,
    TileAssigned,
    UserCreated,
    UserDisabled,
    UserPasswordChanged,
    UserRoleChanged,
)
from nvr.domain.events.ptz import (
    PresetRecalled,
    PresetRemoved,
    PresetRenamed,
    PresetSaved,
    PtzMoved,
)
from nvr.domain.events.system import (
    ConfigImported,
    EmergencyPurged,
    RetentionPolicyChanged,
    StorageWarning,
    WorkerExited,
    WorkerRestarted,
    WorkerStarted,
)
from nvr.domain.events.web import (
    AccessDenied,
    ClipExported,
    ResourceViewed,
    SetupTokenIssued,
    SetupTokenUsed,
)

EVENT_TYPES: tuple[type[Event], ...] = (
    CameraAdded, CameraConfigured, CameraRemoved,
    StreamConnected, StreamLost, StreamRecovered,
    SegmentOpened, SegmentClosed, SegmentDeleted,
    RecordingStarted, RecordingStopped, RecordingRequested,
    MotionStarted, MotionEnded,
    PtzMoved, PresetSaved, PresetRenamed, PresetRemoved, PresetRecalled,
    StorageWarning, EmergencyPurged,
    UserCreated, UserRoleChanged, UserPasswordChanged, UserDisabled,
    LoginSucceeded, LoginFailed, LoggedOut,
    LayoutChanged, TileAssigned, PlaybackSeeked, PlaybackRateChanged,
    WorkerStarted, WorkerExited, WorkerRestarted,
    ConfigImported,
    FootageProtected, FootageUnprotected, ThumbnailWritten, RetentionPolicyChanged,
    ResourceViewed, AccessDenied, SetupTokenIssued, SetupTokenUsed, ClipExported,
)  # fmt: skip

AnyEvent = Union[EVENT_TYPES]  # type: ignore[valid-type]  # noqa: UP007
"""The tagged union of every event type, for msgspec decoders."""

BY_TAG: dict[str, type[Event]] = {cls.__struct_config__.tag: cls for cls in EVENT_TYPES}  # type: ignore[misc]


def tag_of(cls: type[Event]) -> str:
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


__all__ = [
    "BY_TAG",
    "EVENT_TYPES",
    "AccessDenied",
    "AnyEvent",
    "CameraAdded",
    "CameraConfigured",
    "CameraRemoved",
    "ClipExported",
    "ConfigImported",
    "EmergencyPurged",
    "Event",
    "FootageProtected",
    "FootageUnprotected",
    "LayoutChanged",
    "LoggedOut",
    "LoginFailed",
    "LoginSucceeded",
    "MotionEnded",
    "MotionStarted",
    "PlaybackRateChanged",
    "PlaybackSeeked",
    "PresetRecalled",
    "PresetRemoved",
    "PresetRenamed",
    "PresetSaved",
    "PtzMoved",
    "RecordingRequested",
    "RecordingStarted",
    "RecordingStopped",
    "ResourceViewed",
    "RetentionPolicyChanged",
    "SegmentClosed",
    "SegmentDeleted",
    "SegmentOpened",
    "SetupTokenIssued",
    "SetupTokenUsed",
    "StorageWarning",
    "StreamConnected",
    "StreamLost",
    "StreamRecovered",
    "ThumbnailWritten",
    "TileAssigned",
    "UserCreated",
    "UserDisabled",
    "UserPasswordChanged",
    "UserRoleChanged",
    "WorkerExited",
    "WorkerRestarted",
    "WorkerStarted",
    "tag_of",
]
