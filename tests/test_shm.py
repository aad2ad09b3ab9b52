"""Frame rings in shared memory: round trips, no torn reads across processes, prompt wake-ups,
writer restarts, the demand lease, and cleanup after killed writers and readers."""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import time
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import av
import numpy as np
import pytest

from nvr.shm import (
    FrameReader,
    FrameWriter,
    Geometry,
    PixelFormat,
    RingBusy,
    RingUnavailable,
    ring_name,
    sweep,
)
from nvr.shm.segment import SHM_DIR

SPAWN = mp.get_context("spawn")
W, H = 640, 360


@pytest.fixture
def name() -> Iterator[str]:
    """A ring name no other test (or concurrent test run) uses; checked gone afterwards."""
    ring = ring_name(f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}", "sub")
    yield ring
    leftover = os.path.exists(os.path.join(SHM_DIR, ring))
    if leftover:
        sweep(ring)
    assert not leftover, f"{ring} left in {SHM_DIR}"


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(SHM_DIR, name))


def recv(conn: Connection, timeout_s: float = 20.0) -> Any:
    assert conn.poll(timeout_s), "child did not answer"
    return conn.recv()


class Child:
    """A spawned child process running `target(name, conn)`, killed if still alive at exit."""

    def __init__(self, target: Any, *args: Any) -> None:
        self.conn, child_conn = SPAWN.Pipe()
        self.proc = SPAWN.Process(target=target, args=(*args, child_conn), daemon=True)
        self.proc.start()
        child_conn.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(10)
        self.conn.close()


def random_frame(g: Geometry, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, g.shape, dtype=np.uint8)


# -- one process ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(PixelFormat))
def test_round_trip_of_each_format(name: str, fmt: PixelFormat) -> None:
    with FrameWriter.create(name, W, H, fmt) as w, FrameReader.open(name) as r:
        assert r.latest() is None
        assert r.geometry == Geometry(W, H, fmt)
        frames = [random_frame(r.geometry, seed) for seed in range(6)]  # laps a 4-slot ring
        for n, pixels in enumerate(frames, start=1):
            assert w.write(pixels, wall_ns=1_000 * n, pts=3_000 * n) == n
            got = r.latest()
            assert got is not None
            assert [p.shape for p in got.planes()] == list(got.geometry.planes)
            assert (got.frame_no, got.wall_ns, got.pts) == (n, 1_000 * n, 3_000 * n)
            assert got.data.shape == pixels.shape
            assert np.array_equal(got.data, pixels)
            assert got.generation == w.generation


def test_frames_are_copies_and_out_is_reused(name: str) -> None:
    g = Geometry(W, H, PixelFormat.GRAY8)
    with FrameWriter.create(name, W, H, "gray8") as w, FrameReader.open(name) as r:
        w.write(np.full(g.shape, 1, np.uint8), wall_ns=1)
        out = np.empty(g.shape, np.uint8)
        first = r.latest(out)
        assert first is not None and first.data is out
        w.write(np.full(g.shape, 2, np.uint8), wall_ns=2)
        kept = r.latest()
        assert kept is not None
        w.write(np.full(g.shape, 3, np.uint8), wall_ns=3)
        assert kept.data.max() == 2, "a returned frame must not change under the writer"


def test_inputs_pyav_planes_flat_buffers_and_strided_arrays(name: str) -> None:
    """Rows padded by FFmpeg (line_size > width) land unpadded, one copy per plane."""
    width = 642  # FFmpeg pads these rows
    g = Geometry(width, H, PixelFormat.I420)
    pixels = random_frame(g)
    frame = av.VideoFrame.from_ndarray(pixels, format="yuv420p")
    assert frame.planes[0].line_size > width
    with FrameWriter.create(name, width, H, "i420") as w, FrameReader.open(name) as r:
        w.write_planes(frame.planes, wall_ns=1)
        got = r.latest()
        assert got is not None and np.array_equal(got.data, pixels)
        w.write(pixels.tobytes(), wall_ns=2)  # packed bytes
        got = r.latest()
        assert got is not None and got.frame_no == 2 and np.array_equal(got.data, pixels)
        with pytest.raises(ValueError):
            w.write(pixels[:-2], wall_ns=3)
        with pytest.raises(ValueError):
            w.write(pixels.astype(np.uint16), wall_ns=3)
        with pytest.raises(ValueError):
            w.write_planes(frame.planes[:2], wall_ns=3)
        assert w.statistics().frames_written == 2


