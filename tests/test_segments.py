"""Recording by remux: segments are keyframe-aligned, continuous, byte-identical to the
camera's packets, durable before they are reported, and playable after kill -9."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from pathlib import Path

import av
import pytest

from nvr.domain.events import Event, SegmentClosed, SegmentOpened
from nvr.workers.segments import SegmentWriter, sha256_of
from tests.clips import make_clip

T0 = 1_795_478_400_000_000_000
FRAME_NS = 1_000_000_000 // 15


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=10)


def record(clip: Path, root: Path, segment_s: float) -> list[Event]:
    events: list[Event] = []
    inp = av.open(str(clip))
    stream = inp.streams.video[0]
    writer = SegmentWriter(root, "cam", stream, segment_s=segment_s, emit=events.append)
    writer.anchor(T0, 0)
    for packet in inp.demux(stream):
        if packet.size:
            writer.write(packet)
    writer.close()
    inp.close()
    return events


def packets(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as c:
        return [p for p in c.demux(c.streams.video[0]) if p.size]


def test_segments_are_keyframe_aligned_continuous_and_not_reencoded(
    clip: Path, tmp_path: Path
) -> None:
    events = record(clip, tmp_path, segment_s=4)
    closed = [e for e in events if isinstance(e, SegmentClosed)]
    assert [type(e) for e in events] == [SegmentOpened, SegmentClosed] * 3
    # 10 s of 2 s GOPs cut at >= 4 s on keyframes: 4 s + 4 s + 2 s.
    assert [(e.end_ns - e.start_ns) // 1_000_000 for e in closed] == [4000, 4000, 2000]
    for a, b in itertools.pairwise(closed):
        assert a.end_ns == b.start_ns  # no gap, no overlap at boundaries
    with av.open(str(clip)) as c:
        source = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
    recorded = [bytes(p) for e in closed for p in packets(tmp_path / e.path)]
    assert recorded == source  # packet bytes exactly as the camera sent them
    for e in closed:
        pk = packets(tmp_path / e.path)
        assert pk[0].is_keyframe and pk[0].pts == 0
        assert (
            e.keyframes_ns[0] == e.start_ns
            and len(e.keyframes_ns) == (e.end_ns - e.start_ns) // 2_000_000_000
        )
        assert e.sha256 == sha256_of(tmp_path / e.path)
        assert e.bytes == (tmp_path / e.path).stat().st_size
        # Timestamps inside a segment are continuous to the frame.
        pts = [p.pts for p in pk]
        assert all(b - a == 1024 for a, b in itertools.pairwise(pts))


def test_late_join_drops_packets_until_a_keyframe(clip: Path, tmp_path: Path) -> None:
    events: list[Event] = []
    with av.open(str(clip)) as inp:
        stream = inp.streams.video[0]
        writer = SegmentWriter(tmp_path, "cam", stream, segment_s=60, emit=events.append)
        writer.anchor(T0, 0)
        for n, packet in enumerate(p for p in inp.demux(stream) if p.size):
            if n >= 5:  # joined mid-GOP
                writer.write(packet)
        writer.close()
    [_opened, closed] = events
    assert isinstance(closed, SegmentClosed)
    assert closed.start_ns == T0 + 2_000_000_000  # the first keyframe after joining
    assert packets(tmp_path / closed.path)[0].is_keyframe


def test_segment_cut_by_kill_9_still_plays(clip: Path, tmp_path: Path) -> None:
    """Guards against non-fragmented MP4, whose index is written only at close."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.segment_child", str(clip), str(tmp_path), "65"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    assert child.stdin is not None
    child.stdin.close()
    [path] = list(tmp_path.rglob("*.mp4"))
    pk = packets(path)
    # Two complete GOPs were flushed as fragments (the third was in progress).
    assert len(pk) >= 60 and pk[0].is_keyframe
    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == len(pk)


def test_the_same_packets_can_be_written_to_a_later_segment(clip: Path, tmp_path: Path) -> None:
    """Guards against muxing rewriting a packet kept in the pre-roll buffer."""
    events: list[Event] = []
    with av.open(str(clip)) as inp:
        stream = inp.streams.video[0]
        kept = [p for p in inp.demux(stream) if p.size][:30]  # one GOP
        for n in range(2):
            writer = SegmentWriter(tmp_path / str(n), "cam", stream, segment_s=60, emit=events.append)
            writer.anchor(T0, 0)
            for packet in kept:
                writer.write(packet)
            writer.close()
    a, b = (e for e in events if isinstance(e, SegmentClosed))
    assert a.sha256 == b.sha256 and a.start_ns == b.start_ns
