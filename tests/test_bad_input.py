"""Damaged and foreign data: every problem is an error naming its position or line,
never a silent skip."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import lmdb
import msgspec
import pytest

from nvr.domain import codec
from nvr.domain.envelope import Envelope
from nvr.domain.errors import EventDecodeError, NewerSchemaVersion, UnknownEventType
from nvr.domain.events import StreamLost
from nvr.domain.ids import new_event_id
from nvr.eventlog import history, wire
from nvr.eventlog.client import RemoteLog
from nvr.eventlog.errors import LogCorrupt, LogError
from nvr.eventlog.lmdbstore import LmdbStore
from nvr.eventlog.local import LmdbLog
from nvr.eventlog.records import chain, pos_key
from nvr.eventlog.verify import verify_log
from tests.conftest import start_appender


def make_log(path: Path, n: int = 10) -> None:
    log = LmdbLog(path)
    for i in range(n):
        log.append([codec.propose(StreamLost(camera_id="c", stream="main", reason=f"r{i}"),
                                  stream="camera/c", actor="t")])  # fmt: skip
    log.close()


def tamper(path: Path, fn: object) -> None:
    """Change the stored records behind the log's back, as a disk fault or an attacker would."""
    env = lmdb.open(str(path), max_dbs=8)
    events = env.open_db(b"events")
    with env.begin(write=True) as txn:
        fn(txn, events)  # type: ignore[operator]
    env.close()


def test_flipped_byte_is_found_by_verify_at_its_position(tmp_path: Path) -> None:
    make_log(tmp_path)

    def flip(txn: lmdb.Transaction, db: lmdb._Database) -> None:
        value = bytearray(txn.get(pos_key(6), db=db))
        value[-3] ^= 0x01
        txn.put(pos_key(6), bytes(value), db=db)

    tamper(tmp_path, flip)
    report = verify_log(LmdbStore(tmp_path))
    assert not report.ok and report.first_bad_position == 6
    assert "hash chain" in report.problem


def test_truncated_record_names_its_position(tmp_path: Path) -> None:
    make_log(tmp_path)
    tamper(tmp_path, lambda txn, db: txn.put(pos_key(4), b"\x00" * 10, db=db))
    store = LmdbStore(tmp_path)
    with pytest.raises(LogCorrupt, match="position 4"):
        list(store.read())
    report = verify_log(store)
    assert report.first_bad_position == 4 and "truncated" in report.problem
    assert [e.position for e in store.read(1, 4)] == [1, 2, 3]  # what precedes still reads


def test_missing_record_and_cut_tail(tmp_path: Path) -> None:
    make_log(tmp_path)
    tamper(tmp_path, lambda txn, db: txn.delete(pos_key(5), db=db))
    report = verify_log(LmdbStore(tmp_path))
    assert report.first_bad_position == 5 and "missing" in report.problem
    other = tmp_path / "other"
    make_log(other)
    tamper(other, lambda txn, db: txn.delete(pos_key(10), db=db))
    report = verify_log(LmdbStore(other))
    assert not report.ok and report.first_bad_position == 10 and "truncated" in report.problem


def forge(path: Path, position: int, **changes: object) -> None:
    """Append a record with a valid chain hash but foreign content (a newer writer's)."""

    def put(txn: lmdb.Transaction, db: lmdb._Database) -> None:
        prev = txn.get(pos_key(position - 1), db=db)
        base = Envelope(
            position=position, stream="camera/c", stream_version=position, event_id=new_event_id(),
            recorded_at_ns=2**62, type="stream.lost", schema_version=1, actor="future",
            payload=msgspec.Raw(codec.encode(StreamLost(camera_id="c", stream="main", reason="x"))),
        )  # fmt: skip
        body = codec.encode(msgspec.structs.replace(base, **changes))
        txn.put(pos_key(position), chain(prev[:32], body) + body, db=db)

    tamper(path, put)


def test_newer_schema_version_is_an_error_naming_the_position(tmp_path: Path) -> None:
    make_log(tmp_path, 3)
    forge(tmp_path, 4, schema_version=9)
    env = LmdbStore(tmp_path).get(4)
    with pytest.raises(NewerSchemaVersion, match="position 4"):
        codec.decode_payload(env)
    report = verify_log(LmdbStore(tmp_path))
    assert report.first_bad_position == 4 and "newer" in report.problem


def test_unknown_tag_is_an_error_naming_the_position(tmp_path: Path) -> None:
    make_log(tmp_path, 3)
    forge(tmp_path, 4, type="camera.teleported")
    with pytest.raises(UnknownEventType, match="position 4"):
        codec.decode_payload(LmdbStore(tmp_path).get(4))
    assert verify_log(LmdbStore(tmp_path)).first_bad_position == 4


def test_invalid_utf8_in_a_record_is_a_decode_error(tmp_path: Path) -> None:
    make_log(tmp_path, 3)

    def garble(txn: lmdb.Transaction, db: lmdb._Database) -> None:
        value = txn.get(pos_key(2), db=db)
        txn.put(pos_key(2), value.replace(b"camera/c", b"camera/\xff"), db=db)

    tamper(tmp_path, garble)
    with pytest.raises(EventDecodeError, match="position 2"):
        LmdbStore(tmp_path).get(2)


def test_log_of_a_newer_format_is_refused_on_open(tmp_path: Path) -> None:
    make_log(tmp_path, 1)
    env = lmdb.open(str(tmp_path), max_dbs=8)
    meta = env.open_db(b"meta")
    with env.begin(write=True) as txn:
        txn.put(b"format", b"vigil-log/2", db=meta)
    env.close()
    with pytest.raises(LogError, match="vigil-log/2"):
        LmdbStore(tmp_path)
    with pytest.raises(LogError, match="newer"):
        LmdbLog(tmp_path)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "malformed"),
        ('{"stream": "camera/c", "type": "stream.lost"}', "data"),
        ('{"stream": "camera/c", "type": "camera.exploded", "data": {}}', "unknown event type"),
        ('{"stream": "c", "type": "stream.lost", "data": {"camera_id": 5}}', "Expected `str`"),
        ('{"stream": "c", "type": "stream.lost", "data": {}, "colour": 1}', "unknown field"),
        ('{"stream": "c", "type": "camera.removed", "data": {"camera_id": "c"}, "recorded_at": "yesterday"}', "Invalid"),
    ],
)
def test_bad_history_lines_name_the_line(line: str, reason: str) -> None:
    good = '{"stream": "camera/c", "type": "camera.removed", "data": {"camera_id": "c"}}'
    with pytest.raises(history.HistoryError, match=f"line 3: .*{reason}") as info:
        list(history.parse([good, "# comment", line]))
    assert info.value.line == 3


def test_appender_survives_garbage_from_a_producer(tmp_path: Path) -> None:
    proc = start_appender(tmp_path)
    try:
        for junk in (b"\x00\x00\x00\x05hello", struct.pack(">I", 1 << 30), b"\x00\x00\x00\x01\xc1"):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(wire.address(tmp_path / "log"))
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                while s.recv(4096):
                    pass  # the appender answers or closes; it must not die
        log = RemoteLog(tmp_path / "log", deadline_s=10)
        ok = codec.propose(StreamLost(camera_id="c", stream="main", reason="x"), stream="camera/c", actor="t")
        assert log.append([ok]) == [1]
        log.close()
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
