"""The web UI's test bench (real appender, real SQLite export, real uvicorn with TLS on
loopback, httpx clients), shared by tests/test_web_*.py, and its own checks: the
self-signed certificate is made once and reused."""

from __future__ import annotations

import json
import multiprocessing
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from nvr.clock import SimulatedClock, SystemClock
from nvr.domain.codec import decode_payload, propose
from nvr.domain.config import CameraSettings
from nvr.domain.envelope import Envelope
from nvr.domain.events import (
    CameraAdded,
    Event,
    MotionStarted,
    SegmentClosed,
    SegmentOpened,
    StreamConnected,
    ThumbnailWritten,
    UserCreated,
)
from nvr.domain.values import Role, camera_stream, user_stream
from nvr.eventlog.client import RemoteLog
from nvr.projections.catalog import all_projections
from nvr.projections.export import SqliteExport
from nvr.ui_web import tls
from nvr.ui_web.config import WebConfig, WebJob
from nvr.ui_web.passwords import Passwords
from nvr.ui_web.process import RunningWeb, serve, web_main
from nvr.ui_web.sessions import COOKIE
from tests.conftest import start_appender

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)  # argon2id, test-sized cost
PASSWORD = "correct horse battery"
CAMERAS = ("gate", "yard", "porch")
JPEG = b"\xff\xd8\xff\xe0 test thumbnail \xff\xd9"
S = 1_000_000_000


