"""A housekeeper run in its own process by the kill tests: one round, then waits to be killed."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

from nvr.clock import SimulatedClock
from nvr.domain.retention import RetentionPolicy
from nvr.eventlog.local import LmdbLog
from nvr.workers.housekeeper import Housekeeper


def main(data: str, storage: str, policy: str, now_ns: str) -> None:
    events = LmdbLog(Path(data) / "log")
    keeper = Housekeeper(events, Path(data) / "vigil.sqlite", Path(storage),  # type: ignore[arg-type]
                         msgspec.json.decode(policy, type=RetentionPolicy), clock=SimulatedClock(int(now_ns)))  # fmt: skip
    keeper.start()
    print("started", flush=True)
    keeper.check()
    print("checked", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main(*sys.argv[1:5])
