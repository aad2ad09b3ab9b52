"""A camera worker's ear for operators: it follows `recording.requested` events of its
camera in the log and switches manual and panic recording on and off in the recorder."""

from __future__ import annotations

import logging
import threading

from nvr.domain import camera
from nvr.domain.codec import decode_payload
from nvr.domain.events import RecordingRequested
from nvr.domain.values import camera_stream
from nvr.eventlog.port import CaughtUp, EventLog, subscribe
from nvr.workers.recorder import Recorder

log = logging.getLogger(__name__)
TAG = "recording.requested"


def follow_requests(
    log_: EventLog, camera_id: str, recorder: Recorder, stop: threading.Event
) -> None:
    """Apply what is already asked (a restarted worker resumes a manual recording), then
    every new request as it commits, until `stop` is set."""
    stream = camera_stream(camera_id)
    head = log_.head()
    state = camera.initial(camera_id)
    for env in log_.read_stream(stream):
        if env.position > head:
            break
        if env.type == TAG:
            state = camera.evolve(state, decode_payload(env))
    for kind in state.requested:
        recorder.request(kind, True)
    position = head
    while not stop.is_set():
        for item in subscribe(log_, position + 1, idle_timeout=0.5):
            if isinstance(item, CaughtUp):
                position = item.head
                if stop.is_set():
                    return
                continue
            position = item.position
            if item.stream == stream and item.type == TAG:
                request = decode_payload(item)
                assert isinstance(request, RecordingRequested)
                log.info("%s: %s recording %s by %s", camera_id, request.recording_type,
                         "on" if request.on else "off", item.actor)  # fmt: skip
                recorder.request(request.recording_type, request.on)
