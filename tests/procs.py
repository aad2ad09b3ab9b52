"""Real processes for fault tests: appenders to start and kill -9, producers and readers to drive.

Appenders start either through the real command (`python -m nvr --data DATA appender`) or,
for crash loops, from a forkserver that has the appender's modules preloaded (about 10 ms
instead of 150 ms). Either way the LMDB environment is opened in the child, never
inherited across fork.

Producers and readers are `python -m tests.procs MODE ...` processes that speak JSON
lines: one command per stdin line, one answer per stdout line. Run directly, this module
is that entry point.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 20.0

# -- reading a child's output ------------------------------------------------------------


class Lines:
    """Whole lines from a pipe, each read with a timeout (no partial-line surprises)."""

    def __init__(self, fd: int, describe: Callable[[], str]) -> None:
        self._fd = fd
        self._buf = bytearray()
        self._describe = describe

    def read(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line within {timeout} s from {self._describe()}")
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 1 << 16)
                if not chunk:
                    raise EOFError(f"output ended: {self._describe()}")
                self._buf += chunk
        line, _, rest = bytes(self._buf).partition(b"\n")
        self._buf = bytearray(rest)
        return line.decode()


class Child:
    """A `subprocess` child with JSON-line stdin/stdout and stderr kept in a file."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.name = name
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, bufsize=0,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.lines = Lines(self.proc.stdout.fileno(), self.describe)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def describe(self) -> str:
        rc = self.proc.poll()
        state = "running" if rc is None else f"exited {rc}"
        return f"{self.name} (pid {self.pid}, {state}); stderr:\n{self.stderr_text()[-3000:]}"

    def send(self, msg: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")

    def recv(self, timeout: float = 30.0) -> Any:
        answer = json.loads(self.lines.read(timeout))
        if isinstance(answer, dict) and "crash" in answer:
            raise AssertionError(f"{self.name} failed: {answer['crash']}")
        return answer

    def ask(self, msg: Any, timeout: float = 30.0) -> Any:
        self.send(msg)
        return self.recv(timeout)

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL and reap (a no-op when it already exited)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        self.close_stdin()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


# -- appenders ---------------------------------------------------------------------------


class CliAppender(Child):
    """`python -m nvr --data DATA appender`, returned once it printed {"ready": true}."""

    def __init__(self, data: Path) -> None:
        super().__init__([sys.executable, "-m", "nvr", "--data", str(data), "appender"], "appender")
        try:
            line = self.lines.read(READY_TIMEOUT_S)
            if json.loads(line) != {"ready": True}:
                raise RuntimeError(f"appender said {line!r}: {self.describe()}")
        except BaseException:
            self.close()
            raise


def _run_appender(log_dir: str, ready: Connection) -> None:
    """Forkserver child: open the log here (never inherited) and serve until killed."""
    from nvr.eventlog.appender import run

    run(log_dir, ready=lambda: ready.send(True))


_forkserver: Any = None


def _forkserver_context() -> Any:
    global _forkserver
    if _forkserver is None:
        _forkserver = multiprocessing.get_context("forkserver")
        _forkserver.set_forkserver_preload(["nvr.eventlog.appender", __name__])
    return _forkserver


class ForkedAppender:
    """An appender forked from a preloaded forkserver, returned once it listens."""

    name = "forked appender"

    def __init__(self, data: Path) -> None:
        ctx = _forkserver_context()
        receive, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_run_appender, args=(str(data / "log"), send), daemon=True)
        self.proc.start()
        send.close()
        try:
            if not receive.poll(READY_TIMEOUT_S):
                raise TimeoutError(f"forked appender not ready in {READY_TIMEOUT_S} s")
            receive.recv()
        except EOFError:
            self.proc.join()
            raise RuntimeError(
                f"forked appender exited {self.proc.exitcode} before ready"
            ) from None
        except BaseException:
            self.close()
            raise
        finally:
            receive.close()

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    def alive(self) -> bool:
        return bool(self.proc.is_alive())

    def kill(self) -> None:
        if self.proc.exitcode is None:
            self.proc.kill()
        self.proc.join()

    def close(self) -> None:
        self.kill()
        self.proc.close()


Appender = CliAppender | ForkedAppender


class ProcessGroup:
    """Every process a test started; whatever is still running at the end is killed."""

    def __init__(self) -> None:
        self._procs: list[Child | ForkedAppender] = []

    def appender(self, data: Path, *, forked: bool = False) -> Appender:
        """An appender for the log in `data`/log, once it is ready."""
        proc = ForkedAppender(data) if forked else CliAppender(data)
        self._procs.append(proc)
        return proc

    def child(self, mode: str, *args: str) -> Child:
        """A `tests.procs` process (producer or reader), once it said it is ready."""
        child = Child([sys.executable, "-m", "tests.procs", mode, *args], f"{mode} process")
        self._procs.append(child)
        try:
            child.recv(READY_TIMEOUT_S)
        except BaseException:
            child.close()
            raise
        return child

    def kill(self, proc: Child | ForkedAppender) -> None:
        """SIGKILL `proc`, reap it and release what it held."""
        proc.close()
        self._procs.remove(proc)

    def close(self) -> None:
        for proc in self._procs:
            proc.close()
        self._procs.clear()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the child side ----------------------------------------------------------------------


