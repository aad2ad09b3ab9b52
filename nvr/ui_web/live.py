"""`/ws/live`: live video of many cameras over one WebSocket (so a grid never meets the
browser's six-connections-per-host limit). The page sends `{"cameras": [...], "fps": N}`;
each camera it may see gets a reader of its shared-memory ring (the decoded sub stream)
and every new frame, at most `fps` a second, goes out as one binary message:

    1 byte id length | camera id (ASCII) | 8 bytes wall_ns (big-endian) | JPEG

Cameras it may not see are answered `{"type": "denied", "camera": id}` (and logged).
Frames are JPEG-encoded in a worker thread per camera; a slow client gets fewer frames,
never a queue (only the newest frame is sent)."""

from __future__ import annotations

import struct
import threading
import time

import anyio
import anyio.from_thread
import cv2
import msgspec
import numpy as np
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from nvr.domain import access
from nvr.shm.layout import RingUnavailable, ring_name
from nvr.shm.reader import FrameReader
from nvr.ui_web.errors import error_response
from nvr.ui_web.guard import current, denied, viewed
from nvr.ui_web.state import web_of

MAX_CAMERAS = 16
MAX_FPS = 15.0
JPEG_QUALITY = 80


class Subscribe(msgspec.Struct, forbid_unknown_fields=True):
    cameras: list[str]
    fps: float = 10.0


def encode(frame_data: np.ndarray, height: int, width: int) -> bytes:
    """An I420 frame as JPEG."""
    bgr = cv2.cvtColor(frame_data.reshape(height * 3 // 2, width), cv2.COLOR_YUV2BGR_I420)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return bytes(jpeg) if ok else b""


def pump(camera_id: str, fps: float, stop: threading.Event, send: object) -> None:
    """Read `camera_id`'s ring and call `send(message)` for new frames until `stop`."""
    name = ring_name(camera_id, "sub")
    head = bytes([len(camera_id)]) + camera_id.encode("ascii")
    reader: FrameReader | None = None
    last_sent, last_no = 0.0, -1
    try:
        while not stop.is_set():
            if reader is None:
                try:
                    reader = FrameReader.open(name)
                except (RingUnavailable, FileNotFoundError, OSError):
                    stop.wait(0.5)  # the camera worker is not up yet
                    continue
            if not reader.wait(0.5):
                continue
            frame = reader.latest()
            if frame is None or frame.frame_no == last_no:
                continue
            pause = last_sent + 1.0 / fps - time.monotonic()
            if pause > 0:
                stop.wait(pause)
            g = frame.geometry
            jpeg = encode(frame.data, g.height, g.width)
            if jpeg:
                send(head + struct.pack(">q", frame.wall_ns) + jpeg)  # type: ignore[operator]
                last_sent, last_no = time.monotonic(), frame.frame_no
    finally:
        if reader is not None:
            reader.close()


async def live(ws: WebSocket) -> None:
    web = web_of(ws)
    caller = await current(ws)
    if caller is None or not access.allowed(caller.principal, "live.view"):
        await ws.send_denial_response(error_response("/api/", 403))
        return
    await ws.accept()
    try:
        sub = msgspec.json.decode(await ws.receive_text(), type=Subscribe)
    except (msgspec.DecodeError, msgspec.ValidationError, WebSocketDisconnect, KeyError):
        await ws.close(1003)
        return
    fps = min(max(sub.fps, 0.5), MAX_FPS)
    stop = threading.Event()
    cameras = []
    for cam in sub.cameras[:MAX_CAMERAS]:
        refusal = (
            access.check(caller.principal, "live.view", cam)
            if access.CAMERA_ID.fullmatch(cam)
            else "camera"
        )
        if refusal is not None:
            await denied(
                web,
                caller,
                "WS /ws/live",
                refusal,
                cam if access.CAMERA_ID.fullmatch(cam) else None,
            )
            await ws.send_text(msgspec.json.encode({"type": "denied", "camera": cam}).decode())
            continue
        await viewed(web, caller, "WS /ws/live", cam)
        cameras.append(cam)
    latest: dict[str, bytes] = {}
    ready = anyio.Event()
    lock = threading.Lock()

    def offer(message: bytes) -> None:  # from the pump threads: keep only the newest
        with lock:
            latest[message[1 : 1 + message[0]].decode()] = message
            wake = ready
        anyio.from_thread.run_sync(wake.set)

    async def sender() -> None:
        nonlocal ready
        while True:
            await ready.wait()
            with lock:
                out = list(latest.values())
                latest.clear()
                ready = anyio.Event()
            try:
                for message in out:
                    await ws.send_bytes(message)
            except (WebSocketDisconnect, RuntimeError, OSError):
                stop.set()  # the page went away: the receive loop ends too
                return

    try:
        async with anyio.create_task_group() as tg:
            for cam in cameras:
                tg.start_soon(anyio.to_thread.run_sync, pump, cam, fps, stop, offer)
            tg.start_soon(sender)
            try:
                while (await ws.receive())["type"] != "websocket.disconnect":
                    pass
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                stop.set()
                tg.cancel_scope.cancel()
    except (WebSocketDisconnect, RuntimeError):
        stop.set()


routes: list[BaseRoute] = [WebSocketRoute("/ws/live", live)]
