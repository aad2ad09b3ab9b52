"""Retention decisions (pure): never a locked segment, never one twice, the days rule takes
exactly the expired ones, caps and the floor are met oldest first when they can be, the
camera order changes nothing, and inputs are read only as far as needed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr.domain.retention import CameraRetention, RetentionPolicy
from nvr.domain.retention_plan import (
    DAY_NS,
    GIB,
    Deletion,
    Lock,
    SegmentInfo,
    SegmentOrderError,
    coverage,
    emergency,
    expired,
    floor_margin,
    plan,
)
from nvr.domain.values import RecordingType

S = 1_000_000_000
NOW = 1_795_478_400_000_000_000
KINDS: tuple[RecordingType, ...] = ("motion", "continuous", "manual", "panic", "scheduled")
Site = tuple[dict[str, list[SegmentInfo]], list[Lock], RetentionPolicy, int]


def locked(seg: SegmentInfo, locks: Iterable[Lock]) -> bool:
    """The oracle: half-open intervals overlap; an empty one stands for its instant."""
    seg_end = max(seg.end_ns, seg.start_ns + 1)
    return any(
        lk.camera_id == seg.camera_id
        and max(seg.start_ns, lk.start_ns) < min(seg_end, max(lk.end_ns, lk.start_ns + 1))
        for lk in locks
    )


def too_old(seg: SegmentInfo, policy: RetentionPolicy) -> bool:
    days = policy.for_camera(seg.camera_id).days_for(seg.recording_type)
    return seg.end_ns < NOW - days * DAY_NS


def seg(
    cid: str, n: int, start_ns: int, size: int = 10, kind: RecordingType = "continuous"
) -> SegmentInfo:
    return SegmentInfo(camera_id=cid, segment_id=f"{cid}-{n:05d}", path=f"{cid}/{n}.mp4",
                       bytes=size, start_ns=start_ns, end_ns=start_ns + 10 * S,
                       recording_type=kind)  # fmt: skip


class Counting:
    """An iterable that counts how many segments were taken from it."""

    def __init__(self, segments: Iterable[SegmentInfo]) -> None:
        self.segments, self.read = segments, 0

    def __iter__(self) -> Iterator[SegmentInfo]:
        for s in self.segments:
            self.read += 1
            yield s


@st.composite
def sites(draw: st.DrawFn) -> Site:
    cams: dict[str, list[SegmentInfo]] = {}
    locks: list[Lock] = []
    rules = []
    for cid in draw(st.lists(st.sampled_from("qbxa"), min_size=1, max_size=3, unique=True)):
        t = NOW - draw(st.integers(0, 12)) * DAY_NS
        segs = []
        for n in range(draw(st.integers(0, 25))):
            t += draw(st.integers(0, 2)) * DAY_NS // 4  # 0: same start, the id breaks the tie
            segs.append(SegmentInfo(camera_id=cid, segment_id=f"{n:03d}{cid}", path=f"{cid}/{n}",
                                    bytes=draw(st.integers(1, 100)), start_ns=t,
                                    end_ns=t + draw(st.sampled_from([0, 10 * S, DAY_NS // 4])),
                                    recording_type=draw(st.sampled_from(KINDS))))  # fmt: skip
        cams[cid] = segs
        for k in range(draw(st.integers(0, 2))):
            a = NOW - draw(st.integers(0, 48)) * DAY_NS // 4
            b = a + draw(st.sampled_from([0, 10 * S, DAY_NS]))
            locks.append(Lock(camera_id=cid, protection_id=f"{cid}{k}", start_ns=a, end_ns=b))
        by_type = {k: draw(st.integers(1, 10)) for k in draw(st.sets(st.sampled_from(KINDS)))}
        if draw(st.booleans()):  # otherwise the camera falls back to the default
            rules.append((cid, CameraRetention(days=draw(st.integers(1, 10)),
                                               days_by_type=tuple(sorted(by_type.items())),
                                               max_bytes=draw(st.sampled_from([0, 50, 500])))))  # fmt: skip
    default = CameraRetention(
        days=draw(st.integers(1, 10)), max_bytes=draw(st.sampled_from([0, 300]))
    )
    floor = draw(st.sampled_from([0, 50, 100, 300, 1000]))
    policy = RetentionPolicy(cameras=tuple(sorted(rules)), default=default, floor_bytes=floor)
    return cams, locks, policy, draw(st.integers(0, floor + 100))  # often below the floor


@settings(max_examples=300, deadline=None)
@given(site=sites())
def test_plan_obeys_every_rule(site: Site) -> None:
    cams, locks, policy, free = site
    result = plan(cams, locks, policy, NOW, free)
    keys = [(d.camera_id, d.segment_id) for d in result.deletions]
    assert len(keys) == len(set(keys))  # never the same segment twice
    segs = {(s.camera_id, s.segment_id): s for ss in cams.values() for s in ss}
    assert not any(locked(segs[k], locks) for k in keys)  # never a protected segment
    # The days rule takes exactly the expired unprotected segments, and names them first.
    due = {k for k, s in segs.items() if too_old(s, policy) and not locked(s, locks)}
    assert {(d.camera_id, d.segment_id) for d in result.deletions if d.rule == "days"} == due
    # The floor: nothing unless below it, then oldest first until floor + margin is free.
    by_rules = sum(d.bytes for d in result.deletions if d.rule != "floor")
    purged = [d for d in result.deletions if d.rule == "floor"]
    if free + by_rules >= policy.floor_bytes:
        assert purged == []
    else:
        ruled = {(d.camera_id, d.segment_id) for d in result.deletions if d.rule != "floor"}
        candidates = sorted(
            (s for k, s in segs.items() if k not in ruled and not locked(s, locks)), key=_oldest
        )
        assert [d.segment_id for d in purged] == [s.segment_id for s in candidates[: len(purged)]]
        now_free = free + by_rules + sum(d.bytes for d in purged)
        target = policy.floor_bytes + floor_margin(policy.floor_bytes)
        if len(purged) < len(candidates):
            assert now_free >= target and result.missing_bytes == 0
        else:
            assert result.missing_bytes == max(0, target - now_free)
        if purged:  # no more than needed
            assert now_free - purged[-1].bytes < target
    # Totals add up, per camera and per rule.
    for cid, tally in result.by_camera:
        mine = [d for d in result.deletions if d.camera_id == cid]
        assert (tally.segments, tally.bytes) == (len(mine), sum(d.bytes for d in mine))
    assert sum(t.bytes for _, t in result.by_rule) == sum(d.bytes for d in result.deletions)
    # Neither the order of the cameras nor passing totals changes anything.
    totals = {cid: sum(s.bytes for s in ss) for cid, ss in cams.items()}
    assert plan(dict(reversed(cams.items())), locks[::-1], policy, NOW, free) == result
    assert plan(cams, locks, policy, NOW, free, totals=totals) == result


@settings(max_examples=300, deadline=None)
@given(site=sites())
def test_cap_rule_is_met_oldest_first_and_reads_only_what_it_needs(site: Site) -> None:
    cams, locks, policy, _ = site
    for cid, segs in cams.items():
        rules = policy.for_camera(cid)
        counting = Counting(segs)
        total = sum(s.bytes for s in segs)
        result = expired(cid, counting, rules, locks, NOW, total)
        read = counting.read
        gone = {d.segment_id for d in result.deletions}
        left = [s for s in segs if s.segment_id not in gone]
        assert result.bytes_left == sum(s.bytes for s in left)
        assert [s.segment_id for s in result.rest] == [s.segment_id for s in left]
        capped = [d.segment_id for d in result.deletions if d.rule == "max_bytes"]
        over = bool(rules.max_bytes) and result.bytes_left > rules.max_bytes
        if over:
            assert all(locked(s, locks) for s in left)  # only protected footage remains
        # Oldest first: the cap took a prefix of what the days rule and the locks left...
        by_days = gone - set(capped)
        takeable = [s for s in segs if s.segment_id not in by_days and not locked(s, locks)]
        assert capped == [s.segment_id for s in takeable[: len(capped)]]
        if capped:  # ...and no more than it had to.
            last = takeable[len(capped) - 1]
            assert result.bytes_left + last.bytes > rules.max_bytes
        # Read up to the first segment young enough for every type, then while over the cap.
        shortest = min(rules.days_for(k) for k in KINDS)
        young = [i for i, s in enumerate(segs) if s.start_ns >= NOW - shortest * DAY_NS]
        needed = young[0] + 1 if young else len(segs)
        if capped:
            needed = max(needed, 1 + segs.index(takeable[len(capped) - 1]))
        assert read == (len(segs) if over else needed)


@settings(max_examples=300, deadline=None)
@given(site=sites(), data=st.data())
def test_emergency_frees_oldest_first_up_to_the_floor_and_its_margin(
    site: Site, data: st.DataObject
) -> None:
    cams, locks, _, _ = site
    floor = data.draw(st.integers(1, 3000))
    free = data.draw(st.integers(0, floor - 1))
    counting = {cid: Counting(segs) for cid, segs in cams.items()}
    result = emergency(counting, locks, floor, free)
    order = sorted((s for ss in cams.values() for s in ss), key=_oldest)
    candidates = [s for s in order if not locked(s, locks)]
    purged = result.deletions
    assert [(d.camera_id, d.segment_id) for d in purged] == [
        (s.camera_id, s.segment_id) for s in candidates[: len(purged)]
    ]
    now_free = free + sum(d.bytes for d in purged)
    target = floor + floor_margin(floor)
    assert result.target_bytes == target
    if len(purged) < len(candidates):
        assert now_free >= target and result.missing_bytes == 0
    else:
        assert result.missing_bytes == max(0, target - now_free)
    if purged:  # no more than needed
        assert now_free - purged[-1].bytes < target
    # Each camera is read up to the last segment looked at, and at most one further.
    if len(purged) < len(candidates):
        last = candidates[len(purged) - 1] if purged else None
        for cid, segs in cams.items():
            looked = sum(1 for s in segs if last is not None and _oldest(s) <= _oldest(last))
            assert looked <= counting[cid].read <= looked + 1


def _oldest(s: SegmentInfo) -> tuple[int, str, str]:
    return (s.start_ns, s.segment_id, s.camera_id)


@settings(max_examples=100, deadline=None)
@given(site=sites())
def test_coverage_after_a_plan_accounts_for_every_byte(site: Site) -> None:
    cams, locks, policy, free = site
    result = plan(cams, locks, policy, NOW, free)
    for before, after in zip(coverage(cams), coverage(cams, result.deletions), strict=True):
        tally = dict(result.by_camera)[before.camera_id]
        assert after.bytes + tally.bytes == before.bytes
        assert after.segments + tally.segments == before.segments
        assert (after.segments == 0) == (after.oldest_start_ns is None)


def test_reasons_name_the_limit_in_an_operators_words() -> None:
    week = CameraRetention(days=30, days_by_type=(("motion", 7), ("panic", 365)))
    policy = RetentionPolicy(cameras=(("gate", week),))
    old_motion = seg("gate", 1, NOW - 8 * DAY_NS, kind="motion")
    old_panic = seg("gate", 0, NOW - 40 * DAY_NS, kind="panic")
    result = plan({"gate": [old_panic, old_motion]}, [], policy, NOW, free_bytes=10 * GIB)
    assert [(d.segment_id, d.rule, d.reason) for d in result.deletions] == [
        ("gate-00001", "days", "older than 7 days (motion)")
    ]
    capped = RetentionPolicy(default=CameraRetention(max_bytes=100 * GIB))
    big = [seg("yard", n, NOW - (5 - n) * DAY_NS, size=30 * GIB) for n in range(5)]
    result = plan({"yard": big}, [], capped, NOW, free_bytes=10 * GIB)
    assert [d.segment_id for d in result.deletions] == ["yard-00000", "yard-00001"]
    assert {d.reason for d in result.deletions} == {"camera over its 100 GiB cap"}
    floor = RetentionPolicy(floor_bytes=2 * GIB)
    result = plan({"yard": big}, [], floor, NOW, free_bytes=int(1.2 * GIB))
    assert [d.reason for d in result.deletions] == ["free space 1.2 GiB below the 2 GiB floor"]
    assert result.target_bytes == 3 * GIB and result.missing_bytes == 0


def test_days_rule_wins_and_the_cap_counts_what_it_frees() -> None:
    # Year-long panic footage first, then week-old motion: the days rule frees enough, so
    # the cap takes nothing, and the segment both rules would take is named by "days".
    rules = CameraRetention(days_by_type=(("motion", 7), ("panic", 365)), max_bytes=100)
    segs = [
        seg("a", 0, NOW - 20 * DAY_NS, 60, "panic"),
        seg("a", 1, NOW - 10 * DAY_NS, 60, "motion"),
    ]
    result = expired("a", segs, rules, [], NOW, total_bytes=120)
    assert [(d.segment_id, d.rule) for d in result.deletions] == [("a-00001", "days")]
    assert result.bytes_left == 60


def test_locks_protect_what_they_overlap_and_nothing_else() -> None:
    segs = [seg("a", n, NOW - 40 * DAY_NS + n * 10 * S) for n in range(4)]  # all expired
    locks = [
        Lock(camera_id="a", protection_id="p", start_ns=segs[1].start_ns, end_ns=segs[1].end_ns),
        Lock(camera_id="a", protection_id="m", start_ns=segs[3].start_ns, end_ns=segs[3].start_ns),
        Lock(camera_id="b", protection_id="o", start_ns=0, end_ns=NOW),  # another camera's
    ]  # fmt: skip
    result = expired("a", segs, CameraRetention(days=30), locks, NOW, total_bytes=40)
    # segment 0 ends where the lock starts and segment 2 starts where it ends: not covered;
    # the empty lock is the instant segment 3 starts at (segment 2 ends there: not covered).
    assert [d.segment_id for d in result.deletions] == ["a-00000", "a-00002"]


def test_the_floor_takes_the_oldest_footage_of_any_camera_and_reads_little() -> None:
    a = Counting([seg("a", n, NOW - (5 - n) * DAY_NS) for n in range(1000)])
    b = Counting([seg("b", n, NOW - (7 - n) * DAY_NS) for n in range(1000)])
    locks = [
        Lock(camera_id="b", protection_id="p", start_ns=NOW - 6 * DAY_NS, end_ns=NOW - 6 * DAY_NS)
    ]
    result = emergency({"b": b, "a": a}, locks, floor_bytes=30, free_bytes=5)  # margin 30
    # 10 bytes each; 55 more needed to reach 30 + 30. b-00001 is locked; a tie in start
    # goes to the lower segment id.
    assert [d.segment_id for d in result.deletions] == [
        "b-00000", "a-00000", "b-00002", "a-00001", "b-00003", "a-00002",
    ]  # fmt: skip
    assert result.missing_bytes == 0
    assert (a.read, b.read) == (3, 5)  # what was taken or locked, and at most one more


def test_when_the_floor_cannot_be_reached_everything_allowed_goes_and_the_gap_is_said() -> None:
    segs = [seg("a", n, NOW - DAY_NS + n * 10 * S, size=100) for n in range(3)]
    lock = Lock(camera_id="a", protection_id="p", start_ns=segs[2].start_ns, end_ns=NOW)
    result = plan({"a": segs}, [lock], RetentionPolicy(floor_bytes=1000), NOW, free_bytes=50)
    assert [d.segment_id for d in result.deletions] == ["a-00000", "a-00001"]
    assert result.missing_bytes == 2000 - 250
    assert dict(result.by_rule)["floor"].bytes == 200


def test_the_days_rule_stops_at_the_first_young_segment() -> None:
    hourly = Counting(seg("a", n, NOW - 40 * DAY_NS + n * 3600 * S) for n in range(40 * 24))
    result = expired("a", hourly, CameraRetention(days=30), [], NOW, total_bytes=9600)
    assert len(result.deletions) == 10 * 24  # the 241st ends 10 s inside the 30 days
    assert hourly.read == 10 * 24 + 1
    idle = Counting(seg("a", n, NOW - 10 * DAY_NS + n * 60 * S) for n in range(10_000))
    assert expired("a", idle, CameraRetention(days=30), [], NOW, 100_000).deletions == ()
    assert idle.read == 1


def test_segments_out_of_order_are_refused() -> None:
    backwards = [seg("a", 1, NOW - 40 * DAY_NS), seg("a", 0, NOW - 41 * DAY_NS)]
    with pytest.raises(SegmentOrderError, match="not strictly oldest first"):
        plan({"a": backwards}, [], RetentionPolicy(), NOW, free_bytes=0)
    with pytest.raises(SegmentOrderError, match="under a"):
        plan({"a": [seg("b", 0, NOW)]}, [], RetentionPolicy(), NOW, free_bytes=0)


def test_coverage_reports_the_span_and_the_recorded_time() -> None:
    segs = [seg("a", n, NOW - (3 - n) * DAY_NS) for n in range(3)]
    gone = Deletion(camera_id="a", segment_id="a-00000", path="", bytes=10, rule="days", reason="")
    (cov,) = coverage({"a": segs}, [gone])
    assert (cov.segments, cov.bytes, cov.recorded_s) == (2, 20, 20.0)
    assert (cov.oldest_start_ns, cov.newest_end_ns) == (NOW - 2 * DAY_NS, NOW - DAY_NS + 10 * S)
    assert cov.coverage_days == pytest.approx(1 + 10 / 86_400)
    assert coverage({"b": []})[0].oldest_start_ns is None


def test_the_margin_buys_time_without_dwarfing_the_floor() -> None:
    assert floor_margin(2 * GIB) == GIB
    assert floor_margin(100 * GIB) == 10 * GIB
    assert floor_margin(100) == 100
    assert floor_margin(0) == 0
