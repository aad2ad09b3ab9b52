"""The byte layout of a frame ring: header offsets, slot offsets, pixel formats, ring names.

Every field is a native (little-endian on every machine we run on) u64 at an 8-byte
aligned offset, so one field is one aligned 8-byte load or store and never tears.
`docs/design/shm.md` draws the same layout as a table; keep the two in step.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass

MAGIC = int.from_bytes(b"VIGILRNG", "little")
LAYOUT_VERSION = 1
HEADER_BYTES = 4096  # one page; slots start on a page boundary
SLOT_HEADER_BYTES = 64  # one cache line; pixels start 64-byte aligned
SLOT_ALIGN = 64
MAX_SIDE = 16384
PTS_NONE = -(1 << 63)  # stored for a frame without a pts (a camera's first keyframe may lack one)
U64 = (1 << 64) - 1

# Header fields, as byte offsets. Lines 0-1: written once, at creation, before MAGIC.
OFF_MAGIC = 0
OFF_LAYOUT_VERSION = 8
OFF_HEADER_BYTES = 16
OFF_WIDTH = 24
OFF_HEIGHT = 32
OFF_PIXEL_FORMAT = 40
OFF_STRIDE = 48
OFF_SLOT_COUNT = 56
OFF_SLOT_HEADER_BYTES = 64
OFF_SLOT_BYTES = 72
OFF_FRAME_BYTES = 80
OFF_GENERATION = 88
OFF_WRITER_PID = 96
OFF_TIME_BASE_NUM = 104
OFF_TIME_BASE_DEN = 112
# Line 2: written by the writer on every frame.
OFF_LATEST_FRAME = 128
OFF_STATE = 136
# Line 3: written by readers (kept off the writer's line).
OFF_WANTED_UNTIL_MONO_NS = 192

# Slot fields, as byte offsets from the start of a slot.
SLOT_SEQ = 0  # seqlock: odd while the writer is in the slot, even when stable
SLOT_FRAME_NO = 8
SLOT_WALL_NS = 16
SLOT_PTS = 24


class State(enum.IntEnum):
    """Lifecycle of one segment, in OFF_STATE. A reader looks for a successor unless OPEN."""

    OPEN = 1
    CLOSED = 2  # the writer closed it and unlinked the name
    RETIRED = 3  # a later writer (or a sweep) found it stale and unlinked the name


class PixelFormat(enum.IntEnum):
    GRAY8 = 1  # one plane, 1 byte per pixel
    BGR24 = 2  # one packed plane, 3 bytes per pixel (OpenCV's order)
    I420 = 3  # Y, then U and V at half size each way (FFmpeg's yuv420p)
    NV12 = 4  # Y, then interleaved UV at half height

    @classmethod
    def parse(cls, value: PixelFormat | str) -> PixelFormat:
        if isinstance(value, PixelFormat):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"unknown pixel format {value!r}") from None


@dataclass(frozen=True)
class Geometry:
    """What one frame looks like. Rows are packed: the stride is the row's width in bytes."""

    width: int
    height: int
    fmt: PixelFormat

    def __post_init__(self) -> None:
        if not (0 < self.width <= MAX_SIDE and 0 < self.height <= MAX_SIDE):
            raise ValueError(f"bad frame size {self.width}x{self.height}")
        if self.fmt in (PixelFormat.I420, PixelFormat.NV12) and (self.width | self.height) & 1:
            raise ValueError(f"{self.fmt.name} needs an even width and height")

    @property
    def stride(self) -> int:
        """Bytes per row of the first plane."""
        return self.width * 3 if self.fmt is PixelFormat.BGR24 else self.width

    @property
    def planes(self) -> tuple[tuple[int, int], ...]:
        """(rows, bytes per row) of each plane, in storage order."""
        w, h = self.width, self.height
        if self.fmt is PixelFormat.I420:
            return ((h, w), (h // 2, w // 2), (h // 2, w // 2))
        if self.fmt is PixelFormat.NV12:
            return ((h, w), (h // 2, w))
        return ((h, self.stride),)

    @property
    def frame_bytes(self) -> int:
        return sum(rows * row for rows, row in self.planes)

    @property
    def shape(self) -> tuple[int, ...]:
        """The numpy shape of a frame: the one OpenCV expects for this format."""
        if self.fmt is PixelFormat.BGR24:
            return (self.height, self.width, 3)
        if self.fmt is PixelFormat.GRAY8:
            return (self.height, self.width)
        return (self.height * 3 // 2, self.width)

    def slot_bytes(self) -> int:
        raw = SLOT_HEADER_BYTES + self.frame_bytes
        return -(-raw // SLOT_ALIGN) * SLOT_ALIGN

    def segment_bytes(self, slots: int) -> int:
        return HEADER_BYTES + slots * self.slot_bytes()


_SAFE = re.compile(r"[A-Za-z0-9_.-]")
_VALID_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,95}")


def _clean(part: str, keep: int) -> str:
    cleaned = "".join(ch if _SAFE.fullmatch(ch) else "_" for ch in part)
    if cleaned == part and 0 < len(part) <= keep:
        return part
    # Changed or too long: a digest of the original keeps "cam/1" and "cam_1" apart.
    digest = hashlib.blake2b(part.encode(), digest_size=4).hexdigest()
    return f"{cleaned[: keep - 9]}.{digest}"


def ring_name(camera: str, stream: str) -> str:
    """The segment name of a camera's stream, e.g. `vigil-front_door-sub`.

    Any character outside [A-Za-z0-9_.-] becomes `_`, and a cleaned or shortened part
    gains a digest of the original, so distinct cameras never share a ring.
    """
    return f"vigil-{_clean(camera, 48)}-{_clean(stream, 16)}"


def check_name(name: str) -> str:
    """Refuse a name that is not a plain shm/socket name (<= 96 bytes of [A-Za-z0-9_.-])."""
    if not _VALID_NAME.fullmatch(name):
        raise ValueError(f"bad ring name {name!r}: use ring_name() or [A-Za-z0-9_.-]{{1,96}}")
    return name


class RingBusy(Exception):
    """Another live process is the writer of this ring (it holds the ring's socket)."""


class RingUnavailable(Exception):
    """No usable ring by this name: missing, still being created, or another layout."""
