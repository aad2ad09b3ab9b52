"""The supervisor with real processes: a camera worker killed with SIGKILL is restarted
with backoff, every step is an event, and recording resumes; shutdown closes cleanly."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from nvr.domain.codec import decode_payload
from nvr.domain.config import parse_config
from nvr.domain.events import (
    CameraAdded,
    ConfigImported,
    Event,
    RecordingStarted,
    RecordingStopped,
    SegmentClosed,
    SegmentOpened,
    WorkerExited,
    WorkerRestarted,
    WorkerStarted,
)
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.port import CaughtUp, subscribe
from nvr.eventlog.verify import verify_log
from nvr.run import System
from nvr.sim.fleet import Fleet

S = 1_000_000_000


def config_text(fleet: Fleet) -> str:
    return f"""
[system]
storage_dir = "recordings"
data_dir = "data"
segment_length_s = 2

[[cameras]]
id = "gate"
main_url = "{fleet.url(0, "main", credentials=False)}"
sub_url = "{fleet.url(0, "sub", credentials=False)}"
recording_mode = "continuous"
"""


def wait_for(system: System, want: type[Event], after: int, timeout: float) -> tuple[int, Event]:
    """The first event of type `want` after position `after` (waits on the log)."""
    end = time.monotonic() + timeout
    tag = want.__struct_config__.tag
    while time.monotonic() < end:
        for item in subscribe(system.log, after + 1, idle_timeout=0.5):
            if isinstance(item, CaughtUp):
                after = item.head
                if time.monotonic() > end:
                    break
                continue
            if item.type == tag:
                return item.position, decode_payload(item)
    raise AssertionError(f"no {want.__name__} within {timeout} s")


def test_killed_worker_is_restarted_and_recording_resumes(fleet: Fleet, tmp_path: Path) -> None:
    text = config_text(fleet)
    system = System(parse_config(text), base=tmp_path, source="test.toml", fmt="toml", raw=text.encode())
    system.start()
    runner = threading.Thread(target=system.supervisor.run, kwargs={"shutdown": False})
    runner.start()
    try:
        pos, first = wait_for(system, SegmentClosed, 0, 20)
        child = system.supervisor.children["camera-gate"]
        assert child.proc is not None and child.proc.pid is not None
        os.kill(child.proc.pid, signal.SIGKILL)
        killed_ns = time.time_ns()
        pos, exited = wait_for(system, WorkerExited, pos, 10)
        assert isinstance(exited, WorkerExited) and exited.signal == 9 and "signal 9" in exited.reason
        pos, restarted = wait_for(system, WorkerRestarted, pos, 5)
        assert isinstance(restarted, WorkerRestarted) and restarted.attempt == 1 and restarted.backoff_ms == 500
        pos, _ = wait_for(system, WorkerStarted, pos, 10)
        # The new worker's own recording (not the salvage of what the killed one left).
        pos, _ = wait_for(system, RecordingStarted, pos, 15)
        _, opened = wait_for(system, SegmentOpened, pos, 15)
        assert isinstance(opened, SegmentOpened)
        gap_s = (opened.start_ns - killed_ns) / S
        assert gap_s <= 4.0, f"recording resumed {gap_s:.1f} s after the kill"
    finally:
        system.supervisor.stop()
        runner.join(30)
        system.close()
    store = LmdbStore(system.log_dir)
    assert verify_log(store).ok
    events = [decode_payload(e) for e in store.read()]
    store.close()
    assert isinstance(events[0], ConfigImported) and isinstance(events[1], CameraAdded)
    # A clean shutdown: the last segment closed, the recording stopped, the worker's exit recorded.
    assert any(isinstance(e, RecordingStopped) and e.reason == "shutdown" for e in events)
    assert isinstance(events[-1], WorkerExited) and events[-1].reason == "shutdown"
    closed = [e for e in events if isinstance(e, SegmentClosed)]
    assert all((system.storage_dir / c.path).exists() for c in closed)
    assert first in closed
    # Every segment opened was closed; the one the kill cut short, unclean, from its file.
    opened_ids = {e.segment_id for e in events if isinstance(e, SegmentOpened)}
    assert opened_ids == {c.segment_id for c in closed}
    cuts = [c for c in closed if not c.clean]
    trail = [(type(e).__name__, getattr(e, "segment_id", getattr(e, "worker", "")), getattr(e, "clean", ""))
             for e in events if type(e).__name__ not in ("MotionStarted", "MotionEnded")]  # fmt: skip
    assert len(cuts) == 1, trail[-40:]
    [cut] = cuts
    assert cut.bytes == (system.storage_dir / cut.path).stat().st_size > 0


def test_restarting_with_the_same_config_records_no_config_change(fleet: Fleet, tmp_path: Path) -> None:
    text = config_text(fleet)
    for _ in range(2):
        system = System(parse_config(text), base=tmp_path, source="test.toml", fmt="toml", raw=text.encode())
        system.start()
        system.close()
    store = LmdbStore(system.log_dir)
    types = [e.type for e in store.read()]
    store.close()
    assert types.count("config.imported") == 1 and types.count("camera.added") == 1


def test_manual_and_panic_recording_follow_operator_requests(tmp_path: Path) -> None:
    from nvr.control import request_recording
    from nvr.domain.events import RecordingRequested, RecordingStarted

    with Fleet(2) as fleet:
        cams = "".join(
            f"""
