"""The projection runtime: rebuilt equals incremental for any history and any batch split,
replaying a tracked position changes nothing, stores commit state and position together,
and the golden histories in replay/ give their expected output."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr.domain.codec import propose
from nvr.domain.envelope import Proposed
from nvr.domain.events import CameraRemoved, MotionStarted, StreamLost, UserDisabled
from nvr.eventlog import history
from nvr.eventlog.local import LmdbLog
from nvr.eventlog.memory import MemoryLog
from nvr.projections.runtime import MemoryStore, Runner, rebuild
from nvr.projections.sqlite_store import SqliteSnapshotStore
from nvr.projections.summary import LogSummary, SummaryProjection

REPLAY = Path(__file__).resolve().parent.parent / "replay"
PROJ = SummaryProjection()


def canonical(state: LogSummary) -> bytes:
    return msgspec.json.encode(state, order="deterministic")


@st.composite
def proposals(draw: st.DrawFn) -> Proposed:
    cam = draw(st.sampled_from(["c1", "c2", "c3"]))
    event = draw(
        st.sampled_from(
            [
                StreamLost(camera_id=cam, stream="main", reason="eof"),
                MotionStarted(camera_id=cam, motion_id="m", at_ns=1, confidence=0.5),
                CameraRemoved(camera_id=cam),
                UserDisabled(username="u"),
            ]
        )
    )
    stream = "user/u" if isinstance(event, UserDisabled) else f"camera/{cam}"
    return propose(event, stream=stream, actor="t")


def cut(items: list[Proposed], cuts: list[int]) -> list[list[Proposed]]:
    bounds = sorted({0, len(items), *(c % (len(items) + 1) for c in cuts)})
    return [items[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(proposals(), max_size=60),
    append_cuts=st.lists(st.integers(0, 60), max_size=6),
    commit_every=st.integers(1, 20),
    catch_up_after=st.sets(st.integers(0, 10)),
)
def test_rebuild_equals_incremental(
    events: list[Proposed], append_cuts: list[int], commit_every: int, catch_up_after: set[int]
) -> None:
    log = MemoryLog()
    store: MemoryStore[LogSummary] = MemoryStore()
    for i, batch in enumerate(cut(events, append_cuts)):
        log.append(batch)
        if i in catch_up_after:
            # A fresh runner each time: it resumes from the store's tracked position.
            Runner(log, PROJ, store, commit_every=commit_every).catch_up()
    Runner(log, PROJ, store, commit_every=commit_every).catch_up()
    rebuilt = rebuild(log, PROJ, MemoryStore())
    assert store.position == log.head()
    assert canonical(store.state or PROJ.initial()) == canonical(rebuilt)
    assert rebuilt.events == len(events)


@settings(max_examples=30, deadline=None)
@given(events=st.lists(proposals(), min_size=1, max_size=30), crash_at=st.integers(0, 30))
def test_replaying_a_tracked_position_changes_nothing(events: list[Proposed], crash_at: int) -> None:
    log = MemoryLog()
    log.append(events)
    store: MemoryStore[LogSummary] = MemoryStore()
    runner = Runner(log, PROJ, store, commit_every=max(1, crash_at))
    runner.catch_up()
    before, commits = canonical(runner.state), store.commits
    again = Runner(log, PROJ, store)
    assert again.catch_up() == log.head()
    assert store.commits == commits  # nothing to fold, nothing written
    assert canonical(again.state) == before


def test_sqlite_store_commits_state_and_position_together(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    store = SqliteSnapshotStore(path, PROJ.name, PROJ.version, LogSummary)
    assert store.load() == (None, 0)
    state = LogSummary(events=3, streams=1, by_type={"a": 3}, by_kind={"camera": 3}, first_ns=1, last_ns=2)
    store.commit(state, 3)
    store.close()
    again = SqliteSnapshotStore(path, PROJ.name, PROJ.version, LogSummary)
    assert again.load() == (state, 3)
    again.close()
    # A store written by another version of the fold reads as empty: it gets rebuilt.
    newer = SqliteSnapshotStore(path, PROJ.name, PROJ.version + 1, LogSummary)
    assert newer.load() == (None, 0)
    newer.close()


def test_runner_follows_new_events(tmp_path: Path) -> None:
    log = LmdbLog(tmp_path / "log")
    store: MemoryStore[LogSummary] = MemoryStore()
    runner = Runner(log, PROJ, store)
    stop = threading.Event()
    thread = threading.Thread(target=runner.follow, args=(stop, 0.05))
    thread.start()
    try:
        log.append([propose(CameraRemoved(camera_id="c"), stream="camera/c", actor="t")])
        assert runner.wait_committed(1, 5)
        log.append([propose(CameraRemoved(camera_id="c"), stream="camera/c", actor="t")])
        assert runner.wait_committed(2, 5)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert store.position == 2 and store.state is not None and store.state.events == 2
    log.close()


def test_golden_histories_give_their_expected_output(tmp_path: Path) -> None:
    histories = sorted(REPLAY.glob("*.jsonl"))
    assert histories, "replay/ holds golden histories"
    for path in histories:
        log = LmdbLog(tmp_path / path.stem)
        log.append([p for _, p in history.parse(path.read_text().splitlines())])
        # Export gives the file back byte for byte, comments aside.
        exported = b"".join(history.export(log.read())).decode()
        kept = [line for line in path.read_text().splitlines(keepends=True) if not line.startswith("#")]
        assert exported == "".join(kept)
        expected = json.loads((path.parent / f"{path.stem}.summary.json").read_text())
        state = rebuild(log, PROJ, MemoryStore())
        assert {"position": log.head(), "state": msgspec.to_builtins(state)} == expected
        log.close()
