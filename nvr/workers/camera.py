"""A camera worker: one camera's main stream recorded by remux, its sub stream decoded
for motion and live view, every change of state an event.

Two threads, one per stream, each reconnecting on its own with capped exponential
backoff. The main stream feeds the recorder (pre-roll buffer, segments); the sub stream
is decoded, published to the shared-memory ring and analysed for motion at `motion_fps`.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np

from nvr.clock import Clock, SystemClock
from nvr.domain.config import CameraSettings
from nvr.domain.events import (
    Event,
    MotionEnded,
    MotionStarted,
    StreamConnected,
    StreamLost,
    StreamRecovered,
)
from nvr.domain.values import StreamKind, camera_stream
from nvr.eventlog.port import EventLog
from nvr.shm import FrameWriter, RingBusy, ring_name
from nvr.workers.emitter import Emitter
from nvr.workers.ingest import StreamLost as Lost
from nvr.workers.ingest import StreamSource
from nvr.workers.motion import MotionDetector, MotionParams
from nvr.workers.recorder import Recorder
from nvr.workers.requests import follow_requests

log = logging.getLogger(__name__)
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 1.0  # a camera back from a reboot is recording again within ~1 s
_USERINFO = re.compile(r"://[^/@\s]+@")  # credentials in a URL quoted by an error message


def with_credentials(url: str, credentials: tuple[str, str] | None) -> str:
    """The URL to connect to; credentials are added here, never stored in events."""
    if not credentials or not credentials[0]:
        return url
    parts = urlsplit(url)
    user, password = (quote(c, safe="") for c in credentials)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def motion_params(settings: CameraSettings) -> MotionParams:
    return MotionParams(
        pixel_threshold=max(1, round(settings.motion_threshold * 255)),
        min_area=settings.motion_min_area,
        zones=settings.motion_zones,
        masks=settings.motion_masks,
    )


class StreamState:
    """Per-stream counters and loss bookkeeping (read by health reporting)."""

    def __init__(self) -> None:
        self.connected = False
        self.lost_at_ns: int | None = None
        self.attempts = 0
        self.packets = 0
        self.reconnects = 0
        self.last_error = ""
        self.decoded = 0  # frames decoded (sub stream)
        self.analysed = 0  # frames fed to motion detection (sub stream)
        self.seen = (0, 0, 0)  # (monotonic_ns, packets, decoded) at the last statistics()


class CameraWorker:
    def __init__(
        self,
        camera_id: str,
        settings: CameraSettings,
        *,
        root: Path,
        emitter: Emitter,
        segment_s: float = 10.0,
        read_timeout_s: float = 5.0,
        credentials: tuple[str, str] | None = None,
        clock: Clock | None = None,
        live_view: bool = True,
    ) -> None:
        self.camera_id, self.settings = camera_id, settings
        self.clock = clock or SystemClock()
        self.emitter = emitter
        self.read_timeout_s = read_timeout_s
        self.credentials = credentials
        self.live_view = live_view
        self.recorder = Recorder(
            camera_id,
            root,
            mode=settings.recording_mode,
            schedule=settings.schedule,
            schedule_tz=settings.schedule_tz,
            pre_roll_s=settings.pre_roll_s,
            post_roll_s=settings.post_roll_s,
            segment_s=segment_s,
            emit=self.emit,
        )
        self.detector = MotionDetector(camera_id, motion_params(settings))
        self.streams: dict[StreamKind, StreamState] = {"main": StreamState(), "sub": StreamState()}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._rings: dict[StreamKind, FrameWriter] = {}

    def emit(self, event: Event) -> None:
        self.emitter.emit(event, camera_stream(self.camera_id))

    def start(self, requests_from: EventLog | None = None) -> None:
        """Start both streams; with `requests_from`, follow operators' manual and panic
        recording requests for this camera in that log."""
        kinds: list[StreamKind] = ["main", "sub"] if self.settings.sub_url else ["main"]
        for kind in kinds:
            t = threading.Thread(
                target=self._run, args=(kind,), name=f"{self.camera_id}-{kind}", daemon=True
            )
            t.start()
            self._threads.append(t)
        if requests_from is not None:
            t = threading.Thread(
                target=follow_requests, args=(requests_from, self.camera_id, self.recorder, self._stop),
                name=f"{self.camera_id}-requests", daemon=True,
            )  # fmt: skip
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both streams, close the open segment cleanly and report it."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        self.recorder.close(self.clock.now_ns(), "shutdown")
        for ring in self._rings.values():
            ring.close()

    def statistics(self) -> dict[str, Any]:
        """Counters for the heartbeat. Rates (`fps_in` packets/s, `fps_out` frames decoded/s)
        are over the time since the previous call, i.e. one heartbeat interval."""
        now = self.clock.monotonic_ns()
        streams: dict[str, dict[str, Any]] = {}
        for kind, s in self.streams.items():
            then, packets, decoded = s.seen
            s.seen = (now, s.packets, s.decoded)
            span_s = (now - then) / 1e9 if then else 0.0
            lost = "lost" if s.lost_at_ns is not None else "connecting"
            streams[kind] = {
                "state": "connected" if s.connected else lost,
                "connected": s.connected,
                "fps_in": round((s.packets - packets) / span_s, 2) if span_s > 0 else 0.0,
                "fps_out": round((s.decoded - decoded) / span_s, 2) if span_s > 0 else 0.0,
                "packets": s.packets,
                "frames_decoded": s.decoded,
                "frames_analysed": s.analysed,
                "reconnects": s.reconnects,
                "last_error": _USERINFO.sub("://***@", s.last_error),
            }
        return {
            "camera": self.camera_id,
            "streams": streams,
            "bytes_written": self.recorder.bytes_written,
            "recording": self.recorder.recording,
            "motion": self.detector.active,
        }

    # -- one stream ---------------------------------------------------------------------

    def _run(self, kind: StreamKind) -> None:
        state = self.streams[kind]
        url = self.settings.main_url if kind == "main" else self.settings.sub_url
        delay = BACKOFF_FIRST_S
        while not self._stop.is_set():
            state.attempts += 1
            try:
                source = StreamSource(
                    with_credentials(url, self.credentials), timeout_s=self.read_timeout_s
                )
            except Lost as exc:
                self._lost(kind, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_FIRST_S
            if self._stop.is_set():  # connected while shutting down: say nothing
                source.close()
                return
            self._connected(kind, source)
            try:
                if kind == "main":
                    self._record(source)
                else:
                    self._analyse(source)
            except Lost as exc:
                self._lost(kind, exc)
            except Exception as exc:  # a bug or a broken file must not end the worker
                log.exception("%s %s stream failed", self.camera_id, kind)
                self._lost(kind, Lost("error", f"{type(exc).__name__}: {exc}"))
                self._stop.wait(delay)
            finally:
                source.close()
            if kind == "main":
                reason = "shutdown" if self._stop.is_set() else state.last_error or "stopped"
                self.recorder.stream_ended(self.clock.now_ns(), reason)

    def _connected(self, kind: StreamKind, source: StreamSource) -> None:
        state = self.streams[kind]
        info = source.info
        now = self.clock.now_ns()
        if state.lost_at_ns is not None:
            self.emit(
                StreamRecovered(
                    camera_id=self.camera_id,
                    stream=kind,
                    outage_ns=now - state.lost_at_ns,
                    attempts=state.attempts,
                )
            )
            state.reconnects += 1
        self.emit(
            StreamConnected(
                camera_id=self.camera_id,
                stream=kind,
                codec=info.codec,
                width=info.width,
                height=info.height,
                fps=info.fps,
            )
        )
        state.connected, state.lost_at_ns, state.attempts = True, None, 0

    def _lost(self, kind: StreamKind, exc: Lost) -> None:
        state = self.streams[kind]
        state.last_error = str(exc)
        if self._stop.is_set():
            return
        if state.lost_at_ns is None:  # report a loss once, not every failed retry
            state.lost_at_ns = self.clock.now_ns()
            self.emit(
                StreamLost(
                    camera_id=self.camera_id, stream=kind, reason=exc.reason, detail=exc.detail
                )
            )
        state.connected = False

    def _record(self, source: StreamSource) -> None:
        state = self.streams["main"]
        started = False
        decoding = False  # the main stream is decoded only while a reader asks (full view)
        ring = (
            self._ring("main", source.info.width, source.info.height, slots=2)
            if self.live_view
            else None
        )
        for packet in source.packets():
            if self._stop.is_set():
                return
            if not started:
                self.recorder.stream_started(source.stream, self.clock.now_ns(), packet.pts or 0)
                started = True
            state.packets += 1
            self.recorder.packet(packet)
            if ring is not None and ring.wanted(self.clock.monotonic_ns()):
                if decoding or packet.is_keyframe:  # (re)start decoding at a keyframe
                    decoding = True
                    self._decode_main(packet, ring)
            else:
                decoding = False

    def _decode_main(self, packet: Any, ring: FrameWriter) -> None:
        try:
            frames = packet.decode()
        except Exception:  # a damaged packet: the next keyframe repairs the picture
            return
        for frame in frames:
            self.streams["main"].decoded += 1
            if frame.format.name == "yuv420p":
                ring.write_planes(frame.planes, self.clock.now_ns(), frame.pts)

    def _analyse(self, source: StreamSource) -> None:
        state = self.streams["sub"]
        every_ns = int(1e9 / max(self.settings.motion_fps, 0.1))
        next_ns = 0
        for packet in source.packets():
            if self._stop.is_set():
                return
            state.packets += 1
            for frame in packet.decode():
                state.decoded += 1
                now = self.clock.now_ns()
                if self.live_view:
                    self._publish(frame, now)
                if now < next_ns:
                    continue
                next_ns = now + every_ns
                state.analysed += 1
                y = frame.planes[0]
                grey = np.frombuffer(memoryview(y), np.uint8).reshape(frame.height, y.line_size)[
                    :, : frame.width
                ]
                for event in self.detector.feed(grey, now):
                    self.recorder.motion(isinstance(event, MotionStarted), event.at_ns)  # type: ignore[attr-defined]
                    assert isinstance(event, MotionStarted | MotionEnded)
                    self.emit(event)

    def _publish(self, frame: Any, now: int) -> None:
        ring = self._ring("sub", frame.width, frame.height) if self.live_view else None
        if ring is not None and frame.format.name == "yuv420p":
            ring.write_planes(frame.planes, now, frame.pts)

    def _ring(
        self, kind: StreamKind, width: int, height: int, slots: int = 4
    ) -> FrameWriter | None:
        """The stream's live ring, (re)made when the picture size changes."""
        ring = self._rings.get(kind)
        if ring is not None and (ring.geometry.width, ring.geometry.height) == (width, height):
            return ring
        if ring is not None:
            ring.close()
        try:
            ring = self._rings[kind] = FrameWriter.create(
                ring_name(self.camera_id, kind), width, height, "i420", slots=slots
            )
        except RingBusy:
            log.warning("another writer owns the %s live ring of %s", kind, self.camera_id)
            self._rings.pop(kind, None)
            self.live_view = False  # do not retry on every frame
            return None
        return ring
