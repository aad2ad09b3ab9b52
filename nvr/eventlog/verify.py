"""Checking a log end to end: hash chain, ordering, decodability, indexes and head.

Used by `nvr log verify`; the first problem found is reported with its position.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from nvr.domain.codec import decode_payload
from nvr.domain.errors import EventDecodeError
from nvr.eventlog.errors import LogCorrupt
from nvr.eventlog.records import GENESIS_HASH, HASH_SIZE, chain, decode_record
from nvr.eventlog.sequencer import Head


class Report(msgspec.Struct, kw_only=True):
    ok: bool
    events: int
    head: int
    head_hash: str
    first_bad_position: int | None = None
    problem: str = ""


def verify_records(records: Iterable[tuple[int, bytes]], head: Head) -> Report:
    """Walk every stored (position, value) and compare the end with the recorded head."""
    prev_hash = GENESIS_HASH
    last_t = 0
    expected = 1
    versions: dict[str, int] = {}
    count = 0

    def bad(position: int, problem: str) -> Report:
        return Report(
            ok=False, events=count, head=head.position, head_hash=head.hash.hex(),
            first_bad_position=position, problem=problem,
        )  # fmt: skip

    try:
        for position, value in records:
            if position != expected:
                return bad(expected, f"record missing (next stored is {position})")
            env = decode_record(value, position)
            body = value[HASH_SIZE:]
            if chain(prev_hash, body) != value[:HASH_SIZE]:
                return bad(position, "hash chain broken: record altered or reordered")
            if env.recorded_at_ns < last_t:
                return bad(position, "recorded_at_ns goes back in time")
            version = versions.get(env.stream, 0) + 1
            if env.stream_version != version:
                return bad(
                    position,
                    f"stream {env.stream!r} version {env.stream_version}, expected {version}",
                )
            decode_payload(env)
            versions[env.stream] = version
            prev_hash, last_t = value[:HASH_SIZE], env.recorded_at_ns
            expected += 1
            count += 1
    except LogCorrupt as exc:
        return bad(exc.position, exc.reason)
    except EventDecodeError as exc:
        return bad(exc.position or expected, exc.reason)
    if count != head.position:
        return bad(count + 1, f"head says {head.position} events, {count} are stored (truncated?)")
    if prev_hash != head.hash:
        return bad(count, "last record's chain hash differs from the recorded head")
    return Report(ok=True, events=count, head=head.position, head_hash=head.hash.hex())


def verify_log(log: object) -> Report:
    """Verify any log offering `read_raw()` and `head_state()`; LMDB logs also get their
    indexes cross-checked."""
    report = verify_records(log.read_raw(), log.head_state())  # type: ignore[attr-defined]
    check = getattr(log, "check_indexes", None)
    if report.ok and check is not None:
        problem = check()
        if problem is not None:
            report.ok = False
            report.first_bad_position, report.problem = problem
    return report
