"""Thumbnails from real segments of the simulator's stamped 1080p clip: the frame-at-time
thumbnail lands on exactly the target frame (read from its stamp) within one GOP, the
segment thumbnail decodes one frame, even from a segment cut short by kill -9, damaged
files fail with their name and reason, and thumbnail files stay inside their directory."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
from av.video.frame import VideoFrame

from nvr.domain.events import Event, SegmentClosed
from nvr.domain.values import Box
from nvr.sim.clips import FPS, MOTION_START_FRAME, ensure_clips, object_box, read_stamp
from nvr.sim.scene import KEYFRAME_INTERVAL_FRAMES as GOP
from nvr.workers.segments import SegmentWriter
from nvr.workers.thumbnails import (
    ThumbnailError,
    first_frame,
    frame_at,
    motion_thumbnail,
    segment_thumbnail,
    thumb_path,
    write_thumbnail,
)

NS = 1_000_000_000
T0 = 1_795_478_400_123_456_789  # the wall time of camera pts 0
TICKS = 90_000 // FPS  # a frame at the 90 kHz RTP clock


def wall_ns(n: int) -> int:
    """Camera frame n's wall time, as the segment writer computes it from the anchor."""
    return T0 + n * TICKS * NS // 90_000


def stamp(frame: VideoFrame) -> int | None:
    """The frame number stamped on a full-resolution frame's luma."""
    y = frame.planes[0]
    return read_stamp(np.frombuffer(memoryview(y), np.uint8).reshape(frame.height, y.line_size))


