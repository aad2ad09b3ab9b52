"""PTZ moves and presets, in the stream `camera/<camera_id>`."""

from __future__ import annotations

from typing import Literal

from nvr.domain.events.base import Event
from nvr.domain.values import PtzPosition

PtzMoveKind = Literal["continuous", "absolute", "relative", "stop"]


class PtzMoved(Event, tag="ptz.moved", frozen=True, kw_only=True):
    """A move sent to the camera: velocities for continuous, a pose or delta otherwise."""

    camera_id: str
    kind: PtzMoveKind
    vector: PtzPosition
    timeout_ms: int = 0


class PresetSaved(Event, tag="ptz.preset.saved", frozen=True, kw_only=True):
    camera_id: str
    preset_id: str
    name: str
    position: PtzPosition


class PresetRenamed(Event, tag="ptz.preset.renamed", frozen=True, kw_only=True):
    camera_id: str
    preset_id: str
    name: str


class PresetRemoved(Event, tag="ptz.preset.removed", frozen=True, kw_only=True):
    camera_id: str
    preset_id: str


class PresetRecalled(Event, tag="ptz.preset.recalled", frozen=True, kw_only=True):
    camera_id: str
    preset_id: str
