"""The JSON API's bodies, as msgspec Structs: requests are decoded straight into them
(unknown fields, wrong types and oversized strings are refused), responses are encoded
from them, and the OpenAPI description is generated from them."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from nvr.domain.values import Role

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Cameras = Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=256)]


class Request(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class LoginIn(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    username: Name
    password: Secret


class SetupIn(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    username: Name
    password: Secret


class PasswordIn(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    current: Secret
    new: Secret


class UserIn(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    username: Name
    role: Role
    password: Secret
    cameras: Cameras | None = None  # None: every camera


class UserPatch(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Role | None = None
    password: Secret | None = None


class DisableIn(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


class LoginOut(msgspec.Struct, kw_only=True):
    username: str
    role: Role
    csrf: str  # send back as X-CSRF-Token on every state-changing request


class MeOut(LoginOut, kw_only=True):
    cameras: list[str] | None
    actions: list[str]


class SetupOut(msgspec.Struct, kw_only=True):
    needed: bool


class CameraOut(msgspec.Struct, kw_only=True):
    camera_id: str
    name: str
    connected: bool
    recording: str | None  # the recording type, None when not recording
    recording_mode: str
    not_recording_because: str | None
    last_end_ns: int
    thumbnail: str | None  # URL of the latest segment thumbnail


class MotionOut(msgspec.Struct, kw_only=True):
    camera_id: str
    motion_id: str
    start_ns: int
    end_ns: int | None
    peak_confidence: float | None
    thumbnail: str | None


class CameraUsage(msgspec.Struct, kw_only=True):
    camera_id: str
    bytes: int
    segments: int


class VolumeLevel(msgspec.Struct, kw_only=True):
    volume: str
    level: str  # ok, low, critical
    free_bytes: int
    total_bytes: int
    at_ns: int


class StorageOut(msgspec.Struct, kw_only=True):
    total_bytes: int
    cameras: list[CameraUsage]
    volumes: list[VolumeLevel]


class HealthOut(msgspec.Struct, kw_only=True):
    ok: bool
    log_head: int
    export_position: int
    export_lag: int
    cameras_total: int
    cameras_connected: int
    volumes: list[VolumeLevel]


class UserOut(msgspec.Struct, kw_only=True):
    username: str
    role: Role
    cameras: list[str] | None
    disabled: bool
    open_sessions: int


class AuditOut(msgspec.Struct, kw_only=True):
    position: int
    at: str
    actor: str
    action: str
    stream: str
    camera_id: str | None
    client_addr: str | None
    detail: dict[str, Any]


class ErrorOut(msgspec.Struct, kw_only=True):
    error: str
    ref: str = ""
