"""`nvr run`: the whole recorder from one config (appender, camera workers, supervisor)."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Literal

from nvr.domain.config import Config
from nvr.domain.config_changes import camera_settings, credentials_for, sync_events
from nvr.eventlog.client import RemoteLog
from nvr.projections.config import ConfigProjection
from nvr.projections.runtime import fold
from nvr.workers.emitter import Emitter
from nvr.workers.health import HealthServer
from nvr.workers.logs import setup_logging, stop_logging
from nvr.workers.processes import CameraJob
from nvr.workers.supervisor import Supervisor, start_appender

log = logging.getLogger(__name__)


class System:
    """A running recorder. `start()` returns once every process is up."""

    def __init__(self, config: Config, *, base: Path, source: str, fmt: Literal["toml", "json"], raw: bytes) -> None:
        self.config = config
        system = config.system
        self.data_dir = (base / system.data_dir).resolve()
        self.storage_dir = (base / system.storage_dir).resolve()
        self.log_dir = self.data_dir / "log"  # the event log
        self.text_log_dir = (base / system.log_dir).resolve()  # JSON logs of every process
        self.health: HealthServer | None = None
        self.source, self.fmt, self.sha256 = source, fmt, hashlib.sha256(raw).hexdigest()

    def start(self) -> None:
        setup_logging(self.text_log_dir, "supervisor")
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.appender = start_appender(self.log_dir, text_log_dir=self.text_log_dir)
        self.log = RemoteLog(self.log_dir)
        self.emitter = Emitter(self.log, actor="supervisor")
        self.supervisor = Supervisor(self.emitter)
        appender = self.supervisor.add_appender(self.log_dir, self.text_log_dir)
        appender.proc = self.appender
        appender.started_at = appender.last_beat = time.monotonic()
        if self.config.system.health_port is not None:
            try:  # bind before any camera starts: a port in use fails the start cleanly
                self.health = HealthServer(self.supervisor.health, self.config.system.health_port)
            except OSError:
                self.supervisor.shutdown()
                self.emitter.close()
                self.log.close()
                stop_logging()
                raise
        self._record_config()
        for camera_id, settings in camera_settings(self.config).items():
            cred = credentials_for(self.config, camera_id)
            job = CameraJob(
                camera_id=camera_id, settings=settings, storage_root=str(self.storage_dir),
                log_dir=str(self.log_dir), segment_s=self.config.system.segment_length_s,
                credentials=(cred.username, cred.password) if cred else None,
                text_log_dir=str(self.text_log_dir),
            )  # fmt: skip
            if settings.recording_mode != "off" or settings.sub_url:
                self.supervisor.add_camera(job)
        if self.health is not None:
            self.health.start()

    def _record_config(self) -> None:
        """Append what changed since the configuration the log last accepted."""
        proj = ConfigProjection()
        view, _ = fold(proj, proj.initial(), self.log.read())
        changes = sync_events(
            view.cameras, view.sha256, self.config, source=self.source, fmt=self.fmt, sha256=self.sha256
        )
        for stream, event in changes:
            self.emitter.emit(event, stream)
        self.emitter.flush(30)

    def run(self) -> None:
        """Supervise until SIGTERM/SIGINT, then stop everything cleanly."""
        self.supervisor.run(shutdown=False)
        self.close()

    def close(self) -> None:
        if self.health is not None:
            self.health.close()
        self.supervisor.shutdown()
        self.emitter.close()
        self.log.close()
        stop_logging()
