"""Kill -9 the appender at random moments under a busy producer: nothing acknowledged is lost or doubled."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.eventlog.client import RemoteLog
from nvr.eventlog.verify import verify_log
from tests.procs import ProcessGroup

CLI_EVERY = 25  # one restart in this many goes through `python -m nvr appender`


@pytest.fixture
def group() -> Iterator[ProcessGroup]:
    with ProcessGroup() as g:
        yield g


def crash_loop(group: ProcessGroup, data: Path, kills: int, seed: int) -> None:
    """Guards against acknowledged appends lost, or written twice, when the appender dies
    mid-commit and the producer resends them with the same event ids after a restart; and
    against a restart failing on what the dead appender left (lock, socket, reader slots)."""
    rng = random.Random(seed)
    log_dir = data / "log"
    record = data / "acked.txt"
    appender = group.appender(data)
    producer = group.child("produce", str(log_dir), "--out", str(record), "--seed", str(seed))
    for i in range(kills):
        time.sleep(rng.uniform(0.002, 0.05))  # the random moment of the kill (the test's intent)
        group.kill(appender)
        last = i == kills - 1
        appender = group.appender(data, forked=not last and i % CLI_EVERY != 0)

    remote = RemoteLog(log_dir)
    try:
        restarted_at = remote.head()
        assert producer.alive(), producer.describe()
        resumed = remote.wait_for(restarted_at + 50, timeout=30)
        assert resumed, f"appends did not resume after the last restart: {producer.describe()}"
        producer.close_stdin()  # asks it to stop submitting and drain what is in flight
        summary = producer.recv(timeout=60)
        assert producer.wait() == 0, producer.describe()
        assert appender.alive()

        acked = [line.split() for line in record.read_text().splitlines()]
        by_id = {bytes.fromhex(eid): int(pos) for eid, pos in acked}
        assert len(by_id) == len(acked) == summary["acked"] == summary["submitted"]
        assert max(by_id.values()) > restarted_at

        envs = list(remote.read())
        assert [e.position for e in envs] == list(range(1, len(envs) + 1))
        assert remote.head() == len(envs) == len(by_id), "the log holds events never acknowledged"
        assert {e.event_id: e.position for e in envs} == by_id
        report = verify_log(remote.store)
        assert report.ok, report
        # Kills have to land on appends in flight, or this test could not fail.
        assert summary["reconnects"] >= kills // 10, summary
    finally:
        remote.close()


def test_kill9_appender_200_times(group: ProcessGroup, tmp_path: Path) -> None:
    """Guards against losing or doubling acknowledged appends when the appender crashes."""
    crash_loop(group, tmp_path, kills=200, seed=20261124)


@pytest.mark.slow
def test_kill9_appender_1000_times(group: ProcessGroup, tmp_path: Path) -> None:
    """The same guard as the 200-kill test, with rarer interleavings given the time to occur."""
    crash_loop(group, tmp_path, kills=1000, seed=1000)
