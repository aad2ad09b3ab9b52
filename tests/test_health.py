"""Structured logs and the supervisor's health endpoint: JSON log lines with their fields,
daily rotation file names, and /health and /metrics served for a real camera worker
recording a simulated camera."""

from __future__ import annotations

import http.client
import json
import logging
import logging.handlers
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nvr.domain.config import parse_config
from nvr.run import System
from nvr.sim.fleet import Fleet
from nvr.workers.health import HealthServer, summary
from nvr.workers.logs import BACKUP_DAYS, log_file, setup_logging, stop_logging

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
def root_level() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    stop_logging()
    logging.getLogger().setLevel(level)


def get(port: int, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


# -- logs ---------------------------------------------------------------------------------


def test_log_lines_are_json_with_the_fields(tmp_path: Path, root_level: None) -> None:
    setup_logging(tmp_path, "camera-gate")
    log = logging.getLogger("nvr.test")
    log.info("stream %s connected", "main", extra={"camera_id": "gate", "fps": 25.0})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    log.debug("not at INFO")
    stop_logging()
    lines = log_file(tmp_path, "camera-gate").read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert RFC3339_MS.match(first["time"]), first["time"]
    assert first["level"] == "INFO" and first["process"] == "camera-gate"
    assert first["logger"] == "nvr.test" and first["message"] == "stream main connected"
    assert first["camera_id"] == "gate" and first["fps"] == 25.0
    assert "exception" not in first
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]


def test_each_process_has_its_own_file_rotated_daily(tmp_path: Path, root_level: None) -> None:
    setup_logging(tmp_path, "camera-../evil")  # the name cannot leave the directory
    path = log_file(tmp_path, "camera-../evil")
    assert path.parent == tmp_path and path.name == "vigil-camera-.._evil.log"
    (handler,) = (
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.handlers.TimedRotatingFileHandler)
    )
    assert (handler.when, handler.utc, handler.backupCount) == ("MIDNIGHT", True, BACKUP_DAYS)
    # Backups older than the 14 kept are deleted at the next rollover.
    for day in range(1, 21):
        (tmp_path / f"{path.name}.2020-01-{day:02d}").write_text("old\n")
    logging.getLogger("nvr.test").warning("before midnight")
    handler.doRollover()
    logging.getLogger("nvr.test").warning("after midnight")
    stop_logging()
    backups = sorted(p.name for p in tmp_path.glob(f"{path.name}.*"))
    assert len(backups) == BACKUP_DAYS
    newest = backups[-1]
    assert re.fullmatch(re.escape(path.name) + r"\.\d{4}-\d{2}-\d{2}", newest)
    assert "before midnight" in (tmp_path / newest).read_text()
    assert "after midnight" in path.read_text()


# -- health -------------------------------------------------------------------------------


def test_degraded_when_a_stream_is_lost_and_unknown_paths_404() -> None:
    main = {"connected": False}
    stats = {"camera": "gate", "streams": {"main": main}}
    workers: dict[str, Any] = {
        "camera-gate": {"kind": "camera", "state": "running", "stalled": False, "stats": stats}
    }
    assert summary(workers)["status"] == "degraded"
    main["connected"] = True
    assert summary(workers)["status"] == "ok"
    server = HealthServer(lambda: {}).start()
    try:
        for path in ("/", "/nope", "/health/../metrics", "/metrics/x"):
            assert get(server.port, path)[0] == 404
        status, kind, body = get(server.port, "/health?verbose=1")
        assert status == 200 and kind == "application/json"
        assert json.loads(body) == {"status": "ok", "workers": {}}
    finally:
        server.close()


def config_text(fleet: Fleet) -> str:
    return f"""
[system]
storage_dir = "recordings"
data_dir = "data"
log_dir = "logs"
segment_length_s = 2
health_port = 0

[[cameras]]
id = "gate"
main_url = "{fleet.url(0, "main", credentials=False)}"
sub_url = "{fleet.url(0, "sub", credentials=False)}"
recording_mode = "continuous"
"""


