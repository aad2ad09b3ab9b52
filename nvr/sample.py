"""A deterministic sample history: a short day of two cameras, for the demo and replay/.

Every id and time is derived from a seed, so the same history comes out every time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import msgspec

from nvr.domain import codec
from nvr.domain.config import CameraSettings
from nvr.domain.envelope import Proposed
from nvr.domain.events import (
    CameraAdded,
    ConfigImported,
    Event,
    LayoutChanged,
    LoginFailed,
    LoginSucceeded,
    MotionEnded,
    MotionStarted,
    PresetSaved,
    RecordingStarted,
    RecordingStopped,
    SegmentClosed,
    SegmentOpened,
    StreamConnected,
    StreamLost,
    StreamRecovered,
    TileAssigned,
    UserCreated,
    WorkerExited,
    WorkerRestarted,
    WorkerStarted,
)
from nvr.domain.values import Box, PtzPosition

DAY_NS = 1_795_478_400_000_000_000  # 2026-11-24T00:00:00Z
S = 1_000_000_000


def _id(n: int) -> bytes:
    return uuid.UUID(int=(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)).bytes


def sample_day() -> Iterator[Proposed]:
    """The sample events in time order (ties keep their order of writing)."""
    facts = sorted(_facts(), key=lambda fact: fact[0])
    for n, (at, event, stream, actor) in enumerate(facts, 1):
        p = codec.propose(event, stream=stream, actor=actor, event_id=_id(n))
        yield msgspec.structs.replace(p, recorded_at_ns=at)


def _facts() -> Iterator[tuple[int, Event, str, str]]:
    t = DAY_NS

    def ev(event: Event, stream: str, actor: str, at: int) -> tuple[int, Event, str, str]:
        return at, event, stream, actor

    cams = {
        "gate": CameraSettings(name="Front gate", main_url="rtsp://127.0.0.1:8554/gate/main",
                               sub_url="rtsp://127.0.0.1:8554/gate/sub", has_ptz=True),
        "yard": CameraSettings(name="Yard", main_url="rtsp://127.0.0.1:8554/yard/main",
                               sub_url="rtsp://127.0.0.1:8554/yard/sub"),
    }  # fmt: skip
    yield ev(UserCreated(username="admin", role="admin", password_hash="$argon2id$v=19$sample"),
             "user/admin", "setup", t)  # fmt: skip
    yield ev(ConfigImported(source="vigil.toml", format="toml", sha256="0" * 64, cameras=tuple(cams)),
             "system/config", "admin", t + S)  # fmt: skip
    for i, (cid, settings) in enumerate(cams.items()):
        yield ev(
            CameraAdded(camera_id=cid, settings=settings), f"camera/{cid}", "admin", t + 2 * S + i
        )
        yield ev(WorkerStarted(worker=f"camera-{cid}", kind="camera", pid=1000 + i),
                 f"worker/camera-{cid}", "supervisor", t + 3 * S + i)  # fmt: skip
        for kind, (w, h) in (("main", (1920, 1080)), ("sub", (640, 360))):
            yield ev(StreamConnected(camera_id=cid, stream=kind, codec="h264", width=w, height=h, fps=15.0),  # type: ignore[arg-type]
                     f"camera/{cid}", f"worker/camera-{cid}", t + 4 * S + i)  # fmt: skip
    t += 3600 * S
    for seg in range(3):
        start = t + seg * 60 * S
        for cid in cams:
            sid = f"{cid}-{seg:04d}"
            path = f"segments/{cid}/{sid}.mp4"
            yield ev(SegmentOpened(camera_id=cid, segment_id=sid, path=path, start_ns=start),
                     f"camera/{cid}", f"worker/camera-{cid}", start)  # fmt: skip
            if seg == 1:
                yield ev(RecordingStarted(camera_id=cid, recording_id=f"rec-{cid}-1", recording_type="motion",
                                          started_ns=start + 10 * S),
                         f"camera/{cid}", f"worker/camera-{cid}", start + 10 * S)  # fmt: skip
                yield ev(MotionStarted(camera_id=cid, motion_id=f"m-{cid}-1", at_ns=start + 10 * S, confidence=0.8,
                                       boxes=(Box(x=0.1, y=0.2, w=0.3, h=0.25),)),
                         f"camera/{cid}", f"worker/camera-{cid}", start + 10 * S)  # fmt: skip
                yield ev(MotionEnded(camera_id=cid, motion_id=f"m-{cid}-1", at_ns=start + 20 * S, peak_confidence=0.93),
                         f"camera/{cid}", f"worker/camera-{cid}", start + 20 * S)  # fmt: skip
                yield ev(RecordingStopped(camera_id=cid, recording_id=f"rec-{cid}-1", recording_type="motion",
                                          stopped_ns=start + 30 * S, reason="post-roll elapsed"),
                         f"camera/{cid}", f"worker/camera-{cid}", start + 30 * S)  # fmt: skip
            yield ev(SegmentClosed(camera_id=cid, segment_id=sid, path=path, bytes=30_000_000, start_ns=start,
                                   end_ns=start + 60 * S, keyframes_ns=tuple(start + k * 2 * S for k in range(30)),
                                   sha256=f"{seg:02d}" * 32),
                     f"camera/{cid}", f"worker/camera-{cid}", start + 60 * S)  # fmt: skip
    t += 3 * 60 * S
    yield ev(StreamLost(camera_id="yard", stream="main", reason="timeout", detail="no packet for 5 s"),
             "camera/yard", "worker/camera-yard", t)  # fmt: skip
    yield ev(StreamRecovered(camera_id="yard", stream="main", outage_ns=12 * S, attempts=3),
             "camera/yard", "worker/camera-yard", t + 12 * S)  # fmt: skip
    yield ev(WorkerExited(worker="camera-gate", pid=1000, exit_code=None, signal=9, reason="killed"),
             "worker/camera-gate", "supervisor", t + 20 * S)  # fmt: skip
    yield ev(WorkerRestarted(worker="camera-gate", attempt=1, backoff_ms=500, reason="exited on signal 9"),
             "worker/camera-gate", "supervisor", t + 21 * S)  # fmt: skip
    yield ev(LoginFailed(username="admin", client_addr="127.0.0.1", reason="bad password"),
             "user/admin", "web", t + 60 * S)  # fmt: skip
    yield ev(LoginSucceeded(username="admin", session_hash="ab" * 32, client_addr="127.0.0.1"),
             "user/admin", "web", t + 70 * S)  # fmt: skip
    yield ev(PresetSaved(camera_id="gate", preset_id="p1", name="Driveway",
                         position=PtzPosition(pan=0.25, tilt=-0.1, zoom=0.5)),
             "camera/gate", "admin", t + 80 * S)  # fmt: skip
    yield ev(LayoutChanged(ui_session="desk-1", layout="2x2"), "ui/desk-1", "operator", t + 90 * S)
    yield ev(
        TileAssigned(ui_session="desk-1", tile=0, camera_id="gate"),
        "ui/desk-1",
        "operator",
        t + 91 * S,
    )
    yield ev(RecordingStarted(camera_id="gate", recording_id="rec-gate-2", recording_type="manual",
                              started_ns=t + 100 * S), "camera/gate", "operator", t + 100 * S)  # fmt: skip
    yield ev(RecordingStopped(camera_id="gate", recording_id="rec-gate-2", recording_type="manual",
                              stopped_ns=t + 160 * S, reason="operator"), "camera/gate", "operator", t + 160 * S)  # fmt: skip
