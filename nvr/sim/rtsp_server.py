# mypy: ignore-errors
# (Run by Debian's /usr/bin/python3 for its `gi`, outside the venv: stdlib and gi only.)
"""One simulated IP camera: an RTSP server looping pre-encoded H.264 clips on /main and /sub.

    /usr/bin/python3 -I rtsp_server.py --main main.h264 --sub sub.h264 [--port 8554]
        [--fps 15] [--epoch-ns T] [--user U --password P [--auth digest|basic]]
        [--watch-stdin]

The camera runs on its own clock, like a real one: frame n (both streams at once, the
loop's frame n % 450) is due at epoch + n / fps, whether or not anyone watches. The
epoch is CLOCK_MONOTONIC (GStreamer's system clock, Python's time.monotonic_ns), so a
parent on this machine knows which frame is on air at any instant. Each
path's media is shared by all its clients and torn down when the last one leaves. A
media pipeline is LAUNCH below: a GLib timer pushes every due access unit into each
playing appsrc, stamped with the running time of its due instant, so timestamps are
exact and keep increasing across loops. A new pipeline starts at the current frame,
usually mid-GOP, with SPS/PPS inserted into that first access unit so the SDP (with
sprop-parameter-sets) is ready at once; a pipeline more than MAX_LAG_S behind (after
SIGSTOP/SIGCONT) skips to the current frame, as a camera would have moved on. Nothing
is re-encoded or re-parsed: rtph264pay packs the clip's own NAL units.

Prints one JSON line on stdout once listening: {"ready": true, "port", "pid", "epoch_ns"}.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

MAX_LAG_S = 0.5
AUD = b"\x00\x00\x01\x09"  # start code + access unit delimiter: where every frame begins
# The appsrc queue holds at most 2 s (a pipeline waiting for PLAY), dropping the oldest.
LAUNCH = (
    "( appsrc name=src is-live=true format=time do-timestamp=false"
    " max-bytes=0 max-buffers={queue} leaky-type=downstream"
    " caps=video/x-h264,stream-format=byte-stream,alignment=au,framerate={fps}/1"
    " ! rtph264pay name=pay0 pt=96 )"
)


class Clip:
    """One stream's loop, cut into access units (AUD-delimited, as the clip encoder made it)."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            data = f.read()
        starts = []
        at = data.find(AUD)
        while at != -1:
            # x264 gives an AU's first NAL a 4-byte start code: keep its zero_byte in the AU.
            starts.append(at - 1 if at and data[at - 1] == 0 else at)
            at = data.find(AUD, at + len(AUD))
        if not starts or starts[0] != 0:
            raise SystemExit(f"{path}: not an AUD-delimited H.264 stream")
        ends = [*starts[1:], len(data)]
        units = [data[a:b] for a, b in zip(starts, ends, strict=True)]
        self.keyframe = [_has_nal(u, 5) for u in units]
        if not self.keyframe[0]:
            raise SystemExit(f"{path}: the loop must start with an IDR frame")
        self.units = [GLib.Bytes.new(u) for u in units]
        # SPS and PPS from the first IDR, for a pipeline that starts mid-GOP.
        self.headers = b"".join(
            b"\x00" + n.rstrip(b"\x00")  # 4-byte start codes, no trailing zeros
            for n in _nals(units[0])
            if len(n) > 3 and (n[3] & 0x1F) in (7, 8)
        )

    def with_headers(self, i: int) -> GLib.Bytes:
        """Access unit i with SPS/PPS inserted after its delimiter (which must stay first)."""
        unit = self.units[i].get_data()
        at = unit.find(b"\x00\x00\x01", len(AUD) + 1)  # the NAL after the AUD
        at = at - 1 if unit[at - 1] == 0 else at
        return GLib.Bytes.new(unit[:at] + self.headers + unit[at:])


def _nals(unit: bytes) -> list[bytes]:
    """Annex-B NAL units each with its 3-byte start code, so `n[3]` is the header byte."""
    parts = unit.split(b"\x00\x00\x01")
    return [b"\x00\x00\x01" + p for p in parts[1:]]


def _has_nal(unit: bytes, nal_type: int) -> bool:
    return any(len(n) > 3 and (n[3] & 0x1F) == nal_type for n in _nals(unit))