def wait_health(port: int, ready: Any, timeout: float) -> dict[str, Any]:
    """The /health document once `ready(doc)` holds (polls the endpoint)."""
    deadline = time.monotonic() + timeout
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, _, body = get(port, "/health")
        assert status == 200
        doc = json.loads(body)
        if ready(doc):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"/health not ready within {timeout} s: {doc}")


def recording(doc: dict[str, Any]) -> bool:
    stats = doc["workers"].get("camera-gate", {}).get("stats", {})
    streams = stats.get("streams", {})
    return (
        doc["status"] == "ok"
        and all(streams.get(k, {}).get("fps_in", 0) > 0 for k in ("main", "sub"))
        # The sub stream is decoded from its first keyframe on: wait for a heartbeat that
        # has counted decoded frames, not only packets.
        and streams.get("sub", {}).get("fps_out", 0) > 0
        and stats.get("bytes_written", 0) > 0
    )


def test_health_and_metrics_of_a_running_camera_worker(fleet: Fleet, tmp_path: Path) -> None:
    text = config_text(fleet)
    system = System(
        parse_config(text), base=tmp_path, source="t.toml", fmt="toml", raw=text.encode()
    )
    system.start()
    runner = threading.Thread(target=system.supervisor.run, kwargs={"shutdown": False})
    runner.start()
    try:
        assert system.health is not None
        port = system.health.port
        assert port > 0
        doc = wait_health(port, recording, 30)
        worker = doc["workers"]["camera-gate"]
        assert worker["kind"] == "camera" and worker["state"] == "running"
        assert worker["pid"] == system.supervisor.children["camera-gate"].proc.pid  # type: ignore[union-attr]
        assert worker["restarts"] == 0 and worker["heartbeat_age_s"] < 5
        main, sub = worker["stats"]["streams"]["main"], worker["stats"]["streams"]["sub"]
        assert main["state"] == "connected" and main["reconnects"] == 0 and main["last_error"] == ""
        assert sub["fps_out"] > 0 and sub["frames_decoded"] > 0
        assert doc["workers"]["appender"]["kind"] == "appender"

        status, kind, body = get(port, "/metrics")
        assert status == 200 and kind.startswith("text/plain")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        gate = (("camera", "gate"),)
        main_l = (("camera", "gate"), ("stream", "main"))
        assert samples[("vigil_worker_up", (("kind", "camera"), ("worker", "camera-gate")))] == 1
        assert samples[("vigil_worker_up", (("kind", "appender"), ("worker", "appender")))] == 1
        assert samples[("vigil_worker_restarts_total", (("worker", "camera-gate"),))] == 0
        assert samples[("vigil_heartbeat_age_seconds", (("worker", "camera-gate"),))] < 5
        assert samples[("vigil_stream_connected", main_l)] == 1
        assert samples[("vigil_stream_fps_in", main_l)] > 0
        assert samples[("vigil_reconnects_total", main_l)] == 0
        assert samples[("vigil_bytes_written_total", gate)] > 0
        assert get(port, "/favicon.ico")[0] == 404
    finally:
        system.supervisor.stop()
        runner.join(30)
        system.close()
    with pytest.raises(OSError):
        get(port, "/health")  # closed with the system
    logs = {p.name for p in (tmp_path / "logs").iterdir()}
    assert {"vigil-supervisor.log", "vigil-appender.log", "vigil-camera-gate.log"} <= logs
    for line in (tmp_path / "logs" / "vigil-supervisor.log").read_text().splitlines():
        assert json.loads(line)["process"] == "supervisor"


def test_a_health_port_in_use_fails_the_start_before_any_camera(tmp_path: Path) -> None:
    """Guards against a start that leaves cameras recording with no way to see them."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = f"""
[system]
health_port = {port}

[[cameras]]
id = "gate"
main_url = "rtsp://127.0.0.1:9/main"
recording_mode = "continuous"
"""
        config = parse_config(text)
        system = System(config, base=tmp_path, source="t.toml", fmt="toml", raw=text.encode())
        with pytest.raises(OSError):
            system.start()
    assert not any(c.kind == "camera" for c in system.supervisor.children.values())
    assert not system.appender.is_alive()
