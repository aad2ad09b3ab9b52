"""Live video in the web UI with the whole system running (`nvr run` with `web_port`):
frames of a simulated camera reach a signed-in browser socket, moving (the camera's own
frame stamps advance), a camera outside the user's list is refused, and the /live page in
Chromium shows the picture changing."""

from __future__ import annotations

import ssl
import struct
import threading
import time
from pathlib import Path

import cv2
import httpx
import msgspec
import numpy as np
from playwright.sync_api import sync_playwright
from websockets.sync.client import connect

from nvr.domain.codec import propose
from nvr.domain.config import parse_config
from nvr.domain.events import UserCreated
from nvr.domain.values import user_stream
from nvr.run import System
from nvr.sim.fleet import Fleet
from nvr.sim.scene import read_stamp
from nvr.ui_web.sessions import COOKIE
from tests.test_web_browser import CHROMIUM, FLAGS, SHOTS
from tests.test_web_env import CHEAP, PASSWORD


def web_port(system: System, timeout: float = 30) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        child = system.supervisor.children.get("web")
        if child is not None and child.stats.get("port"):
            return int(child.stats["port"])
        time.sleep(0.1)  # heartbeats come every second: a condition polled with a deadline
    raise AssertionError("the web UI did not report its port")


def see_it_move_in_a_browser(url: str) -> None:
    """The /live page in Chromium: the gate's canvas keeps getting new, different pictures."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_context(
                ignore_https_errors=True, viewport={"width": 1280, "height": 800}
            ).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/login")
            page.fill("#login input[name=username]", "ann")
            page.fill("#login input[name=password]", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_selector("article.camera")
            page.goto(url + "/live")
            canvas = page.locator("figure[data-camera=gate] canvas")
            page.wait_for_function(
                "() => Number(document.querySelector('figure[data-camera=gate] canvas').dataset.frames || 0) >= 5",
                timeout=20_000,
            )
            pixels = "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.slice(0, 200000)).join()"
            first = canvas.evaluate(pixels)
            page.wait_for_function(
                "n => Number(document.querySelector('figure[data-camera=gate] canvas').dataset.frames) >= n",
                arg=int(canvas.get_attribute("data-frames") or 0) + 3,
                timeout=10_000,
            )
            assert canvas.evaluate(pixels) != first, "the live picture does not change"
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "web-live.png"))
            assert not errors, errors
        finally:
            browser.close()


def test_live_frames_reach_the_browser_socket(fleet: Fleet, tmp_path: Path) -> None:
    text = f"""
[system]
storage_dir = "rec"
data_dir = "data"
segment_length_s = 2
web_port = 0

[[cameras]]
id = "gate"
main_url = "{fleet.url(0, "main", credentials=False)}"
sub_url = "{fleet.url(0, "sub", credentials=False)}"
recording_mode = "off"
"""
    system = System(
        parse_config(text), base=tmp_path, source="t.toml", fmt="toml", raw=text.encode()
    )
    system.start()
    runner = threading.Thread(target=system.supervisor.run, kwargs={"shutdown": False})
    runner.start()
    try:
        ann = UserCreated(
            username="ann", role="viewer", password_hash=CHEAP.hash(PASSWORD), cameras=("gate",)
        )
        system.log.append([propose(ann, stream=user_stream("ann"), actor="test")])
        url = f"https://127.0.0.1:{web_port(system)}"
        with httpx.Client(
            base_url=url, verify=False, headers={"Origin": url}, timeout=20
        ) as client:
            r = client.post("/api/login", json={"username": "ann", "password": PASSWORD})
            assert r.status_code == 200, r.text
            cookie = client.cookies.get(COOKIE)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with connect(url.replace("https", "wss") + "/ws/live", ssl=ctx, origin=url,  # type: ignore[arg-type]
                     additional_headers={"Cookie": f"{COOKIE}={cookie}"}, open_timeout=10) as ws:  # fmt: skip
            ws.send(msgspec.json.encode({"cameras": ["gate", "yard"], "fps": 10}).decode())
            refused, stamps, walls = [], [], []
            end = time.monotonic() + 30
            while len(stamps) < 8 and time.monotonic() < end:
                message = ws.recv(timeout=max(0.1, end - time.monotonic()))
                if isinstance(message, str):
                    refused.append(msgspec.json.decode(message))
                    continue
                n = message[0]
                assert message[1 : 1 + n] == b"gate"
                (wall,) = struct.unpack(">q", message[1 + n : 9 + n])
                gray = cv2.imdecode(np.frombuffer(message[9 + n :], np.uint8), cv2.IMREAD_GRAYSCALE)
                assert gray is not None and gray.shape == (360, 640)
                stamp = read_stamp(gray)
                if stamp is not None:
                    stamps.append(stamp)
                    walls.append(wall)
        assert refused == [{"type": "denied", "camera": "yard"}]
        assert len(stamps) >= 8, "fewer than 8 readable live frames in 30 s"
        assert len(set(stamps)) == len(stamps) and walls == sorted(walls)  # the picture moves
        # Within a second of now: the frames are live, not replayed.
        assert time.time_ns() - walls[-1] < 2_000_000_000
        see_it_move_in_a_browser(url)
    finally:
        system.supervisor.stop()
        runner.join(30)
        system.close()
