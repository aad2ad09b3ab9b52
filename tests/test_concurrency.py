"""Many processes on one log: producers through one appender, optimistic concurrency, one writer, tailing."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from nvr.eventlog.client import RemoteLog
from nvr.eventlog.errors import AppenderBusy, InvalidAppend
from nvr.eventlog.local import LmdbLog
from nvr.eventlog.port import CaughtUp, subscribe
from nvr.eventlog.verify import verify_log
from tests.procs import REPO, Child, ProcessGroup, event

PRODUCERS = 8
EVENTS_EACH = 500


@pytest.fixture
def group() -> Iterator[ProcessGroup]:
    with ProcessGroup() as g:
        yield g


@pytest.fixture
def remote(group: ProcessGroup, tmp_path: Path) -> Iterator[RemoteLog]:
    """A running appender for tmp_path/log, and the log as a reader process sees it."""
    group.appender(tmp_path)
    log = RemoteLog(tmp_path / "log", deadline_s=10)
    yield log
    log.close()


def test_eight_producers_through_one_appender(
    group: ProcessGroup, remote: RemoteLog, tmp_path: Path
) -> None:
    """Guards against group commits that lose, reorder or double requests of concurrent
    producers, and against stream versions assigned twice across processes."""
    producers = [group.child("producer", str(remote.path)) for _ in range(PRODUCERS)]
    for k, p in enumerate(producers):  # all start at once: each already waits on stdin
        p.send({"op": "append", "stream": f"p/{k}", "count": EVENTS_EACH, "batch": 10,
                "shared_every": 5})  # fmt: skip
    answers = [p.recv(timeout=120) for p in producers]

    total = PRODUCERS * EVENTS_EACH
    acked: dict[bytes, int] = {}
    owner: dict[int, int] = {}
    for k, answer in enumerate(answers):
        positions = [pos for _, pos, _ in answer["events"]]
        assert len(positions) == EVENTS_EACH
        assert positions == sorted(set(positions)), "one producer's positions must increase"
        acked.update((bytes.fromhex(eid), pos) for eid, pos, _ in answer["events"])
        owner.update((pos, k) for pos in positions)
    assert len(acked) == total
    switches = sum(owner[pos] != owner[pos + 1] for pos in range(1, total))
    assert switches > PRODUCERS, "the producers did not actually run at the same time"

    envs = list(remote.read())
    assert [e.position for e in envs] == list(range(1, total + 1))
    assert {e.event_id: e.position for e in envs} == acked
    versions: dict[str, list[int]] = defaultdict(list)
    for e in envs:
        versions[e.stream].append(e.stream_version)
    assert versions["shared"] == list(range(1, PRODUCERS * EVENTS_EACH // 5 + 1))
    for k in range(PRODUCERS):
        assert versions[f"p/{k}"] == list(range(1, EVENTS_EACH * 4 // 5 + 1))
    report = verify_log(remote.store)
    assert report.ok, report


def test_expected_version_race_has_one_winner(group: ProcessGroup, remote: RemoteLog) -> None:
    """Guards against two processes both passing an optimistic-concurrency check that
    only one of them can pass (whether their appends land in one group commit or two)."""
    a, b = (group.child("producer", str(remote.path)) for _ in range(2))
    a.ask({"op": "append", "stream": "door", "count": 3})
    for round_ in range(20):
        va = a.ask({"op": "version", "stream": "door"})["version"]
        vb = b.ask({"op": "version", "stream": "door"})["version"]
        assert va == vb == 3 + round_
        first, second = (a, b) if round_ % 2 else (b, a)
        first.send({"op": "append", "stream": "door", "expected": va})
        second.send({"op": "append", "stream": "door", "expected": vb})
        answers = [first.recv(), second.recv()]
        won = [x for x in answers if "events" in x and "error" not in x]
        lost = [x for x in answers if x.get("error") == "WrongExpectedVersion"]
        assert len(won) == 1 and len(lost) == 1, answers
        assert lost[0]["actual"] == va + 1
        assert won[0]["events"][0][1] == remote.head()
    assert remote.stream_version("door") == 23
    assert [e.stream_version for e in remote.read_stream("door")] == list(range(1, 24))


def test_a_second_writer_is_refused(group: ProcessGroup, tmp_path: Path) -> None:
    """Guards against two writers on one log, which would fork its hash chain."""
    first = group.appender(tmp_path)
    second = subprocess.run(
        [sys.executable, "-m", "nvr", "--data", str(tmp_path), "appender"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode != 0
    assert "another process is writing the event log" in second.stderr
    assert str(tmp_path / "log") in second.stderr
    with pytest.raises(AppenderBusy, match="another process is writing"):
        LmdbLog(tmp_path / "log")
    assert first.alive()

    group.kill(first)  # the kernel drops a dead writer's lock: the log opens at once
    log = LmdbLog(tmp_path / "log")
    try:
        assert log.head() == 0
    finally:
        log.close()


def test_tail_wakes_on_commit_from_another_process(group: ProcessGroup, remote: RemoteLog) -> None:
    """Guards against a subscriber that only notices commits by polling (slow wake-ups),
    or misses events appended by another process."""
    producer: Child = group.child("producer", str(remote.path))
    appended: list[bytes] = []
    seen: list[bytes] = []
    delays: list[float] = []
    for item in subscribe(remote, idle_timeout=10):
        if isinstance(item, CaughtUp):
            if len(seen) == 20:
                break
            # The other process appends while this one blocks in wait_for (inside subscribe).
            producer.send({"op": "append", "stream": "tail"})
            continue
        woke_at = time.monotonic()
        seen.append(item.event_id)
        answer = producer.recv()  # sent once the commit was durable
        appended.append(bytes.fromhex(answer["events"][0][0]))
        delays.append(woke_at - answer["acked_at"])
    assert seen == appended
    assert max(delays) < 0.2, delays


def test_an_undecodable_append_does_not_poison_the_connection(remote: RemoteLog) -> None:
    """Guards against a producer that keeps resending a frame the appender cannot decode
    (refused without an id), so that every later append on that connection fails too."""
    client = remote.client
    bad = msgspec.structs.replace(event("bad", 0), payload=msgspec.Raw(b"\xc1"))
    with pytest.raises(InvalidAppend):
        client.append([bad])
    assert client.append([event("ok", 1)]) == [1]

    first, refused, last = (client.submit([e]) for e in (event("ok", 2), bad, event("ok", 3)))
    answers = dict(client.collect() for _ in range(3))
    assert isinstance(answers[refused], InvalidAppend)
    assert (answers[first], answers[last]) == ([2], [3])
    assert client.append([event("ok", 4)]) == [4]
    assert remote.head() == 4
