"""Removing stale rings: segments whose writer died without closing them."""

from __future__ import annotations

import contextlib
import os

from .layout import MAGIC, OFF_MAGIC, OFF_STATE, RingBusy, State, check_name
from .notify import take_writer_lock
from .segment import SHM_DIR, Segment, unlink


def retire(name: str) -> None:
    """Mark a stale segment RETIRED (so its readers look for a successor) and unlink it.

    The caller must hold the ring's writer lock, so the segment cannot be a live one.
    """
    try:
        seg = Segment.attach(name)
    except FileNotFoundError:
        return
    except ValueError:
        pass  # empty or not a ring: nobody can be reading it as one
    else:
        if seg.get(OFF_MAGIC) == MAGIC:
            seg.put(OFF_STATE, State.RETIRED)
        seg.close()
    with contextlib.suppress(FileNotFoundError):
        unlink(name)


def sweep(prefix: str = "vigil-") -> list[str]:
    """Retire every ring named `prefix*` that has no live writer; return their names.

    For a supervisor at start-up. A writer starting on one of these names while the
    sweep holds its lock gets RingBusy and should retry.
    """
    removed = []
    for name in sorted(os.listdir(SHM_DIR)):
        try:
            check_name(name)
        except ValueError:
            continue
        if not name.startswith(prefix):
            continue
        try:
            lock = take_writer_lock(name)
        except RingBusy:
            continue
        try:
            retire(name)
            removed.append(name)
        finally:
            lock.close()
    return removed
