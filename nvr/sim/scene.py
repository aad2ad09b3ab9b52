"""What the simulated cameras show: a static scene, one scripted moving object, a frame stamp.

Everything here is pure numpy and deterministic for a given seed. Frames are rendered at
the main resolution in planar YUV 4:2:0; the sub stream is the same picture scaled down
by ffmpeg, so the stamp and the object land on the same places, proportionally.

The stamp is a 2 x 8 grid of black/white cells in the top-left corner, on a grey pad.
Cells are 16 px at 640x360 (48 px at 1920x1080), aligned to 16-px macroblocks at both
sizes, so they survive H.264 at 360p. Cell order, row-major:
``1 0 | 11 data bits, MSB first | parity | 0 1``: two sentinel pairs and an even parity
bit over the data. A motion detector must mask `STAMP_BOX`: it changes every frame.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FPS = 15
LOOP_S = 30
LOOP_FRAMES = FPS * LOOP_S
KEYFRAME_INTERVAL_FRAMES = 2 * FPS

# The object moves only in [MOTION_START_S, MOTION_END_S) of each loop: frame n differs
# from frame n - 1 exactly when MOTION_START_FRAME < n <= MOTION_END_FRAME. It goes out
# and comes back at constant speed, so it rests at the same place before and after and
# the loop wraps without a jump.
MOTION_START_S = 10
MOTION_END_S = 20
MOTION_START_FRAME = MOTION_START_S * FPS
MOTION_END_FRAME = MOTION_END_S * FPS

# Geometry in units of the 640x360 sub stream; multiplied by height / 360 at any size.
BASE_HEIGHT = 360
_CELL = 16
_STAMP_X, _STAMP_Y, _STAMP_COLS, _STAMP_ROWS = 16, 16, 8, 2
STAMP_BOX = (0, 0, _STAMP_X * 2 + _CELL * _STAMP_COLS, _STAMP_Y * 2 + _CELL * _STAMP_ROWS)
_DATA_BITS = 11
_OBJECT = 64  # side of the square object
_OBJECT_Y = 220  # its top edge
_OBJECT_X0, _OBJECT_X1 = 96, 480  # left edge at rest, and at the far end of its path

GrayImage = npt.NDArray[np.uint8]


def moving(frame: int) -> bool:
    """Whether frame `frame` (any number, taken modulo the loop) differs from the previous one
    outside the stamp."""
    n = frame % LOOP_FRAMES
    return MOTION_START_FRAME < n <= MOTION_END_FRAME


def object_box(frame: int, height: int = BASE_HEIGHT) -> tuple[int, int, int, int]:
    """The moving object's (x0, y0, x1, y1) in a frame `height` pixels high."""
    n = frame % LOOP_FRAMES
    half = (MOTION_END_FRAME - MOTION_START_FRAME) // 2
    if MOTION_START_FRAME < n <= MOTION_END_FRAME:
        k = n - MOTION_START_FRAME
        along = k if k <= half else 2 * half - k  # out, then back: a triangle
    else:
        along = 0
    x = _OBJECT_X0 + (_OBJECT_X1 - _OBJECT_X0) * along // half
    s = height // BASE_HEIGHT
    return (x * s, _OBJECT_Y * s, (x + _OBJECT) * s, (_OBJECT_Y + _OBJECT) * s)


def stamp_bits(frame: int) -> list[int]:
    n = frame % LOOP_FRAMES
    data = [(n >> i) & 1 for i in reversed(range(_DATA_BITS))]
    return [1, 0, *data, sum(data) & 1, 0, 1]


