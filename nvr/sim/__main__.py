"""`python -m nvr.sim --cameras 4`: run simulated cameras, print their URLs, stop on Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from nvr.sim.clips import cache_dir, ensure_clips
from nvr.sim.fleet import Fleet


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nvr.sim", description=__doc__)
    p.add_argument("--cameras", type=int, default=4, help="how many cameras (default 4)")
    p.add_argument("--user", help="require this user (basic or digest auth)")
    p.add_argument("--password", help="and this password")
    args = p.parse_args(argv)
    if (args.user is None) != (args.password is None):
        p.error("--user and --password go together")
    # Block the stop signals first, so one arriving during start-up is not lost.
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    print(f"clips: {cache_dir()} (generated on first use, ~15 s)", file=sys.stderr, flush=True)
    clips = ensure_clips()
    credentials = (args.user, args.password) if args.user is not None else None
    with Fleet(args.cameras, clips, credentials=credentials) as fleet:
        for i in range(len(fleet)):
            print(f"camera {i}: {fleet.url(i, 'main')}  {fleet.url(i, 'sub')}", flush=True)
        print("running; Ctrl-C to stop", file=sys.stderr, flush=True)
        signal.sigwait(stop)
        for sig in stop:  # a second Ctrl-C must not interrupt the clean-up
            signal.signal(sig, signal.SIG_IGN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
