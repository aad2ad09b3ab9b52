"""A deterministic golden history: one day (2026-11-24 UTC) of a 4-camera site, for replay/.

Cameras: `gate` continuous all day (a reconnect, a worker killed mid-segment, an
evidence lock, a small byte cap that retention enforces), `yard` motion-only (motion
recordings with pre-roll, a manual recording), `door` scheduled 08:00-18:00, `dock`
continuous from 12:00 (lost for 10 minutes; footage purged when the disk runs low). A
panic recording on every camera at 16:00, users, logins, presets and an operator's view.
`python -m nvr.sample_site OUT.jsonl` writes it in the `nvr log export --jsonl` format.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec

from nvr.domain import codec
from nvr.domain.config import WEEKDAYS, CameraSettings, ScheduleWindow
from nvr.domain.envelope import Proposed
from nvr.domain.events import (
    CameraAdded,
    ConfigImported,
    EmergencyPurged,
    Event,
    FootageProtected,
    FootageUnprotected,
    LayoutChanged,
    LoggedOut,
    LoginFailed,
    LoginSucceeded,
    MotionEnded,
    MotionStarted,
    PlaybackRateChanged,
    PlaybackSeeked,
    PresetRecalled,
    PresetRemoved,
    PresetRenamed,
    PresetSaved,
    RecordingRequested,
    RecordingStarted,
    RecordingStopped,
    RetentionPolicyChanged,
    SegmentClosed,
    SegmentDeleted,
    SegmentOpened,
    StorageWarning,
    StreamConnected,
    StreamLost,
    StreamRecovered,
    ThumbnailWritten,
    TileAssigned,
    UserCreated,
    UserRoleChanged,
    WorkerExited,
    WorkerRestarted,
    WorkerStarted,
)  # fmt: skip
from nvr.domain.retention import CameraRetention, RetentionPolicy
from nvr.domain.values import Box, PtzPosition, RecordingType, Role

DAY_NS = 1_795_478_400_000_000_000  # 2026-11-24T00:00:00Z
S = 1_000_000_000
H = 3600 * S
SEG = 60 * S
MB = 1_000_000
Fact = tuple[int, Event, str, str]


def _id(n: int) -> bytes:
    return uuid.UUID(int=(0x0191_0000_0000_7000_8000_0000_0000_0000 | n)).bytes


def site_day() -> Iterator[Proposed]:
    facts = sorted(_facts(), key=lambda f: f[0])  # stable: ties keep their order of writing
    for n, (at, event, stream, actor) in enumerate(facts, 1):
        p = codec.propose(event, stream=stream, actor=actor, event_id=_id(n))
        yield msgspec.structs.replace(p, recorded_at_ns=at)


class _Cam:
    """Writes one camera's segments, as its worker would, into `facts`."""

    def __init__(self, cid: str, facts: list[Fact]) -> None:
        self.cid, self.facts, self.n = cid, facts, 0
        self.stream, self.actor = f"camera/{cid}", f"worker/camera-{cid}"
        self.segments: list[SegmentClosed] = []

    def add(self, at: int, event: Event) -> None:
        self.facts.append((at, event, self.stream, self.actor))

    def record(self, start: int, end: int, rec: str, closed_at: int | None = None) -> None:
        """Segments from `start` to `end`; with `closed_at`, the last one was cut short by a
        killed worker and is closed (unclean) only then, by its successor's salvage."""
        t = start
        while t < end:
            stop = min(t + SEG, end)
            self.n += 1
            sid = f"{self.cid}-{t}"
            path = f"{self.cid}/2026-11-24/{sid}.mp4"
            self.add(
                t,
                SegmentOpened(
                    camera_id=self.cid, segment_id=sid, path=path, start_ns=t, recording_id=rec
                ),
            )
            size = (stop - t) // S * MB // 2  # about 4 Mbit/s
            closed = SegmentClosed(camera_id=self.cid, segment_id=sid, path=path, bytes=size, start_ns=t, end_ns=stop,
                                   keyframes_ns=tuple(range(t, stop, 4 * S)), sha256=f"{self.n % 256:02x}" * 32,
                                   recording_id=rec, clean=closed_at is None or stop < end)  # fmt: skip
            self.add(closed_at if closed_at is not None and stop == end else stop, closed)
            self.segments.append(closed)
            t = stop

    def recording(
        self, kind: RecordingType, start: int, end: int, reason: str, closed_at: int | None = None
    ) -> None:
        """A recording; with `closed_at` its worker was killed at `end` (no stop is reported)."""
        rec = f"{self.cid}-{kind}-{start}"
        self.add(
            start,
            RecordingStarted(
                camera_id=self.cid, recording_id=rec, recording_type=kind, started_ns=start
            ),
        )
        self.record(start, end, rec, closed_at)
        if closed_at is not None:
            return
        self.add(end, RecordingStopped(camera_id=self.cid, recording_id=rec, recording_type=kind,
                                       stopped_ns=end, reason=reason))  # fmt: skip


