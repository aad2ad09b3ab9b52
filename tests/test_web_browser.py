"""The web UI in a real browser (Debian's Chromium driven by Playwright, headless): sign
in through the form, see the cameras one may see with their pictures, get a toast when
motion starts, at desktop and phone sizes. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from nvr.clock import SystemClock
from nvr.domain.events import MotionStarted
from nvr.domain.values import camera_stream
from tests.test_web_env import PASSWORD, WebEnv, running

SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[WebEnv]:
    with running(tmp_path) as env:
        # A real picture for the gate (the bench's own thumbnails are placeholders).
        picture = np.zeros((180, 320, 3), np.uint8)
        picture[40:140, 100:220] = (40, 160, 40)
        ok, jpeg = cv2.imencode(".jpg", picture)
        assert ok
        (env.data / "storage" / ".thumbs" / "gate" / "gate-0001.jpg").write_bytes(bytes(jpeg))
        yield env


def sign_in(page: Page, env: WebEnv, username: str) -> None:
    page.goto(env.url + "/")
    page.wait_for_url("**/login")
    page.fill("#login input[name=username]", username)
    page.fill("#login input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("article.camera")


def test_dashboard_in_a_browser_at_desktop_and_phone_sizes(env: WebEnv, browser: Browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(
        ignore_https_errors=True, viewport={"width": 1280, "height": 800}
    ).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, env, "admin")
    assert sorted(page.eval_on_selector_all("article.camera", "els => els.map(e => e.dataset.camera)")) == [
        "gate", "porch", "yard"]  # fmt: skip
    gate_img = page.locator("article[data-camera=gate] img")
    gate_img.wait_for()
    page.wait_for_function(
        "() => document.querySelector('article[data-camera=gate] img').naturalWidth > 0"
    )
    assert gate_img.evaluate("img => img.naturalWidth") == 320
    # Motion appears as a toast through the notification socket.
    env.append((MotionStarted(camera_id="gate", motion_id="m-live", at_ns=SystemClock().now_ns(), confidence=0.9),
                camera_stream("gate")))  # fmt: skip
    toast = page.locator(".toast").filter(has_text="gate")
    toast.first.wait_for(timeout=15_000)
    page.screenshot(path=str(SHOTS / "web-dashboard-desktop.png"), full_page=True)
    assert not errors, errors

    phone = browser.new_context(ignore_https_errors=True, viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True).new_page()  # fmt: skip
    sign_in(phone, env, "viewer")  # gate only
    assert phone.eval_on_selector_all(
        "article.camera", "els => els.map(e => e.dataset.camera)"
    ) == ["gate"]
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    phone.screenshot(path=str(SHOTS / "web-dashboard-phone.png"), full_page=True)