def test_gray_from_a_padded_plane_and_a_cropped_view(name: str) -> None:
    width = 642
    big = random_frame(Geometry(width + 10, H, PixelFormat.GRAY8))
    cropped = big[:, 5 : 5 + width]  # not contiguous
    plane = av.VideoFrame.from_ndarray(np.ascontiguousarray(cropped), format="gray").planes[0]
    assert plane.line_size > width
    with FrameWriter.create(name, width, H, "gray8") as w, FrameReader.open(name) as r:
        for source in (cropped, plane):
            w.write(source, wall_ns=0)
            got = r.latest()
            assert got is not None and np.array_equal(got.data, cropped)


def test_missing_pts_and_negative_times_round_trip(name: str) -> None:
    with FrameWriter.create(name, 64, 32, "gray8") as w, FrameReader.open(name) as r:
        w.write(np.zeros((32, 64), np.uint8), wall_ns=-5, pts=None)
        got = r.latest()
        assert got is not None and (got.wall_ns, got.pts) == (-5, None)
        w.write(np.zeros((32, 64), np.uint8), wall_ns=7, pts=-90_000)
        got = r.latest()
        assert got is not None and (got.wall_ns, got.pts) == (7, -90_000)


def test_a_second_live_writer_is_refused(name: str) -> None:
    with FrameWriter.create(name, 64, 32, "gray8"):
        with pytest.raises(RingBusy):
            FrameWriter.create(name, 64, 32, "gray8")
        assert exists(name)
    assert not exists(name), "the writer unlinks on close"


def test_open_refuses_missing_and_foreign_segments(name: str) -> None:
    with pytest.raises(RingUnavailable):
        FrameReader.open(name)
    for junk in (b"\0" * 8192, b"not a ring" * 1000 + b"!"):  # no magic; not whole words
        with open(os.path.join(SHM_DIR, name), "wb") as f:
            f.write(junk)
        with pytest.raises(RingUnavailable):
            FrameReader.open(name)
    # A writer replaces it as it would a stale ring.
    with FrameWriter.create(name, 64, 32, "gray8"), FrameReader.open(name) as r:
        assert r.geometry.width == 64


def test_writer_replaces_an_empty_stale_segment(name: str) -> None:
    """A writer killed between creating the name and sizing it leaves 0 bytes behind."""
    open(os.path.join(SHM_DIR, name), "wb").close()
    with FrameWriter.create(name, 64, 32, "gray8") as w:
        assert w.write(np.zeros((32, 64), np.uint8), wall_ns=0) == 1


def test_restart_with_a_new_geometry_is_followed(name: str) -> None:
    w = FrameWriter.create(name, W, H, "gray8")
    r = FrameReader.open(name)
    try:
        w.write(np.full((H, W), 9, np.uint8), wall_ns=1)
        assert r.latest() is not None
        old_generation = r.generation
        w.close()
        assert r.latest() is None, "a closed ring has no live frame"
        assert not r.wait(0.01)
        w = FrameWriter.create(name, 320, 180, "bgr24")
        w.write(np.full((180, 320, 3), 4, np.uint8), wall_ns=2)
        assert r.wait(5.0), "the reader finds the new ring"
        got = r.latest()
        assert got is not None
        assert got.data.shape == (180, 320, 3) and got.frame_no == 1 and got.data.max() == 4
        assert r.generation != old_generation
        assert r.statistics().reopens == 1
    finally:
        r.close()
        w.close()


def test_wait_times_out_without_frames(name: str) -> None:
    with FrameWriter.create(name, 64, 32, "gray8") as w, FrameReader.open(name) as r:
        assert not r.wait(0.02)
        w.write(np.zeros((32, 64), np.uint8), wall_ns=0)
        assert r.wait(0.0)
        assert r.latest() is not None
        assert not r.wait(0.0), "no frame newer than the one latest() returned"