def jpeg_image(data: bytes) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return np.asarray(image, np.uint8)


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's main clip (30 s, 1080p, keyframe every 2 s) with the timestamps a
    camera sends over RTP: 90 kHz, one frame every 6000 ticks."""
    out = tmp_path_factory.mktemp("camera") / "main.mp4"
    with (
        av.open(str(ensure_clips().main), format="h264", options={"framerate": str(FPS)}) as inp,
        av.open(str(out), "w") as dst,
    ):
        src = inp.streams.video[0]
        stream = dst.add_stream_from_template(src)
        stream.time_base = Fraction(1, 90_000)
        for n, packet in enumerate(p for p in inp.demux(src) if p.size):
            packet.pts = packet.dts = n * TICKS
            packet.duration, packet.time_base = TICKS, Fraction(1, 90_000)
            packet.stream = stream
            dst.mux(packet)
    return out


@dataclass(frozen=True)
class Segment:
    """A recorded segment: its file and the times its `segment.closed` reported."""

    path: Path
    start_ns: int
    end_ns: int
    keyframes_ns: tuple[int, ...]


@pytest.fixture(scope="module")
def segments(camera_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Segment]:
    """The clip recorded as the recorder does: three 10 s segments, frames 0, 150 and 300 on."""
    root = tmp_path_factory.mktemp("storage")
    events: list[Event] = []
    with av.open(str(camera_clip)) as inp:
        stream = inp.streams.video[0]
        writer = SegmentWriter(root, "cam", stream, segment_s=10, emit=events.append)
        writer.anchor(T0, 0)
        for packet in inp.demux(stream):
            if packet.size:
                writer.write(packet)
        writer.close()
    found = [
        Segment(root / e.path, e.start_ns, e.end_ns, e.keyframes_ns)
        for e in events
        if isinstance(e, SegmentClosed)
    ]
    assert [s.start_ns for s in found] == [wall_ns(0), wall_ns(150), wall_ns(300)]
    return found


def test_segment_thumbnail_is_the_first_keyframe_decoded_alone(
    segments: list[Segment],
) -> None:
    for first, e in zip((0, 150), segments, strict=False):
        frame, decoded = first_frame(e.path)
        assert (stamp(frame), decoded) == (first, 1)
    path = segments[1].path
    image = jpeg_image(segment_thumbnail(path))
    assert image.shape == (180, 320, 3)  # 320 wide, 16:9 kept
    # It is a picture of that frame: close to the frame scaled by another scaler.
    full = first_frame(path)[0].to_ndarray(format="bgr24")
    reference = cv2.resize(full, (320, 180), interpolation=cv2.INTER_AREA)
    assert np.abs(image.astype(np.int16) - reference).mean() < 4


@pytest.mark.parametrize("k", [0, 1, 14, 29, 30, 31, 89, 120, 149])
def test_frame_at_lands_on_the_target_frame_within_one_gop(segments: list[Segment], k: int) -> None:
    """Frame k of the second segment, asked for at the first and the last nanosecond it is
    shown: exactly that frame, decoded from its keyframe, never more than one GOP."""
    e = segments[1]
    n = 150 + k
    for at_ns in (wall_ns(n), wall_ns(n + 1) - 1):
        frame, decoded = frame_at(e.path, e.start_ns, at_ns)
        assert (stamp(frame), decoded) == (n, k % GOP + 1), at_ns - e.start_ns
        assert decoded <= GOP


def test_the_writers_reported_times_select_their_frames(segments: list[Segment]) -> None:
    """Guards against an off-by-one at frame boundaries: each keyframe time in
    `segment.closed` gives that keyframe, decoded alone, and 1 ns earlier the frame before."""
    e = segments[1]
    path = e.path
    for i, key_ns in enumerate(e.keyframes_ns):
        frame, decoded = frame_at(path, e.start_ns, key_ns)
        assert (stamp(frame), decoded) == (150 + i * GOP, 1)
        if i:
            frame, decoded = frame_at(path, e.start_ns, key_ns - 1)
            assert (stamp(frame), decoded) == (150 + i * GOP - 1, GOP)
    frame, _ = frame_at(path, e.start_ns, e.end_ns - 1)
    assert stamp(frame) == 299  # the last frame, shown until the segment's end


def test_times_outside_the_segment_are_refused(segments: list[Segment]) -> None:
    e = segments[1]
    path = e.path
    for at_ns, word in ((e.start_ns - 1, "before"), (e.end_ns, "after"), (e.end_ns + NS, "after")):
        with pytest.raises(ThumbnailError) as err:
            frame_at(path, e.start_ns, at_ns)
        assert str(path) in str(err.value) and word in err.value.reason


def test_motion_boxes_are_drawn_where_the_object_is(segments: list[Segment]) -> None:
    e = segments[1]
    n = MOTION_START_FRAME + 40  # the object has moved out of its resting place
    x0, y0, x1, y1 = object_box(n, 1080)
    box = Box(x=x0 / 1920, y=y0 / 1080, w=(x1 - x0) / 1920, h=(y1 - y0) / 1080)
    plain = jpeg_image(motion_thumbnail(e.path, e.start_ns, wall_ns(n)))
    boxed = jpeg_image(motion_thumbnail(e.path, e.start_ns, wall_ns(n), [box]))
    top, left, right = round(box.y * 180), round(box.x * 320), round((box.x + box.w) * 320)
    edge = boxed[top, left + 2 : right - 2].astype(np.int16)
    b, g, r = edge[:, 0], edge[:, 1], edge[:, 2]
    assert (g - np.maximum(b, r) > 100).all()  # green along the box's top edge
    was = plain[top, left + 2 : right - 2].astype(np.int16)
    assert not (was[:, 1] - np.maximum(was[:, 0], was[:, 2]) > 100).any()  # not before
    away = (slice(0, 40), slice(200, 320))  # far from the box: the same picture
    assert np.abs(boxed[away].astype(np.int16) - plain[away]).max() < 16


def test_segment_cut_by_kill_9_still_gives_its_first_thumbnail(
    camera_clip: Path, tmp_path: Path
) -> None:
    """Guards against needing the file's end: a writer killed in its second GOP leaves
    only the first fragment, which must still give both kinds of thumbnail."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.segment_child", str(camera_clip), str(tmp_path), "45"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    assert child.stdin is not None
    child.stdin.close()
    [path] = list(tmp_path.rglob("*.mp4"))
    start_ns = int(path.stem.split("-")[1])
    frame, decoded = first_frame(path)
    assert (stamp(frame), decoded) == (0, 1)
    assert jpeg_image(segment_thumbnail(path)).shape == (180, 320, 3)
    frame, decoded = frame_at(path, start_ns, start_ns + 20 * NS // FPS)
    assert (stamp(frame), decoded) == (20, 21)
    with pytest.raises(ThumbnailError, match="after the last frame"):
        frame_at(path, start_ns, start_ns + 40 * NS // FPS)  # in the GOP that was lost


def boxes_of(data: bytes) -> list[tuple[int, bytes]]:
    """The top-level MP4 boxes: (offset, type)."""
    found, off = [], 0
    while off + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[off : off + 8])
        found.append((off, kind))
        off += size
    return found


def test_segment_cut_inside_a_fragment_keeps_the_whole_fragments(
    segments: list[Segment], tmp_path: Path
) -> None:
    """A write cut short inside the second fragment (a crash or full disk mid-write)."""
    e = segments[0]
    data = e.path.read_bytes()
    second_mdat = [off for off, kind in boxes_of(data) if kind == b"mdat"][1]
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: second_mdat + 1000])
    assert stamp(first_frame(path)[0]) == 0
    frame, decoded = frame_at(path, e.start_ns, wall_ns(GOP - 1))
    assert (stamp(frame), decoded) == (GOP - 1, GOP)
    with pytest.raises(ThumbnailError, match="truncated: the file ends before"):
        frame_at(path, e.start_ns, wall_ns(GOP))


