"""A fleet of simulated cameras: one RTSP server process per camera, and ways to hurt them.

Each camera is `rtsp_server.py` run by Debian's /usr/bin/python3 (it needs `gi`, which
the venv does not have) on a loopback port, serving `/main` and `/sub`. The first start
takes any free port, which the camera keeps across restarts. Starting waits for each
server's ready line, within a deadline; nothing here sleeps to synchronise. A server's
stdin is a pipe from us, and it exits when that closes, so a crashed test leaves no
cameras behind. Servers run in their own session: signals for the terminal's process
group (Ctrl-C) reach only us, and we stop them.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from nvr.clock import SystemClock
from nvr.sim.clips import FPS, ClipSet, ensure_clips

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = os.environ.get("VIGIL_GST_PYTHON", "/usr/bin/python3")
READY_TIMEOUT_S = 20.0


class CameraServer:
    """One camera's server process. `port` is 0 until the first start reports it.

    `epoch_ns` (CLOCK_MONOTONIC) is when the camera's frame 0 was due; it survives restarts,
    so the loop's phase is a function of time alone.
    """

    def __init__(
        self, index: int, clips: ClipSet, credentials: tuple[str, str] | None, epoch_ns: int
    ) -> None:
        self.index, self.clips, self.credentials = index, clips, credentials
        self.epoch_ns = epoch_ns
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def spawn(self) -> None:
        """Start the process; `wait_ready` completes the start."""
        argv = [SYSTEM_PYTHON, "-I", str(SERVER), "--watch-stdin",
                "--port", str(self.port), "--fps", str(FPS), "--epoch-ns", str(self.epoch_ns),
                "--main", str(self.clips.main), "--sub", str(self.clips.sub)]  # fmt: skip
        if self.credentials:
            argv += ["--user", self.credentials[0], "--password", self.credentials[1]]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in reap())
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            start_new_session=True,  # a Ctrl-C at the terminal is for us, not the cameras
        )  # fmt: skip

    def wait_ready(self, deadline_ns: int) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd, line = self.proc.stdout.fileno(), b""
        while not line.endswith(b"\n"):
            left_s = (deadline_ns - SystemClock().monotonic_ns()) / 1e9
            if left_s <= 0 or not select.select([fd], [], [], left_s)[0]:
                raise TimeoutError(f"camera {self.index} not ready in time: {self.describe()}")
            chunk = os.read(fd, 1)  # one byte at a time: nothing after the line is ours
            if not chunk:
                raise RuntimeError(f"camera {self.index} exited: {self.describe()}")
            line += chunk
        self.port = int(json.loads(line)["port"])

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"camera {self.index} is not running")
        self.proc.send_signal(sig)

    def reap(self) -> None:
        """Kill (if running) and collect the process."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()  # SIGKILL works on a stopped process too
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe:
                    pipe.close()
            self.proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def describe(self) -> str:
        rc = self.proc.poll() if self.proc else None
        err = b""
        if self._stderr is not None:
            self._stderr.seek(0)
            err = self._stderr.read()[-3000:]
        return f"exit status {rc}, stderr: {err.decode(errors='replace')}"


class Fleet:
    """N simulated cameras on 127.0.0.1. Use as a context manager, or call close()."""

    def __init__(
        self,
        n: int,
        clips: ClipSet | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        start_frame: int | Sequence[int] = 0,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        """Start `n` cameras. Camera i is at frame `start_frame[i]` of its loop now (one
        int: all of them), which lets a test meet the motion window without waiting."""
        clips = clips or ensure_clips()
        self.credentials = credentials
        self._timeout_ns = int(ready_timeout_s * 1e9)
        starts = [start_frame] * n if isinstance(start_frame, int) else list(start_frame)
        if len(starts) != n or min(starts, default=0) < 0:
            raise ValueError(f"need {n} start frames, none negative: {start_frame}")
        now = SystemClock().monotonic_ns()
        self.cameras = [
            CameraServer(i, clips, credentials, now - f * 1_000_000_000 // FPS)
            for i, f in enumerate(starts)
        ]
        try:
            for cam in self.cameras:
                cam.spawn()
            deadline = SystemClock().monotonic_ns() + self._timeout_ns
            for cam in self.cameras:
                cam.wait_ready(deadline)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self.cameras)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def url(self, i: int, path: str = "main", *, credentials: bool = True) -> str:
        """`rtsp://[user:password@]127.0.0.1:PORT/path` of camera i ("main" or "sub")."""
        auth = ""
        if credentials and self.credentials:
            auth = f"{self.credentials[0]}:{self.credentials[1]}@"
        return f"rtsp://{auth}127.0.0.1:{self.cameras[i].port}/{path}"

    def frame_due(self, i: int) -> int:
        """The frame camera i is due to send now, counted from its epoch (not wrapped:
        `% LOOP_FRAMES` gives the stamp). Frames reach a client a little later."""
        elapsed_ns = SystemClock().monotonic_ns() - self.cameras[i].epoch_ns
        return elapsed_ns * FPS // 1_000_000_000

    def pid(self, i: int) -> int:
        proc = self.cameras[i].proc
        if proc is None:
            raise RuntimeError(f"camera {i} is not running")
        return proc.pid

    def kill(self, i: int) -> None:
        """SIGKILL camera i and wait until it is gone (its port is free on return)."""
        self.cameras[i].signal(signal.SIGKILL)
        self.cameras[i].reap()

    def stall(self, i: int) -> None:
        """SIGSTOP camera i; returns once it is stopped. Connections stay open, silent."""
        self.cameras[i].signal(signal.SIGSTOP)
        # Blocks until the kernel has stopped it (or it died); WNOWAIT leaves it unreaped.
        info = os.waitid(os.P_PID, self.pid(i), os.WSTOPPED | os.WEXITED | os.WNOWAIT)
        if info is None or info.si_code != os.CLD_STOPPED:
            raise RuntimeError(f"camera {i} died instead of stopping: {self.cameras[i].describe()}")

    def resume(self, i: int) -> None:
        """SIGCONT a stalled camera; it skips ahead to the frame its clock says is due."""
        self.cameras[i].signal(signal.SIGCONT)

    def restart(self, i: int) -> None:
        """Kill camera i if it runs, and start it again on the same port."""
        cam = self.cameras[i]
        cam.reap()
        cam.spawn()
        try:
            cam.wait_ready(SystemClock().monotonic_ns() + self._timeout_ns)
        except BaseException:
            cam.reap()
            raise

    def close(self) -> None:
        for cam in self.cameras:
            cam.reap()
