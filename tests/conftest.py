"""Shared fixtures: the three event-log implementations the contract suite runs against."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.eventlog.client import RemoteLog
from nvr.eventlog.local import LmdbLog
from nvr.eventlog.memory import MemoryLog
from nvr.eventlog.port import EventLog
from nvr.sim.fleet import Fleet

REPO = Path(__file__).resolve().parent.parent


def start_appender(data: Path) -> subprocess.Popen[str]:
    """An appender process for `data`/log, returned once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nvr", "--data", str(data), "appender"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if '"ready"' not in line:
        proc.kill()
        raise RuntimeError(f"appender did not start: {line!r}")
    return proc


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    """One simulated camera on 127.0.0.1 (nvr/sim)."""
    with Fleet(1) as f:
        yield f


@pytest.fixture(params=["memory", "lmdb", "remote"])
def any_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    """Each implementation of the event-log port in turn."""
    if request.param == "memory":
        yield MemoryLog()
    elif request.param == "lmdb":
        log = LmdbLog(tmp_path / "log")
        yield log
        log.close()
    else:
        proc = start_appender(tmp_path)
        remote = RemoteLog(tmp_path / "log", deadline_s=10)
        yield remote
        remote.close()
        proc.terminate()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
