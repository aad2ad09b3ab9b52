"""The auditor's commands as a user runs them on the sample day: export-sqlite, replay
--at, audit filters, projection tables, and log verify --deep catching a tampered export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.test_cli import REPLAY, nvr


def imported(tmp_path: Path) -> Path:
    done = nvr(tmp_path, "log", "import", str(REPLAY))
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_export_sqlite_is_incremental_and_readable(tmp_path: Path) -> None:
    data = imported(tmp_path)
    out = tmp_path / "out.sqlite"
    first = json.loads(nvr(data, "export-sqlite", str(out)).stdout)
    assert first == {"path": str(out), "from": 0, "position": 41}
    again = json.loads(nvr(data, "export-sqlite", str(out)).stdout)
    assert again["from"] == again["position"] == 41
    db = sqlite3.connect(out)
    assert db.execute("SELECT version FROM schema_version").fetchone() == (1,)
    assert db.execute("SELECT preset_name FROM camera_presets").fetchall() == [("Driveway",)]
    db.close()


def test_replay_at_shows_the_state_at_that_instant(tmp_path: Path) -> None:
    data = imported(tmp_path)
    before = json.loads(nvr(data, "replay", "--at", "2026-11-24T01:04:00Z").stdout)
    after = json.loads(nvr(data, "replay", "--at", "2026-11-24T01:05:00Z").stdout)
    assert before["cameras"]["gate"]["presets"] == []
    assert after["cameras"]["gate"]["presets"] == ["Driveway"]
    assert after["position"] > before["position"]
    assert after["users"]["admin"]["role"] == "admin"
    assert after["config"]["gate"]["name"] == "Front gate"
    bad = nvr(data, "replay", "--at", "yesterday")
    assert bad.returncode == 2 and "RFC 3339" in bad.stderr


def test_audit_filters_by_actor_camera_and_time(tmp_path: Path) -> None:
    data = imported(tmp_path)
    rows = [json.loads(line) for line in nvr(data, "audit", "--refresh").stdout.splitlines()]
    assert rows and [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    assert {r["action"] for r in rows} >= {
        "camera.added",
        "session.login_failed",
        "ptz.preset.saved",
    }
    assert not {r["action"] for r in rows} & {"segment.opened", "segment.closed", "motion.started"}
    gate = [
        json.loads(x)
        for x in nvr(data, "audit", "--refresh", "--camera", "gate").stdout.splitlines()
    ]
    assert gate and all(r["camera_id"] == "gate" for r in gate)
    late = nvr(data, "audit", "--refresh", "--since", "2026-11-24T01:04:00Z").stdout.splitlines()
    assert 0 < len(late) < len(rows)
    assert all("<hidden>" in json.dumps(r) for r in rows if r["action"] == "user.created")


def test_projection_tables_and_deep_verify(tmp_path: Path) -> None:
    data = imported(tmp_path)
    tables = nvr(data, "projection", "tables")
    assert tables.stdout == (REPLAY.parent / "sample-day.tables.json").read_text()
    live = data / "vigil.sqlite"
    nvr(data, "export-sqlite", str(live))
    ok = nvr(data, "log", "verify", "--deep", "--skip-files")
    assert ok.returncode == 0, ok.stderr
    db = sqlite3.connect(live)
    db.execute(
        "UPDATE recordings SET bytes = bytes + 1 WHERE id = (SELECT min(id) FROM recordings)"
    )
    db.commit()
    db.close()
    bad = nvr(data, "log", "verify", "--deep", "--skip-files")
    assert bad.returncode == 1 and "recordings differs" in bad.stderr
    files = nvr(data, "log", "verify", "--deep")
    assert files.returncode == 1 and "is missing" in files.stderr


def test_retention_plan_is_a_dry_run_with_clear_errors(tmp_path: Path) -> None:
    data = imported(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[cameras]]\nid = "gate"\nmain_url = "rtsp://127.0.0.1/g"\nretention_days = 1\n'
    )
    before = nvr(data, "log", "stats").stdout
    done = nvr(
        data,
        "retention",
        "plan",
        "--policy",
        str(policy),
        "--free-gib",
        "100",
        "--at",
        "2026-11-26T00:00:00Z",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (
        report["cameras"]["gate"]["delete"]["days"]["segments"]
        == report["cameras"]["gate"]["segments"]
        > 0
    )
    assert report["cameras"]["gate"]["coverage_days_after"] == 0.0
    assert report["cameras"]["yard"]["delete"] == {}  # not in the policy: the 30-day default
    assert nvr(data, "log", "stats").stdout == before  # nothing written
    policy.write_text(
        '[[cameras]]\nid = "gate"\nmain_url = "rtsp://127.0.0.1/g"\nretention_days = "x"\n'
    )
    bad = nvr(data, "retention", "plan", "--policy", str(policy))
    assert (
        bad.returncode == 1 and "retention_days" in bad.stderr and "nothing planned" in bad.stderr
    )
