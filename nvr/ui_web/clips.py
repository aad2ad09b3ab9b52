"""One MP4 for any range of a camera's footage, remuxed from its segment files: never
re-encoded. The clip starts at the keyframe at or before the range's start (a player
cannot start elsewhere) and ends with the last frame before the range's end; time in the
clip is wall time minus the clip's first keyframe, so gaps between segments stay gaps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import msgspec

NS = 1_000_000_000
MAX_SPAN_NS = 2 * 3600 * NS
"""The longest range one request may assemble (a day of 4 Mbit/s is 43 GB)."""


class Piece(msgspec.Struct, frozen=True, kw_only=True):
    """A segment overlapping the range, as the export describes it."""

    path: str
    start_ns: int
    end_ns: int
    keyframes: tuple[int, ...]  # offsets from start_ns


def pieces(db: object, camera_id: str, start_ns: int, end_ns: int) -> list[Piece]:
    """Closed segments of `camera_id` overlapping [start_ns, end_ns), in time order."""
    longest = db.execute(  # type: ignore[attr-defined]
        "SELECT max_segment_ns FROM camera_status WHERE camera_id = ?", (camera_id,)
    ).fetchone()
    rows = db.execute(  # type: ignore[attr-defined]
        "SELECT file_path, start_ns, end_ns, keyframes_json FROM recordings WHERE camera_id = ? "
        "AND start_ns >= ? AND start_ns < ? AND end_ns > ? ORDER BY start_ns",
        (camera_id, start_ns - (longest[0] if longest else 0), end_ns, start_ns),
    )
    return [Piece(path=p, start_ns=s, end_ns=e, keyframes=tuple(json.loads(k or "[0]")))
            for p, s, e, k in rows]  # fmt: skip


def assemble(storage: Path, parts: Sequence[Piece], start_ns: int, end_ns: int, out: Path) -> int:
    """Write the clip to `out` (MP4, moov first); returns the number of video packets."""
    if not parts:
        raise ValueError("no footage in that range")
    first = parts[0]
    keys = [k for k in first.keyframes if first.start_ns + k <= start_ns] or [0]
    origin = first.start_ns + max(keys)  # the clip's time 0
    written, last = 0, origin - 1
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
        ostream = None
        for part in parts:
            with av.open(str(storage / part.path)) as src:
                istream = src.streams.video[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                base = Fraction(istream.time_base or Fraction(1, 90_000))
                shift = int(Fraction(part.start_ns - origin, NS) / base)  # segment start in ticks
                for packet in src.demux(istream):
                    if packet.pts is None or not packet.size:
                        continue
                    wall = part.start_ns + int(packet.pts * base * NS)
                    if wall <= last:  # before the clip, or already written (overlapping pre-roll)
                        continue
                    if wall >= end_ns:
                        break
                    packet.pts += shift
                    if packet.dts is not None:
                        packet.dts += shift
                    packet.stream = ostream
                    dst.mux(packet)
                    written += 1
                    last = wall
    return written
