"""Commands: requests in the imperative, decided by pure functions into events or refused."""

from __future__ import annotations

import msgspec

from nvr.domain.config import CameraSettings
from nvr.domain.values import PtzPosition, RecordingType


class Command(msgspec.Struct, frozen=True, tag_field="command", kw_only=True):
    """`command_id` (unique per request) derives ids of what the command creates."""

    command_id: str
    actor: str


class AddCamera(Command, tag="add_camera", frozen=True, kw_only=True):
    camera_id: str
    settings: CameraSettings


class ConfigureCamera(Command, tag="configure_camera", frozen=True, kw_only=True):
    camera_id: str
    settings: CameraSettings


class RemoveCamera(Command, tag="remove_camera", frozen=True, kw_only=True):
    camera_id: str
    reason: str = ""


class StartRecording(Command, tag="start_recording", frozen=True, kw_only=True):
    camera_id: str
    recording_type: RecordingType


class StopRecording(Command, tag="stop_recording", frozen=True, kw_only=True):
    camera_id: str
    recording_type: RecordingType
    reason: str = ""


class RequestRecording(Command, tag="request_recording", frozen=True, kw_only=True):
    """Ask the camera's recorder for (or to end) a manual or panic recording."""

    camera_id: str
    recording_type: RecordingType
    on: bool
    reason: str = ""


class SavePreset(Command, tag="save_preset", frozen=True, kw_only=True):
    camera_id: str
    preset_id: str
    name: str
    position: PtzPosition


class RemovePreset(Command, tag="remove_preset", frozen=True, kw_only=True):
    camera_id: str
    preset_id: str


CameraCommand = (
    AddCamera
    | ConfigureCamera
    | RemoveCamera
    | StartRecording
    | StopRecording
    | RequestRecording
    | SavePreset
    | RemovePreset
)