[[cameras]]
id = "cam{i}"
main_url = "{fleet.url(i, "main", credentials=False)}"
sub_url = "{fleet.url(i, "sub", credentials=False)}"
recording_mode = "off"
"""
            for i in range(2)
        )
        text = f'[system]\nstorage_dir = "rec"\ndata_dir = "data"\nsegment_length_s = 2\n{cams}'
        system = System(parse_config(text), base=tmp_path, source="t.toml", fmt="toml", raw=text.encode())
        system.start()
        runner = threading.Thread(target=system.supervisor.run, kwargs={"shutdown": False})
        runner.start()
        try:
            pos = system.log.head()
            [p] = request_recording(system.log, ["cam0"], "manual", True, actor="operator", now_ns=time.time_ns())
            asked = time.monotonic()
            _, started = wait_for(system, RecordingStarted, p, 10)
            assert isinstance(started, RecordingStarted) and started.recording_type == "manual"
            assert time.monotonic() - asked < 2.0  # start within 2 s of the request
            # Asking again changes nothing; stopping stops.
            assert request_recording(system.log, ["cam0"], "manual", True, actor="operator", now_ns=0) == []
            [p] = request_recording(system.log, ["cam0"], "manual", False, actor="operator", now_ns=0)
            _, stopped = wait_for(system, RecordingStopped, p, 10)
            assert isinstance(stopped, RecordingStopped) and stopped.recording_type == "manual"
            # Panic: every camera, one atomic append.
            panic = request_recording(system.log, ["cam0", "cam1"], "panic", True, actor="operator", now_ns=0)
            assert len(panic) == 2 and panic[1] == panic[0] + 1
            seen = set()
            after = panic[-1]
            while len(seen) < 2:
                after, ev = wait_for(system, RecordingStarted, after, 10)
                assert isinstance(ev, RecordingStarted) and ev.recording_type == "panic"
                seen.add(ev.camera_id)
        finally:
            system.supervisor.stop()
            runner.join(30)
            system.close()
    store = LmdbStore(system.log_dir)
    events = [decode_payload(e) for e in store.read(pos + 1)]
    actors = {e.actor for e in store.read(pos + 1) if e.type == "recording.requested"}
    store.close()
    assert actors == {"operator"}
    assert sum(isinstance(e, RecordingRequested) for e in events) == 4


def test_config_edits_apply_while_running_and_bad_ones_change_nothing(tmp_path: Path) -> None:
    from nvr.domain.events import CameraConfigured
    from nvr.workers.configfile import ConfigFile

    with Fleet(2) as fleet:

        def camera(i: int, mode: str) -> str:
            return f"""
[[cameras]]
id = "cam{i}"
main_url = "{fleet.url(i, "main", credentials=False)}"
sub_url = "{fleet.url(i, "sub", credentials=False)}"
recording_mode = "{mode}"
"""

        head = '[system]\nstorage_dir = "rec"\ndata_dir = "data"\nsegment_length_s = 2\n'
        path = tmp_path / "vigil.toml"
        path.write_text(head + camera(0, "continuous"))
        file = ConfigFile(path)
        system = System(file.load(), base=tmp_path, source=str(path), fmt="toml", raw=path.read_bytes())
        system.start()
        runner = threading.Thread(target=system.run, args=(file,), kwargs={"reload_s": 0.5})
        runner.start()
        try:
            pos, _ = wait_for(system, SegmentOpened, 0, 15)
            path.write_text(head + camera(0, "continuous").replace("recording_mode", "recording_mood"))
            end = time.monotonic() + 10
            while file.last_error is None:  # the watcher has read the bad edit and refused it
                assert time.monotonic() < end, "the bad edit was never read"
                time.sleep(0.05)
            assert "recording_mood" in str(file.last_error) and file.current == system.config
            path.write_text(head + camera(0, "continuous") + camera(1, "continuous"))  # a good edit
            edited = time.monotonic()
            added_at, added = wait_for(system, CameraAdded, pos, 15)
            assert isinstance(added, CameraAdded) and added.camera_id == "cam1"
            _, started = wait_for(system, WorkerStarted, added_at, 15)
            assert isinstance(started, WorkerStarted) and started.worker == "camera-cam1"
            assert time.monotonic() - edited < 10, "applied within 10 s"
            between = [e.type for e in system.log.read(pos + 1, added_at)]
            assert "worker.exited" not in between  # the bad edit restarted nothing
            # Changing a camera restarts that camera only.
            path.write_text(head + camera(0, "motion") + camera(1, "continuous"))
            changed_at, changed = wait_for(system, CameraConfigured, added_at, 15)
            assert isinstance(changed, CameraConfigured) and changed.changed == ("recording_mode",)
            _, exited = wait_for(system, WorkerExited, changed_at, 15)
            assert isinstance(exited, WorkerExited) and exited.worker == "camera-cam0"
            assert exited.reason == "configuration changed"
        finally:
            system.supervisor.stop()
            runner.join(60)
