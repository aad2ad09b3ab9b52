"""Operator commands from the command line: decided against the log, appended as events.

The same path serves the UIs: fold the camera's stream, `decide`, append with the
stream's version as the expected version (a concurrent change makes it retry)."""

from __future__ import annotations

from collections.abc import Sequence

from nvr.domain import camera, codec
from nvr.domain.commands import RequestRecording
from nvr.domain.envelope import Proposed
from nvr.domain.ids import format_id, new_event_id
from nvr.domain.values import RecordingType, camera_stream
from nvr.eventlog.errors import WrongExpectedVersion
from nvr.eventlog.port import EventLog


def camera_state(log: EventLog, camera_id: str) -> tuple[camera.CameraState, int]:
    state = camera.initial(camera_id)
    version = 0
    for env in log.read_stream(camera_stream(camera_id)):
        state = camera.evolve(state, codec.decode_payload(env))
        version = env.stream_version
    return state, version


def request_recording(
    log: EventLog,
    camera_ids: Sequence[str],
    kind: RecordingType,
    on: bool,
    *,
    actor: str,
    now_ns: int,
    reason: str = "",
) -> list[int]:
    """Ask every camera in `camera_ids` at once (one atomic append, one correlation id):
    panic is all cameras or none. Returns the positions of the requests written."""
    correlation = new_event_id()
    for _ in range(5):
        batch: list[Proposed] = []
        for cid in camera_ids:
            state, version = camera_state(log, cid)
            command = RequestRecording(command_id=format_id(correlation), actor=actor, camera_id=cid,
                                       recording_type=kind, on=on, reason=reason)  # fmt: skip
            for event in camera.decide(state, command, now_ns):
                batch.append(codec.propose(event, stream=camera_stream(cid), actor=actor,
                                           expected_version=version, correlation_id=correlation))  # fmt: skip
                version += 1
        if not batch:
            return []
        try:
            return log.append(batch)
        except WrongExpectedVersion:
            continue  # another event landed on one of the cameras meanwhile: decide again
    raise WrongExpectedVersion(camera_stream(camera_ids[0]), -1, -1)
