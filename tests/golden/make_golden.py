"""Writes tests/golden/events-v<N>.jsonl: one stored record per event type, as bytes (hex)
and as the expected decoded value. Run once per new type or version; never rewrite a
committed file (old records must decode forever): add a new file instead."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

from nvr.domain.codec import propose
from nvr.domain.events import EVENT_TYPES
from nvr.eventlog.memory import MemoryLog
from tests.samples import sample_event


def main(out: Path, only: set[str] | None = None) -> None:
    """Write golden records of every type (or only the tags in `only`, for new types)."""
    if out.exists():
        sys.exit(f"{out} exists: golden files are never rewritten")
    log = MemoryLog()
    lines = []
    for i, cls in enumerate(EVENT_TYPES):
        if only and cls.__struct_config__.tag not in only:
            continue
        event = sample_event(cls)
        log.append([propose(event, stream=f"golden/{i}", actor="golden")])
        env = log.get(log.head())
        lines.append(
            msgspec.json.encode(
                {"record": log.raw(env.position).hex(), "type": env.type, "version": cls.VERSION,
                 "decoded": msgspec.to_builtins(event)}
            )
        )
    out.write_bytes(b"\n".join(lines) + b"\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), set(sys.argv[2:]) or None)
