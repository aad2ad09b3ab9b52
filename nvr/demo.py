"""`nvr demo`: four simulated cameras on loopback, recorded by the full system with the
embedded default configuration (no file needed), with a status line every few seconds."""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import msgspec

from nvr.domain.codec import decode_payload
from nvr.domain.config import Config, ZoneEntry
from nvr.domain.config_default import DEFAULT_TOML, default_config
from nvr.domain.events import SegmentClosed
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.verify import verify_log
from nvr.run import System
from nvr.sim.fleet import Fleet
from nvr.sim.scene import BASE_HEIGHT, STAMP_BOX

CAMERAS = 4


def run_demo(
    data: Path | None, *, seconds: float | None = None, keep: bool = False, web_port: int = 8443
) -> int:
    own = data is None
    root = Path(tempfile.mkdtemp(prefix="vigil-demo-")) if data is None else data
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Fleet(CAMERAS) as fleet:
        urls = [(fleet.url(i, "main"), fleet.url(i, "sub")) for i in range(CAMERAS)]
        config = with_stamp_masks(default_config(urls))
        if web_port >= 0:
            system_section = msgspec.structs.replace(config.system, web_port=web_port)
            config = msgspec.structs.replace(config, system=system_section)
        system = System(
            config, base=root, source="embedded default", fmt="toml", raw=DEFAULT_TOML.encode()
        )
        print(f"Vigil demo: {CAMERAS} simulated cameras, data in {root}")
        for i, (main, _) in enumerate(urls):
            print(f"  {config.cameras[i].id:10} {config.cameras[i].recording_mode:11} {main}")
        system.start()
        if web_port >= 0:
            port = wait_web_port(system)
            print(f"web UI: https://127.0.0.1:{port}/ (self-signed certificate; on first start, "
                  "create the admin with the setup token the web UI printed)", flush=True)  # fmt: skip
        counts = Status()
        print(
            "recording; Ctrl-C stops" + (f" (or after {seconds:.0f} s)" if seconds else ""),
            flush=True,
        )
        try:
            started = time.monotonic()
            last_status = started
            while not stop.wait(0.2):
                system.supervisor.check()  # heartbeats, restarts, stalls
                now = time.monotonic()
                if now - last_status >= 5.0:
                    last_status = now
                    print(counts.line(system.log.store), flush=True)
                if seconds is not None and now - started >= seconds:
                    break
        finally:
            system.close()
    store = LmdbStore(system.log_dir)
    report = verify_log(store)
    print(counts.line(store))
    store.close()
    print(f"log verify: ok={report.ok} events={report.events} head hash {report.head_hash[:16]}...")
    if own and not keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if report.ok else 1


def wait_web_port(system: System, timeout: float = 30.0) -> int:
    """The port the web process listens on, from its heartbeat (0 if it did not say)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        system.supervisor.check()
        child = system.supervisor.children.get("web")
        if child is not None and child.stats.get("port"):
            return int(child.stats["port"])
        time.sleep(0.1)  # heartbeats arrive every second; polled with a deadline
    return 0


def with_stamp_masks(config: Config) -> Config:
    """Mask the simulated cameras' frame stamp, which changes every frame."""
    x1, y1 = (STAMP_BOX[2] + 8) / 640, (STAMP_BOX[3] + 8) / BASE_HEIGHT
    stamp = ZoneEntry(name="frame stamp", points=((0, 0), (x1, 0), (x1, y1), (0, y1)))
    cameras = tuple(
        msgspec.structs.replace(c, motion_masks=(*c.motion_masks, stamp)) for c in config.cameras
    )
    return msgspec.structs.replace(config, cameras=cameras)


class Status:
    """Counts for the status line, folded from the log as it grows (each event read once)."""

    def __init__(self) -> None:
        self.position = 0
        self.types: Counter[str] = Counter()
        self.segments: Counter[str] = Counter()
        self.written = 0

    def line(self, store: LmdbStore) -> str:
        for env in store.read(self.position + 1):
            self.position = env.position
            self.types[env.type] += 1
            if env.type == "segment.closed":
                seg = decode_payload(env)
                assert isinstance(seg, SegmentClosed)
                self.segments[seg.camera_id] += 1
                self.written += seg.bytes
        per_camera = " ".join(f"{c}:{n}" for c, n in sorted(self.segments.items()))
        types = self.types
        return (
            f"events {sum(types.values())}, segments {sum(self.segments.values())} ({per_camera}), "
            f"{self.written / 1e6:.1f} MB, motion {types['motion.started']}, "
            f"recordings {types['recording.started']}, streams lost {types['stream.lost']}"
        )
