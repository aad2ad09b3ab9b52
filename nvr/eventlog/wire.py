"""The producer <-> appender protocol: length-prefixed msgpack frames over a Unix socket.

The socket lives in Linux's abstract namespace, named after the log directory, so a
killed appender leaves no stale file behind and a new one can bind at once.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import msgspec

from nvr.domain.envelope import Proposed

MAX_FRAME = 64 << 20
FRAME_HEADER = struct.Struct(">I")


class Append(msgspec.Struct, tag="append", tag_field="k", frozen=True, kw_only=True):
    id: int
    events: list[Proposed]


class Subscribe(msgspec.Struct, tag="subscribe", tag_field="k", frozen=True, kw_only=True):
    """Ask to be told the head after every commit (a `Committed` frame)."""


class Ping(msgspec.Struct, tag="ping", tag_field="k", frozen=True, kw_only=True):
    pass


class Appended(msgspec.Struct, tag="appended", tag_field="k", frozen=True, kw_only=True):
    id: int
    positions: list[int]


class Refused(msgspec.Struct, tag="refused", tag_field="k", frozen=True, kw_only=True):
    """`kind` names the LogError subclass; version fields are set for WrongExpectedVersion."""

    id: int
    kind: str
    message: str
    stream: str = ""
    expected: int = 0
    actual: int = 0


class Committed(msgspec.Struct, tag="committed", tag_field="k", frozen=True, kw_only=True):
    head: int


ToAppender = Append | Subscribe | Ping
FromAppender = Appended | Refused | Committed

encoder = msgspec.msgpack.Encoder()
to_appender = msgspec.msgpack.Decoder(ToAppender)
from_appender = msgspec.msgpack.Decoder(FromAppender)


def frame(msg: msgspec.Struct) -> bytes:
    body = encoder.encode(msg)
    return FRAME_HEADER.pack(len(body)) + body


def address(log_dir: str | os.PathLike[str]) -> str:
    real = os.path.realpath(Path(log_dir))
    return "\0vigil-log-" + hashlib.sha256(real.encode()).hexdigest()[:32]
