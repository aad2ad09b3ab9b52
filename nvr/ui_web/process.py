"""Running the web UI: `web_main` as a supervised process (JSON heartbeat every second,
stops on SIGTERM), and `serve` in a thread of the caller, for tests and tools."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec
import uvicorn
from starlette.applications import Starlette

from nvr.clock import Clock, SystemClock
from nvr.eventlog.port import EventLog
from nvr.ui_web import tls
from nvr.ui_web.app import create_app, print_setup_token
from nvr.ui_web.config import WebConfig, WebJob
from nvr.ui_web.state import Web

log = logging.getLogger(__name__)
HEARTBEAT_S = 1.0


def server_config(app: Starlette, config: WebConfig, clock: Clock) -> uvicorn.Config:
    cert = key = None
    if config.tls:
        if config.cert_file and config.key_file:
            cert, key = config.cert_file, config.key_file
        else:
            made = tls.self_signed(Path(config.data_dir), config.host, clock.now_ns())
            cert, key = str(made[0]), str(made[1])
            log.info("web: TLS certificate %s, SHA-256 %s", cert, tls.fingerprint(made[0]))
    return uvicorn.Config(
        app, host=config.host, port=config.port, ssl_certfile=cert, ssl_keyfile=key,
        ws="websockets-sansio", ws_max_size=16 * 1024, ws_per_message_deflate=False,
        proxy_headers=False,  # the peer address is the client; see state.client_addr
        server_header=False, log_config=None, access_log=False, lifespan="on",
        timeout_keep_alive=5, limit_concurrency=512,
        # An idle TLS keep-alive connection could hold a shutdown for the SSL close timeout.
        timeout_graceful_shutdown=3,
    )  # fmt: skip


def statistics(web: Web, port: int) -> dict[str, int]:
    with web.follower.lock:
        open_sessions = len(web.directory.sessions)
        position = web.directory.position
    return {"port": port, "position": position, "sessions": open_sessions, "sockets": len(web.hub),
            "rate_limited": web.api_buckets.refused + web.login_buckets.refused}  # fmt: skip


def bound_port(server: uvicorn.Server) -> int:
    for s in server.servers:
        for sock in s.sockets:
            return int(sock.getsockname()[1])
    return 0


def _logging(text_log_dir: str) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if text_log_dir:
        Path(text_log_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.TimedRotatingFileHandler(
            Path(text_log_dir) / "vigil-web.log", when="midnight", utc=True, backupCount=14,
            encoding="utf-8"))  # fmt: skip
    fmt = "%(asctime)s %(levelname)s web %(name)s: %(message)s"
    logging.basicConfig(level=logging.INFO, handlers=handlers, format=fmt)


def web_main(job_bytes: bytes, heartbeat: Connection) -> None:
    """The supervised process: serves until SIGTERM or SIGINT (uvicorn's handlers)."""
    job = msgspec.json.decode(job_bytes, type=WebJob)
    _logging(job.text_log_dir)
    clock = SystemClock()
    app = create_app(job, clock=clock)
    server = uvicorn.Server(server_config(app, job, clock))
    stop = threading.Event()

    web: Web = app.state.web

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            if web.follower.failed is not None:
                server.should_exit = True  # crash-only: the supervisor starts a fresh one
                continue
            # Beats start before the server listens: catching up with a long log is alive.
            port = bound_port(server) if server.started else 0
            heartbeat.send_bytes(msgspec.json.encode(statistics(web, port)))

    # uvicorn installs its own handlers while serving and re-raises the signal when it
    # is done; these take that second delivery (and any before), so a stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: setattr(server, "should_exit", True))
    beater = threading.Thread(target=beat, name="heartbeat", daemon=True)
    beater.start()
    try:
        server.run()
    finally:
        stop.set()
        beater.join()
    if web.follower.failed is not None:
        raise SystemExit(1)


class RunningWeb:
    """A web UI served from a thread of this process; `stop()` shuts it down."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, web: Web, tls_on: bool
    ) -> None:
        self.server, self.thread, self.web = server, thread, web
        self.port = bound_port(server)
        self.url = f"{'https' if tls_on else 'http'}://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)


def serve(
    config: WebConfig,
    *,
    clock: Clock | None = None,
    events: EventLog | None = None,
    announce: Callable[[str], None] = print_setup_token,
    start_timeout: float = 20.0,
) -> RunningWeb:
    """Start the app in a new thread with its own event loop; returns once it listens
    (port 0 picks a free port: see `RunningWeb.port`)."""
    clock = clock or SystemClock()
    app = create_app(config, clock=clock, events=events, announce=announce)
    server = uvicorn.Server(server_config(app, config, clock))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="web-serve")
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            raise RuntimeError("the web UI did not start")
        time.sleep(0.01)  # waits for a condition with a deadline, not for time to pass
    return RunningWeb(server, thread, app.state.web, config.tls)
