"""The projection runner process: keeps the SQLite export (`<data>/vigil.sqlite`) folded up
to the log's head, committing whenever it catches up, and reports its lag as heartbeats."""

from __future__ import annotations

import logging
import signal
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec

from nvr.eventlog.client import RemoteLog
from nvr.projections.catalog import all_projections
from nvr.projections.export import SqliteExport
from nvr.workers.logs import setup_logging

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
EXPORT_NAME = "vigil.sqlite"


def projector_main(
    log_dir: str, export_path: str, text_log_dir: str, heartbeat: Connection
) -> None:
    setup_logging(Path(text_log_dir) if text_log_dir else None, "projector")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    events = RemoteLog(log_dir)
    export = SqliteExport(export_path, all_projections())
    start = export.position
    follower = threading.Thread(
        target=export.follow, args=(events, stop), kwargs={"poll_s": 0.5}, name="follow"
    )
    follower.start()
    log.info("projections from position %d into %s", start, export_path)
    try:
        while not stop.wait(HEARTBEAT_S):
            head = events.head()
            stats = {"position": export.committed, "head": head, "lag": head - export.committed}
            heartbeat.send_bytes(msgspec.json.encode(stats))
    finally:
        stop.set()
        follower.join()
        export.close()
        events.close()