def read_stamp(gray: npt.NDArray[np.uint8]) -> int | None:
    """The frame number (within the loop) stamped on a decoded frame's luma, or None.

    `gray` is the Y plane, at any size that is a multiple of 640x360 (extra columns of
    line padding are fine). None when a cell is neither clearly black nor clearly white,
    a sentinel is wrong or the parity fails.
    """
    if gray.ndim != 2 or gray.shape[0] < BASE_HEIGHT or gray.shape[0] % BASE_HEIGHT:
        return None
    s = gray.shape[0] // BASE_HEIGHT
    bits: list[int] = []
    for i in range(_STAMP_ROWS * _STAMP_COLS):
        row, col = divmod(i, _STAMP_COLS)
        y = (_STAMP_Y + row * _CELL + _CELL // 4) * s
        x = (_STAMP_X + col * _CELL + _CELL // 4) * s
        level = float(gray[y : y + _CELL // 2 * s, x : x + _CELL // 2 * s].mean())
        if level > 170:
            bits.append(1)
        elif level < 85:
            bits.append(0)
        else:
            return None
    data = bits[2 : 2 + _DATA_BITS]
    if bits[:2] != [1, 0] or bits[-2:] != [0, 1] or sum(data) & 1 != bits[2 + _DATA_BITS]:
        return None
    return int("".join(map(str, data)), 2)


class Scene:
    """Renders loop frames at one size into a reused planar YUV 4:2:0 buffer.

    Invariants: the background and its noise cycle depend only on (size, seed, noise);
    `render(n)` depends only on n modulo the loop; the loop length is a multiple of the
    noise cycle, so frame LOOP_FRAMES - 1 runs into frame 0 like any other pair.
    """

    NOISE_CYCLE = FPS  # divides LOOP_FRAMES

    def __init__(self, width: int, height: int, seed: int, noise: int) -> None:
        if height % BASE_HEIGHT or width * BASE_HEIGHT != height * 640:
            raise ValueError(f"size must be a multiple of 640x360, not {width}x{height}")
        self.width, self.height = width, height
        self._s = height // BASE_HEIGHT
        rng = np.random.default_rng(seed)
        y, u, v = _background(width, height, rng)
        # A few frames of sensor noise, cycled: cheap, and it gives P-frames some work.
        self._bg = np.empty((self.NOISE_CYCLE, width * height * 3 // 2), np.uint8)
        for k in range(self.NOISE_CYCLE):
            jitter = rng.integers(-noise, noise + 1, y.shape) if noise else 0
            self._bg[k, : y.size] = np.clip(y.astype(np.int16) + jitter, 16, 235).ravel()
            self._bg[k, y.size :] = np.concatenate([u.ravel(), v.ravel()])
        self.buffer = np.empty(width * height * 3 // 2, np.uint8)
        self._y = self.buffer[: width * height].reshape(height, width)
        cw, ch = width // 2, height // 2
        self._u = self.buffer[width * height : width * height + cw * ch].reshape(ch, cw)
        self._v = self.buffer[width * height + cw * ch :].reshape(ch, cw)

    def render(self, frame: int) -> npt.NDArray[np.uint8]:
        """Frame `frame` of the loop, as the whole YUV buffer (valid until the next call)."""
        s = self._s
        self.buffer[:] = self._bg[frame % self.NOISE_CYCLE]
        x0, y0, x1, y1 = object_box(frame, self.height)
        self._y[y0:y1, x0:x1] = 200
        self._u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = 70
        self._v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = 200
        bx0, by0, bx1, by1 = (c * s for c in STAMP_BOX)
        self._y[by0:by1, bx0:bx1] = 128
        self._u[by0 // 2 : by1 // 2, bx0 // 2 : bx1 // 2] = 128
        self._v[by0 // 2 : by1 // 2, bx0 // 2 : bx1 // 2] = 128
        c = _CELL * s
        for i, bit in enumerate(stamp_bits(frame)):
            row, col = divmod(i, _STAMP_COLS)
            y, x = _STAMP_Y * s + row * c, _STAMP_X * s + col * c
            self._y[y : y + c, x : x + c] = 235 if bit else 16
        return self.buffer


def _background(
    width: int, height: int, rng: np.random.Generator
) -> tuple[GrayImage, GrayImage, GrayImage]:
    """A static street-ish scene: sky gradient, buildings with windows, textured ground."""
    s = height // BASE_HEIGHT
    y = np.empty((height, width), np.float32)
    horizon = 200 * s
    y[:horizon] = np.linspace(190, 140, horizon, dtype=np.float32)[:, None]
    y[horizon:] = np.linspace(95, 70, height - horizon, dtype=np.float32)[:, None]
    u = np.full((height // 2, width // 2), 128, np.float32)
    v = np.full((height // 2, width // 2), 128, np.float32)
    u[: horizon // 2] = 150  # a bluish sky
    x = 0
    while x < width:
        w = int(rng.integers(40, 110)) * s
        top = int(rng.integers(60, 170)) * s
        shade = float(rng.integers(60, 150))
        y[top:horizon, x : x + w - 4 * s] = shade
        u[top // 2 : horizon // 2, x // 2 : (x + w - 4 * s) // 2] = rng.integers(110, 140)
        v[top // 2 : horizon // 2, x // 2 : (x + w - 4 * s) // 2] = rng.integers(115, 150)
        for wy in range(top + 8 * s, horizon - 12 * s, 18 * s):
            for wx in range(x + 6 * s, x + w - 14 * s, 14 * s):
                y[wy : wy + 8 * s, wx : wx + 6 * s] = 40 if rng.random() < 0.6 else 210
        x += w
    # Fine static texture: detail for the encoder, the way a real scene has some.
    y += rng.normal(0, 6, y.shape).astype(np.float32)
    clip = np.clip  # limited range, as cameras send
    return (
        clip(y, 16, 235).astype(np.uint8),
        clip(u, 16, 240).astype(np.uint8),
        clip(v, 16, 240).astype(np.uint8),
    )