def event(stream: str, n: int, pad: int = 0) -> Any:
    """A valid proposed event; `pad` bytes of text make it as large as a test needs."""
    from nvr.domain import codec
    from nvr.domain.events import WorkerExited

    body = WorkerExited(worker=stream, pid=n, exit_code=0, signal=None, reason="x" * pad)
    return codec.propose(body, stream=stream, actor="test")


def _say(msg: Any) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def _stdin_ready() -> bool:
    return bool(select.select([sys.stdin], [], [], 0)[0])


def produce_continuously(log_dir: str, out: str, seed: int, window: int) -> None:
    """Append until stdin has a line or ends, keeping up to `window` requests in flight.

    Each acknowledged event is written to `out` as "event-id-hex position" and flushed
    before the next request, so the record survives whatever happens to the appender.
    Answers must come back in submission order. The last stdout line is a summary."""
    from nvr.eventlog.client import AppenderClient

    rng = random.Random(seed)
    client = AppenderClient(log_dir, deadline_s=30)
    sent: dict[int, list[Any]] = {}
    n = acked = 0
    _say({"ready": True})
    with open(out, "w") as record:
        stopping = False
        while sent or not stopping:
            while not stopping and len(sent) < window:
                batch = [
                    event(f"crash/{rng.randrange(4)}", n + i) for i in range(rng.randint(1, 4))
                ]
                n += len(batch)
                sent[client.submit(batch)] = batch
            rid, result = client.collect()
            oldest = next(iter(sent))
            if rid != oldest:
                raise AssertionError(f"answer for request {rid} while {oldest} was the oldest")
            batch = sent.pop(rid)
            if not isinstance(result, list):
                raise result
            record.write(
                "".join(f"{p.event_id.hex()} {pos}\n" for p, pos in zip(batch, result, strict=True))
            )
            record.flush()
            acked += len(batch)
            stopping = stopping or _stdin_ready()
    _say({"reconnects": client.reconnects, "acked": acked, "submitted": n})
    client.close()


def serve_producer(log_dir: str) -> None:
    """Answer JSON commands on stdin until it ends:
    {"op": "append", "stream", "count", "batch", "expected", "shared_every", "pad"}
        -> {"events": [[id hex, position, stream], ...], "acked_at": monotonic s}
           or {"error": kind, "message": ..., "actual": ...}
    {"op": "version", "stream"} -> {"version": v}
    """
    from nvr.eventlog.client import RemoteLog
    from nvr.eventlog.errors import LogError, WrongExpectedVersion

    log = RemoteLog(log_dir, deadline_s=30)
    _say({"ready": True})
    n = 0
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "version":
            _say({"version": log.stream_version(cmd["stream"])})
            continue
        stream, every = cmd["stream"], cmd.get("shared_every", 0)
        done: list[list[Any]] = []
        try:
            for start in range(0, cmd.get("count", 1), cmd.get("batch", 1)):
                batch = []
                for i in range(start, min(start + cmd.get("batch", 1), cmd.get("count", 1))):
                    target = "shared" if every and i % every == 0 else stream
                    p = event(target, n, cmd.get("pad", 0))
                    if cmd.get("expected") is not None:
                        p = _with_expected(p, cmd["expected"])
                    batch.append(p)
                    n += 1
                positions = log.append(batch)
                done += [
                    [p.event_id.hex(), pos, p.stream]
                    for p, pos in zip(batch, positions, strict=True)
                ]
        except LogError as exc:
            err: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc), "events": done}
            if isinstance(exc, WrongExpectedVersion):
                err["actual"] = exc.actual
            _say(err)
            continue
        _say({"events": done, "acked_at": time.monotonic()})
    log.close()


def _with_expected(p: Any, version: int) -> Any:
    import msgspec

    return msgspec.structs.replace(p, expected_version=version)


def serve_reader(log_dir: str, map_size: int) -> None:
    """Follow a log from another process: {"upto": H} reads every record after the last
    one read up to H and answers {"last": H, "map_size": bytes, "resized": n}."""
    from nvr.eventlog.lmdbstore import LmdbStore

    store = LmdbStore(log_dir, map_size=map_size)
    last = 0
    _say({"ready": True})
    for line in sys.stdin:
        upto = json.loads(line)["upto"]
        for env in store.read(last + 1, upto + 1):
            if env.position != last + 1:
                raise AssertionError(f"read position {env.position} after {last}")
            last = env.position
        _say({"last": last, "head": store.head(), "map_size": store.stats()["map_size"]})
    store.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="tests.procs")
    sub = p.add_subparsers(dest="mode", required=True)
    cont = sub.add_parser("produce", help="append continuously, recording acknowledgements")
    cont.add_argument("log_dir")
    cont.add_argument("--out", required=True)
    cont.add_argument("--seed", type=int, default=0)
    cont.add_argument("--window", type=int, default=4)
    sub.add_parser("producer", help="append on command").add_argument("log_dir")
    reader = sub.add_parser("reader", help="read on command")
    reader.add_argument("log_dir")
    reader.add_argument("--map-size", type=int, default=64 << 10)
    args = p.parse_args(argv)
    try:
        if args.mode == "produce":
            produce_continuously(args.log_dir, args.out, args.seed, args.window)
        elif args.mode == "producer":
            serve_producer(args.log_dir)
        else:
            serve_reader(args.log_dir, args.map_size)
    except Exception as exc:
        _say({"crash": f"{type(exc).__name__}: {exc}"})
        raise


if __name__ == "__main__":
    main()
