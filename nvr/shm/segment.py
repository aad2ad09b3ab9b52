"""One mapped shared-memory segment, kept away from Python's resource tracker.

`multiprocessing.shared_memory.SharedMemory` registers every segment it creates *or
attaches* with a resource tracker, which unlinks the name when the process that
registered it (or the whole process tree sharing the tracker) exits: a reader that
exits would destroy the writer's ring, and a killed writer's tracker could unlink the
ring its restarted successor has just created under the same name (CPython gh-82300,
fixed in 3.13 by `track=False`). Vigil owns cleanup itself (the writer unlinks on close;
the next writer or `sweep()` replaces a stale segment), so on 3.11 and 3.12 we use the
workaround from that issue: register and unregister are no-ops while a segment is
created or attached (only this module does that, under a lock), and unlinking calls
`shm_unlink` directly.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Iterator
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np
import numpy.typing as npt

from .layout import HEADER_BYTES

SHM_DIR = "/dev/shm"  # where Linux's shm_open keeps names; used for fallocate and sweep
_PATCH_LOCK = threading.Lock()


def _no_op(name: Any, rtype: str) -> None:
    return None


@contextlib.contextmanager
def _untracked() -> Iterator[None]:
    with _PATCH_LOCK:
        saved = resource_tracker.register, resource_tracker.unregister
        resource_tracker.register = resource_tracker.unregister = _no_op
        try:
            yield
        finally:
            resource_tracker.register, resource_tracker.unregister = saved


def _shared_memory(name: str, create: bool, size: int) -> SharedMemory:
    if sys.version_info >= (3, 13):
        return SharedMemory(name, create=create, size=size, track=False)
    with _untracked():
        return SharedMemory(name, create=create, size=size)


def unlink(name: str) -> None:
    """Remove a name (its mappings live on until closed). FileNotFoundError if absent.

    This is the call `SharedMemory.unlink()` makes, without telling a tracker, and it
    works on a name that cannot be mapped (an empty segment left by a writer killed
    between creating and sizing it)."""
    importlib.import_module("_posixshmem").shm_unlink("/" + name)


def _reserve(name: str, size: int) -> None:
    """Allocate the pages now, so a full /dev/shm is an OSError(ENOSPC) here and not a
    SIGBUS on some later write into a page tmpfs could not provide."""
    path = os.path.join(SHM_DIR, name)
    if not os.path.exists(path):
        return  # not Linux's layout: the prefault will have to do
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


class Segment:
    """A mapping and the two views Vigil uses on it: u64 words and raw bytes.

    Invariant: nothing outside this object holds a view into the mapping, so `close()`
    can always unmap it. Readers copy frames out; they never hand out views.
    """

    def __init__(self, shm: SharedMemory) -> None:
        buf = shm.buf
        assert buf is not None
        if shm.size < HEADER_BYTES or shm.size % 8:
            shm.close()
            raise ValueError(f"{shm.name}: {shm.size} bytes is not a frame ring")
        self._shm = shm
        self.name = shm.name
        self.size = shm.size
        self.words: memoryview | None = buf.cast("Q")
        self.raw: npt.NDArray[np.uint8] | None = np.frombuffer(buf, dtype=np.uint8)

    @classmethod
    def create(cls, name: str, size: int) -> Segment:
        """FileExistsError if the name is taken."""
        shm = _shared_memory(name, True, size)
        try:
            _reserve(name, size)
        except BaseException:
            shm.close()
            unlink(name)
            raise
        return cls(shm)

    @classmethod
    def attach(cls, name: str) -> Segment:
        """FileNotFoundError if there is no such name."""
        return cls(_shared_memory(name, False, 0))

    def get(self, offset: int) -> int:
        assert self.words is not None
        return int(self.words[offset >> 3])

    def put(self, offset: int, value: int) -> None:
        assert self.words is not None
        self.words[offset >> 3] = value

    def bytes_at(self, offset: int, count: int) -> npt.NDArray[np.uint8]:
        assert self.raw is not None
        return self.raw[offset : offset + count]

    def close(self) -> None:
        """Unmap. Views derived from `raw` must be dropped first (BufferError otherwise)."""
        if self.words is not None:
            self.words.release()
            self.words = None
        self.raw = None
        self._shm.close()
