"""The `nvr` command as a user runs it: import a golden history, inspect, verify, export,
project, and the demo; failures exit non-zero with the position or line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lmdb

from nvr.eventlog.records import pos_key

REPLAY = Path(__file__).resolve().parent.parent / "replay" / "sample-day.jsonl"


def nvr(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nvr", "--data", str(data), *args],
        capture_output=True, text=True, input=stdin, timeout=120,
    )  # fmt: skip


def test_import_inspect_verify_export(tmp_path: Path) -> None:
    done = nvr(tmp_path, "log", "import", str(REPLAY))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"imported": 41, "already_present": 0}
    again = nvr(tmp_path, "log", "import", str(REPLAY))
    assert json.loads(again.stdout) == {"imported": 0, "already_present": 41}

    stats = json.loads(nvr(tmp_path, "log", "stats").stdout)
    assert stats["head"] == stats["events"] == 41

    shown = json.loads(nvr(tmp_path, "log", "show", "37").stdout)
    assert shown["type"] == "ptz.preset.saved" and shown["data"]["name"] == "Driveway"
    missing = nvr(tmp_path, "log", "show", "99")
    assert missing.returncode == 1 and "no event at position 99" in missing.stderr

    tail = nvr(tmp_path, "log", "tail", "-n", "3").stdout.splitlines()
    assert [json.loads(line)["position"] for line in tail] == [39, 40, 41]

    verify = nvr(tmp_path, "log", "verify")
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"] is True

    exported = nvr(tmp_path, "log", "export", "--jsonl").stdout
    assert exported == "".join(
        line for line in REPLAY.read_text().splitlines(True) if not line.startswith("#")
    )

    shown_proj = json.loads(nvr(tmp_path, "projection", "show").stdout)
    rebuilt = json.loads(nvr(tmp_path, "projection", "rebuild").stdout)
    expected = json.loads(REPLAY.with_name("sample-day.summary.json").read_text())
    assert shown_proj == rebuilt == expected


def test_verify_fails_with_the_first_bad_position(tmp_path: Path) -> None:
    assert nvr(tmp_path, "log", "import", str(REPLAY)).returncode == 0
    env = lmdb.open(str(tmp_path / "log"), max_dbs=8)
    db = env.open_db(b"events")
    with env.begin(write=True) as txn:
        value = bytearray(txn.get(pos_key(12), db=db))
        value[40] ^= 0xFF
        txn.put(pos_key(12), bytes(value), db=db)
    env.close()
    done = nvr(tmp_path, "log", "verify")
    assert done.returncode == 1
    assert "position 12" in done.stderr
    assert json.loads(done.stdout)["first_bad_position"] == 12


def test_bad_import_names_the_line(tmp_path: Path) -> None:
    done = nvr(
        tmp_path,
        "log",
        "import",
        "-",
        stdin='{"stream": "s/1", "type": "camera.removed", "data": {}}\n',
    )
    assert done.returncode == 1
    assert "line 1" in done.stderr and "camera_id" in done.stderr
    assert "Traceback" not in done.stderr


def test_reading_a_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    done = nvr(tmp_path / "nowhere", "log", "stats")
    assert done.returncode == 1 and "no event log at" in done.stderr


def test_demo_records_simulated_cameras(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nvr", "--data", str(tmp_path), "demo", "--seconds", "12", "--web-port", "0"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 simulated cameras" in done.stdout
    assert "web UI: https://127.0.0.1:" in done.stdout and ":0/" not in done.stdout
    assert "setup token" in done.stderr  # no default account: the first admin needs it
    last = [line for line in done.stdout.splitlines() if line.startswith("events ")][-1]
    segments = int(last.split("segments ")[1].split(" ")[0])
    assert segments >= 4  # every camera recording (continuous, scheduled, or motion pre-roll)
    assert "log verify: ok=True" in done.stdout
    assert list((tmp_path / "recordings").rglob("*.mp4"))
