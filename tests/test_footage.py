"""The table projections (footage, presets, people): rebuilt equals incremental for any
history and any commit split, across reopenings of the SQLite export; the memory and
SQLite stores agree; and the rows mean what the roadmap's schema says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nvr.domain.codec import propose
from nvr.domain.config import CameraSettings
from nvr.domain.envelope import Proposed
from nvr.domain.events import (
    CameraAdded,
    Event,
    FootageProtected,
    FootageUnprotected,
    LoggedOut,
    LoginSucceeded,
    MotionEnded,
    MotionStarted,
    PresetRemoved,
    PresetRenamed,
    PresetSaved,
    RecordingStarted,
    RecordingStopped,
    SegmentClosed,
    SegmentDeleted,
    SegmentOpened,
    StreamLost,
    ThumbnailWritten,
    UserCreated,
    UserRoleChanged,
    WorkerExited,
)
from nvr.domain.values import Box, PtzPosition, camera_stream
from nvr.eventlog import history
from nvr.eventlog.memory import MemoryLog
from nvr.projections.catalog import all_projections
from nvr.projections.export import MemoryExport, SqliteExport

REPLAY = Path(__file__).resolve().parent.parent / "replay"
GOLDEN = Path(__file__).resolve().parent / "golden"
T0 = 1_795_478_400_000_000_000
S = 1_000_000_000
CAMS = ("c1", "c2")


def _stream(event: Event) -> str:
    cid = getattr(event, "camera_id", None)
    if cid:
        return camera_stream(cid)
    if isinstance(event, WorkerExited):
        return f"worker/{event.worker}"
    return f"user/{getattr(event, 'username', 'x')}"


@st.composite
def histories(draw: st.DrawFn) -> list[Proposed]:
    """Plausible and implausible orders alike: ids come from small pools, so segments
    close twice, deletions hit open or unknown segments, motions end unseen."""
    n = draw(st.integers(1, 60))
    out: list[Proposed] = []
    t = T0
    for _ in range(n):
        t += draw(st.integers(0, 3_700)) * S
        cam = draw(st.sampled_from(CAMS))
        seg = f"{cam}-s{draw(st.integers(0, 4))}"
        mot = f"{cam}-m{draw(st.integers(0, 2))}"
        start = t - draw(st.integers(0, 20)) * S
        kind = draw(st.sampled_from(["motion", "manual", "panic", "continuous"]))
        user = draw(st.sampled_from(["ann", "bob"]))
        event: Event = draw(
            st.sampled_from([
                CameraAdded(camera_id=cam, settings=CameraSettings(name=cam.upper(), main_url="rtsp://127.0.0.1/x")),
                StreamLost(camera_id=cam, stream="main", reason="timeout"),
                WorkerExited(worker=f"camera-{cam}", pid=1, exit_code=None, signal=9),
                SegmentOpened(camera_id=cam, segment_id=seg, path=f"{cam}/{seg}.mp4", start_ns=start),
                SegmentClosed(camera_id=cam, segment_id=seg, path=f"{cam}/{seg}.mp4", bytes=1000,
                              start_ns=start, end_ns=t, keyframes_ns=(start,), sha256="ab"),
                SegmentDeleted(camera_id=cam, segment_id=seg, path=f"{cam}/{seg}.mp4", bytes=1000,
                               policy_version=1, rule="days"),
                RecordingStarted(camera_id=cam, recording_id=f"r{kind}", recording_type=kind, started_ns=start),  # type: ignore[arg-type]
                RecordingStopped(camera_id=cam, recording_id=f"r{kind}", recording_type=kind, stopped_ns=t,  # type: ignore[arg-type]
                                 reason=draw(st.sampled_from(["no reason to record", "storage failed: No space left", "superseded by panic"]))),
                MotionStarted(camera_id=cam, motion_id=mot, at_ns=t, confidence=0.5, boxes=(Box(x=0, y=0, w=0.5, h=0.5),)),
                MotionEnded(camera_id=cam, motion_id=mot, at_ns=t, peak_confidence=0.9),
                ThumbnailWritten(camera_id=cam, subject="segment", subject_id=seg, path="t.jpg", bytes=10, at_ns=t),
                ThumbnailWritten(camera_id=cam, subject="motion", subject_id=mot, path="m.jpg", bytes=10, at_ns=t),
                FootageProtected(camera_id=cam, protection_id=f"p{cam}", start_ns=start, end_ns=t),
                FootageUnprotected(camera_id=cam, protection_id=f"p{cam}"),
                PresetSaved(camera_id=cam, preset_id=f"{cam}-p", name="door", position=PtzPosition(pan=0.1, tilt=0, zoom=0)),
                PresetRenamed(camera_id=cam, preset_id=f"{cam}-p", name="gate"),
                PresetRemoved(camera_id=cam, preset_id=f"{cam}-p"),
                UserCreated(username=user, role="viewer", password_hash="$argon2id$x"),
                UserRoleChanged(username=user, old_role="viewer", new_role="admin"),
                LoginSucceeded(username=user, session_hash=f"h{user}", client_addr="10.0.0.1"),
                LoggedOut(username=user, session_hash=f"h{user}"),
            ])
        )  # fmt: skip
        p = propose(event, stream=_stream(event), actor=f"user/{user}")
        out.append(
            p.__class__(**{**{f: getattr(p, f) for f in p.__struct_fields__}, "recorded_at_ns": t})
        )
    return out


def memory_fold(log: MemoryLog) -> dict[str, str]:
    ref = MemoryExport(all_projections())
    ref.catch_up(log)
    return ref.tables.checksums()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), cuts=st.lists(st.integers(1, 60), max_size=4))
def test_rebuilt_equals_incremental_across_reopenings(
    tmp_path_factory: object, history: list[Proposed], cuts: list[int]
) -> None:
    log = MemoryLog()
    log.append(history)
    expected = memory_fold(log)
    path = Path(tmp_path_factory.mktemp("x")) / "export.sqlite"  # type: ignore[attr-defined]
    for stop in sorted({min(c, log.head()) for c in cuts} | {log.head()}):
        export = SqliteExport(path, all_projections())
        export.fold(log.read(export.position + 1, stop + 1))
        export.commit()
        export.close()
    export = SqliteExport(path, all_projections())
    assert export.position == log.head()
    assert export.checksums() == expected
    export.catch_up(log)  # replaying nothing new changes nothing
    assert export.checksums() == expected
    export.close()


def sample_day_log() -> MemoryLog:
    log = MemoryLog()
    text = (REPLAY / "sample-day.jsonl").read_text().splitlines()
    log.append([p for _, p in history.parse(text)])
    return log


def test_sample_day_rows(tmp_path: Path) -> None:
    log = sample_day_log()
    export = SqliteExport(tmp_path / "e.sqlite", all_projections())
    export.catch_up(log)
    assert export.checksums() == memory_fold(log)
    export.close()
    db = sqlite3.connect(tmp_path / "e.sqlite")
    (version,) = db.execute("SELECT version FROM schema_version").fetchone()
    assert version == 1
    rows = db.execute(
        "SELECT camera_id, start_time, end_time, file_path, recording_type, size_mb, start_ns, end_ns "
        "FROM recordings ORDER BY camera_id, start_ns"
    ).fetchall()
    assert rows, "segments became recordings rows"
    for _, start_time, end_time, path, kind, size_mb, start_ns, end_ns in rows:
        assert path.endswith(".mp4") and kind in {
            "motion",
            "manual",
            "continuous",
            "scheduled",
            "panic",
        }
        assert end_ns is None or (end_ns > start_ns and size_mb > 0 and end_time > start_time)
    motions = db.execute(
        "SELECT recording_id, timestamp, bbox_json, end_ns FROM motion_events"
    ).fetchall()
    assert motions and all(m[3] is not None for m in motions)
    assert db.execute("SELECT count(*) FROM camera_presets").fetchone()[0] >= 1
    assert db.execute("SELECT count(*) FROM audit WHERE action LIKE 'session.%'").fetchone()[0] >= 1
    assert "$argon2" not in "".join(r[0] for r in db.execute("SELECT detail_json FROM audit"))


def test_golden_histories_give_their_expected_tables(tmp_path: Path) -> None:
    """Every replay/<name>.tables.json is the byte-exact table dump of <name>.jsonl, and
    the SQLite export of the same history holds the same rows."""
    goldens = sorted(REPLAY.glob("*.tables.json"))
    assert goldens, "replay/ holds expected table dumps"
    for golden in goldens:
        log = MemoryLog()
        source = golden.with_name(golden.name.removesuffix(".tables.json") + ".jsonl")
        log.append([p for _, p in history.parse(source.read_text().splitlines())])
        ref = MemoryExport(all_projections())
        ref.catch_up(log)
        assert ref.tables.dump_json().decode() + "\n" == golden.read_text(), golden.name
        export = SqliteExport(tmp_path / f"{golden.name}.sqlite", all_projections())
        export.catch_up(log)
        assert export.checksums() == ref.tables.checksums()
        export.close()


def schema_of(path: Path) -> str:
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
    ).fetchall()
    db.close()
    return "".join(f"{sql};\n" for _, _, sql in rows)


def test_export_schema_is_the_numbered_one(tmp_path: Path) -> None:
    """A changed table must come with a new SCHEMA_VERSION, its migration and its schema
    file in tests/golden/ (guards against silently changing what SQLite readers see)."""
    from nvr.projections.export import MIGRATIONS, SCHEMA_VERSION

    export = SqliteExport(tmp_path / "e.sqlite", all_projections())
    export.close()
    golden = GOLDEN / f"export-schema-v{SCHEMA_VERSION}.sql"
    assert schema_of(tmp_path / "e.sqlite") == golden.read_text()
    assert set(MIGRATIONS) == set(range(1, SCHEMA_VERSION))


def test_every_older_export_upgrades_to_a_fresh_one(tmp_path: Path) -> None:
    """A file of every older schema version upgrades in place and, caught up, has the
    current schema and the same rows as a fresh export."""
    from nvr.projections.export import SCHEMA_VERSION

    log = sample_day_log()
    fresh = SqliteExport(tmp_path / "fresh.sqlite", all_projections())
    fresh.catch_up(log)
    for version in range(1, SCHEMA_VERSION):
        old = tmp_path / f"v{version}.sqlite"
        db = sqlite3.connect(old)
        db.executescript((GOLDEN / f"export-schema-v{version}.sql").read_text())
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        db.commit()
        db.close()
        upgraded = SqliteExport(old, all_projections())
        upgraded.catch_up(log)
        assert schema_of(old) == schema_of(tmp_path / "fresh.sqlite")
        assert upgraded.checksums() == fresh.checksums()
        upgraded.close()
    fresh.close()


def test_a_damaged_export_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    log = sample_day_log()
    path = tmp_path / "e.sqlite"
    export = SqliteExport(path, all_projections())
    export.catch_up(log)
    expected = export.checksums()
    export.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header's tail and the first page
    path.write_bytes(bytes(data))
    export = SqliteExport(path, all_projections())
    assert export.position == 0 and (tmp_path / "e.sqlite.corrupt").exists()
    export.catch_up(log)
    assert export.checksums() == expected
    export.close()