def test_names_are_sanitised_and_distinct() -> None:
    assert ring_name("front_door", "sub") == "vigil-front_door-sub"
    odd = ring_name("front door/1", "main")
    assert odd != ring_name("front_door_1", "main")
    assert set(odd) <= set("abcdefghijklmnopqrstuvwxyz0123456789_.-ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert len(ring_name("x" * 500, "y" * 100)) <= 96
    for bad in ("", "../etc", "a/b", "x" * 97):
        with pytest.raises(ValueError):
            FrameReader.open(bad)


# -- across processes ----------------------------------------------------------------------

FRAMES = 20_000


def check_every_frame(name: str, conn: Connection) -> None:
    """Reader child: every frame seen must be whole (each byte == frame_no % 256, times
    derived from frame_no) and newer than the one before."""
    with FrameReader.open(name) as r:
        conn.send("ready")
        seen, last, bad = 0, 0, list[tuple[int, ...]]()
        out = np.empty(r.geometry.shape, np.uint8)
        while last < FRAMES and r.wait(10.0):
            f = r.latest(out)
            assert f is not None
            value = f.frame_no % 256
            whole = int(f.data.min()) == value == int(f.data.max())
            timed = (f.wall_ns, f.pts) == (f.frame_no * 1_000, f.frame_no * 3_000)
            if not (whole and timed and f.frame_no > last) and len(bad) < 5:
                bad.append((f.frame_no, last, int(f.data.min()), int(f.data.max()), f.wall_ns))
            seen, last = seen + 1, f.frame_no
        conn.send({"seen": seen, "last": last, "bad": bad, "retries": r.statistics().retries})


def test_no_torn_reads_across_processes_at_full_rate(name: str) -> None:
    """Two slots and a writer that never pauses: the reader is lapped constantly, and
    every copy it keeps must still be one whole frame."""
    with FrameWriter.create(name, W, H, "gray8", slots=2) as w, Child(check_every_frame, name) as c:
        assert recv(c.conn) == "ready"
        pixels = np.empty((H, W), np.uint8)
        for n in range(1, FRAMES + 1):
            pixels.fill(n % 256)
            w.write(pixels, wall_ns=n * 1_000, pts=n * 3_000)
        result = recv(c.conn, 60)
    assert result["bad"] == []
    assert result["last"] == FRAMES
    assert result["seen"] >= 100, result


def wake_rounds(name: str, rounds: int, conn: Connection) -> None:
    with FrameReader.open(name) as r:
        for _ in range(rounds):
            conn.send("waiting")
            woke = r.wait(10.0)
            at_ns = time.monotonic_ns()
            f = r.latest()
            conn.send((woke, at_ns, None if f is None else f.frame_no))


def test_wait_wakes_a_reader_in_another_process_promptly(name: str) -> None:
    """The wake-up is the writer's notice, not the reader's RECHECK_S poll (250 ms)."""
    rounds = 10
    with FrameWriter.create(name, W, H, "gray8") as w, Child(wake_rounds, name, rounds) as c:
        pixels = np.zeros((H, W), np.uint8)
        for n in range(1, rounds + 1):
            assert recv(c.conn) == "waiting"
            written_ns = time.monotonic_ns()
            w.write(pixels, wall_ns=n)
            woke, at_ns, frame_no = recv(c.conn)
            assert woke and frame_no == n
            assert (at_ns - written_ns) / 1e6 < 50, f"woke {(at_ns - written_ns) / 1e6:.1f} ms late"


def demand(name: str, until_ns: int, conn: Connection) -> None:
    with FrameReader.open(name) as r:
        r.want(until_ns)
        conn.send("asked")
        recv(conn)
        r.want(until_ns // 2)  # a shorter lease from another viewer never cuts a longer one
        conn.send("asked")
        recv(conn)


def test_demand_lease_crosses_processes(name: str) -> None:
    with FrameWriter.create(name, W, H, "gray8") as w:
        assert not w.wanted(0)
        with Child(demand, name, 5_000) as c:
            assert recv(c.conn) == "asked"
            assert w.wanted(4_999)
            assert not w.wanted(5_000)
            c.conn.send("go")
            assert recv(c.conn) == "asked"
            assert w.wanted(4_999)
            c.conn.send("done")


def test_demand_lease_survives_a_writer_restart(name: str) -> None:
    w = FrameWriter.create(name, 64, 32, "gray8")
    with FrameReader.open(name) as r:
        r.want(10_000)
        w.close()
        w = FrameWriter.create(name, 64, 32, "gray8")
        try:
            assert not w.wanted(0)
            r.latest()  # follows the restart and renews its lease on the new ring
            assert w.wanted(9_999)
        finally:
            w.close()


def write_then_hang(name: str, conn: Connection) -> None:
    w = FrameWriter.create(name, 320, 180, "gray8")
    w.write(np.full((180, 320), 7, np.uint8), wall_ns=1)
    conn.send("written")
    recv(conn, 600)  # until killed


def test_a_killed_writers_ring_is_replaced_and_followed(name: str) -> None:
    with Child(write_then_hang, name) as c:
        assert recv(c.conn) == "written"
        r = FrameReader.open(name)
        try:
            first = r.latest()
            assert first is not None and first.data.max() == 7
            with pytest.raises(RingBusy):
                FrameWriter.create(name, W, H, "gray8")
            c.proc.kill()
            c.proc.join(10)
            assert exists(name), "nobody cleans up after kill -9 but the next writer"
            stale = r.latest()
            assert stale is not None and stale.frame_no == 1, (
                "a killed ring still shows its last frame"
            )
            with FrameWriter.create(name, W, H, "i420") as w:
                w.write(np.full((H * 3 // 2, W), 8, np.uint8), wall_ns=2)
                got = r.latest()
                assert got is not None and got.geometry.fmt is PixelFormat.I420
                assert got.data.max() == 8 and r.statistics().reopens == 1
        finally:
            r.close()


def test_sweep_removes_only_rings_without_a_writer(name: str) -> None:
    live = name + "-live"
    with Child(write_then_hang, name) as c, FrameWriter.create(live, 64, 32, "gray8"):
        assert recv(c.conn) == "written"
        c.proc.kill()
        c.proc.join(10)
        assert sweep(name) == [name]
        assert not exists(name) and exists(live)


def read_and_exit(name: str, conn: Connection) -> None:
    r = FrameReader.open(name)
    f = r.latest()
    conn.send(None if f is None else f.frame_no)
    # Exit without close(), as a crashing UI would: the ring must survive it.


def test_an_exiting_reader_never_unlinks_the_ring(name: str) -> None:
    """Regression: Python's resource tracker unlinks every segment a process attached when
    that process exits (CPython gh-82300), which would delete the writer's ring."""
    with FrameWriter.create(name, 64, 32, "gray8") as w:
        w.write(np.zeros((32, 64), np.uint8), wall_ns=0)
        with Child(read_and_exit, name) as c:
            assert recv(c.conn) == 1
            c.proc.join(20)
            assert c.proc.exitcode == 0
        assert exists(name)
        w.write(np.zeros((32, 64), np.uint8), wall_ns=0)
        with FrameReader.open(name) as r:
            got = r.latest()
            assert got is not None and got.frame_no == 2


def register_and_hang(name: str, conn: Connection) -> None:
    with FrameReader.open(name):
        conn.send("registered")
        recv(conn, 600)


def test_a_killed_reader_is_forgotten(name: str) -> None:
    with FrameWriter.create(name, 64, 32, "gray8") as w, Child(register_and_hang, name) as c:
        assert recv(c.conn) == "registered"
        w.write(np.zeros((32, 64), np.uint8), wall_ns=0)
        assert w.statistics().readers == 1
        c.proc.kill()
        c.proc.join(10)
        w.write(np.zeros((32, 64), np.uint8), wall_ns=0)
        assert w.statistics().readers == 0


def test_a_full_dev_shm_is_an_error_not_a_crash(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without reserving the pages up front, a full tmpfs kills the writer with SIGBUS on
    a later write. The failed create leaves no segment behind and releases the lock."""

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(os, "posix_fallocate", full)
        with pytest.raises(OSError) as caught:
            FrameWriter.create(name, W, H, "i420")
        assert caught.value.errno == errno.ENOSPC
    assert not exists(name)
    with FrameWriter.create(name, W, H, "i420") as w:
        assert w.write(np.zeros((H * 3 // 2, W), np.uint8), wall_ns=0) == 1
