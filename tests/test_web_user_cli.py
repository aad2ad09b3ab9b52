"""`nvr user add|passwd|disable|list` (nvr/user_cli.py): through the appender while the
web UI runs (which sees each change at its next request), and straight into the log
when no appender runs."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nvr import user_cli
from nvr.domain.codec import decode_payload
from nvr.eventlog.local import LmdbLog
from tests.conftest import REPO
from tests.test_web_env import PASSWORD, running

SCRIPT = """
import argparse, sys
from pathlib import Path
from nvr import user_cli
parser = argparse.ArgumentParser(prog="nvr")
user_cli.add_parser(parser.add_subparsers(dest="command", required=True))
sys.exit(user_cli.run(parser.parse_args(["user", *sys.argv[2:]]), Path(sys.argv[1])))
"""


def nvr_user(log_dir: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="nvr")
    user_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return user_cli.run(parser.parse_args(["user", *argv]), log_dir)


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def nvr_user_process(
    log_dir: Path, *argv: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """The command in its own process, as `nvr user` runs (one LMDB handle per process)."""
    return subprocess.run([sys.executable, "-c", SCRIPT, str(log_dir), *argv], input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip


def test_user_commands_through_the_appender_reach_the_running_web_ui(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        log_dir = env.data / "log"
        add = nvr_user_process(log_dir, "add", "dana", "--role", "operator", "--cameras",
                               "gate,yard", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        assert add.returncode == 0, add.stderr
        assert lines(add.stdout) == [
            {"created": "dana", "role": "operator", "cameras": ["gate", "yard"]}
        ]
        dana, _ = env.login("dana")  # the web UI follows the log: no restart, no export lag
        again = nvr_user_process(log_dir, "add", "dana", "--role", "viewer", "--password-stdin",
                                 stdin=PASSWORD + "\n")  # fmt: skip
        assert again.returncode == 1 and "exists" in again.stderr
        off = nvr_user_process(log_dir, "disable", "dana", "--reason", "left")
        assert lines(off.stdout) == [{"disabled": "dana", "sessions_ended": 1}]
        assert dana.get("/api/me").status_code == 401
        last = nvr_user_process(log_dir, "disable", "admin")
        assert last.returncode == 1 and "last enabled admin" in last.stderr
        bad = nvr_user_process(log_dir, "add", "Bad Name", "--role", "viewer")
        assert bad.returncode == 1 and "username" in bad.stderr
        created = [e for e in env.log.read() if e.type == "user.created"]
        assert created[-1].actor.startswith("cli/")
        stored = decode_payload(created[-1])
        assert stored.password_hash.startswith("$argon2id$")  # type: ignore[attr-defined]


def test_user_commands_write_directly_when_no_appender_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "log"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert nvr_user(log_dir, "add", "erin", "--role", "admin", "--password-stdin") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a different password\n"))
    assert nvr_user(log_dir, "passwd", "erin", "--password-stdin") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert nvr_user(log_dir, "passwd", "erin", "--password-stdin") == 1
    assert nvr_user(log_dir, "passwd", "nobody", "--password-stdin") == 1
    capsys.readouterr()
    assert nvr_user(log_dir, "list") == 0
    assert lines(capsys.readouterr().out) == [
        {
            "username": "erin",
            "role": "admin",
            "cameras": None,
            "disabled": False,
            "open_sessions": 0,
        }
    ]
    log = LmdbLog(log_dir)
    assert [e.type for e in log.read()] == ["user.created", "user.password_changed"]
    log.close()
