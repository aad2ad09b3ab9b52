"""The disk fills while 4 cameras record: the housekeeper's emergency purge frees the
oldest footage before recording fails, every deletion is an event first, and recording
goes on with no gap longer than one segment."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.domain.codec import decode_payload
from nvr.domain.config import parse_config
from nvr.domain.events import (
    EmergencyPurged,
    RecordingStopped,
    SegmentClosed,
    SegmentDeleted,
    StorageWarning,
)
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.run import System
from nvr.sim.fleet import Fleet
from tests.test_supervisor import wait_for

S = 1_000_000_000
MIB = 1 << 20


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_emergency_purge_keeps_four_cameras_recording(disk: Path, tmp_path: Path) -> None:
    with Fleet(4) as fleet:
        cams = "".join(
            f'[[cameras]]\nid = "cam{i}"\nmain_url = "{fleet.url(i, "main", credentials=False)}"\n'
            f'sub_url = "{fleet.url(i, "sub", credentials=False)}"\nrecording_mode = "continuous"\n'
            for i in range(4)
        )
        text = (
            f'[system]\nstorage_dir = "{disk / "rec"}"\ndata_dir = "data"\nsegment_length_s = 2\n'
            f"min_free_gib = {16 * MIB / (1 << 30)}\nstorage_check_s = 0.5\n{cams}"
        )
        system = System(
            parse_config(text), base=tmp_path, source="t.toml", fmt="toml", raw=text.encode()
        )
        system.start()
        runner = threading.Thread(target=system.supervisor.run, kwargs={"shutdown": False})
        runner.start()
        try:
            pos, purge = wait_for(system, EmergencyPurged, 0, 120)
            assert isinstance(purge, EmergencyPurged) and purge.freed_bytes > 0
            # Keep recording through several more purges' worth of footage.
            end = time.monotonic() + 15
            while time.monotonic() < end:
                pos, _ = wait_for(system, SegmentClosed, pos, 10)
        finally:
            system.supervisor.stop()
            runner.join(30)
            system.close()
    store = LmdbStore(system.log_dir)
    events = [decode_payload(e) for e in store.read()]
    store.close()
    assert not [e for e in events if isinstance(e, RecordingStopped) and "storage" in e.reason]
    levels = [e.level for e in events if isinstance(e, StorageWarning)]
    assert "critical" in levels
    deleted = [e for e in events if isinstance(e, SegmentDeleted)]
    assert deleted and all(e.rule == "floor" for e in deleted)
    assert not any((disk / "rec" / d.path).exists() for d in deleted)
    # Every camera's footage is continuous: each segment starts where the last one ended.
    for i in range(4):
        closed = sorted((e for e in events if isinstance(e, SegmentClosed) and e.camera_id == f"cam{i}"),
                        key=lambda e: e.start_ns)  # fmt: skip
        assert len(closed) > 10
        gaps = [b.start_ns - a.end_ns for a, b in itertools.pairwise(closed)]
        assert max(gaps) <= 2 * S, f"cam{i}: a gap of {max(gaps) / S:.1f} s"
    # The oldest footage went first.
    first_deleted = {d.segment_id for d in deleted[:4]}
    oldest = sorted((e for e in events if isinstance(e, SegmentClosed)), key=lambda e: e.start_ns)[
        :8
    ]
    assert first_deleted <= {e.segment_id for e in oldest}
