"""Pulling one RTSP stream with PyAV, and naming why it stopped.

What real cameras do, and what this does about it:
- a read that never returns (camera stalled): `timeout` (microseconds) makes it raise;
- demux that just ends when the camera dies: reported as "eof";
- a first keyframe without pts, late joins mid-GOP: passed on; the segment writer copes;
- refused connections and bad credentials: distinct reasons, so an operator can act.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import av.error
import msgspec

OPEN_TIMEOUT_S = 5.0


class StreamInfo(msgspec.Struct, frozen=True, kw_only=True):
    codec: str
    width: int
    height: int
    fps: float
    time_base: Fraction


class StreamLost(Exception):
    """`reason` is one of the stable codes of the `stream.lost` event."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def open_options(timeout_s: float) -> dict[str, str]:
    return {
        "rtsp_transport": "tcp",
        "timeout": str(int(timeout_s * 1_000_000)),  # `stimeout` is ignored by current FFmpeg
        # No probing beyond the SDP (it carries SPS/PPS and the frame rate): opening takes
        # milliseconds instead of seconds of stream analysis.
        "probesize": "32",
        "analyzeduration": "0",
        "fpsprobesize": "0",
        "fflags": "nobuffer",
    }


def classify(exc: BaseException) -> StreamLost:
    """The `stream.lost` reason for an error raised while opening or reading a stream."""
    text = str(exc)
    if isinstance(exc, StreamLost):
        return exc
    if isinstance(exc, av.error.HTTPUnauthorizedError) or "401" in text:
        return StreamLost("auth", "the camera refused the credentials")
    if isinstance(exc, ConnectionRefusedError):
        return StreamLost("refused", "nothing listens at the camera's address")
    if isinstance(exc, TimeoutError | av.error.ExitError):  # ExitError: PyAV's own timeout
        return StreamLost("timeout", "no data within the read timeout")
    if isinstance(exc, av.error.InvalidDataError):
        return StreamLost("decode-error", text)
    return StreamLost("error", f"{type(exc).__name__}: {text}")


class StreamSource:
    """One open stream. Iterate `packets()`; it raises StreamLost when the stream ends."""

    def __init__(self, url: str, *, timeout_s: float = OPEN_TIMEOUT_S) -> None:
        self._container = self._open(url, open_options(timeout_s), timeout_s, need_size=False)
        if (
            self._container.streams.video
            and not self._container.streams.video[0].codec_context.width
        ):
            # The fast open found no picture size (parameter sets arrived late, seen under
            # load): open again, probing the stream this once. A segment needs the size.
            self._container.close()
            slow = open_options(timeout_s) | {"probesize": "1000000", "analyzeduration": "2000000"}
            self._container = self._open(url, slow, timeout_s, need_size=True)
        self.stream = self._container.streams.video[0]
        ctx = self.stream.codec_context
        rate = self.stream.average_rate or self.stream.guessed_rate or 0
        self.info = StreamInfo(
            codec=ctx.name, width=ctx.width, height=ctx.height, fps=float(rate),
            time_base=Fraction(self.stream.time_base or Fraction(1, 90_000)),
        )  # fmt: skip

    @staticmethod
    def _open(
        url: str, options: dict[str, str], timeout_s: float, *, need_size: bool
    ) -> av.container.InputContainer:
        try:
            container = av.open(url, options=options, timeout=timeout_s)
        except Exception as exc:
            raise classify(exc) from None
        if not container.streams.video:
            container.close()
            raise StreamLost("error", "no video stream")
        if need_size and not container.streams.video[0].codec_context.width:
            container.close()
            raise StreamLost("decode-error", "the stream gives no picture size")
        return container

    def packets(self) -> Iterator[av.Packet]:  # type: ignore[type-arg]
        try:
            for packet in self._container.demux(self.stream):
                if packet.size:
                    yield packet
        except Exception as exc:
            raise classify(exc) from None
        raise StreamLost("eof", "the camera ended the stream")

    def close(self) -> None:
        self._container.close()
