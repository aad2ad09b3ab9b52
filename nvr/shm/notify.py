"""The wake-up path: per ring, an abstract-namespace datagram socket that rings readers.

The writer binds `\\0vigil-shm/<name>`. Binding is also the one-writer lock: the kernel
frees an abstract name the instant its last holder dies, so there is never a stale lock,
and a bound name means a live writer. A reader autobinds a socket of its own and sends
`R` to the writer; after each frame the writer sends each registered reader one byte,
non-blocking. A reader's queue is short (net.unix.max_dgram_qlen), so a reader that is
not waiting loses notices, never frames: a notice only says "look at the header".
"""

from __future__ import annotations

import contextlib
import errno
import math
import select
import socket

from .layout import RingBusy

MAX_READERS = 64
_NOTICE = b"\x01"
_REGISTER = b"R"
_UNREGISTER = b"U"


def writer_address(name: str) -> bytes:
    return b"\0vigil-shm/" + name.encode("ascii")


def _dgram() -> socket.socket:
    return socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)


def take_writer_lock(name: str) -> socket.socket:
    """Bind the ring's writer address: RingBusy if a live process already holds it."""
    sock = _dgram()
    try:
        sock.bind(writer_address(name))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise RingBusy(f"ring {name!r} has a live writer") from e
        raise
    return sock


class Bell:
    """The writer's side. Not thread-safe: one writer, one thread."""

    def __init__(self, name: str) -> None:
        self._sock = take_writer_lock(name)
        self._readers: set[bytes] = set()
        self.sent = 0
        self.dropped = 0

    @property
    def readers(self) -> int:
        return len(self._readers)

    def _take_requests(self) -> None:
        while True:
            try:
                data, addr = self._sock.recvfrom(16)
            except BlockingIOError:
                return
            if not isinstance(addr, bytes) or not addr:
                continue  # an unbound sender cannot be answered
            if data == _REGISTER and len(self._readers) < MAX_READERS:
                self._readers.add(addr)
            elif data == _UNREGISTER:
                self._readers.discard(addr)

    def ring(self) -> None:
        """Tell every registered reader that the header moved. Never blocks."""
        self._take_requests()
        for addr in tuple(self._readers):
            try:
                self._sock.sendto(_NOTICE, addr)
                self.sent += 1
            except BlockingIOError:
                self.dropped += 1  # its queue is full: it has notices to read already
            except OSError:
                self._readers.discard(addr)  # ECONNREFUSED: the reader is gone

    def close(self) -> None:
        self._sock.close()


class Listener:
    """A reader's side: its own autobound socket, registered with the ring's writer."""

    def __init__(self, name: str) -> None:
        self._writer = writer_address(name)
        self._sock = _dgram()
        self._sock.bind("")  # Linux autobind: a fresh abstract name
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self.registered = False

    def register(self) -> bool:
        """Ask the writer for notices. False if no writer listens or its queue is full;
        the caller tries again later."""
        try:
            self._sock.sendto(_REGISTER, self._writer)
        except OSError:
            self.registered = False
        else:
            self.registered = True
        return self.registered

    def wait(self, timeout_s: float) -> bool:
        """Block until a notice is queued or the timeout passes. Does not consume it."""
        return bool(self._poll.poll(max(0, math.ceil(timeout_s * 1000))))

    def drain(self) -> None:
        while True:
            try:
                self._sock.recv(64)
            except BlockingIOError:
                return

    def close(self) -> None:
        # Best effort: if the writer is gone or busy, it drops us on its next failed send.
        with contextlib.suppress(OSError):
            self._sock.sendto(_UNREGISTER, self._writer)
        self._sock.close()
