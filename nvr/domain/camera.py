"""The camera aggregate: its state, `evolve` (fold its events) and `decide` (commands).

Pure functions: no I/O, no clock (time comes in as `now_ns`), no mutation.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

from nvr.domain.commands import (
    AddCamera,
    CameraCommand,
    ConfigureCamera,
    RemoveCamera,
    RemovePreset,
    RequestRecording,
    SavePreset,
    StartRecording,
    StopRecording,
)
from nvr.domain.config import CameraSettings
from nvr.domain.errors import Rejected
from nvr.domain.events import (
    CameraAdded,
    CameraConfigured,
    CameraRemoved,
    Event,
    PresetRemoved,
    PresetSaved,
    RecordingRequested,
    RecordingStarted,
    RecordingStopped,
)
from nvr.domain.values import RECORDING_PRECEDENCE, PtzPosition, RecordingType


class ActiveRecording(msgspec.Struct, frozen=True, kw_only=True):
    recording_id: str
    recording_type: RecordingType
    started_ns: int


class CameraState(msgspec.Struct, frozen=True, kw_only=True):
    """Invariants: `recording` is None unless `exists`; a removed camera has no recording;
    at most one recording is active (the one of highest precedence)."""

    camera_id: str
    exists: bool = False
    removed: bool = False
    settings: CameraSettings | None = None
    recording: ActiveRecording | None = None
    presets: dict[str, tuple[str, PtzPosition]] = {}
    requested: frozenset[RecordingType] = frozenset()
    """Manual and panic recordings operators asked for and have not ended."""


def initial(camera_id: str) -> CameraState:
    return CameraState(camera_id=camera_id)


def evolve(state: CameraState, event: Event) -> CameraState:
    replace = msgspec.structs.replace
    match event:
        case CameraAdded(settings=s):
            return replace(state, exists=True, removed=False, settings=s)
        case CameraConfigured(settings=s):
            return replace(state, settings=s)
        case CameraRemoved():
            return replace(state, exists=False, removed=True, recording=None, requested=frozenset())
        case RecordingStarted(recording_id=rid, recording_type=rt, started_ns=t):
            return replace(
                state, recording=ActiveRecording(recording_id=rid, recording_type=rt, started_ns=t)
            )
        case RecordingStopped(recording_id=rid):
            if state.recording is not None and state.recording.recording_id == rid:
                return replace(state, recording=None)
            return state
        case RecordingRequested(recording_type=rt, on=on):
            return replace(
                state, requested=state.requested | {rt} if on else state.requested - {rt}
            )
        case PresetSaved(preset_id=pid, name=name, position=pos):
            return replace(state, presets={**state.presets, pid: (name, pos)})
        case PresetRemoved(preset_id=pid):
            return replace(state, presets={k: v for k, v in state.presets.items() if k != pid})
        case _:
            return state


def decide(state: CameraState, command: CameraCommand, now_ns: int) -> list[Event]:
    """The events that carry out `command`, [] when it is already true, or Rejected."""
    cid = state.camera_id
    if isinstance(command, AddCamera | ConfigureCamera):
        _check_no_secrets(command.settings)
    if isinstance(command, AddCamera):
        if state.exists:
            raise Rejected(f"camera {cid!r} already exists")
        return [CameraAdded(camera_id=cid, settings=command.settings)]
    if not state.exists:
        raise Rejected(f"camera {cid!r} does not exist" + (" any more" if state.removed else ""))
    if isinstance(command, ConfigureCamera):
        if command.settings == state.settings:
            return []
        old = msgspec.structs.asdict(state.settings) if state.settings else {}
        new = msgspec.structs.asdict(command.settings)
        changed = tuple(k for k in new if old.get(k) != new[k])
        return [CameraConfigured(camera_id=cid, settings=command.settings, changed=changed)]
    if isinstance(command, RemoveCamera):
        out: list[Event] = []
        if state.recording is not None:
            out.append(_stop(state, state.recording, now_ns, "camera removed"))
        return [*out, CameraRemoved(camera_id=cid, reason=command.reason)]
    if isinstance(command, StartRecording):
        current = state.recording
        wanted = RECORDING_PRECEDENCE[command.recording_type]
        if current is not None and RECORDING_PRECEDENCE[current.recording_type] >= wanted:
            return []  # already recording at this precedence or higher
        out = (
            []
            if current is None
            else [_stop(state, current, now_ns, f"superseded by {command.recording_type}")]
        )
        started = RecordingStarted(
            camera_id=cid,
            recording_id=f"{cid}:{command.command_id}",
            recording_type=command.recording_type,
            started_ns=now_ns,
        )
        return [*out, started]
    if isinstance(command, StopRecording):
        current = state.recording
        if current is None or current.recording_type != command.recording_type:
            raise Rejected(f"camera {cid!r} has no {command.recording_type} recording to stop")
        return [_stop(state, current, now_ns, command.reason or "stopped")]
    if isinstance(command, RequestRecording):
        kind = command.recording_type
        if kind not in ("manual", "panic"):
            raise Rejected(f"only manual and panic recordings are asked for; {kind} is automatic")
        if (kind in state.requested) == command.on:
            return []  # already so: asking twice changes nothing
        return [
            RecordingRequested(
                camera_id=cid, recording_type=kind, on=command.on, reason=command.reason
            )
        ]
    if isinstance(command, SavePreset):
        if not (state.settings and state.settings.has_ptz):
            raise Rejected(f"camera {cid!r} has no PTZ")
        return [
            PresetSaved(
                camera_id=cid,
                preset_id=command.preset_id,
                name=command.name,
                position=command.position,
            )
        ]
    if isinstance(command, RemovePreset):
        if command.preset_id not in state.presets:
            raise Rejected(f"camera {cid!r} has no preset {command.preset_id!r}")
        return [PresetRemoved(camera_id=cid, preset_id=command.preset_id)]
    raise Rejected(f"unknown command {type(command).__name__}")


def _check_no_secrets(settings: CameraSettings) -> None:
    for url in (settings.main_url, settings.sub_url):
        if url and urlsplit(url).password is not None:
            raise Rejected(
                "camera URLs must not hold a password (the log keeps it forever); "
                "put it in the credentials file and name it in credential_ref"
            )


def _stop(state: CameraState, rec: ActiveRecording, now_ns: int, reason: str) -> RecordingStopped:
    return RecordingStopped(
        camera_id=state.camera_id,
        recording_id=rec.recording_id,
        recording_type=rec.recording_type,
        stopped_ns=now_ns,
        reason=reason,
    )
