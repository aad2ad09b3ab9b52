"""A child process that records a clip into segments, stopping after N packets to be killed."""

from __future__ import annotations

import sys
from pathlib import Path

import av

from nvr.workers.segments import SegmentWriter


def main(clip: str, root: str, stop_after: int) -> None:
    inp = av.open(clip)
    stream = inp.streams.video[0]
    writer = SegmentWriter(Path(root), "cam", stream, segment_s=60, emit=lambda e: None)
    writer.anchor(1_795_478_400_000_000_000, 0)
    for n, packet in enumerate((p for p in inp.demux(stream) if p.size), 1):
        writer.write(packet)
        if n == stop_after:
            print("written", flush=True)
            sys.stdin.readline()  # wait here to be killed


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