@dataclass
class WebEnv:
    """One log, its export and a running web UI; `clock` is the UI's simulated clock."""

    data: Path
    appender: subprocess.Popen[str]
    log: RemoteLog
    clock: SimulatedClock
    web: RunningWeb | None = None
    tokens: list[str] = field(default_factory=list)
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.web is not None
        return self.web.url

    def config(self, **changes: Any) -> WebConfig:
        base = WebConfig(
            log_dir=str(self.data / "log"), export_path=str(self.data / "vigil.sqlite"),
            storage_dir=str(self.data / "storage"), data_dir=str(self.data), port=0,
            argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1,
            login_burst=1000, sweep_s=3600.0,
        )  # fmt: skip
        return msgspec.structs.replace(base, **changes)

    def start(self, **changes: Any) -> RunningWeb:
        self.web = serve(self.config(**changes), clock=self.clock, events=self.log,
                         announce=self.tokens.append)  # fmt: skip
        return self.web

    def append(self, *items: tuple[Event, str]) -> int:
        return max(self.log.append([propose(e, stream=s, actor="test") for e, s in items]))

    def refresh_export(self) -> None:
        export = SqliteExport(self.data / "vigil.sqlite", all_projections())
        try:
            export.catch_up(self.log)
        finally:
            export.close()

    def events(self, tag: str, after: int = 0) -> list[tuple[Envelope, Any]]:
        return [(env, decode_payload(env)) for env in self.log.read(after + 1)
                if env.type == tag]  # fmt: skip

    def client(self, addr: str = "127.0.0.1", origin: bool = True) -> httpx.Client:
        transport = httpx.HTTPTransport(verify=False, local_address=addr)
        headers = {"Origin": self.url} if origin else {}
        c = httpx.Client(base_url=self.url, transport=transport, headers=headers, timeout=10)
        self.clients.append(c)
        return c

    def login(self, username: str, addr: str = "127.0.0.1") -> tuple[httpx.Client, str]:
        """A signed-in client and its CSRF token."""
        c = self.client(addr)
        r = c.post("/api/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return c, str(r.json()["csrf"])

    def ws(self, client: httpx.Client | None, origin: str | None = None) -> ClientConnection:
        """A WebSocket to /ws with `client`'s session cookie, sent from `origin`."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the bench's self-signed certificate
        headers = {}
        if client is not None:
            headers["Cookie"] = f"{COOKIE}={client.cookies.get(COOKIE)}"
        return connect(self.url.replace("https", "wss") + "/ws", ssl=ctx, proxy=None,
                       origin=Origin(origin or self.url), additional_headers=headers,
                       open_timeout=10)  # fmt: skip

    def stop(self) -> None:
        for c in self.clients:  # an idle keep-alive TLS connection would slow the shutdown
            c.close()
        if self.web is not None:
            self.web.stop()
            self.web = None
        self.log.close()
        self.appender.terminate()
        self.appender.wait(10)
        assert self.appender.stdout is not None
        self.appender.stdout.close()


def user(name: str, role: Role, cameras: tuple[str, ...] | None = None) -> tuple[Event, str]:
    event = UserCreated(
        username=name, role=role, password_hash=CHEAP.hash(PASSWORD), cameras=cameras
    )
    return event, user_stream(name)


def seed_footage(env: WebEnv) -> None:
    """Three cameras, one segment and one motion each; thumbnails for gate and yard."""
    t = SystemClock().now_ns() - 3600 * S
    items: list[tuple[Event, str]] = []
    for cam in CAMERAS:
        st = camera_stream(cam)
        settings = CameraSettings(name=cam.title(), main_url=f"rtsp://127.0.0.1/{cam}")
        items += [
            (CameraAdded(camera_id=cam, settings=settings), st),
            (StreamConnected(camera_id=cam, stream="main", codec="h264", width=640, height=360, fps=10.0), st),
            (SegmentOpened(camera_id=cam, segment_id=f"{cam}-0001", path=f"{cam}/a.mp4", start_ns=t), st),
            (MotionStarted(camera_id=cam, motion_id=f"m-{cam}-1", at_ns=t + S, confidence=0.7), st),
            (SegmentClosed(camera_id=cam, segment_id=f"{cam}-0001", path=f"{cam}/a.mp4", bytes=1000,
                           start_ns=t, end_ns=t + 60 * S, keyframes_ns=(t,), sha256="0" * 64), st),
        ]  # fmt: skip
        if cam != "porch":
            rel = f".thumbs/{cam}/{cam}-0001.jpg"
            (env.data / "storage" / rel).parent.mkdir(parents=True, exist_ok=True)
            (env.data / "storage" / rel).write_bytes(JPEG)
            items.append((ThumbnailWritten(camera_id=cam, subject="segment", subject_id=f"{cam}-0001",
                                           path=rel, bytes=len(JPEG), at_ns=t), st))  # fmt: skip
    env.append(*items)


def make_env(data: Path, *, users: bool = True) -> WebEnv:
    (data / "storage").mkdir(parents=True)
    proc = start_appender(data)
    env = WebEnv(data=data, appender=proc, log=RemoteLog(data / "log", deadline_s=10),
                 clock=SimulatedClock(SystemClock().now_ns()))  # fmt: skip
    if users:
        seed_footage(env)
        env.append(user("admin", "admin"), user("oper", "operator", ("gate",)),
                   user("viewer", "viewer", ("gate",)), user("allview", "viewer"))  # fmt: skip
        env.refresh_export()
    return env


@contextmanager
def running(data: Path, *, users: bool = True, **changes: Any) -> Iterator[WebEnv]:
    """A bench with a web UI started with `changes` to the test configuration."""
    env = make_env(data, users=users)
    try:
        env.start(**changes)
        yield env
    finally:
        env.stop()


def wait_until(check: Any, timeout: float = 10.0) -> Any:
    """Poll `check()` until it returns something truthy (a condition with a deadline)."""
    end = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)
    return result


def test_self_signed_certificate_is_made_once_and_reused(tmp_path: Path) -> None:
    now = SystemClock().now_ns()
    cert, key = tls.self_signed(tmp_path, "127.0.0.1", now)
    assert key.stat().st_mode & 0o777 == 0o600
    first = tls.fingerprint(cert)
    again, _ = tls.self_signed(tmp_path, "127.0.0.1", now)
    assert tls.fingerprint(again) == first
    # Near its end (fewer than 30 days left) it is made anew.
    later, _ = tls.self_signed(tmp_path, "127.0.0.1", now + 800 * 86400 * S)
    assert tls.fingerprint(later) != first


def test_web_main_runs_as_a_supervised_process_with_heartbeats(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    try:
        job = WebJob(**msgspec.structs.asdict(env.config()), text_log_dir=str(tmp_path / "logs"))
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=web_main, args=(msgspec.json.encode(job), theirs))
        proc.start()
        theirs.close()

        def listening() -> dict[str, int] | None:
            assert ours.poll(30), "no heartbeat"
            beat: dict[str, int] = json.loads(ours.recv_bytes())
            return beat if beat["port"] > 0 else None  # port 0: still starting

        beat = wait_until(listening, 30)
        assert beat["position"] == env.log.head() and beat["sessions"] == 0
        with httpx.Client(verify=False) as c:
            r = c.get(f"https://127.0.0.1:{beat['port']}/api/setup")
            assert r.json() == {"needed": False} and "strict-transport-security" in r.headers
        assert (tmp_path / "web" / "tls-cert.pem").exists()  # made at first start
        proc.terminate()  # SIGTERM: uvicorn stops cleanly
        proc.join(20)
        assert proc.exitcode == 0
    finally:
        env.stop()
