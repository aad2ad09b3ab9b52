"""The `nvr log` and `nvr projection` subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from nvr.cli import print_json
from nvr.domain.envelope import Proposed
from nvr.eventlog import history
from nvr.eventlog.errors import AppenderBusy
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.port import CaughtUp, EventLog
from nvr.eventlog.verify import verify_log

IMPORT_BATCH = 5000


def run(args: argparse.Namespace, path: Path) -> int:
    cmd = args.log_command
    if cmd == "import":
        return import_history(path, args.input)
    store = LmdbStore(path)
    if cmd == "stats":
        print_json(store.stats())
    elif cmd == "show":
        if not 1 <= args.position <= store.head():
            print(
                f"nvr: no event at position {args.position} (head is {store.head()})",
                file=sys.stderr,
            )
            return 1
        sys.stdout.write(history.export_line(store.get(args.position)).decode() + "\n")
    elif cmd == "tail":
        tail(store, path, args.n, args.follow)
    elif cmd == "verify":
        report = verify_log(store)
        print_json(report)
        if not report.ok:
            print(
                f"nvr: log verify failed at position {report.first_bad_position}: {report.problem}",
                file=sys.stderr,
            )
            return 1
        if args.deep:
            from nvr.audit_cli import deep_verify

            store.close()
            problems = deep_verify(
                path.parent, storage=Path(args.storage) if args.storage else None,
                files=not args.skip_files,
            )
            print_json({"deep": True, "problems": problems})
            for problem in problems:
                print(f"nvr: {problem}", file=sys.stderr)
            return 1 if problems else 0
    elif cmd == "export":
        out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
        try:
            out.writelines(history.export(store.read()))
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    return 0


def tail(store: LmdbStore, path: Path, n: int, follow: bool) -> None:
    start = max(store.head() - n + 1, 1)
    log: EventLog = store  # type: ignore[assignment]
    if follow:
        from nvr.eventlog.client import RemoteLog

        log = RemoteLog(path)
    from nvr.eventlog.port import subscribe

    for item in subscribe(log, start, idle_timeout=None if follow else 0):
        if isinstance(item, CaughtUp):
            if not follow:
                return
            continue
        sys.stdout.write(history.export_line(item).decode() + "\n")
        sys.stdout.flush()


def import_history(path: Path, source: str) -> int:
    """Append a history, through the appender if one runs, else directly."""
    text = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    from nvr.eventlog.client import AppenderClient
    from nvr.eventlog.local import LmdbLog

    log: LmdbLog | AppenderClient
    try:
        log = LmdbLog(path)
    except AppenderBusy:
        log = AppenderClient(path)
    batch: list[Proposed] = []
    count = new = 0
    # An event already in the log is answered with its old position, at or before this head.
    head_before = LmdbStore(path).head() if isinstance(log, AppenderClient) else log.head()

    def flush() -> None:
        nonlocal count, new
        positions = log.append(batch)
        count += len(positions)
        new += sum(1 for pos in positions if pos > head_before)
        batch.clear()

    try:
        for _, proposed in history.parse(text):
            batch.append(proposed)
            if len(batch) >= IMPORT_BATCH:
                flush()
        if batch:
            flush()
    except history.HistoryError as exc:
        print(
            f"nvr: {exc} (nothing after the last full batch of {IMPORT_BATCH} was imported)",
            file=sys.stderr,
        )
        return 1
    finally:
        log.close()
        if text is not sys.stdin:
            text.close()
    print_json({"imported": new, "already_present": count - new})
    return 0


def projection(args: argparse.Namespace, data: Path) -> int:
    if args.projection_command == "tables":
        from nvr.projections.catalog import all_projections
        from nvr.projections.export import MemoryExport

        events = LmdbStore(data / "log")
        export = MemoryExport(all_projections())
        export.fold(events.read())
        events.close()
        sys.stdout.write(export.tables.dump_json().decode() + "\n")
        return 0
    from nvr.projections.runtime import MemoryStore, Runner, rebuild
    from nvr.projections.sqlite_store import SqliteSnapshotStore
    from nvr.projections.summary import LogSummary, SummaryProjection

    proj = SummaryProjection()
    store_path = data / "projections.sqlite"
    log = LmdbStore(data / "log")
    store = SqliteSnapshotStore(store_path, proj.name, proj.version, LogSummary)
    if args.projection_command == "rebuild":
        fresh: MemoryStore[LogSummary] = MemoryStore()
        state = rebuild(log, proj, fresh)  # type: ignore[arg-type]
        # The swap is one transaction of the live store: readers see old or new, never half.
        store.commit(state, fresh.position)
    runner = Runner(log, proj, store)  # type: ignore[arg-type]
    runner.catch_up()
    print_json({"position": runner.position, "state": msgspec.to_builtins(runner.state)})
    return 0
