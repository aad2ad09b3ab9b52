"""The projection runner as a supervised process: the SQLite export follows a real
recording while readers use it; killed with SIGKILL it is restarted and the export still
equals a fresh rebuild; `log verify --deep` finds a tampered segment file."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

from nvr.audit_cli import deep_verify
from nvr.domain.config import parse_config
from nvr.domain.events import SegmentClosed, WorkerRestarted
from nvr.projections import queries
from nvr.run import System
from nvr.sim.fleet import Fleet
from nvr.sim.scene import LOOP_FRAMES
from nvr.workers.thumbnails import frame_at
from tests.test_supervisor import config_text, wait_for
from tests.test_thumbnails import stamp


def export_position(path: Path) -> int:
    if not path.exists():
        return 0
    db = queries.connect(path)
    try:
        row = db.execute("SELECT min(position) FROM tracking").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        db.close()
    return int(row[0] or 0)


def wait_export(path: Path, position: int, timeout: float) -> None:
    """Poll the export (another process writes it) until it includes `position`."""
    end = time.monotonic() + timeout
    while export_position(path) < position:
        assert time.monotonic() < end, f"export not at {position} within {timeout} s"
        time.sleep(0.1)


def test_export_follows_recording_and_survives_a_killed_projector(
    fleet: Fleet, tmp_path: Path
) -> None:
    text = config_text(fleet)
    system = System(
        parse_config(text), base=tmp_path, source="t.toml", fmt="toml", raw=text.encode()
    )
    system.start()
    runner = threading.Thread(target=system.supervisor.run, kwargs={"shutdown": False})
    runner.start()
    try:
        pos, _ = wait_for(system, SegmentClosed, 0, 20)
        pos, _ = wait_for(system, SegmentClosed, pos, 10)
        wait_export(system.export_path, pos, 10)
        db = queries.connect(system.export_path)
        rows = db.execute(
            "SELECT file_path, start_ns, end_ns, recording_type, bytes FROM recordings "
            "WHERE camera_id = 'gate' AND end_ns IS NOT NULL ORDER BY start_ns"
        ).fetchall()
        assert len(rows) >= 2
        assert all(
            (system.storage_dir / p).exists() and e > s and kind == "continuous" and b > 0
            for p, s, e, kind, b in rows
        )
        status = db.execute(
            "SELECT main_connected, recording_type, cause FROM camera_status"
        ).fetchall()
        assert status == [(1, "continuous", "")]
        start = rows[0][1]
        window = queries.timeline(db, "gate", start, rows[-1][2])
        recorded = [sp for sp in window.spans if sp.kind == "recorded"]
        assert [(sp.start_ns, sp.end_ns) for sp in recorded] == [(r[1], r[2]) for r in rows]
        assert not [sp for sp in window.spans if sp.kind == "gap"]
        point = queries.seek(db, "gate", start + 1_500_000_000)
        assert point is not None and point.exact and point.offset_ns == 1_500_000_000
        # The seek lands on the exact frame: 1.23 s after the segment's first frame is the
        # 19th frame at 15 fps, by the camera's own frame stamps.
        at = start + 1_230_000_000
        point = queries.seek(db, "gate", at)
        assert point is not None
        path = system.storage_dir / point.path
        first, _ = frame_at(path, point.segment_start_ns, point.segment_start_ns)
        shown, decoded = frame_at(path, point.segment_start_ns, at)
        n_first, n_shown = stamp(first), stamp(shown)
        assert n_first is not None and n_shown is not None
        assert (n_shown - n_first) % LOOP_FRAMES == 18 and decoded <= 30
        db.close()

        # The housekeeper's thumbnailer gives closed segments a thumbnail (as an event).
        end = time.monotonic() + 20
        thumb = None
        while thumb is None:
            assert time.monotonic() < end, "no thumbnail within 20 s"
            time.sleep(0.2)
            db = queries.connect(system.export_path)
            thumb = db.execute(
                "SELECT thumbnail_path FROM recordings WHERE thumbnail_path IS NOT NULL"
            ).fetchone()
            db.close()
        jpeg = (system.storage_dir / thumb[0]).read_bytes()
        assert jpeg[:2] == b"\xff\xd8" and len(jpeg) > 1000

        child = system.supervisor.children["projector"]
        assert child.proc is not None and child.proc.pid is not None
        os.kill(child.proc.pid, signal.SIGKILL)
        pos, restarted = wait_for(system, WorkerRestarted, pos, 10)
        while not (isinstance(restarted, WorkerRestarted) and restarted.worker == "projector"):
            pos, restarted = wait_for(system, WorkerRestarted, pos, 10)
        pos, _ = wait_for(system, SegmentClosed, pos, 10)
        wait_export(system.export_path, pos, 20)
        assert deep_verify(system.data_dir, storage=system.storage_dir, events=system.log) == []

        victim = system.storage_dir / rows[0][0]
        victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
        problems = deep_verify(system.data_dir, storage=system.storage_dir, events=system.log)
        assert any(victim.name in p and "sha256" in p for p in problems), problems
    finally:
        system.supervisor.stop()
        runner.join()
        system.close()
