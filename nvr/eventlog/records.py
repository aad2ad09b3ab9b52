"""The byte layout of a stored record and its hash chain.

value = chain_hash (32 bytes) + msgpack(Envelope)
chain_hash = BLAKE2b-256(previous chain_hash + msgpack(Envelope)); the first record
chains from 32 zero bytes. The envelope holds its own position, so a record moved to
another key, a record changed, removed or inserted all break the chain.
"""

from __future__ import annotations

import struct
from hashlib import blake2b

from nvr.domain.codec import decode_envelope
from nvr.domain.envelope import Envelope
from nvr.eventlog.errors import LogCorrupt

HASH_SIZE = 32
GENESIS_HASH = bytes(HASH_SIZE)
_U64 = struct.Struct(">Q")


def pos_key(position: int) -> bytes:
    return _U64.pack(position)


def key_pos(key: bytes) -> int:
    return int(_U64.unpack(key)[0])


def chain(prev_hash: bytes, body: bytes) -> bytes:
    return blake2b(prev_hash + body, digest_size=HASH_SIZE).digest()


def split(value: bytes, position: int) -> tuple[bytes, bytes]:
    if len(value) <= HASH_SIZE:
        raise LogCorrupt(position, f"record truncated to {len(value)} bytes")
    return value[:HASH_SIZE], value[HASH_SIZE:]


def decode_record(value: bytes, position: int) -> Envelope:
    """The envelope of a stored value, checked against the key it was read from."""
    if len(value) <= HASH_SIZE:
        raise LogCorrupt(position, f"record truncated to {len(value)} bytes")
    env = decode_envelope(value[HASH_SIZE:], position)
    if env.position != position:
        raise LogCorrupt(position, f"record claims position {env.position}")
    return env
