"""The camera aggregate's pure decide/evolve: rules, and invariants over any command sequence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr.domain import camera
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
from nvr.domain.events import RecordingStarted, RecordingStopped
from nvr.domain.values import PtzPosition

SETTINGS = CameraSettings(name="Gate", main_url="rtsp://127.0.0.1/main", has_ptz=True)
T = 1_795_478_400_000_000_000


def run(commands: list[CameraCommand]) -> camera.CameraState:
    state = camera.initial("gate")
    for i, cmd in enumerate(commands):
        for event in camera.decide(state, cmd, T + i):
            state = camera.evolve(state, event)
    return state


def test_recording_precedence() -> None:
    state = run([AddCamera(command_id="1", actor="a", camera_id="gate", settings=SETTINGS)])
    started = camera.decide(state, StartRecording(command_id="2", actor="op", camera_id="gate", recording_type="motion"), T)
    assert [type(e) for e in started] == [RecordingStarted]
    state = camera.evolve(state, started[0])
    # Manual supersedes motion: one stop, one start, in that order.
    events = camera.decide(state, StartRecording(command_id="3", actor="op", camera_id="gate", recording_type="manual"), T + 5)
    assert [type(e) for e in events] == [RecordingStopped, RecordingStarted]
    for e in events:
        state = camera.evolve(state, e)
    assert state.recording is not None and state.recording.recording_type == "manual"
    # Motion while manual records: nothing to do.
    assert camera.decide(state, StartRecording(command_id="4", actor="w", camera_id="gate", recording_type="motion"), T) == []
    with pytest.raises(Rejected, match="no motion recording"):
        camera.decide(state, StopRecording(command_id="5", actor="w", camera_id="gate", recording_type="motion"), T)


def test_refusals() -> None:
    with pytest.raises(Rejected, match="does not exist"):
        run([StartRecording(command_id="1", actor="a", camera_id="gate", recording_type="panic")])
    with pytest.raises(Rejected, match="already exists"):
        run([AddCamera(command_id=str(i), actor="a", camera_id="gate", settings=SETTINGS) for i in range(2)])
    with pytest.raises(Rejected, match="password"):
        bad = CameraSettings(name="x", main_url="rtsp://admin:secret@10.0.0.5/main")
        run([AddCamera(command_id="1", actor="a", camera_id="gate", settings=bad)])
    with pytest.raises(Rejected, match="no PTZ"):
        plain = CameraSettings(name="x", main_url="rtsp://127.0.0.1/m")
        run([AddCamera(command_id="1", actor="a", camera_id="gate", settings=plain),
             SavePreset(command_id="2", actor="a", camera_id="gate", preset_id="p", name="P",
                        position=PtzPosition(pan=0, tilt=0, zoom=0))])  # fmt: skip


def commands() -> st.SearchStrategy[CameraCommand]:
    kinds = st.sampled_from(["motion", "scheduled", "manual", "panic"])
    ids = st.uuids().map(str)
    pos = PtzPosition(pan=0.1, tilt=0.2, zoom=0.3)
    return st.one_of(
        st.builds(AddCamera, command_id=ids, actor=st.just("a"), camera_id=st.just("gate"), settings=st.just(SETTINGS)),
        st.builds(ConfigureCamera, command_id=ids, actor=st.just("a"), camera_id=st.just("gate"),
                  settings=st.sampled_from([SETTINGS, CameraSettings(name="G2", main_url="rtsp://h/m", has_ptz=True)])),
        st.builds(RemoveCamera, command_id=ids, actor=st.just("a"), camera_id=st.just("gate")),
        st.builds(StartRecording, command_id=ids, actor=st.just("a"), camera_id=st.just("gate"), recording_type=kinds),
        st.builds(StopRecording, command_id=ids, actor=st.just("a"), camera_id=st.just("gate"), recording_type=kinds),
        st.builds(RequestRecording, command_id=ids, actor=st.just("op"), camera_id=st.just("gate"),
                  recording_type=st.sampled_from(["manual", "panic"]), on=st.booleans()),
        st.builds(SavePreset, command_id=ids, actor=st.just("a"), camera_id=st.just("gate"),
                  preset_id=st.sampled_from(["p1", "p2"]), name=st.just("P"), position=st.just(pos)),
        st.builds(RemovePreset, command_id=ids, actor=st.just("a"), camera_id=st.just("gate"),
                  preset_id=st.sampled_from(["p1", "p2"])),
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(commands(), max_size=25))
def test_invariants_hold_for_any_command_sequence(cmds: list[CameraCommand]) -> None:
    state = camera.initial("gate")
    history = []
    for i, cmd in enumerate(cmds):
        try:
            events = camera.decide(state, cmd, T + i)
        except Rejected:
            continue
        for event in events:
            state = camera.evolve(state, event)
            history.append(event)
        assert state.recording is None or state.exists
        assert not (state.removed and state.exists)
        assert not state.requested or state.exists  # requests end with the camera
    # The state is a function of the events alone: refolding them gives the same state.
    refolded = camera.initial("gate")
    for event in history:
        refolded = camera.evolve(refolded, event)
    assert refolded == state
    # Every start is followed by its stop before the next start.
    open_recording = None
    for event in history:
        if isinstance(event, RecordingStarted):
            assert open_recording is None
            open_recording = event.recording_id
        elif isinstance(event, RecordingStopped):
            assert event.recording_id == open_recording
            open_recording = None
