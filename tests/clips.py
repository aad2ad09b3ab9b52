"""Small H.264 test clips made with PyAV's bundled libx264 (no external tools needed)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_clip(
    path: Path,
    *,
    seconds: int = 10,
    fps: int = 15,
    gop: int = 30,
    size: tuple[int, int] = (640, 360),
) -> Path:
    """An MP4 whose every frame has a distinct grey level; keyframe every `gop` frames, no B-frames."""
    w, h = size
    out = av.open(str(path), "w")
    stream = out.add_stream(
        "libx264", rate=fps,
        options={"preset": "veryfast", "bf": "0", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"},
    )  # fmt: skip
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    for i in range(seconds * fps):
        frame = av.VideoFrame.from_ndarray(
            np.full((h, w, 3), (i * 7) % 256, np.uint8), format="rgb24"
        )
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path
