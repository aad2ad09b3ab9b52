"""The simulated cameras' clips: a main/sub H.264 pair encoded once per machine and cached.

One ffmpeg process reads the rendered main-size frames (raw YUV on a pipe), splits them,
scales one copy down, and encodes both with libx264: a keyframe every 2 s, no B-frames,
no sliced threads, an access-unit delimiter before every frame and SPS/PPS before every
IDR. The output is raw Annex-B (`.h264`), which the RTSP server cuts into access units.

Clips live under `$VIGIL_CLIP_CACHE` (default `~/.cache/vigil/clips/`) in a directory
named by a hash of everything that shapes them. A generator takes an flock on the key,
encodes into a temporary directory and renames it into place, so concurrent processes
generate once and never see a half-written clip.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nvr.sim.scene import (
    FPS,
    KEYFRAME_INTERVAL_FRAMES,
    LOOP_FRAMES,
    LOOP_S,
    MOTION_END_FRAME,
    MOTION_END_S,
    MOTION_START_FRAME,
    MOTION_START_S,
    STAMP_BOX,
    Scene,
    moving,
    object_box,
    read_stamp,
)

__all__ = [
    "FPS",
    "LOOP_FRAMES",
    "LOOP_S",
    "MOTION_END_FRAME",
    "MOTION_END_S",
    "MOTION_START_FRAME",
    "MOTION_START_S",
    "STAMP_BOX",
    "ClipSet",
    "ClipSpec",
    "cache_dir",
    "ensure_clips",
    "moving",
    "object_box",
    "read_stamp",
]

# Bump when the rendering or the encoding changes in a way the spec does not capture.
RENDER_VERSION = 1


@dataclass(frozen=True)
class ClipSpec:
    """Everything that shapes a clip pair; its hash names the cache entry."""

    main_size: tuple[int, int] = (1920, 1080)
    sub_size: tuple[int, int] = (640, 360)
    main_kbps: int = 4000
    sub_kbps: int = 512
    seed: int = 1
    noise: int = 2  # amplitude of the cycled sensor noise, in luma levels
    preset: str = "veryfast"

    def key(self) -> str:
        fields = dataclasses.asdict(self) | {
            "render_version": RENDER_VERSION,
            "fps": FPS,
            "loop_frames": LOOP_FRAMES,
        }
        blob = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class ClipSet:
    spec: ClipSpec
    main: Path  # Annex-B H.264, LOOP_FRAMES access units, IDR first
    sub: Path


def cache_dir() -> Path:
    env = os.environ.get("VIGIL_CLIP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "vigil" / "clips"


def ensure_clips(spec: ClipSpec | None = None, root: Path | None = None) -> ClipSet:
    """The clip pair for `spec`, generated first if this machine has not made it yet.

    Blocks for the generation (about 10-15 s on 2 cores) or while another process does it.
    """
    spec = spec or ClipSpec()
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / spec.key()
    found = ClipSet(spec, final / "main.h264", final / "sub.h264")
    if (final / "spec.json").exists():
        return found
    with open(root / f"{spec.key()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (final / "spec.json").exists():
            return found  # another process generated it while we waited
        for stale in root.glob(f".{spec.key()}-*"):  # left by a generator killed mid-way
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.key()}-", dir=root))
        try:
            _encode(spec, tmp / "main.h264", tmp / "sub.h264")
            (tmp / "spec.json").write_text(json.dumps(dataclasses.asdict(spec)) + "\n")
            tmp.chmod(0o755)  # mkdtemp makes it private
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return found


def ffmpeg_args(spec: ClipSpec, main: Path, sub: Path) -> list[str]:
    (mw, mh), (sw, sh) = spec.main_size, spec.sub_size

    def x264(kbps: int) -> list[str]:
        return [
            "-c:v", "libx264", "-preset", spec.preset, "-profile:v", "main",
            "-pix_fmt", "yuv420p", "-bf", "0",
            "-g", str(KEYFRAME_INTERVAL_FRAMES), "-keyint_min", str(KEYFRAME_INTERVAL_FRAMES),
            "-sc_threshold", "0",
            "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k",
            "-x264-params", "sliced-threads=0:aud=1:repeat-headers=1",
            "-f", "h264",
        ]  # fmt: skip

    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{mw}x{mh}", "-r", str(FPS),
        "-i", "pipe:0",
        "-filter_complex", f"[0:v]split=2[m][s0];[s0]scale={sw}:{sh}:flags=area[s]",
        "-map", "[m]", *x264(spec.main_kbps), str(main),
        "-map", "[s]", *x264(spec.sub_kbps), str(sub),
    ]  # fmt: skip


def _encode(spec: ClipSpec, main: Path, sub: Path) -> None:
    scene = Scene(*spec.main_size, seed=spec.seed, noise=spec.noise)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(ffmpeg_args(spec, main, sub), stdin=subprocess.PIPE, stderr=errors)
        assert proc.stdin is not None
        try:
            for n in range(LOOP_FRAMES):
                proc.stdin.write(scene.render(n).data)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg failed; its exit status and stderr say why
        finally:
            rc = proc.wait()
        if rc != 0:
            errors.seek(0)
            raise RuntimeError(f"ffmpeg failed ({rc}): {errors.read().decode(errors='replace')}")
