"""`nvr run`: the whole recorder from one config (appender, camera workers, supervisor)."""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Literal

import msgspec

from nvr.domain.config import Config
from nvr.domain.config_changes import (
    camera_settings,
    config_events,
    credentials_for,
    retention_policy,
    sync_events,
)
from nvr.eventlog.client import RemoteLog
from nvr.projections.config import ConfigProjection
from nvr.projections.runtime import fold
from nvr.workers.configfile import ConfigFile
from nvr.workers.emitter import Emitter
from nvr.workers.health import HealthServer
from nvr.workers.housekeeper import HousekeeperJob
from nvr.workers.logs import setup_logging, stop_logging
from nvr.workers.processes import CameraJob
from nvr.workers.projector import EXPORT_NAME
from nvr.workers.supervisor import Supervisor, start_appender

log = logging.getLogger(__name__)


class System:
    """A running recorder. `start()` returns once every process is up."""

    def __init__(
        self, config: Config, *, base: Path, source: str, fmt: Literal["toml", "json"], raw: bytes
    ) -> None:
        self.config = config
        system = config.system
        self.data_dir = (base / system.data_dir).resolve()
        self.storage_dir = (base / system.storage_dir).resolve()
        self.log_dir = self.data_dir / "log"  # the event log
        self.text_log_dir = (base / system.log_dir).resolve()  # JSON logs of every process
        self.health: HealthServer | None = None
        self._config_mtime = 0
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
        self.export_path = self.data_dir / EXPORT_NAME
        self.supervisor.add_projector(self.log_dir, self.export_path, self.text_log_dir)
        self.supervisor.add_housekeeper(self._housekeeping(self.config))
        if self.config.system.web_port is not None:
            self._start_web()
        for job in self._jobs(self.config).values():
            self.supervisor.add_camera(job)
        if self.health is not None:
            self.health.start()

    def _start_web(self) -> None:
        from nvr.ui_web.config import WebJob
        from nvr.ui_web.process import web_main

        system = self.config.system
        job = WebJob(
            log_dir=str(self.log_dir), export_path=str(self.export_path),
            storage_dir=str(self.storage_dir), data_dir=str(self.data_dir),
            host=system.web_host, port=system.web_port or 0, tls=system.web_tls,
            cert_file=system.web_cert_file, key_file=system.web_key_file,
            text_log_dir=str(self.text_log_dir),
        )  # fmt: skip
        self.supervisor.add_process("web", "web", web_main, (msgspec.json.encode(job),))

    def _housekeeping(self, config: Config) -> HousekeeperJob:
        return HousekeeperJob(
            log_dir=str(self.log_dir), export_path=str(self.export_path),
            storage_root=str(self.storage_dir), policy=retention_policy(config),
            source=self.source, interval_s=config.system.storage_check_s,
            text_log_dir=str(self.text_log_dir),
        )  # fmt: skip

    def _jobs(self, config: Config) -> dict[str, CameraJob]:
        """What each camera process is given (its credentials included), by camera id."""
        jobs = {}
        for camera_id, settings in camera_settings(config).items():
            cred = credentials_for(config, camera_id)
            if settings.recording_mode != "off" or settings.sub_url:
                jobs[camera_id] = CameraJob(
                    camera_id=camera_id, settings=settings, storage_root=str(self.storage_dir),
                    log_dir=str(self.log_dir), segment_s=config.system.segment_length_s,
                    credentials=(cred.username, cred.password) if cred else None,
                    text_log_dir=str(self.text_log_dir),
                )  # fmt: skip
        return jobs

    def apply(self, new: Config, *, source: str, sha256: str) -> list[str]:
        """Switch to an accepted new configuration: record the change as events, then
        restart exactly the cameras whose job changed, add new ones, stop removed ones.
        Returns the ids of the cameras touched. (System settings apply at the next start.)"""
        changes = config_events(self.config, new, source=source, fmt=self.fmt, sha256=sha256)
        for stream, event in changes:
            self.emitter.emit(event, stream)
        self.emitter.flush(30)
        old_jobs, new_jobs = self._jobs(self.config), self._jobs(new)
        touched = sorted(
            cid
            for cid in old_jobs.keys() | new_jobs.keys()
            if old_jobs.get(cid) != new_jobs.get(cid)
        )
        for cid in touched:
            if cid in old_jobs:
                self.supervisor.remove(f"camera-{cid}", "configuration changed")
            if cid in new_jobs:
                self.supervisor.add_camera(new_jobs[cid])
        if retention_policy(new) != retention_policy(self.config):
            self.supervisor.remove("housekeeper", "retention policy changed")
            self.supervisor.add_housekeeper(self._housekeeping(new))
        self.config, self.sha256 = new, sha256
        return touched

    def watch(self, file: ConfigFile) -> None:
        """Apply `file` whenever it changes on disk and checks out; a bad edit is refused
        with its reasons in the log and the running configuration stays."""
        try:
            mtime = file.path.stat().st_mtime_ns
        except OSError:
            return
        if mtime == self._config_mtime:
            return
        self._config_mtime = mtime
        error = file.reload()
        if error is not None:
            log.error("configuration %s refused, keeping the running one: %s", file.path, error)
            return
        if file.current is not None and file.current != self.config:
            touched = self.apply(file.current, source=str(file.path), sha256=file.sha256)
            log.info("configuration %s applied; cameras restarted: %s", file.path, touched)

    def _record_config(self) -> None:
        """Append what changed since the configuration the log last accepted."""
        proj = ConfigProjection()
        view, _ = fold(proj, proj.initial(), self.log.read())
        changes = sync_events(
            view.cameras,
            view.sha256,
            self.config,
            source=self.source,
            fmt=self.fmt,
            sha256=self.sha256,
        )
        for stream, event in changes:
            self.emitter.emit(event, stream)
        self.emitter.flush(30)

    def run(
        self, file: ConfigFile | None = None, poll_s: float = 0.2, reload_s: float = 2.0
    ) -> None:
        """Supervise until SIGTERM/SIGINT (or `supervisor.stop()`), applying changes to
        `file` within `reload_s`, then stop everything cleanly."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.supervisor.stop())
            signal.signal(signal.SIGINT, lambda *_: self.supervisor.stop())
        next_reload = time.monotonic() + reload_s
        while not self.supervisor.stopping.wait(poll_s):
            self.supervisor.check()
            if file is not None and time.monotonic() >= next_reload:
                next_reload = time.monotonic() + reload_s
                self.watch(file)
        self.close()

    def close(self) -> None:
        if self.health is not None:
            self.health.close()
        self.supervisor.shutdown()
        self.emitter.close()
        self.log.close()
        stop_logging()
