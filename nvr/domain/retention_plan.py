"""Which segments retention deletes and why: the days, cap and floor rules, and a dry run.

Each camera's segments come in oldest first, as an indexed query yields them: strictly
increasing (start_ns, segment_id). They are read lazily and only as far as a rule can still
take one, so a round over 4M segments reads a handful. A segment read out of that order (or
under another camera) raises `SegmentOrderError`: taken in the wrong order, the cap and
floor rules would delete newer footage than they should. See docs/design/retention.md.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Literal, NamedTuple, get_args

import msgspec

from nvr.domain.errors import DomainError
from nvr.domain.retention import CameraRetention, RetentionPolicy
from nvr.domain.values import RecordingType

DAY_NS = 86_400_000_000_000
GIB = 1 << 30
KINDS: tuple[str, ...] = get_args(RecordingType)
Rule = Literal["days", "max_bytes", "floor"]
RULES: tuple[Rule, ...] = ("days", "max_bytes", "floor")  # precedence: the first rule names it


class SegmentInfo(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A closed segment file (never one still being written). An `end_ns` before
    `start_ns` is read as `start_ns`."""

    camera_id: str
    segment_id: str
    path: str
    bytes: int
    start_ns: int
    end_ns: int
    recording_type: RecordingType


class Lock(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An evidence lock (`footage.protected`): footage of `camera_id` in [start_ns, end_ns)."""

    camera_id: str
    protection_id: str
    start_ns: int
    end_ns: int


class Deletion(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One segment to delete, the rule that chose it, and why in an operator's words."""

    camera_id: str
    segment_id: str
    path: str
    bytes: int
    rule: Rule
    reason: str


class SegmentOrderError(DomainError, ValueError):
    """A camera's segments were not strictly oldest first, or one named another camera."""


def floor_margin(floor_bytes: int) -> int:
    """Free space a purge aims for above the floor: a tenth of it, at least 1 GiB, never
    more than the floor itself. Without it a purge would stop exactly at the floor and the
    next minute of recording would start another."""
    return max(floor_bytes // 10, min(floor_bytes, GIB))


def is_protected(segment: SegmentInfo, locks: Iterable[Lock]) -> bool:
    """Whether a lock of the segment's camera overlaps it."""
    return any(
        lk.camera_id == segment.camera_id
        and _overlap(lk.start_ns, lk.end_ns, segment.start_ns, segment.end_ns)
        for lk in locks
    )


class Expiry(NamedTuple):
    """What the days and cap rules take from one camera. `rest` is every segment they did
    not take (protected ones too), oldest first: those already read, then the unread rest."""

    deletions: tuple[Deletion, ...]
    bytes_left: int
    rest: Iterator[SegmentInfo]


def expired(
    camera_id: str,
    segments: Iterable[SegmentInfo],
    rules: CameraRetention,
    locks: Iterable[Lock],
    now_ns: int,
    total_bytes: int,
) -> Expiry:
    """The days rule, then the cap rule, for one camera's segments (oldest first).

    `total_bytes` is the camera's footage on disk, protected segments included. Reading
    stops at the first segment that started within the camera's shortest retention (no later
    one can be old enough for any type) and, if the camera is over its cap, once it is not."""
    mine = [lk for lk in locks if lk.camera_id == camera_id]
    source = _ordered(camera_id, segments)
    horizon = now_ns - min(rules.days_for(kind) for kind in KINDS) * DAY_NS
    out: list[Deletion] = []
    held: list[SegmentInfo] = []
    left = total_bytes
    # The days rule runs to its horizon before the cap rule starts, so the cap counts what
    # the days rule frees anywhere (a week-old motion segment behind year-long panic footage)
    # and takes only what is still over.
    for seg in source:
        days = rules.days_for(seg.recording_type)
        if max(seg.start_ns, seg.end_ns) < now_ns - days * DAY_NS and not is_protected(seg, mine):
            out.append(_deletion(seg, "days", f"older than {days} days ({seg.recording_type})"))
            left -= seg.bytes
        else:
            held.append(seg)
        if seg.start_ns >= horizon:
            break
    pending = chain(held, source)
    kept: list[SegmentInfo] = []
    reason = f"camera over its {_size(rules.max_bytes)} cap"
    while rules.max_bytes and left > rules.max_bytes and (old := next(pending, None)) is not None:
        if is_protected(old, mine):
            kept.append(old)
        else:
            out.append(_deletion(old, "max_bytes", reason))
            left -= old.bytes
    return Expiry(tuple(out), left, chain(kept, pending))


class Purge(msgspec.Struct, frozen=True, kw_only=True):
    """The floor rule's choice. Invariant: `missing_bytes` > 0 only when every unprotected
    segment offered was chosen and `target_bytes` (floor + margin) is still not free."""

    deletions: tuple[Deletion, ...] = ()
    target_bytes: int = 0
    missing_bytes: int = 0


def emergency(
    segments_by_camera: Mapping[str, Iterable[SegmentInfo]],
    locks: Iterable[Lock],
    floor_bytes: int,
    free_bytes: int,
    *,
    pending_bytes: int = 0,
) -> Purge:
    """The floor rule: if `free_bytes` plus what other rules are already freeing
    (`pending_bytes`) is below the floor, the oldest unprotected footage of any camera
    until the floor plus its margin would be free. Each camera is read one segment ahead."""
    target = floor_bytes + floor_margin(floor_bytes)
    free = free_bytes + pending_bytes
    if free >= floor_bytes:
        return Purge(target_bytes=target)
    mine = _by_camera(locks)
    streams = [_ordered(cid, segments_by_camera[cid]) for cid in sorted(segments_by_camera)]
    oldest = heapq.merge(*streams, key=lambda s: (s.start_ns, s.segment_id, s.camera_id))
    reason = f"free space {_size(free_bytes)} below the {_size(floor_bytes)} floor"
    out: list[Deletion] = []
    while free < target and (seg := next(oldest, None)) is not None:
        if not is_protected(seg, mine.get(seg.camera_id, ())):
            out.append(_deletion(seg, "floor", reason))
            free += seg.bytes
    return Purge(deletions=tuple(out), target_bytes=target, missing_bytes=max(0, target - free))


class Tally(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    segments: int = 0
    bytes: int = 0


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """Every deletion due now. Invariants: a segment at most once, never a protected one;
    days and cap deletions by camera id and oldest first, then floor deletions oldest first;
    `by_camera` lists every camera given (by id), `by_rule` every rule in precedence order."""

    deletions: tuple[Deletion, ...]
    by_camera: tuple[tuple[str, Tally], ...]
    by_rule: tuple[tuple[Rule, Tally], ...]
    free_bytes: int
    floor_bytes: int
    target_bytes: int
    missing_bytes: int


def plan(
    segments_by_camera: Mapping[str, Iterable[SegmentInfo]],
    locks: Iterable[Lock],
    policy: RetentionPolicy,
    now_ns: int,
    free_bytes: int,
    *,
    totals: Mapping[str, int] | None = None,
) -> Plan:
    """The days, cap and floor rules together, in that precedence (a segment goes once,
    named by the first rule that takes it). `totals` are the cameras' bytes on disk; a
    camera missing from it is read whole to sum them."""
    locks = list(locks)
    out: list[Deletion] = []
    rests: dict[str, Iterator[SegmentInfo]] = {}
    for cid in sorted(segments_by_camera):
        segments = segments_by_camera[cid]
        if totals is None or cid not in totals:
            segments = list(segments)
            total = sum(s.bytes for s in segments)
        else:
            total = totals[cid]
        done = expired(cid, segments, policy.for_camera(cid), locks, now_ns, total)
        out.extend(done.deletions)
        rests[cid] = done.rest
    freed = sum(d.bytes for d in out)
    purge = emergency(rests, locks, policy.floor_bytes, free_bytes, pending_bytes=freed)
    out.extend(purge.deletions)
    by_camera = {cid: Tally() for cid in sorted(segments_by_camera)}
    by_rule = {rule: Tally() for rule in RULES}
    for d in out:
        by_camera[d.camera_id] = _add(by_camera[d.camera_id], d)
        by_rule[d.rule] = _add(by_rule[d.rule], d)
    return Plan(deletions=tuple(out), by_camera=tuple(by_camera.items()),
                by_rule=tuple(by_rule.items()), free_bytes=free_bytes,
                floor_bytes=policy.floor_bytes, target_bytes=purge.target_bytes,
                missing_bytes=purge.missing_bytes)  # fmt: skip


class Coverage(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One camera's footage. Invariant: `segments` == 0 exactly when the ends are None.
    `coverage_days` is the span from the oldest start to the newest end; `recorded_s` how
    much of it holds footage (less for motion-only recording)."""

    camera_id: str
    segments: int = 0
    bytes: int = 0
    oldest_start_ns: int | None = None
    newest_end_ns: int | None = None
    recorded_s: float = 0.0
    coverage_days: float = 0.0


def coverage(
    segments_by_camera: Mapping[str, Iterable[SegmentInfo]], deletions: Iterable[Deletion] = ()
) -> tuple[Coverage, ...]:
    """Each camera's footage (by camera id) once `deletions` are carried out. Reads every
    segment, in any order: it is for dry-run reports, not for each round."""
    gone = {(d.camera_id, d.segment_id) for d in deletions}
    out = []
    for cid in sorted(segments_by_camera):
        n = size = recorded_ns = 0
        first: int | None = None
        last: int | None = None
        for seg in segments_by_camera[cid]:
            if (seg.camera_id, seg.segment_id) in gone:
                continue
            end = max(seg.start_ns, seg.end_ns)
            n, size, recorded_ns = n + 1, size + seg.bytes, recorded_ns + end - seg.start_ns
            first = seg.start_ns if first is None else min(first, seg.start_ns)
            last = end if last is None else max(last, end)
        span = 0 if first is None or last is None else last - first
        out.append(Coverage(camera_id=cid, segments=n, bytes=size, oldest_start_ns=first,
                            newest_end_ns=last, recorded_s=recorded_ns / 1e9,
                            coverage_days=span / DAY_NS))  # fmt: skip
    return tuple(out)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> bool:
    # An empty interval stands for its instant: a lock on one moment keeps the segment showing it.
    return a0 < max(b1, b0 + 1) and b0 < max(a1, a0 + 1)


def _ordered(camera_id: str, segments: Iterable[SegmentInfo]) -> Iterator[SegmentInfo]:
    """`segments` checked as they are read (only those read can be checked)."""
    last: tuple[int, str] | None = None
    for seg in segments:
        key = (seg.start_ns, seg.segment_id)
        if seg.camera_id != camera_id:
            raise SegmentOrderError(
                f"segment {seg.segment_id} of {seg.camera_id} under {camera_id}"
            )
        if last is not None and key <= last:
            raise SegmentOrderError(
                f"{camera_id}: segment {key[1]} (start {key[0]}) after {last[1]} (start "
                f"{last[0]}): not strictly oldest first"
            )
        last = key
        yield seg


def _by_camera(locks: Iterable[Lock]) -> dict[str, list[Lock]]:
    out: dict[str, list[Lock]] = {}
    for lk in locks:
        out.setdefault(lk.camera_id, []).append(lk)
    return out


def _deletion(seg: SegmentInfo, rule: Rule, reason: str) -> Deletion:
    return Deletion(camera_id=seg.camera_id, segment_id=seg.segment_id, path=seg.path,
                    bytes=seg.bytes, rule=rule, reason=reason)  # fmt: skip


def _add(t: Tally, d: Deletion) -> Tally:
    return Tally(segments=t.segments + 1, bytes=t.bytes + d.bytes)


def _size(n: int) -> str:
    """Bytes for a reason text: "1.2 GiB", "100 GiB", "512 KiB"."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n} B"
