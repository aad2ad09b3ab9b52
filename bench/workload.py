"""The event mix the benchmarks append: a recording camera's day, built before timing."""

from __future__ import annotations

from nvr.domain import codec
from nvr.domain.envelope import Proposed
from nvr.domain.events import (
    Event,
    LoginSucceeded,
    MotionEnded,
    MotionStarted,
    PtzMoved,
    SegmentClosed,
    SegmentOpened,
    StreamLost,
    StreamRecovered,
    WorkerStarted,
)
from nvr.domain.values import Box, PtzPosition

S = 1_000_000_000
T0 = 1_795_478_400_000_000_000  # 2026-11-24T00:00:00Z
SEGMENT_S = 10


def camera_event(cid: str, n: int) -> Event:
    """Event `n` of camera `cid`: mostly segments, with motion, PTZ and a stream drop.

    One cycle of 10 is what a busy camera writes in 30 s of footage."""
    k, step = divmod(n, 10)
    seg = f"{cid}-{k:08d}"
    start = T0 + k * 3 * SEGMENT_S * S
    path = f"/var/lib/vigil/media/{cid}/2026/11/24/{seg}.mp4"
    rec = f"rec-{cid}-{k // 100:06d}"
    box = Box(x=0.41, y=0.22, w=0.12, h=0.31)
    if step in (0, 3, 6):
        return SegmentOpened(
            camera_id=cid, segment_id=f"{seg}-{step}", path=path, start_ns=start, recording_id=rec
        )
    if step in (2, 5, 8):
        return SegmentClosed(
            camera_id=cid, segment_id=f"{seg}-{step - 2}", path=path, bytes=7_340_032 + k,
            start_ns=start, end_ns=start + SEGMENT_S * S,
            keyframes_ns=tuple(start + i * 2 * S for i in range(SEGMENT_S // 2)),
            sha256="9f2c" * 16, recording_id=rec,
        )  # fmt: skip
    if step == 1:
        return MotionStarted(
            camera_id=cid, motion_id=f"m-{seg}", at_ns=start + 3 * S, confidence=0.82, boxes=(box,)
        )
    if step == 4:
        return MotionEnded(
            camera_id=cid,
            motion_id=f"m-{seg}",
            at_ns=start + 9 * S,
            peak_confidence=0.93,
            boxes=(box,),
        )
    if step == 7:
        vector = PtzPosition(pan=0.1, tilt=-0.05, zoom=0.0)
        return PtzMoved(camera_id=cid, kind="continuous", vector=vector, timeout_ms=500)
    if k % 2:
        return StreamRecovered(camera_id=cid, stream="main", outage_ns=4 * S, attempts=2)
    return StreamLost(
        camera_id=cid,
        stream="main",
        reason="timeout",
        detail="no packet for 4 s",
        last_frame_ns=start,
    )


def camera_proposals(cid: str, count: int, first: int = 0) -> list[Proposed]:
    """`count` proposed events of the stream `camera/<cid>`, from event number `first`."""
    stream, actor = f"camera/{cid}", f"worker/camera-{cid}"
    return [
        codec.propose(camera_event(cid, n), stream=stream, actor=actor)
        for n in range(first, first + count)
    ]


def mixed_proposals(count: int, cameras: int = 16, first: int = 0) -> list[Proposed]:
    """`count` events interleaved over `cameras` camera streams, with 1 in 50 from a
    user or worker stream (so projections see several stream kinds)."""
    out: list[Proposed] = []
    for n in range(first, first + count):
        if n % 50 == 49:
            if n % 100 == 49:
                event: Event = LoginSucceeded(
                    username=f"op{n % 7}",
                    session_hash="5e" * 32,
                    client_addr="10.0.0.7",
                    user_agent="vigil-ui/1",
                )
                out.append(codec.propose(event, stream=f"user/op{n % 7}", actor="web"))
            else:
                event = WorkerStarted(
                    worker=f"camera-c{n % cameras}", kind="camera", pid=4000 + n % 997
                )
                out.append(
                    codec.propose(event, stream=f"worker/camera-c{n % cameras}", actor="supervisor")
                )
            continue
        cid = f"c{n % cameras}"
        out.append(
            codec.propose(
                camera_event(cid, n // cameras),
                stream=f"camera/{cid}",
                actor=f"worker/camera-{cid}",
            )
        )
    return out
