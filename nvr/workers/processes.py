"""Entry points of the processes the supervisor starts (spawn start method: each opens
its own log handles after it starts, never inheriting them)."""

from __future__ import annotations

import signal
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec

from nvr.domain.config import CameraSettings
from nvr.domain.values import camera_stream
from nvr.eventlog.client import RemoteLog
from nvr.workers.camera import CameraWorker
from nvr.workers.emitter import Emitter
from nvr.workers.logs import setup_logging
from nvr.workers.salvage import salvage

HEARTBEAT_S = 1.0


class CameraJob(msgspec.Struct, frozen=True, kw_only=True):
    camera_id: str
    settings: CameraSettings
    storage_root: str
    log_dir: str
    segment_s: float
    credentials: tuple[str, str] | None = None
    read_timeout_s: float = 5.0
    text_log_dir: str = ""  # JSON logs (config `system.log_dir`); "" = stderr only


def camera_main(job_bytes: bytes, heartbeat: Connection) -> None:
    """Run one camera until SIGTERM; report statistics on `heartbeat` every second."""
    job = msgspec.msgpack.decode(job_bytes, type=CameraJob)
    setup_logging(Path(job.text_log_dir) if job.text_log_dir else None, f"camera-{job.camera_id}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log = RemoteLog(job.log_dir)
    emitter = Emitter(log, actor=f"worker/camera-{job.camera_id}")
    # A segment the previous run of this worker left open (kill -9) is closed first.
    stream = camera_stream(job.camera_id)
    salvage(log, Path(job.storage_root), job.camera_id, lambda e: emitter.emit(e, stream))
    worker = CameraWorker(
        job.camera_id, job.settings, root=Path(job.storage_root), emitter=emitter,
        segment_s=job.segment_s, read_timeout_s=job.read_timeout_s, credentials=job.credentials,
    )  # fmt: skip
    worker.start(requests_from=log)
    try:
        while not stop.wait(HEARTBEAT_S):
            heartbeat.send_bytes(msgspec.json.encode(worker.statistics()))
    finally:
        worker.stop()  # closes the open segment cleanly and reports it
        emitter.flush(30)
        emitter.close()
        log.close()


def appender_main(log_dir: str, text_log_dir: str, ready: Connection) -> None:
    """Run the event-log appender in `log_dir`; JSON logs go to `text_log_dir` ("" = stderr)."""
    from nvr.eventlog.appender import run

    setup_logging(Path(text_log_dir) if text_log_dir else None, "appender")
    run(log_dir, ready=lambda: ready.send_bytes(b"ready"))
