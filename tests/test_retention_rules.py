"""The retention rules (pure): never a locked segment, never one twice, the days rule
deletes exactly the expired ones, caps and the floor are reached oldest first when they
can be, and inputs are read only as far as needed."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from nvr.domain.retention import CameraRetention, RetentionPolicy
from nvr.domain.retention_rules import DAY_NS, Lock, SegmentInfo, margin, plan, protected

S = 1_000_000_000
NOW = 1_795_478_400_000_000_000
KINDS = ("motion", "continuous", "manual", "panic", "scheduled")


@st.composite
def sites(draw: st.DrawFn) -> tuple[dict[str, list[SegmentInfo]], list[Lock], RetentionPolicy, int]:
    cams: dict[str, list[SegmentInfo]] = {}
    locks: list[Lock] = []
    rules = []
    for c in range(draw(st.integers(1, 3))):
        cid = f"c{c}"
        t = NOW - draw(st.integers(0, 12)) * DAY_NS
        segs = []
        for n in range(draw(st.integers(0, 25))):
            t += draw(st.integers(0, 2)) * DAY_NS // 4 + 10 * S
            segs.append(SegmentInfo(camera_id=cid, segment_id=f"{cid}-{n}", path=f"{cid}/{n}.mp4",
                                    bytes=draw(st.integers(1, 100)), start_ns=t, end_ns=t + 10 * S,
                                    recording_type=draw(st.sampled_from(KINDS))))  # fmt: skip
        cams[cid] = segs
        for k in range(draw(st.integers(0, 2))):
            a = NOW - draw(st.integers(0, 12)) * DAY_NS
            locks.append(
                Lock(camera_id=cid, protection_id=f"{cid}-l{k}", start_ns=a, end_ns=a + DAY_NS)
            )
        by_type = tuple(
            sorted(
                {
                    k: draw(st.integers(1, 10))
                    for k in draw(st.sets(st.sampled_from(KINDS), max_size=2))
                }.items()
            )
        )
        rules.append((cid, CameraRetention(days=draw(st.integers(1, 10)), days_by_type=by_type,
                                           max_bytes=draw(st.sampled_from([0, 50, 500])))))  # fmt: skip
    policy = RetentionPolicy(
        cameras=tuple(rules), floor_bytes=draw(st.sampled_from([0, 100, 1000]))
    )
    return cams, locks, policy, draw(st.integers(0, 1500))


@settings(max_examples=300, deadline=None)
@given(site=sites())
def test_rules_hold(
    site: tuple[dict[str, list[SegmentInfo]], list[Lock], RetentionPolicy, int],
) -> None:
    cams, locks, policy, free = site
    totals = {cid: sum(s.bytes for s in segs) for cid, segs in cams.items()}
    result = plan(cams, locks, policy, NOW, free, totals)
    ids = [d.segment_id for d in result.deletions]
    assert len(ids) == len(set(ids))
    segs = {s.segment_id: s for ss in cams.values() for s in ss}
    for d in result.deletions:
        assert not protected(
            segs[d.segment_id], [lk for lk in locks if lk.camera_id == d.camera_id]
        )
    # days: exactly the expired unprotected segments
    expired = {
        s.segment_id for s in segs.values()
        if s.end_ns < NOW - policy.for_camera(s.camera_id).days_for(s.recording_type) * DAY_NS
        and not protected(s, [lk for lk in locks if lk.camera_id == s.camera_id])
    }  # fmt: skip
    assert {d.segment_id for d in result.deletions if d.rule == "days"} == expired
    # caps: every camera under its cap unless only locked footage remains
    for cid, ss in cams.items():
        cap = policy.for_camera(cid).max_bytes
        left = [s for s in ss if s.segment_id not in ids]
        if cap and sum(s.bytes for s in left) > cap:
            # over the cap only when every segment still there is locked
            assert all(protected(s, [lk for lk in locks if lk.camera_id == cid]) for s in left)
    # floor: reached with its margin, unless everything unlocked went
    freed = sum(d.bytes for d in result.deletions)
    if (
        policy.floor_bytes
        and free + freed - sum(d.bytes for d in result.deletions if d.rule == "floor")
        < policy.floor_bytes
    ):
        if result.short_bytes == 0:
            assert free + freed >= policy.floor_bytes + margin(policy.floor_bytes)
        else:
            left = [s for s in segs.values() if s.segment_id not in ids]
            assert all(
                protected(s, [lk for lk in locks if lk.camera_id == s.camera_id]) for s in left
            )
    # order of cameras in the input changes nothing
    again = plan(dict(reversed(list(cams.items()))), locks, policy, NOW, free, totals)
    assert sorted(again.deletions, key=lambda d: d.segment_id) == sorted(
        result.deletions, key=lambda d: d.segment_id
    )


def test_the_floor_takes_the_oldest_footage_of_any_camera_first() -> None:
    def segs(cid: str, first_day: int) -> list[SegmentInfo]:
        return [SegmentInfo(camera_id=cid, segment_id=f"{cid}-{n}", path="p", bytes=10,
                            start_ns=NOW - (first_day - n) * DAY_NS, end_ns=NOW - (first_day - n) * DAY_NS + S,
                            recording_type="continuous") for n in range(4)]  # fmt: skip

    cams = {"a": segs("a", 5), "b": segs("b", 7)}
    policy = RetentionPolicy(default=CameraRetention(days=30), floor_bytes=40)
    result = plan(cams, [], policy, NOW, free_bytes=10)
    # 40 + 10 margin needed, 10 free: four segments, the oldest four across cameras.
    assert [d.segment_id for d in result.deletions] == ["b-0", "b-1", "a-0", "b-2"]
    assert all(d.rule == "floor" and "below" in d.reason for d in result.deletions)


def test_inputs_are_read_only_as_far_as_needed() -> None:
    read = 0

    def stream() -> Iterator[SegmentInfo]:
        nonlocal read
        for n in range(10_000):
            read += 1
            t = NOW - 10 * DAY_NS + n * 60 * S
            yield SegmentInfo(camera_id="a", segment_id=f"a-{n}", path="p", bytes=1,
                              start_ns=t, end_ns=t + 60 * S, recording_type="motion")  # fmt: skip

    policy = RetentionPolicy(default=CameraRetention(days=30))
    assert (
        plan({"a": stream()}, [], policy, NOW, free_bytes=10**9, totals={"a": 10_000}).deletions
        == ()
    )
    assert read == 1  # the oldest segment is 10 days old: nothing can be 30 days old
