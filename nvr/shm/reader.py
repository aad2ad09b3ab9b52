"""Reading a frame ring: the latest whole frame, a wake-up when the next one lands, demand.

A reader maps the ring read-write only to set the demand lease; it never writes pixels,
never unlinks, and follows the writer across restarts: when its segment is no longer
OPEN (closed or retired), it looks for a successor under the same name and reopens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

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
    OFF_WANTED_UNTIL_MONO_NS,
    OFF_WIDTH,
    PTS_NONE,
    SLOT_FRAME_NO,
    SLOT_HEADER_BYTES,
    SLOT_PTS,
    SLOT_SEQ,
    SLOT_WALL_NS,
    Geometry,
    PixelFormat,
    RingUnavailable,
    State,
    check_name,
)
from .notify import Listener
from .ring import MAX_SLOTS, Pixels, Slots
from .segment import Segment

MAX_TRIES = 100  # reads of a slot the writer keeps lapping before latest() gives up
RECHECK_S = 0.25  # how often a waiting reader looks for a restarted writer
PAGE = 4096


def _signed(word: int) -> int:
    return word - (1 << 64) if word >> 63 else word


@dataclass(frozen=True)
class Frame:
    """One frame, copied out of the ring: `data` is the reader's own array, never a view
    of shared memory, so it stays valid and unchanged whatever the writer does next."""

    data: Pixels  # in geometry.shape: (h, w) gray8, (h, w, 3) bgr24, (h*3/2, w) I420/NV12
    frame_no: int  # 1, 2, ... within one generation of the ring
    wall_ns: int
    pts: int | None  # in the ring's time base; None if the camera gave none
    geometry: Geometry
    generation: int

    def planes(self) -> list[Pixels]:
        """Views of `data`, one per plane, each (rows, bytes per row)."""
        flat, at, out = self.data.reshape(-1), 0, []
        for rows, row in self.geometry.planes:
            out.append(flat[at : at + rows * row].reshape(rows, row))
            at += rows * row
        return out


@dataclass(frozen=True)
class ReaderStatistics:
    frames_read: int
    retries: int  # copies thrown away because the writer moved into the slot meanwhile
    reopens: int
    generation: int
    registered: bool


class _Ring:
    """A validated, mapped ring: its segment, geometry and slot views."""

    def __init__(self, name: str) -> None:
        try:
            seg = Segment.attach(name)
        except (FileNotFoundError, ValueError) as e:
            raise RingUnavailable(f"ring {name!r}: {e}") from e
        try:
            self.geometry, self.slots = self._validate(seg)
        except (RingUnavailable, ValueError) as e:
            seg.close()
            raise RingUnavailable(f"ring {name!r}: {e}") from e
        self.seg = seg
        self.generation = seg.get(OFF_GENERATION)
        self.views = Slots(seg, self.geometry, self.slots)
        _ = int(seg.bytes_at(0, seg.size)[::PAGE].sum())  # map every page now, not on first reads

    @staticmethod
    def _validate(seg: Segment) -> tuple[Geometry, int]:
        if seg.get(OFF_MAGIC) != MAGIC:
            raise RingUnavailable("not ready (or not a frame ring)")
        if seg.get(OFF_LAYOUT_VERSION) != LAYOUT_VERSION:
            raise RingUnavailable(
                f"layout {seg.get(OFF_LAYOUT_VERSION)}, expected {LAYOUT_VERSION}"
            )
        if (seg.get(OFF_HEADER_BYTES), seg.get(OFF_SLOT_HEADER_BYTES)) != (
            HEADER_BYTES,
            SLOT_HEADER_BYTES,
        ):
            raise RingUnavailable("unexpected header sizes")
        fmt = PixelFormat(seg.get(OFF_PIXEL_FORMAT))
        geometry = Geometry(seg.get(OFF_WIDTH), seg.get(OFF_HEIGHT), fmt)
        slots = seg.get(OFF_SLOT_COUNT)
        if not (
            2 <= slots <= MAX_SLOTS
            and seg.get(OFF_SLOT_BYTES) == geometry.slot_bytes()
            and seg.get(OFF_FRAME_BYTES) == geometry.frame_bytes
            and seg.size >= geometry.segment_bytes(slots)
        ):
            raise RingUnavailable("header does not match its size")
        return geometry, slots

    def close(self) -> None:
        self.views.drop()
        self.seg.close()


class FrameReader:
    """One reader of one ring. Not thread-safe; open one per thread that reads."""

    def __init__(self, name: str, ring: _Ring) -> None:
        self._closed = True  # until fully built, so __del__ has nothing to undo
        self.name = name
        self._ring = ring
        self._listener = Listener(name)
        self._listener.register()
        self._last = 0
        self._want_until = 0
        self._frames = self._retries = self._reopens = 0
        self._closed = False

    @classmethod
    def open(cls, name: str) -> FrameReader:
        """RingUnavailable if there is no ready ring by that name (yet): retry later."""
        ring = _Ring(check_name(name))
        try:
            return cls(name, ring)
        except BaseException:
            ring.close()
            raise

    @property
    def geometry(self) -> Geometry:
        return self._ring.geometry

    @property
    def generation(self) -> int:
        """Random per writer start: a new value means a new ring under the same name."""
        return self._ring.generation

    def _follow(self) -> bool:
        """Whether the ring is OPEN, after moving to a successor if it has one."""
        ring = self._ring
        if ring.seg.get(OFF_STATE) == State.OPEN:
            return True
        try:
            successor = _Ring(self.name)
        except RingUnavailable:
            return False  # none yet; the old mapping stays until one appears
        if successor.generation == ring.generation:
            successor.close()  # the same segment, closed but not yet unlinked
            return False
        ring.close()
        self._ring, self._last = successor, 0
        self._reopens += 1
        self._listener.register()
        if self._want_until:
            self.want(self._want_until)
        return successor.seg.get(OFF_STATE) == State.OPEN

    def latest(self, out: Pixels | None = None) -> Frame | None:
        """A copy of the newest whole frame, or None if there is none or no live ring.

        Copies into `out` when it has the ring's shape (reuse one array per stream to
        save an allocation), otherwise into a new array. Never torn: a copy the writer
        overlapped is thrown away and retried."""
        if not self._follow():
            return None
        ring = self._ring
        seg, g = ring.seg, ring.geometry
        for _ in range(MAX_TRIES):
            n = seg.get(OFF_LATEST_FRAME)
            if n == 0:
                return None
            index = (n - 1) % ring.slots
            base = ring.views.base(index)
            seq = seg.get(base + SLOT_SEQ)
            if seq & 1:
                self._retries += 1
                continue  # the writer lapped the ring onto this slot: take the newer one
            frame_no = seg.get(base + SLOT_FRAME_NO)
            wall_ns = _signed(seg.get(base + SLOT_WALL_NS))
            pts = _signed(seg.get(base + SLOT_PTS))
            if out is not None and out.shape == g.shape and out.dtype == np.uint8:
                data = out
            else:
                data = np.empty(g.shape, dtype=np.uint8)
            np.copyto(data, ring.views.shaped[index])
            if seg.get(base + SLOT_SEQ) != seq:
                self._retries += 1
                continue
            self._last = frame_no
            self._frames += 1
            return Frame(
                data, frame_no, wall_ns, None if pts == PTS_NONE else pts, g, ring.generation
            )
        return None

    def _newer(self) -> bool:
        n = self._ring.seg.get(OFF_LATEST_FRAME)
        return n != 0 and n != self._last

    def wait(self, timeout_s: float) -> bool:
        """Block until a frame newer than the last one `latest()` returned is there (True)
        or `timeout_s` passes (False). Woken by the writer's notice, not by polling; a
        restarted writer is noticed within RECHECK_S."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._follow() and self._newer():
                self._listener.drain()
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self._listener.registered:
                self._listener.register()
            if self._listener.wait(min(left, RECHECK_S)):
                self._listener.drain()

    def want(self, until_mono_ns: int) -> None:
        """Ask the writer for frames until `until_mono_ns` (`Clock.monotonic_ns()`): a
        lease, renewed by calling again. Readers race on this word, and a lost update
        only shortens a lease until the next renewal, so renew well before it ends."""
        self._want_until = max(self._want_until, until_mono_ns)
        seg = self._ring.seg
        if seg.get(OFF_WANTED_UNTIL_MONO_NS) < until_mono_ns:
            seg.put(OFF_WANTED_UNTIL_MONO_NS, until_mono_ns)

    def statistics(self) -> ReaderStatistics:
        return ReaderStatistics(
            self._frames, self._retries, self._reopens, self.generation, self._listener.registered
        )

    def close(self) -> None:
        """Unmap and leave. Never unlinks: the ring is the writer's."""
        if self._closed:
            return
        self._closed = True
        self._listener.close()
        self._ring.close()

    def __del__(self) -> None:
        self.close()  # views first, then the mapping: SharedMemory's own __del__ cannot

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
