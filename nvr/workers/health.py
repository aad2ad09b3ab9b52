"""The supervisor's health endpoint: `GET /health` (JSON) and `GET /metrics` (Prometheus
text), served on 127.0.0.1 from a daemon thread. Both read `Supervisor.health()`; nothing
from the request but its path is looked at. See docs/design/supervisor.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
Health = Callable[[], dict[str, Any]]  # Supervisor.health


def worker_up(w: dict[str, Any]) -> bool:
    return bool(w["state"] == "running" and not w.get("stalled"))


def summary(workers: dict[str, Any]) -> dict[str, Any]:
    """The /health document: `ok` when every worker runs and every stream is connected."""
    ok = all(worker_up(w) for w in workers.values()) and all(
        s.get("connected") for w in workers.values() for s in w["stats"].get("streams", {}).values()
    )
    return {"status": "ok" if ok else "degraded", "workers": workers}


class WorkerCollector(Collector):
    """Prometheus series built from one `health()` snapshot per scrape."""

    def __init__(self, health: Health) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        workers = self.health()
        up = GaugeMetricFamily(
            "vigil_worker_up", "1 if the worker runs and beats", labels=["worker", "kind"]
        )
        restarts = CounterMetricFamily(
            "vigil_worker_restarts", "Restarts since the supervisor started", labels=["worker"]
        )
        age = GaugeMetricFamily(
            "vigil_heartbeat_age_seconds", "Seconds since the last heartbeat", labels=["worker"]
        )
        cam = ["camera"]
        stream = ["camera", "stream"]
        connected = GaugeMetricFamily(
            "vigil_stream_connected", "1 if the stream is connected", labels=stream
        )
        fps_in = GaugeMetricFamily(
            "vigil_stream_fps_in", "Packets/s over the last heartbeat", labels=stream
        )
        fps_out = GaugeMetricFamily(
            "vigil_stream_fps_out", "Frames decoded/s over the last heartbeat", labels=stream
        )
        packets = CounterMetricFamily("vigil_stream_packets", "Packets received", labels=stream)
        analysed = CounterMetricFamily(
            "vigil_frames_analysed", "Frames fed to motion detection", labels=stream
        )
        reconnects = CounterMetricFamily("vigil_reconnects", "Stream reconnections", labels=stream)
        written = CounterMetricFamily(
            "vigil_bytes_written", "Bytes written to segments", labels=cam
        )
        recording = GaugeMetricFamily(
            "vigil_camera_recording", "1 while a recording is open", labels=cam
        )
        motion = GaugeMetricFamily("vigil_camera_motion", "1 while motion is seen", labels=cam)
        lag = GaugeMetricFamily(
            "vigil_projection_lag_events", "Events in the log not yet in the SQLite export"
        )
        free = GaugeMetricFamily(
            "vigil_storage_free_bytes", "Free bytes on the recordings volume (last check)"
        )
        deleted = CounterMetricFamily(
            "vigil_retention_deleted_segments", "Segments deleted by retention since start"
        )
        for name, w in workers.items():
            up.add_metric([name, w["kind"]], 1.0 if worker_up(w) else 0.0)
            restarts.add_metric([name], w["restarts"])
            if w["heartbeat_age_s"] is not None:
                age.add_metric([name], w["heartbeat_age_s"])
            stats = w["stats"]
            if w["kind"] == "projector" and "lag" in stats:
                lag.add_metric([], stats["lag"])
            if w["kind"] == "housekeeper" and "free_bytes" in stats:
                free.add_metric([], stats["free_bytes"])
                deleted.add_metric([], stats["deleted_total"])
            if "camera" not in stats:
                continue  # no heartbeat yet, or not a camera
            camera = str(stats["camera"])
            written.add_metric([camera], stats["bytes_written"])
            recording.add_metric([camera], 1.0 if stats["recording"] else 0.0)
            motion.add_metric([camera], 1.0 if stats["motion"] else 0.0)
            for kind, s in stats["streams"].items():
                labels = [camera, kind]
                connected.add_metric(labels, 1.0 if s["connected"] else 0.0)
                fps_in.add_metric(labels, s["fps_in"])
                fps_out.add_metric(labels, s["fps_out"])
                packets.add_metric(labels, s["packets"])
                analysed.add_metric(labels, s["frames_analysed"])
                reconnects.add_metric(labels, s["reconnects"])
        yield from (up, restarts, age, connected, fps_in, fps_out, packets, analysed, reconnects)
        yield from (written, recording, motion, lag, free, deleted)


class HealthServer:
    """`start()` binds 127.0.0.1:`port` (0 = any free port; `port` then tells which) and
    serves from a daemon thread until `close()`."""

    def __init__(self, health: Health, port: int = 0) -> None:
        self.health = health
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(WorkerCollector(health))
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health endpoint on http://127.0.0.1:%d/health", self.port)
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of `path`."""
        if path == "/health":
            return 200, "application/json", msgspec.json.encode(summary(self.health()))
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        return 404, "text/plain; charset=utf-8", b"not found\n"


def _handler(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                status, kind, body = server.respond(self.path.split("?", 1)[0])
            except Exception:  # a bad snapshot must not kill the endpoint
                log.exception("health request failed")
                status, kind, body = 500, "text/plain; charset=utf-8", b"internal error\n"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("health: " + format, *args)

    return Handler
