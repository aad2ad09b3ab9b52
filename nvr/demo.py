"""`nvr demo`: start an appender, write the sample day through it, and show the results.

It grows with each subsystem; for now it shows the event log and the example projection.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nvr.eventlog.client import RemoteLog
from nvr.eventlog.history import export_line
from nvr.eventlog.verify import verify_log
from nvr.projections.runtime import Runner
from nvr.projections.sqlite_store import SqliteSnapshotStore
from nvr.projections.summary import LogSummary, SummaryProjection
from nvr.sample import sample_day


def run_demo(data: Path | None, keep: bool = False) -> int:
    own = data is None
    root = Path(tempfile.mkdtemp(prefix="vigil-demo-")) if data is None else data
    print(f"Vigil demo: data in {root}")
    appender = subprocess.Popen(
        [sys.executable, "-m", "nvr", "--data", str(root), "appender"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert appender.stdout is not None
        appender.stdout.readline()  # {"ready": true}
        log = RemoteLog(root / "log")
        positions = log.append(list(sample_day()))
        print(f"appended {len(positions)} events through the appender (head {log.head()})\n")
        for env in log.read(max(log.head() - 7, 1)):
            print(export_line(env).decode())
        proj = SummaryProjection()
        store = SqliteSnapshotStore(root / "projections.sqlite", proj.name, proj.version, LogSummary)
        runner = Runner(log, proj, store)
        runner.catch_up()
        print(f"\nlog summary at position {runner.position}:")
        for tag, count in sorted(runner.state.by_type.items()):
            print(f"  {tag:28} {count}")
        report = verify_log(log.store)
        print(f"\nverify: ok={report.ok} events={report.events} head hash {report.head_hash[:16]}...")
        store.close()
        log.close()
        return 0 if report.ok else 1
    finally:
        appender.terminate()
        appender.wait(10)
        if own and not keep:
            shutil.rmtree(root, ignore_errors=True)
