"""The supervisor: starts the log appender and one process per camera, watches their
heartbeats, restarts the dead or stalled with capped exponential backoff, and shuts all
down cleanly on SIGTERM/SIGINT. Every start, exit and restart is an event with its reason.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import msgspec

from nvr.clock import Clock, SystemClock
from nvr.domain.events import Event, WorkerExited, WorkerRestarted, WorkerStarted
from nvr.domain.values import worker_stream
from nvr.workers import processes
from nvr.workers.emitter import Emitter
from nvr.workers.housekeeper import HousekeeperJob, housekeeper_main
from nvr.workers.projector import projector_main

log = logging.getLogger(__name__)
CTX = mp.get_context("spawn")
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0
STALL_S = 10.0


class Child:
    """One supervised process. `target(*args, heartbeat_conn)` is its entry point."""

    def __init__(
        self,
        name: str,
        kind: str,
        target: Callable[..., None],
        args: tuple[Any, ...],
        *,
        beats: bool = True,
    ) -> None:
        self.name, self.kind, self.target, self.args = name, kind, target, args
        self.beats = beats  # False: watched for exit only (the appender)
        self.proc: BaseProcess | None = None
        self.conn: Connection | None = None
        self.last_beat = 0.0
        self.started_at = 0.0
        self.attempt = 0  # restarts since it last ran healthily (sets the backoff)
        self.restarts = 0  # restarts since the supervisor started (a counter)
        self.restart_at: float | None = None
        self.stats: dict[str, Any] = {}
        self.last_exit = ""

    def start(self) -> int:
        ours, theirs = CTX.Pipe(duplex=False)
        self.proc = CTX.Process(
            target=self.target, args=(*self.args, theirs), name=self.name, daemon=False
        )
        self.proc.start()
        theirs.close()
        self.conn = ours
        self.started_at = self.last_beat = time.monotonic()
        self.restart_at = None
        assert self.proc.pid is not None
        return self.proc.pid

    def drain(self) -> None:
        """Read pending heartbeats (non-blocking)."""
        if self.conn is None or not self.beats:
            return
        try:
            while self.conn.poll():
                self.stats = msgspec.json.decode(self.conn.recv_bytes())
                self.last_beat = time.monotonic()
        except (EOFError, OSError):
            pass


class Supervisor:
    def __init__(
        self, emitter: Emitter, *, clock: Clock | None = None, stall_s: float = STALL_S
    ) -> None:
        self.emitter = emitter
        self.clock = clock or SystemClock()
        self.stall_s = stall_s
        self.children: dict[str, Child] = {}
        self.stopping = threading.Event()

    def emit(self, event: Event, worker: str) -> None:
        self.emitter.emit(event, worker_stream(worker))

    def add_camera(self, job: processes.CameraJob) -> Child:
        child = Child(
            f"camera-{job.camera_id}",
            "camera",
            processes.camera_main,
            (msgspec.msgpack.encode(job),),
        )
        self.children[child.name] = child
        self._start(child)
        return child

    def add_projector(
        self, log_dir: Path, export_path: Path, text_log_dir: Path | None = None
    ) -> Child:
        """The projection runner: keeps the SQLite export up to date with the log."""
        args = (str(log_dir), str(export_path), str(text_log_dir or ""))
        child = Child("projector", "projector", projector_main, args)
        self.children[child.name] = child
        self._start(child)
        return child

    def add_housekeeper(self, job: HousekeeperJob) -> Child:
        """Storage checks and retention (restarted with a new job when the policy changes)."""
        child = Child(
            "housekeeper", "housekeeper", housekeeper_main, (msgspec.msgpack.encode(job),)
        )
        self.children[child.name] = child
        self._start(child)
        return child

    def add_process(
        self, name: str, kind: str, target: Callable[..., None], args: tuple[Any, ...]
    ) -> Child:
        """Any other supervised process (the web UI): `target(*args, heartbeat_conn)`."""
        child = Child(name, kind, target, args)
        self.children[child.name] = child
        self._start(child)
        return child

    def add_appender(self, log_dir: Path, text_log_dir: Path | None = None) -> Child:
        """Supervise an appender already started by `start_appender` (restarted the same way)."""
        args = (str(log_dir), str(text_log_dir or ""))
        child = Child("appender", "appender", processes.appender_main, args, beats=False)
        self.children[child.name] = child
        return child

    def remove(self, name: str, reason: str, timeout: float = 20.0) -> None:
        """Stop one worker for good (SIGTERM: it closes its segment), recording why."""
        child = self.children.pop(name, None)
        if child is None or child.proc is None:
            return
        self._terminate([child], timeout)
        self.emit(WorkerExited(worker=name, pid=child.proc.pid or 0, exit_code=child.proc.exitcode,
                               signal=None, reason=reason), name)  # fmt: skip

    def _start(self, child: Child) -> None:
        pid = child.start()
        self.emit(WorkerStarted(worker=child.name, kind=child.kind, pid=pid), child.name)

    def check(self) -> None:
        """One round of supervision: heartbeats, exits, stalls, due restarts."""
        now = time.monotonic()
        for child in self.children.values():
            proc = child.proc
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stopping.is_set():
                    self._start(child)
                continue
            assert proc is not None
            child.drain()
            if child.beats and proc.is_alive() and now - child.last_beat > self.stall_s:
                child.last_exit = f"no heartbeat for {now - child.last_beat:.0f} s"
                proc.kill()
                proc.join(5)
            if not proc.is_alive():
                self._exited(child, now)

    def _exited(self, child: Child, now: float) -> None:
        proc = child.proc
        assert proc is not None
        code = proc.exitcode
        sig = -code if code is not None and code < 0 else None
        reason = child.last_exit or (
            f"killed by signal {sig}" if sig else f"exited with code {code}"
        )
        child.last_exit = ""
        self.emit(WorkerExited(worker=child.name, pid=proc.pid or 0, exit_code=None if sig else code,
                               signal=sig, reason=reason), child.name)  # fmt: skip
        if now - child.started_at >= HEALTHY_AFTER_S:
            child.attempt = 0
        child.attempt += 1
        child.restarts += 1
        backoff = min(BACKOFF_FIRST_S * 2 ** (child.attempt - 1), BACKOFF_MAX_S)
        child.restart_at = now + backoff
        self.emit(WorkerRestarted(worker=child.name, attempt=child.attempt, backoff_ms=int(backoff * 1000),
                                  reason=reason), child.name)  # fmt: skip
        log.warning("%s %s; restarting in %.1f s", child.name, reason, backoff)

    def run(self, poll_s: float = 0.2, *, shutdown: bool = True) -> None:
        """Supervise until `stop()` (or SIGTERM/SIGINT when run in the main thread)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
            signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        while not self.stopping.wait(poll_s):
            self.check()
        if shutdown:
            self.shutdown()

    def stop(self) -> None:
        self.stopping.set()

    def shutdown(self, timeout: float = 20.0) -> None:
        """SIGTERM the workers (they close their segments and report them), record their
        exits, then stop the appender last so nothing they say is lost."""
        self.stopping.set()
        workers = [c for c in self.children.values() if c.kind != "appender"]
        self._terminate(workers, timeout)
        for child in workers:
            if child.proc is not None:
                self.emit(WorkerExited(worker=child.name, pid=child.proc.pid or 0, exit_code=child.proc.exitcode,
                                       signal=None, reason="shutdown"), child.name)  # fmt: skip
        self.emitter.flush(timeout)
        self._terminate([c for c in self.children.values() if c.kind == "appender"], timeout)

    @staticmethod
    def _terminate(children: list[Child], timeout: float) -> None:
        live = [c.proc for c in children if c.proc is not None and c.proc.is_alive()]
        for proc in live:
            proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in live:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)

    def health(self) -> dict[str, Any]:
        """Each worker's state and last statistics. Safe from another thread (the health
        server): it reads a snapshot and replaces nothing."""
        now = time.monotonic()
        return {
            c.name: {
                "kind": c.kind,
                "state": "restarting" if c.restart_at is not None else "running",
                "pid": c.proc.pid if c.proc else None,
                "restarts": c.restarts,
                "attempt": c.attempt,
                "heartbeat_age_s": round(now - c.last_beat, 2) if c.beats else None,
                "stalled": c.beats and now - c.last_beat > self.stall_s,
                "stats": c.stats,
            }
            for c in list(self.children.values())
        }


def start_appender(
    log_dir: Path, timeout: float = 30.0, *, text_log_dir: Path | None = None
) -> BaseProcess:
    """The appender as a spawned child, returned once it listens."""
    ours, theirs = CTX.Pipe(duplex=False)
    args = (str(log_dir), str(text_log_dir or ""), theirs)
    proc = CTX.Process(target=processes.appender_main, args=args, name="appender")
    proc.start()
    theirs.close()
    if not ours.poll(timeout):
        proc.kill()
        raise RuntimeError(f"the appender did not start within {timeout:.0f} s")
    ours.recv_bytes()
    ours.close()
    return proc