def _facts() -> list[Fact]:
    facts: list[Fact] = []
    t0 = DAY_NS

    def add(at: int, event: Event, stream: str, actor: str) -> None:
        facts.append((at, event, stream, actor))

    office = (ScheduleWindow(days=WEEKDAYS, start_min=8 * 60, end_min=18 * 60),)
    settings = {
        "gate": CameraSettings(name="Front gate", main_url="rtsp://10.0.0.11/main", sub_url="rtsp://10.0.0.11/sub",
                               recording_mode="continuous", has_ptz=True, retention_max_bytes=700 * MB),
        "yard": CameraSettings(name="Yard", main_url="rtsp://10.0.0.12/main", sub_url="rtsp://10.0.0.12/sub",
                               recording_mode="motion", pre_roll_s=5.0, post_roll_s=10.0),
        "door": CameraSettings(name="Back door", main_url="rtsp://10.0.0.13/main", sub_url="rtsp://10.0.0.13/sub",
                               recording_mode="scheduled", schedule=office),
        "dock": CameraSettings(name="Loading dock", main_url="rtsp://10.0.0.14/main", sub_url="rtsp://10.0.0.14/sub",
                               recording_mode="continuous"),
    }  # fmt: skip
    argon = "$argon2id$v=19$m=65536,t=3,p=4$c2FtcGxlc2FsdA$" + "A" * 43
    people: tuple[tuple[str, Role], ...] = (("admin", "admin"), ("olga", "viewer"), ("vic", "viewer"))
    for i, (name, role) in enumerate(people):
        add(
            t0 + i,
            UserCreated(username=name, role=role, password_hash=argon),
            f"user/{name}",
            "cli/root",
        )
    add(t0 + 5 * S, ConfigImported(source="/etc/vigil/vigil.toml", format="toml", sha256="5e" * 32,
                                   cameras=tuple(settings)), "system/config", "cli/root")  # fmt: skip
    cams = {}
    for i, (cid, st) in enumerate(settings.items()):
        add(t0 + 6 * S, CameraAdded(camera_id=cid, settings=st), f"camera/{cid}", "cli/root")
        add(t0 + 7 * S + i, WorkerStarted(worker=f"camera-{cid}", kind="camera", pid=2000 + i),
            f"worker/camera-{cid}", "supervisor")  # fmt: skip
        cams[cid] = c = _Cam(cid, facts)
        c.add(
            t0 + 8 * S + i,
            StreamConnected(
                camera_id=cid, stream="main", codec="h264", width=1920, height=1080, fps=15.0
            ),
        )
    policy = RetentionPolicy(cameras=tuple(sorted((cid, CameraRetention(days=30, max_bytes=st.retention_max_bytes))
                                                  for cid, st in settings.items())), floor_bytes=2 << 30)  # fmt: skip
    add(t0 + 9 * S, RetentionPolicyChanged(version=1, policy=policy, source="/etc/vigil/vigil.toml"),
        "system/retention", "worker/housekeeper")  # fmt: skip

    # gate: continuous, a reconnect at 03:10, killed at 14:02:30, panic at 16:00.
    gate = cams["gate"]
    start = t0 + 10 * S
    gate.recording("continuous", start, t0 + 3 * H + 10 * 60 * S, "timeout")
    gate.add(
        t0 + 3 * H + 10 * 60 * S,
        StreamLost(camera_id="gate", stream="main", reason="timeout", detail="no packet for 5 s"),
    )
    gate.add(
        t0 + 3 * H + 14 * 60 * S,
        StreamRecovered(camera_id="gate", stream="main", outage_ns=240 * S, attempts=9),
    )
    gate.recording(
        "continuous",
        t0 + 3 * H + 14 * 60 * S,
        t0 + 14 * H + 150 * S,
        "",
        closed_at=t0 + 14 * H + 154 * S,
    )
    add(t0 + 14 * H + 151 * S, WorkerExited(worker="camera-gate", pid=2000, exit_code=None, signal=9, reason="killed by signal 9"),
        "worker/camera-gate", "supervisor")  # fmt: skip
    add(t0 + 14 * H + 152 * S, WorkerRestarted(worker="camera-gate", attempt=1, backoff_ms=500, reason="killed by signal 9"),
        "worker/camera-gate", "supervisor")  # fmt: skip
    add(
        t0 + 14 * H + 153 * S,
        WorkerStarted(worker="camera-gate", kind="camera", pid=2100),
        "worker/camera-gate",
        "supervisor",
    )
    gate.recording("continuous", t0 + 14 * H + 154 * S, t0 + 16 * H, "superseded by panic")
    gate.recording("panic", t0 + 16 * H, t0 + 16 * H + 300 * S, "panic ended")
    gate.recording("continuous", t0 + 16 * H + 300 * S, t0 + 24 * H - SEG, "shutdown")

    # yard: motion every 47 minutes, 5 s pre-roll and 10 s post-roll; manual at 10:00.
    yard = cams["yard"]
    for k in range(1, 30):
        at = t0 + k * 47 * 60 * S
        if (
            t0 + 10 * H <= at < t0 + 10 * H + 20 * 60 * S
            or t0 + 16 * H <= at < t0 + 16 * H + 300 * S
        ):
            continue
        mid = f"m-yard-{k}"
        yard.add(at, MotionStarted(camera_id="yard", motion_id=mid, at_ns=at, confidence=0.55 + k % 5 / 10,
                                   boxes=(Box(x=0.1 + k % 7 / 10, y=0.4, w=0.15, h=0.3),)))  # fmt: skip
        yard.add(
            at + 20 * S,
            MotionEnded(camera_id="yard", motion_id=mid, at_ns=at + 20 * S, peak_confidence=0.9),
        )
        yard.recording("motion", at - 5 * S, at + 30 * S, "no reason to record")
    add(t0 + 10 * H - S, RecordingRequested(camera_id="yard", recording_type="manual", on=True, reason="delivery expected"),
        "camera/yard", "user/admin")  # fmt: skip
    yard.recording("manual", t0 + 10 * H, t0 + 10 * H + 20 * 60 * S, "no reason to record")
    add(t0 + 10 * H + 20 * 60 * S - S, RecordingRequested(camera_id="yard", recording_type="manual", on=False),
        "camera/yard", "user/admin")  # fmt: skip

    # door: scheduled 08:00-18:00 (panic inside it).
    door = cams["door"]
    door.recording("scheduled", t0 + 8 * H, t0 + 16 * H, "superseded by panic")
    door.recording("panic", t0 + 16 * H, t0 + 16 * H + 300 * S, "panic ended")
    door.recording("scheduled", t0 + 16 * H + 300 * S, t0 + 18 * H, "no reason to record")

    # dock: continuous from 12:00, lost 20:00-20:10 (camera powered off).
    dock = cams["dock"]
    dock.recording("continuous", t0 + 12 * H, t0 + 16 * H, "superseded by panic")
    dock.recording("panic", t0 + 16 * H, t0 + 16 * H + 300 * S, "panic ended")
    dock.recording("continuous", t0 + 16 * H + 300 * S, t0 + 20 * H, "eof")
    dock.add(
        t0 + 20 * H,
        StreamLost(
            camera_id="dock", stream="main", reason="eof", detail="camera closed the stream"
        ),
    )
    dock.add(
        t0 + 20 * H + 600 * S,
        StreamRecovered(camera_id="dock", stream="main", outage_ns=600 * S, attempts=40),
    )
    dock.recording("continuous", t0 + 20 * H + 600 * S, t0 + 24 * H - SEG, "shutdown")

    # panic on all cameras at 16:00 (yard: a recording of its own).
    for cid in settings:
        add(t0 + 16 * H - S, RecordingRequested(camera_id=cid, recording_type="panic", on=True, reason="alarm at the dock"),
            f"camera/{cid}", "user/admin")  # fmt: skip
        add(t0 + 16 * H + 299 * S, RecordingRequested(camera_id=cid, recording_type="panic", on=False),
            f"camera/{cid}", "user/admin")  # fmt: skip
    yard.recording("panic", t0 + 16 * H, t0 + 16 * H + 300 * S, "no reason to record")

    # evidence lock on gate 03:00-04:00 from 09:00 to 21:00.
    add(t0 + 9 * H, FootageProtected(camera_id="gate", protection_id="case-2026-118", start_ns=t0 + 3 * H,
                                     end_ns=t0 + 4 * H, reason="break-in report"), "camera/gate", "user/admin")  # fmt: skip
    add(t0 + 21 * H, FootageUnprotected(camera_id="gate", protection_id="case-2026-118", reason="case closed"),
        "camera/gate", "user/admin")  # fmt: skip

    # retention: gate's 700 MB cap at 12:00 (its oldest footage outside the lock).
    hk = "worker/housekeeper"
    total, kept = 0, []
    for seg in gate.segments:
        if seg.end_ns <= t0 + 12 * H:
            total += seg.bytes
    for seg in gate.segments:
        locked = seg.start_ns < t0 + 4 * H and seg.end_ns > t0 + 3 * H
        if total <= 700 * MB or seg.end_ns > t0 + 12 * H:
            break
        if locked:
            continue
        add(t0 + 12 * H, SegmentDeleted(camera_id="gate", segment_id=seg.segment_id, path=seg.path, bytes=seg.bytes,
                                        policy_version=1, rule="max_bytes", reason="camera over its cap of 0.7 GB"),
            "camera/gate", hk)  # fmt: skip
        total -= seg.bytes
        kept.append(seg.segment_id)
    # the disk runs low at 22:00: the oldest dock footage goes (emergency purge).
    purge = [s for s in dock.segments[:30]]
    add(t0 + 22 * H, StorageWarning(volume="/var/lib/vigil", level="critical", free_bytes=1 << 30,
                                    total_bytes=1 << 40, floor_bytes=2 << 30), "system/storage", hk)  # fmt: skip
    add(t0 + 22 * H, EmergencyPurged(volume="/var/lib/vigil", free_bytes=1 << 30, floor_bytes=2 << 30,
                                     segment_ids=tuple(s.segment_id for s in purge), freed_bytes=sum(s.bytes for s in purge)),
        "system/storage", hk)  # fmt: skip
    for s in purge:
        add(t0 + 22 * H, SegmentDeleted(camera_id="dock", segment_id=s.segment_id, path=s.path, bytes=s.bytes,
                                        policy_version=1, rule="floor", reason="free space below the floor"),
            "camera/dock", hk)  # fmt: skip
    add(t0 + 22 * H + S, StorageWarning(volume="/var/lib/vigil", level="low", free_bytes=3 << 30,
                                        total_bytes=1 << 40, floor_bytes=2 << 30), "system/storage", hk)  # fmt: skip

    # thumbnails of the first segment of each hour and of each motion
    for c in cams.values():
        for seg in c.segments[::60]:
            c.add(seg.end_ns + S, ThumbnailWritten(camera_id=c.cid, subject="segment", subject_id=seg.segment_id,
                                                   path=f".thumbs/{c.cid}/{seg.segment_id}.jpg", bytes=9000, at_ns=seg.start_ns))  # fmt: skip
    for at, e, _, _ in list(facts):
        if isinstance(e, MotionEnded):
            yard.add(at + S, ThumbnailWritten(camera_id="yard", subject="motion", subject_id=e.motion_id,
                                              path=f".thumbs/yard/{e.motion_id}.jpg", bytes=8000, at_ns=at - 20 * S))  # fmt: skip

    # people: presets, logins, a role change, an operator's view.
    pose = PtzPosition(pan=0.25, tilt=-0.1, zoom=0.5)
    for at, ev in ((9 * H, PresetSaved(camera_id="gate", preset_id="p-drive", name="Driveway", position=pose)),
                   (9 * H + 60 * S, PresetRenamed(camera_id="gate", preset_id="p-drive", name="Drive")),
                   (13 * H, PresetRecalled(camera_id="gate", preset_id="p-drive")),
                   (17 * H, PresetRemoved(camera_id="gate", preset_id="p-drive")),
                   (17 * H + 60 * S, PresetSaved(camera_id="gate", preset_id="p-door", name="Door", position=pose))):  # fmt: skip
        add(t0 + at, ev, "camera/gate", "user/admin")
    add(
        t0 + 8 * H + 55 * 60 * S,
        LoginFailed(username="olga", client_addr="10.0.0.50", reason="bad password"),
        "user/olga",
        "web",
    )
    add(t0 + 8 * H + 56 * 60 * S, LoginSucceeded(username="olga", session_hash="0a" * 32, client_addr="10.0.0.50",
                                                 user_agent="Firefox"), "user/olga", "web")  # fmt: skip
    add(t0 + 8 * H + 57 * 60 * S, LoginSucceeded(username="admin", session_hash="0b" * 32, client_addr="10.0.0.5"),
        "user/admin", "web")  # fmt: skip
    add(
        t0 + 9 * H + 30 * 60 * S,
        UserRoleChanged(username="olga", old_role="viewer", new_role="operator"),
        "user/olga",
        "user/admin",
    )
    add(
        t0 + 18 * H,
        LoggedOut(username="olga", session_hash="0a" * 32, reason="logout"),
        "user/olga",
        "web",
    )
    add(
        t0 + 20 * H + 56 * 60 * S,
        LoggedOut(username="admin", session_hash="0b" * 32, reason="idle-timeout"),
        "user/admin",
        "web",
    )
    ui = "ui/desk-1"
    add(t0 + 8 * H, LayoutChanged(ui_session="desk-1", layout="2x2"), ui, "user/olga")
    for tile, cid in enumerate(settings):
        add(
            t0 + 8 * H + (tile + 1) * S,
            TileAssigned(ui_session="desk-1", tile=tile, camera_id=cid),
            ui,
            "user/olga",
        )
    add(t0 + 16 * H + 10 * S, LayoutChanged(ui_session="desk-1", layout="1x1"), ui, "user/olga")
    add(
        t0 + 16 * H + 11 * S,
        TileAssigned(ui_session="desk-1", tile=0, camera_id="dock"),
        ui,
        "user/olga",
    )
    add(
        t0 + 17 * H,
        PlaybackSeeked(ui_session="desk-1", camera_ids=("dock",), target_ns=t0 + 16 * H),
        ui,
        "user/olga",
    )
    add(t0 + 17 * H + S, PlaybackRateChanged(ui_session="desk-1", rate=2.0), ui, "user/olga")
    return facts


def main(out: Path) -> None:
    from nvr.eventlog import history
    from nvr.eventlog.memory import MemoryLog

    log = MemoryLog()
    log.append(list(site_day()))
    header = (b"# One day (2026-11-24 UTC) of a 4-camera site: nvr/sample_site.py. "
              b"Regenerate: python -m nvr.sample_site replay/site-day.jsonl\n")  # fmt: skip
    out.write_bytes(header + b"".join(history.export(log.read())))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
