"""`nvr retention plan --policy FILE`: the dry run. Replays the history (a private copy of
the export, caught up with the log) through a proposed policy and reports what it would
delete now and the days of footage each camera would keep. Nothing is written."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from nvr.audit_cli import caught_up_copy
from nvr.cli import print_json
from nvr.clock import SystemClock
from nvr.domain.config import ConfigError, parse_config
from nvr.domain.config_changes import retention_policy
from nvr.domain.retention_plan import DAY_NS, GIB, Lock, SegmentInfo, plan
from nvr.domain.timefmt import parse_ns
from nvr.projections import queries


def add_parser(sub: Any) -> None:
    ret = sub.add_parser("retention", help="retention policy tools").add_subparsers(
        dest="retention_command", required=True
    )
    p = ret.add_parser("plan", help="what a proposed policy would delete now (a dry run)")
    p.add_argument(
        "--policy", required=True, help="a config file (its retention settings are used)"
    )
    p.add_argument(
        "--storage", help="recordings directory, for free space (default DATA/../recordings)"
    )
    p.add_argument(
        "--free-gib", type=float, help="assume this much free space instead of measuring"
    )
    p.add_argument("--at", help="plan as of this RFC 3339 time (default: now)")


def run(args: argparse.Namespace, data_dir: Path) -> int:
    path = Path(args.policy)
    try:
        policy = retention_policy(parse_config(path.read_text()))
    except (OSError, UnicodeDecodeError, ConfigError) as exc:
        print(f"nvr: {path}: policy refused, nothing planned:\n{exc}", file=sys.stderr)
        return 1
    now = parse_ns(args.at) if args.at else SystemClock().now_ns()
    if args.free_gib is not None:
        free = int(args.free_gib * GIB)
    else:
        free = shutil.disk_usage(
            Path(args.storage) if args.storage else data_dir.parent / "recordings"
        ).free
    with tempfile.TemporaryDirectory() as tmp:
        db = queries.connect(caught_up_copy(data_dir, Path(tmp)))
        try:
            report = _report(db, policy, now, free)
        finally:
            db.close()
    report["policy"] = str(path)
    print_json(report)
    return 0


def _report(db: Any, policy: Any, now: int, free: int) -> dict[str, Any]:
    cams = [r[0] for r in db.execute("SELECT camera_id FROM camera_status ORDER BY camera_id")]
    locks = [Lock(camera_id=c, protection_id=p, start_ns=s, end_ns=e)
             for c, p, s, e in db.execute("SELECT camera_id, protection_id, start_ns, end_ns FROM protections")]  # fmt: skip
    rows = {
        cid: [SegmentInfo(camera_id=cid, segment_id=sid, path=p, bytes=b or 0, start_ns=s, end_ns=e, recording_type=k)
              for sid, p, b, s, e, k in db.execute(
                  "SELECT segment_id, file_path, bytes, start_ns, end_ns, recording_type FROM recordings "
                  "WHERE camera_id = ? AND end_ns IS NOT NULL ORDER BY start_ns, segment_id", (cid,))]
        for cid in cams
    }  # fmt: skip
    result = plan(rows, locks, policy, now, free)
    gone = {d.segment_id for d in result.deletions}
    cameras = {}
    for cid, segs in rows.items():
        left = [s for s in segs if s.segment_id not in gone]
        mine = [d for d in result.deletions if d.camera_id == cid]
        by_rule: dict[str, dict[str, int]] = {}
        for d in mine:
            entry = by_rule.setdefault(d.rule, {"segments": 0, "bytes": 0})
            entry["segments"] += 1
            entry["bytes"] += d.bytes
        cameras[cid] = {
            "segments": len(segs), "bytes": sum(s.bytes for s in segs),
            "delete": by_rule,
            "coverage_days_now": _days(segs, now), "coverage_days_after": _days(left, now),
            "oldest_kept": left[0].start_ns if left else None,
        }  # fmt: skip
    return {
        "at_ns": now, "free_bytes": free, "floor_bytes": policy.floor_bytes,
        "delete_segments": len(result.deletions),
        "delete_bytes": sum(d.bytes for d in result.deletions),
        "still_short_bytes": result.missing_bytes, "cameras": cameras,
    }  # fmt: skip


def _days(segs: list[SegmentInfo], now: int) -> float:
    """Days from the oldest footage kept to now (0 without footage)."""
    return round((now - segs[0].start_ns) / DAY_NS, 2) if segs else 0.0
