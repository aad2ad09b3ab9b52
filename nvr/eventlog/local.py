"""The LMDB log used from a single process that owns writing (tools, tests, imports)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from nvr.clock import Clock
from nvr.domain.envelope import Proposed
from nvr.eventlog.lmdbstore import DEFAULT_MAP_SIZE, MAX_MAP_SIZE, LmdbStore


class LmdbLog(LmdbStore):
    """Reads and writes in this process. Another process must not append at the same
    time: producers in several processes go through the appender (`nvr.eventlog.appender`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        map_size: int = DEFAULT_MAP_SIZE,
        max_map_size: int = MAX_MAP_SIZE,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            path, writable=True, map_size=map_size, max_map_size=max_map_size, clock=clock
        )
        self._cond = threading.Condition()

    def append(self, events: Sequence[Proposed]) -> list[int]:
        result = self.append_group([events])[0]
        if not isinstance(result, list):
            raise result
        with self._cond:
            self._cond.notify_all()
        return result

    def wait_for(self, position: int, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.head() >= position, timeout)
