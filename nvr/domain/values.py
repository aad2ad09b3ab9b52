"""Value types shared by events and commands: ids, enumerations, boxes, PTZ poses."""

from __future__ import annotations

from typing import Literal

import msgspec

RecordingType = Literal["motion", "manual", "scheduled", "panic", "continuous"]
"""Why footage is being recorded. Precedence: panic > manual > scheduled > continuous > motion.
Values are only ever added (widening keeps every stored value valid)."""

RECORDING_PRECEDENCE: dict[str, int] = {
    "motion": 0, "continuous": 1, "scheduled": 2, "manual": 3, "panic": 4,
}  # fmt: skip

StreamKind = Literal["main", "sub"]
Role = Literal["admin", "operator", "viewer"]
Layout = Literal["1x1", "2x2", "3x3", "4x4", "2x4"]
RecordingMode = Literal["continuous", "motion", "scheduled", "off"]


class Box(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A rectangle in normalised picture coordinates: 0 <= x, y, w, h <= 1."""

    x: float
    y: float
    w: float
    h: float


class PtzPosition(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A PTZ pose in ONVIF generic space: pan and tilt in [-1, 1], zoom in [0, 1]."""

    pan: float
    tilt: float
    zoom: float


class Zone(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A named polygon in normalised coordinates, used as a motion zone or a mask."""

    name: str
    points: tuple[tuple[float, float], ...]


def camera_stream(camera_id: str) -> str:
    return f"camera/{camera_id}"


def user_stream(username: str) -> str:
    return f"user/{username}"


def ui_stream(ui_session: str) -> str:
    return f"ui/{ui_session}"


def worker_stream(worker: str) -> str:
    return f"worker/{worker}"


STORAGE_STREAM = "system/storage"
CONFIG_STREAM = "system/config"
