"""A per-camera, per-stream ring of decoded frames in shared memory: its slots and its writer.

One writer, many readers (`reader.py`). The writer copies each frame once, into the next slot, inside that slot's seqlock, then
publishes the frame number in the header and rings the readers' sockets. A reader copies
the latest slot out and keeps the copy only if the slot's sequence did not move, so it
never returns a torn frame. See docs/design/shm.md for the layout and the failure modes.

The seqlock relies on x86-64's ordering (stores are seen in program order, loads are not
reordered with loads) and on every field being one aligned 8-byte access.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .cleanup import retire
from .layout import (
    HEADER_BYTES,
    LAYOUT_VERSION,
    MAGIC,
    OFF_FRAME_BYTES,
    OFF_GENERATION,
    OFF_HEADER_BYTES,
    OFF_HEIGHT,
    OFF_LATEST_FRAME,
    OFF_LAYOUT_VERSION,
    OFF_MAGIC,
    OFF_PIXEL_FORMAT,
    OFF_SLOT_BYTES,
    OFF_SLOT_COUNT,
    OFF_SLOT_HEADER_BYTES,
    OFF_STATE,
    OFF_STRIDE,
    OFF_TIME_BASE_DEN,
    OFF_TIME_BASE_NUM,
    OFF_WANTED_UNTIL_MONO_NS,
    OFF_WIDTH,
    OFF_WRITER_PID,
    PTS_NONE,
    SLOT_FRAME_NO,
    SLOT_HEADER_BYTES,
    SLOT_PTS,
    SLOT_SEQ,
    SLOT_WALL_NS,
    U64,
    Geometry,
    PixelFormat,
    State,
    check_name,
)
from .notify import Bell
from .segment import Segment, unlink

Pixels = npt.NDArray[np.uint8]
MAX_SLOTS = 64


class Slots:
    """Views of each slot's pixels: flat, in the frame's numpy shape, and per plane."""

    def __init__(self, seg: Segment, geometry: Geometry, count: int) -> None:
        self.count = count
        self.bytes = geometry.slot_bytes()
        self.flat: list[Pixels] = []
        self.shaped: list[Pixels] = []
        self.planes: list[list[Pixels]] = []
        for i in range(count):
            flat = seg.bytes_at(self.base(i) + SLOT_HEADER_BYTES, geometry.frame_bytes)
            planes, at = [], 0
            for rows, row in geometry.planes:
                planes.append(flat[at : at + rows * row].reshape(rows, row))
                at += rows * row
            self.flat.append(flat)
            self.shaped.append(flat.reshape(geometry.shape))
            self.planes.append(planes)

    def base(self, index: int) -> int:
        return HEADER_BYTES + index * self.bytes

    def drop(self) -> None:
        self.flat, self.shaped, self.planes = [], [], []


def _uint8(value: Any) -> Pixels:
    arr = value if isinstance(value, np.ndarray) else np.frombuffer(value, dtype=np.uint8)
    if arr.dtype != np.uint8:
        raise ValueError(f"frames are uint8, not {arr.dtype}")
    return arr


def _rows(value: Any, rows: int, row: int) -> Pixels:
    """A (rows, row) view of one plane given as a 2-D array or as a flat buffer whose rows
    may be padded (an FFmpeg plane: line_size >= width). Views only, no copy."""
    arr = _uint8(value)
    if arr.ndim == 2 and arr.shape == (rows, row):
        return arr
    if arr.ndim == 1 and arr.size % rows == 0 and arr.size // rows >= row:
        return arr.reshape(rows, arr.size // rows)[:, :row]
    raise ValueError(f"plane of shape {arr.shape} is not {rows} rows of >= {row} bytes")


@dataclass(frozen=True)
class WriterStatistics:
    frames_written: int
    readers: int
    notices_sent: int
    notices_dropped: int


class FrameWriter:
    """The one writer of a ring. Not thread-safe. Use `create()`; `close()` unlinks the ring.

    Invariants: at most one live writer per name (the socket lock in notify.py); the
    header's latest frame always names a slot whose seqlock is even.
    """

    def __init__(self, name: str, seg: Segment, bell: Bell, geometry: Geometry, slots: int):
        self.name = name
        self.geometry = geometry
        self.generation = seg.get(OFF_GENERATION)
        self._seg: Segment | None = seg
        self._bell = bell
        self._slots = Slots(seg, geometry, slots)
        self._frame_no = 0

    @classmethod
    def create(
        cls,
        name: str,
        width: int,
        height: int,
        fmt: PixelFormat | str,
        slots: int = 4,
        *,
        time_base: tuple[int, int] = (1, 90_000),
        prefault: bool = True,
    ) -> FrameWriter:
        """Create the ring `name`, replacing a stale one. RingBusy if a writer is alive;
        OSError(ENOSPC) if /dev/shm is full. `time_base` is the unit of `pts`."""
        geometry = Geometry(width, height, PixelFormat.parse(fmt))
        if not 2 <= slots <= MAX_SLOTS:
            raise ValueError(f"slots must be 2..{MAX_SLOTS}, not {slots}")
        bell = Bell(check_name(name))  # the lock, first: nobody else touches the name now
        try:
            size = geometry.segment_bytes(slots)
            try:
                seg = Segment.create(name, size)
            except FileExistsError:
                retire(name)  # left by a writer that died without closing
                seg = Segment.create(name, size)
        except BaseException:
            bell.close()
            raise
        fields = {
            OFF_LAYOUT_VERSION: LAYOUT_VERSION,
            OFF_HEADER_BYTES: HEADER_BYTES,
            OFF_WIDTH: width,
            OFF_HEIGHT: height,
            OFF_PIXEL_FORMAT: geometry.fmt,
            OFF_STRIDE: geometry.stride,
            OFF_SLOT_COUNT: slots,
            OFF_SLOT_HEADER_BYTES: SLOT_HEADER_BYTES,
            OFF_SLOT_BYTES: geometry.slot_bytes(),
            OFF_FRAME_BYTES: geometry.frame_bytes,
            OFF_GENERATION: int.from_bytes(os.urandom(8), "little") | 1,
            OFF_WRITER_PID: os.getpid(),
            OFF_TIME_BASE_NUM: time_base[0],
            OFF_TIME_BASE_DEN: time_base[1],
            OFF_LATEST_FRAME: 0,
            OFF_STATE: State.OPEN,
        }
        for offset, value in fields.items():
            seg.put(offset, value)
        if prefault:  # touch every page now: first writes into fresh pages cost ~7x
            seg.bytes_at(HEADER_BYTES, size - HEADER_BYTES)[:] = 0
        seg.put(OFF_MAGIC, MAGIC)  # last: a reader ignores a ring without it
        return cls(name, seg, bell, geometry, slots)

    def _live(self) -> Segment:
        if self._seg is None:
            raise ValueError(f"ring {self.name!r} is closed")
        return self._seg

    def write(self, frame: Any, wall_ns: int, pts: int | None = None) -> int:
        """Publish a frame; returns its number (1, 2, ...). One copy, into the slot.

        `frame` is an array in `geometry.shape` (any strides), or a flat buffer: the
        packed frame, or for one-plane formats a plane with padded rows such as a PyAV
        `VideoPlane`. For several planes with padded rows use `write_planes`."""
        g = self.geometry
        arr = _uint8(frame)
        if arr.ndim > 1:
            if arr.shape != g.shape:
                raise ValueError(f"frame of shape {arr.shape}, ring holds {g.shape}")
            return self._publish(lambda i: np.copyto(self._slots.shaped[i], arr), wall_ns, pts)
        if arr.size == g.frame_bytes:
            return self._publish(lambda i: np.copyto(self._slots.flat[i], arr), wall_ns, pts)
        if len(g.planes) == 1:
            return self.write_planes([arr], wall_ns, pts)
        raise ValueError(f"{arr.size} bytes is not a {g.fmt.name} frame of {g.frame_bytes}")

    def write_planes(self, planes: Sequence[Any], wall_ns: int, pts: int | None = None) -> int:
        """Publish a frame given plane by plane (e.g. `av.VideoFrame.planes` of a yuv420p
        frame into an I420 ring); rows may be padded. One copy per plane."""
        shapes = self.geometry.planes
        if len(planes) != len(shapes):
            raise ValueError(f"{len(planes)} planes, {self.geometry.fmt.name} has {len(shapes)}")
        srcs = [_rows(p, rows, row) for p, (rows, row) in zip(planes, shapes, strict=True)]

        def copy(i: int) -> None:
            for dst, src in zip(self._slots.planes[i], srcs, strict=True):
                np.copyto(dst, src)

        return self._publish(copy, wall_ns, pts)

    def _publish(self, copy: Callable[[int], object], wall_ns: int, pts: int | None) -> int:
        seg = self._live()
        n = self._frame_no + 1
        i = (n - 1) % self._slots.count
        base = self._slots.base(i)
        seq = seg.get(base + SLOT_SEQ)
        seg.put(base + SLOT_SEQ, (seq + 1) & U64)  # odd: readers of this slot retry
        try:
            copy(i)
            seg.put(base + SLOT_FRAME_NO, n)
            seg.put(base + SLOT_WALL_NS, wall_ns & U64)
            seg.put(base + SLOT_PTS, (PTS_NONE if pts is None else pts) & U64)
        finally:
            seg.put(base + SLOT_SEQ, (seq + 2) & U64)
        seg.put(OFF_LATEST_FRAME, n)  # after the slot is stable: readers start here
        self._frame_no = n
        self._bell.ring()
        return n

    def wanted(self, now_mono_ns: int) -> bool:
        """Whether a reader's lease (`FrameReader.want`) runs past `now_mono_ns`
        (`Clock.monotonic_ns()`, which is CLOCK_MONOTONIC, shared by all processes)."""
        return self._live().get(OFF_WANTED_UNTIL_MONO_NS) > now_mono_ns

    def statistics(self) -> WriterStatistics:
        return WriterStatistics(
            self._frame_no, self._bell.readers, self._bell.sent, self._bell.dropped
        )

    def close(self) -> None:
        """Mark the ring CLOSED, wake the readers, unlink the name, release the lock."""
        if self._seg is None:
            return
        seg, self._seg = self._seg, None
        seg.put(OFF_STATE, State.CLOSED)
        self._bell.ring()
        self._slots.drop()
        seg.close()
        with contextlib.suppress(FileNotFoundError):
            unlink(self.name)
        self._bell.close()  # last: until now no successor could create the name

    def __del__(self) -> None:
        self.close()  # views first, then the mapping: SharedMemory's own __del__ cannot

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
