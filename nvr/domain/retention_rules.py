"""What retention deletes: the pure rules over a camera's segments, oldest first.

Rules, in order of precedence (a segment is deleted once, by the first rule that claims
it): `days` (older than the camera's days for its recording type), `max_bytes` (the
camera's footage over its cap: oldest first), `floor` (free space below the system floor:
oldest footage of any camera first, until the floor plus a margin is free). Footage under
an evidence lock is never chosen. Segments still being written are never passed in.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence

import msgspec

from nvr.domain.retention import RetentionPolicy
from nvr.domain.values import RecordingType

DAY_NS = 86_400_000_000_000
GIB = 1 << 30


class SegmentInfo(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    camera_id: str
    segment_id: str
    path: str
    bytes: int
    start_ns: int
    end_ns: int
    recording_type: RecordingType


class Lock(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    camera_id: str
    protection_id: str
    start_ns: int
    end_ns: int


class Deletion(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    camera_id: str
    segment_id: str
    path: str
    bytes: int
    rule: str  # "days", "max_bytes" or "floor"
    reason: str


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """Invariants: no segment twice; none overlapping a lock of its camera; `short_bytes`
    > 0 only when everything unprotected was chosen and the floor is still not reached."""

    deletions: tuple[Deletion, ...] = ()
    short_bytes: int = 0


def margin(floor: int) -> int:
    """Free space aimed for above the floor, so a purge is not repeated every round."""
    return floor // 4


def protected(seg: SegmentInfo, locks: Sequence[Lock]) -> bool:
    return any(lk.start_ns < seg.end_ns and seg.start_ns < lk.end_ns for lk in locks)


def _camera(
    cid: str, segments: Iterator[SegmentInfo], locks: Sequence[Lock], policy: RetentionPolicy,
    now_ns: int, total: int, out: list[Deletion], kept: list[SegmentInfo],
) -> None:  # fmt: skip
    """Days and cap rules for one camera. Consumes `segments` only as far as a rule can
    still apply; the unprotected segments consumed and kept go to `kept` (in order)."""
    rules = policy.for_camera(cid)
    shortest = min([rules.days, *(d for _, d in rules.days_by_type)])
    remaining = total
    for seg in segments:
        cap_over = rules.max_bytes and remaining > rules.max_bytes
        if seg.start_ns >= now_ns - shortest * DAY_NS and not cap_over:
            kept.append(seg)
            return  # no later segment is old enough, and the camera is within its cap
        if protected(seg, locks):
            continue
        days = rules.days_for(seg.recording_type)
        if seg.end_ns < now_ns - days * DAY_NS:
            reason = f"older than {days} days ({seg.recording_type})"
            out.append(Deletion(camera_id=cid, segment_id=seg.segment_id, path=seg.path,
                                bytes=seg.bytes, rule="days", reason=reason))  # fmt: skip
            remaining -= seg.bytes
        elif cap_over:
            reason = f"camera over its cap of {rules.max_bytes / GIB:.3g} GiB"
            out.append(Deletion(camera_id=cid, segment_id=seg.segment_id, path=seg.path,
                                bytes=seg.bytes, rule="max_bytes", reason=reason))  # fmt: skip
            remaining -= seg.bytes
        else:
            kept.append(seg)


def plan(
    segments_by_camera: Mapping[str, Iterable[SegmentInfo]],
    locks: Iterable[Lock],
    policy: RetentionPolicy,
    now_ns: int,
    free_bytes: int,
    totals: Mapping[str, int] | None = None,
) -> Plan:
    """Every deletion the policy calls for now. Each camera's segments must come oldest
    first (by start); they are read lazily and only as far as needed. `totals` are each
    camera's bytes on disk (for the cap rule; summed from the segments when missing,
    which reads them all)."""
    by_cam: dict[str, list[Lock]] = {}
    for lk in locks:
        by_cam.setdefault(lk.camera_id, []).append(lk)
    out: list[Deletion] = []
    rests: dict[str, Iterator[SegmentInfo]] = {}
    for cid in sorted(segments_by_camera):
        it = iter(segments_by_camera[cid])
        if totals is None or cid not in totals:
            listed = list(it)
            total, it = sum(s.bytes for s in listed), iter(listed)
        else:
            total = totals[cid]
        kept: list[SegmentInfo] = []
        _camera(cid, it, by_cam.get(cid, []), policy, now_ns, total, out, kept)
        rests[cid] = itertools.chain(kept, it)
    freed = sum(d.bytes for d in out)
    floor = policy.floor_bytes
    if not floor or free_bytes + freed >= floor:
        return Plan(deletions=tuple(out))
    target = floor + margin(floor)
    oldest = heapq.merge(*rests.values(), key=lambda s: (s.start_ns, s.segment_id))
    for seg in oldest:
        if free_bytes + freed >= target:
            break
        if protected(seg, by_cam.get(seg.camera_id, [])):
            continue
        reason = f"free space {free_bytes / GIB:.3g} GiB below the {floor / GIB:.3g} GiB floor"
        out.append(Deletion(camera_id=seg.camera_id, segment_id=seg.segment_id, path=seg.path,
                            bytes=seg.bytes, rule="floor", reason=reason))  # fmt: skip
        freed += seg.bytes
    return Plan(deletions=tuple(out), short_bytes=max(0, target - free_bytes - freed))
