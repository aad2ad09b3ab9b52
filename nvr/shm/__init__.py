"""Live decoded frames in shared memory: camera workers write, the UIs read.

A leaf package: it imports nothing else of Vigil's. See docs/design/shm.md.
"""

from __future__ import annotations

from .cleanup import sweep
from .layout import Geometry, PixelFormat, RingBusy, RingUnavailable, ring_name
from .reader import Frame, FrameReader, ReaderStatistics
from .ring import FrameWriter, WriterStatistics

__all__ = [
    "Frame",
    "FrameReader",
    "FrameWriter",
    "Geometry",
    "PixelFormat",
    "ReaderStatistics",
    "RingBusy",
    "RingUnavailable",
    "WriterStatistics",
    "ring_name",
    "sweep",
]