def damaged(kind: str, good: bytes) -> bytes | None:
    first_mdat = next(off for off, k in boxes_of(good) if k == b"mdat")
    noise = np.random.default_rng(7).integers(0, 256, 200_000, np.uint8).tobytes()
    return {
        "missing": None,
        "empty": b"",
        "header cut": good[:500],
        "first fragment cut": good[: first_mdat + 100_000],
        "not a video": b"not a video file " * 1000,
        "keyframe garbled": good[: first_mdat + 8] + noise + good[first_mdat + 8 + len(noise) :],
    }[kind]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "missing"),
        ("empty", "empty"),
        ("header cut", "truncated"),
        ("first fragment cut", "truncated"),
        ("not a video", "corrupt"),
        ("keyframe garbled", "corrupt"),
    ],
)
def test_damaged_files_fail_with_their_name_and_reason(
    segments: list[Segment], tmp_path: Path, kind: str, reason: str
) -> None:
    e = segments[0]
    path = tmp_path / f"{kind.replace(' ', '-')}.mp4"
    data = damaged(kind, e.path.read_bytes())
    if data is not None:
        path.write_bytes(data)
    for make in (
        lambda: segment_thumbnail(path),
        lambda: frame_at(path, e.start_ns, e.start_ns + NS),
    ):
        with pytest.raises(ThumbnailError) as err:
            make()
        assert err.value.path == path and str(path) in str(err.value)
        assert err.value.reason.startswith(reason), err.value.reason


def test_thumb_path_stays_inside_its_directory(tmp_path: Path) -> None:
    assert thumb_path(tmp_path, "cam-1", "cam-1-1795478400000000000") == (
        tmp_path / ".thumbs" / "cam-1" / "cam-1-1795478400000000000.jpg"
    )
    bad = ["", ".", "..", "../x", "a/b", "/etc/passwd", ".hidden", "a\x00b", "a\nb", "a\\b"]
    for value in bad:
        with pytest.raises(ValueError):
            thumb_path(tmp_path, value, "seg")
        with pytest.raises(ValueError):
            thumb_path(tmp_path, "cam", value)


def test_write_thumbnail_replaces_whole_files_atomically(
    segments: list[Segment], tmp_path: Path
) -> None:
    jpeg = segment_thumbnail(segments[0].path)
    path = thumb_path(tmp_path, "cam", "seg-1")
    assert write_thumbnail(path, jpeg) == len(jpeg) == path.stat().st_size
    assert path.read_bytes() == jpeg and path.stat().st_mode & 0o777 == 0o644
    assert write_thumbnail(path, b"second") == 6 and path.read_bytes() == b"second"
    with pytest.raises(TypeError):
        write_thumbnail(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"second"  # a failed write leaves the old file
    assert os.listdir(path.parent) == ["seg-1.jpg"]  # and no temporary file
