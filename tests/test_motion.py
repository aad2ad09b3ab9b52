"""Motion detection on synthetic pictures: timing, hysteresis, boxes, zones and masks."""

from __future__ import annotations

import numpy as np

from nvr.domain.events import Event, MotionEnded, MotionStarted
from nvr.domain.values import Zone
from nvr.workers.motion import MotionDetector, MotionParams

T0 = 1_795_478_400_000_000_000
FPS = 10
FRAME_NS = 1_000_000_000 // FPS


def scene(n: int, moving: range, x_of: int = 0) -> np.ndarray:
    """A noisy static 360p scene; during `moving` a bright square crosses it."""
    rng = np.random.default_rng(n)
    picture = (np.full((360, 640), 90) + rng.integers(-4, 5, (360, 640))).astype(np.uint8)
    if n in moving:
        x = x_of + (n - moving.start) * 12
        picture[150:210, x : x + 60] = 230
    return picture


def run(
    params: MotionParams, frames: int = 100, moving: range = range(30, 60), x_of: int = 0
) -> list[tuple[int, Event]]:
    det = MotionDetector("cam", params)
    out = []
    for n in range(frames):
        for e in det.feed(scene(n, moving, x_of), T0 + n * FRAME_NS):
            out.append((n, e))
    return out


def test_motion_starts_and_ends_on_time() -> None:
    events = run(MotionParams(end_s=1.0))
    assert [type(e) for _, e in events] == [MotionStarted, MotionEnded]
    (n_start, started), (n_end, ended) = events
    assert isinstance(started, MotionStarted) and isinstance(ended, MotionEnded)
    assert 30 <= n_start <= 32  # within start_frames of the first moving frame
    # The last moving frame (the background average fades the trail within 0.5 s).
    assert T0 + 59 * FRAME_NS <= ended.at_ns <= T0 + 65 * FRAME_NS
    assert n_end * FRAME_NS - (ended.at_ns - T0) <= 1_200_000_000  # ended after end_s of stillness
    assert started.motion_id == ended.motion_id
    [box] = started.boxes[:1]
    assert 0.35 < box.y < 0.5 and 0 < box.w < 0.3
    assert 0 < started.confidence <= ended.peak_confidence <= 1


def test_no_motion_in_a_still_noisy_scene() -> None:
    assert run(MotionParams(), moving=range(0)) == []


def test_masks_and_zones() -> None:
    left_half = Zone(name="left", points=((0, 0), (0.5, 0), (0.5, 1), (0, 1)))
    # The square moves on the right (x from 400): masked out entirely...
    assert run(MotionParams(masks=(left_half,)), moving=range(30, 45), x_of=0) == []
    assert run(MotionParams(masks=(Zone(name="right", points=((0.55, 0), (1, 0), (1, 1), (0.55, 1))),)),
               moving=range(30, 45), x_of=400) == []  # fmt: skip
    # ...and only a zone on the right sees it.
    right = Zone(name="right", points=((0.55, 0), (1, 0), (1, 1), (0.55, 1)))
    assert [type(e) for _, e in run(MotionParams(zones=(right,)), moving=range(30, 45), x_of=400)] == [
        MotionStarted, MotionEnded,
    ]  # fmt: skip


def test_brief_flicker_below_start_frames_is_ignored() -> None:
    # One bright frame changes 3 analysed frames (it appears, then its trail fades over two
    # more at alpha 0.5): fewer than the 4 consecutive frames asked for.
    assert run(MotionParams(start_frames=4), moving=range(30, 31)) == []