class Feed:
    """The appsrc of one prepared media and the next frame it should get."""

    def __init__(self, src: Gst.Element, clip: Clip, fps: int) -> None:
        self.src, self.clip, self.fps = src, clip, fps
        self.next: int | None = None

    def push_due(self, camera: Camera, due: int) -> None:
        _, state, _ = self.src.get_state(0)
        if state != Gst.State.PLAYING:
            self.next = None  # running time restarts with the next PLAYING
            return
        lag_frames = int(MAX_LAG_S * self.fps)
        first = self.next is None or due - self.next > lag_frames
        if first:
            self.next = due
        base = self.src.get_base_time()
        while self.next <= due:
            n = self.next
            self.next += 1
            pts = camera.frame_clock_ns(n) - base
            if pts < 0:
                continue  # due before this pipeline started playing
            i = n % len(self.clip.units)
            data = self.clip.units[i]
            if first and not self.clip.keyframe[i]:
                data = self.clip.with_headers(i)
            first = False
            buf = Gst.Buffer.new_wrapped_bytes(data)
            buf.pts = buf.dts = pts
            buf.duration = Gst.SECOND // self.fps
            if not self.clip.keyframe[i]:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            self.src.emit("push-buffer", buf)


class Camera:
    """The camera's clock and the feeds of its prepared media."""

    def __init__(self, clips: dict[str, Clip], fps: int, epoch_ns: int | None) -> None:
        self.clips, self.fps = clips, fps
        self.clock = Gst.SystemClock.obtain()  # CLOCK_MONOTONIC, as time.monotonic_ns()
        now = self.clock.get_time()
        if epoch_ns is not None and epoch_ns > now:
            raise SystemExit(f"--epoch-ns {epoch_ns} is in the future (now {now})")
        self.t0 = now if epoch_ns is None else epoch_ns
        self.feeds: list[Feed] = []
        self.lock = threading.Lock()  # media are configured on the RTSP client thread

    def frame_clock_ns(self, n: int) -> int:
        return self.t0 + n * Gst.SECOND // self.fps

    def attach(self, factory: GstRtspServer.RTSPMediaFactory, clip: Clip) -> None:
        def configure(_factory, media):
            src = media.get_element().get_by_name("src")
            feed = Feed(src, clip, self.fps)
            with self.lock:
                self.feeds.append(feed)
            media.connect("unprepared", lambda _m: self.forget(feed))

        factory.connect("media-configure", configure)

    def forget(self, feed: Feed) -> None:
        with self.lock:
            if feed in self.feeds:
                self.feeds.remove(feed)

    def tick(self) -> bool:
        now = self.clock.get_time()
        due = (now - self.t0) * self.fps // Gst.SECOND
        with self.lock:
            feeds = list(self.feeds)
        for feed in feeds:
            feed.push_due(self, due)
        wait_ns = self.frame_clock_ns(due + 1) - self.clock.get_time()
        GLib.timeout_add(max(1, -(-wait_ns // 1_000_000)), self.tick)
        return False  # one-shot; rescheduled against the frame clock so it never drifts


def make_auth(user: str, password: str, method: str) -> GstRtspServer.RTSPAuth:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    # One method: PyGObject sees GstRTSPAuthMethod as an enum, so BASIC | DIGEST is refused.
    if method == "digest":
        auth.add_digest(user, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    return auth


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--main", required=True, help="main stream clip (Annex-B H.264)")
    p.add_argument("--sub", required=True, help="sub stream clip (Annex-B H.264)")
    p.add_argument("--fps", type=int, default=15, help="the clips' frame rate")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port (reported)")
    p.add_argument(
        "--epoch-ns", type=int,
        help="CLOCK_MONOTONIC ns when frame 0 was due (default: now); keeps the phase on restart",
    )  # fmt: skip
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--auth", choices=["digest", "basic"], default="digest")
    p.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
    args = p.parse_args()
    if (args.user is None) != (args.password is None):
        p.error("--user and --password go together")

    Gst.init(None)
    camera = Camera({"main": Clip(args.main), "sub": Clip(args.sub)}, args.fps, args.epoch_ns)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    if args.user is not None:
        server.set_auth(make_auth(args.user, args.password, args.auth))
    mounts = server.get_mount_points()
    for path, clip in camera.clips.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(LAUNCH.format(fps=args.fps, queue=2 * args.fps))
        factory.set_shared(True)
        if args.user is not None:
            factory.add_role_from_structure(
                Gst.Structure.new_from_string(
                    "viewer, media.factory.access=(boolean)true,"
                    " media.factory.construct=(boolean)true"
                )
            )
        camera.attach(factory, clip)
        mounts.add_factory(f"/{path}", factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    if args.watch_stdin:

        def on_stdin(channel: GLib.IOChannel, _condition: GLib.IOCondition) -> bool:
            if os.read(channel.unix_get_fd(), 4096):
                return True
            loop.quit()  # the parent is gone
            return False

        GLib.io_add_watch(
            GLib.IOChannel.unix_new(sys.stdin.fileno()),
            GLib.PRIORITY_DEFAULT,
            GLib.IOCondition.IN | GLib.IOCondition.HUP,
            on_stdin,
        )
    GLib.idle_add(camera.tick)
    ready = {
        "ready": True, "port": server.get_bound_port(), "pid": os.getpid(), "epoch_ns": camera.t0,
    }  # fmt: skip
    print(json.dumps(ready), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
