"""A full disk or a full map: appends fail with LogFull, the log stays intact and recovers."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nvr.eventlog.errors import LogFull
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.local import LmdbLog
from nvr.eventlog.verify import verify_log
from tests.procs import ProcessGroup, event

PAD = 1000  # bytes of text per event, so that a few hundred events fill the small disk
MAX_TRIES = 2000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted at the end (the tests run as root)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture
def group(small_disk: Path) -> Iterator[ProcessGroup]:
    """Processes of a test, all gone before the disk is unmounted."""
    with ProcessGroup() as g:
        yield g


def fill(disk: Path) -> Path:
    """Write a file until the disk has not one free page left; return its path."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        for size in (1 << 16, 4096, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def append_until_full(log: LmdbLog, acked: dict[bytes, int]) -> LogFull:
    """Append 4-event batches until one is refused; record the acknowledged ones."""
    for n in range(MAX_TRIES):
        batch = [event("fill", n, PAD) for _ in range(4)]
        try:
            positions = log.append(batch)
        except LogFull as exc:
            return exc
        acked.update((p.event_id, pos) for p, pos in zip(batch, positions, strict=True))
    raise AssertionError(f"{MAX_TRIES} appends and the log never reported LogFull")


def assert_intact(store: LmdbStore, acked: dict[bytes, int]) -> None:
    report = verify_log(store)
    assert report.ok, report
    envs = list(store.read())
    assert [e.position for e in envs] == list(range(1, len(envs) + 1))
    assert {e.event_id: e.position for e in envs} == acked


def test_disk_full_in_process(small_disk: Path) -> None:
    """Guards against a failed commit on a full disk corrupting the log, losing what was
    acknowledged, or leaving the handle unable to append once space returns."""
    log = LmdbLog(small_disk / "log")
    try:
        acked: dict[bytes, int] = {}
        for n in range(10):
            batch = [event("before", n)]
            acked.update(zip([p.event_id for p in batch], log.append(batch), strict=True))
        filler = fill(small_disk)
        error = append_until_full(log, acked)
        assert "disk full" in str(error) and "nothing written" in str(error)
        head = log.head()
        assert head == len(acked)
        assert_intact(log, acked)

        filler.unlink()
        batch = [event("after", n, PAD) for n in range(20)]
        positions = log.append(batch)
        assert positions == list(range(head + 1, head + 21))
        acked.update(zip([p.event_id for p in batch], positions, strict=True))
        assert_intact(log, acked)
    finally:
        log.close()


def test_disk_full_through_the_appender(small_disk: Path, group: ProcessGroup) -> None:
    """Guards against an appender that dies, hangs or answers vaguely when the disk is
    full: producers must get LogFull, and the same appender must carry on afterwards."""
    appender = group.appender(small_disk)
    producer = group.child("producer", str(small_disk / "log"))
    acked: dict[bytes, int] = {}

    def record(answer: dict[str, Any]) -> None:
        acked.update((bytes.fromhex(eid), pos) for eid, pos, _ in answer["events"])

    record(producer.ask({"op": "append", "stream": "before", "count": 10, "batch": 5}))
    filler = fill(small_disk)
    for _ in range(MAX_TRIES):
        answer = producer.ask(
            {"op": "append", "stream": "fill", "count": 8, "batch": 4, "pad": PAD}
        )
        record(answer)
        if "error" in answer:
            break
    assert answer.get("error") == "LogFull", answer
    assert "disk full" in answer["message"]
    assert appender.alive()

    reader = LmdbStore(small_disk / "log")
    try:
        assert reader.head() == len(acked)
        assert_intact(reader, acked)

        filler.unlink()
        answer = producer.ask(
            {"op": "append", "stream": "after", "count": 20, "batch": 4, "pad": PAD}
        )
        assert "error" not in answer, answer
        record(answer)
        assert appender.alive()
        assert_intact(reader, acked)
    finally:
        reader.close()


def test_map_full_is_log_full_and_the_log_stays_usable(tmp_path: Path) -> None:
    """Guards against a map that cannot grow (max_map_size reached) failing with a raw
    LMDB error or leaving a half-written group behind."""
    size = 256 << 10
    log = LmdbLog(tmp_path / "log", map_size=size, max_map_size=size)
    acked: dict[bytes, int] = {}
    try:
        error = append_until_full(log, acked)
        assert "map is full" in str(error)
        head = log.head()
        assert head == len(acked) > 0
        assert_intact(log, acked)
        with pytest.raises(LogFull):
            log.append([event("fill", 0, PAD) for _ in range(4)])
        assert log.head() == head
        assert_intact(log, acked)
    finally:
        log.close()

    log = LmdbLog(tmp_path / "log", map_size=size, max_map_size=4 * size)
    try:
        batch = [event("after", n, PAD) for n in range(40)]
        positions = log.append(batch)
        assert positions == list(range(head + 1, head + 41))
        acked.update(zip([p.event_id for p in batch], positions, strict=True))
        assert_intact(log, acked)
    finally:
        log.close()


def test_map_grows_under_a_reader_in_another_process(tmp_path: Path) -> None:
    """Guards against map growth breaking appends, or breaking a reader in another
    process whose mapping is smaller than the grown file."""
    small = 64 << 10
    log = LmdbLog(tmp_path / "log", map_size=small)
    try:
        with ProcessGroup() as group:
            reader = group.child("reader", str(log.path), "--map-size", str(small))
            seen_sizes: set[int] = set()
            n = 0
            while log.stats()["map_size"] < 16 * small:
                log.append([event(f"grow/{n % 3}", n + i, PAD) for i in range(8)])
                n += 8
                if n % 16 == 0:
                    answer = reader.ask({"upto": log.head()})
                    assert answer["last"] == log.head()
                    seen_sizes.add(answer["map_size"])
            answer = reader.ask({"upto": log.head()})
            assert answer["last"] == log.head() == n
            seen_sizes.add(answer["map_size"])
        # 64 KiB -> 1 MiB is four doublings; the reader adopted the larger maps as it went.
        assert len(seen_sizes) >= 3, seen_sizes
        assert max(seen_sizes) >= 16 * small
        report = verify_log(log)
        assert report.ok, report
    finally:
        log.close()
