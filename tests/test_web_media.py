"""Footage over HTTP: a range of real segments comes back as one MP4 with the camera's own
packets (no re-encode), starting at the keyframe before the range; HTTP Range works for
seeking; exports need a reason and the export right, and each is an event."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from nvr.clock import SystemClock
from nvr.domain.events import Event, SegmentClosed, SegmentOpened
from nvr.domain.values import camera_stream
from nvr.workers.segments import SegmentWriter
from tests.test_thumbnails import FPS, camera_clip, stamp  # noqa: F401  (a fixture)
from tests.test_web_env import WebEnv, running

S = 1_000_000_000
FRAME_NS = S // FPS


@pytest.fixture
def env(tmp_path: Path, camera_clip: Path) -> Iterator[tuple[WebEnv, list[SegmentClosed]]]:  # noqa: F811
    with running(tmp_path) as env:
        t0 = SystemClock().now_ns() - 2 * 3600 * S  # before the bench's own fake segments
        events: list[Event] = []
        with av.open(str(camera_clip)) as inp:
            stream = inp.streams.video[0]
            writer = SegmentWriter(
                env.data / "storage", "gate", stream, segment_s=10, emit=events.append
            )
            writer.anchor(t0, 0)
            for packet in inp.demux(stream):
                if packet.size:
                    writer.write(packet)
            writer.close()
        env.append(*((e, camera_stream("gate")) for e in events))
        env.refresh_export()
        closed = [e for e in events if isinstance(e, SegmentClosed)]
        assert len(closed) == 3 and not [
            e for e in events if not isinstance(e, SegmentOpened | SegmentClosed)
        ]
        yield env, closed


def packets(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_a_range_across_segments_is_one_remuxed_mp4(
    env: tuple[WebEnv, list[SegmentClosed]],
) -> None:
    web, segs = env
    viewer, _ = web.login("viewer")  # gate only
    start = segs[0].start_ns + 7 * S + FRAME_NS // 2  # inside the GOP that starts at 6 s
    end = segs[1].start_ns + 5 * S
    r = viewer.get("/api/cameras/gate/video.mp4", params={"start": start, "end": end})
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    got = packets(r.content)
    # From the keyframe at 6 s to the last frame before the end: 4 s + 5 s at 15 fps.
    assert len(got) == 9 * FPS
    source = [
        p for seg in segs[:2] for p in packets((web.data / "storage" / seg.path).read_bytes())
    ]
    assert got == source[6 * FPS : 6 * FPS + len(got)]  # the camera's bytes, in order
    with av.open(io.BytesIO(r.content)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == len(got) and frames[0].key_frame
    first, last = stamp(frames[0]), stamp(frames[-1])
    assert first is not None and last is not None and last - first == len(got) - 1
    # Seeking: a byte range of the same file.
    part = viewer.get("/api/cameras/gate/video.mp4", params={"start": start, "end": end},
                      headers={"Range": "bytes=100-199"})  # fmt: skip
    assert part.status_code == 206 and part.content == r.content[100:200]


def test_media_refusals(env: tuple[WebEnv, list[SegmentClosed]]) -> None:
    web, segs = env
    start, end = segs[0].start_ns, segs[0].end_ns
    params = {"start": start, "end": end, "reason": "incident 42"}
    viewer, _ = web.login("viewer")
    assert viewer.get("/api/cameras/yard/video.mp4", params=params).status_code == 404  # not theirs
    assert (
        viewer.get("/api/cameras/gate/clip.mp4", params=params).status_code == 403
    )  # no export right
    assert web.client().get("/api/cameras/gate/video.mp4", params=params).status_code == 401
    for bad in ({"start": end, "end": start}, {"start": start}, {"start": "noon", "end": end},
                {"start": start, "end": start + 3 * 3600 * S}):  # fmt: skip
        assert viewer.get("/api/cameras/gate/video.mp4", params=bad).status_code == 400
    empty = {"start": start - 3 * 3600 * S, "end": start - 2 * 3600 * S - S}
    assert viewer.get("/api/cameras/gate/video.mp4", params=empty).status_code == 404
    oper, _ = web.login("oper")
    assert (
        oper.get("/api/cameras/gate/clip.mp4", params={**params, "reason": " "}).status_code == 400
    )


def test_an_export_is_recorded_with_who_what_and_why(
    env: tuple[WebEnv, list[SegmentClosed]],
) -> None:
    web, segs = env
    oper, _ = web.login("oper")
    before = web.log.head()
    start, end = segs[0].start_ns, segs[2].end_ns
    r = oper.get(
        "/api/cameras/gate/clip.mp4", params={"start": start, "end": end, "reason": "incident 42"}
    )
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert len(packets(r.content)) == 30 * FPS
    [(env_, exported)] = web.events("web.clip_exported", before)
    assert (
        env_.actor.endswith("oper") and exported.username == "oper" and exported.camera_id == "gate"
    )
    assert (exported.start_ns, exported.end_ns, exported.reason) == (start, end, "incident 42")
    assert exported.bytes == len(r.content)
