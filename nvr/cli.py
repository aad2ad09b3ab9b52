"""The `nvr` command: one entry point, one subcommand per task."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from nvr.domain.errors import DomainError


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data or os.environ.get("VIGIL_DATA") or "vigil-data")


def log_dir(args: argparse.Namespace) -> Path:
    return data_dir(args) / "log"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nvr", description="Vigil, an event-sourced NVR")
    p.add_argument("--data", help="data directory (default: $VIGIL_DATA or ./vigil-data)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("appender", help="run the log appender (the one writer of the log)")
    demo = sub.add_parser("demo", help="record four simulated cameras with the embedded default")
    demo.add_argument("--keep", action="store_true", help="keep the demo data directory")
    demo.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")
    demo.add_argument(
        "--web-port", type=int, default=8443, help="web UI port (0: any free port; -1: no web UI)"
    )
    rec = sub.add_parser("record", help="start or stop a manual or panic recording")
    rec.add_argument("state", choices=["on", "off"])
    rec.add_argument("cameras", nargs="*", help="camera ids (default with --panic: every camera)")
    rec.add_argument("--panic", action="store_true", help="panic recording (all cameras at once)")
    rec.add_argument("--reason", default="")
    run = sub.add_parser("run", help="run the recorder from a configuration file")
    run.add_argument("--config", required=True, help="TOML file (or a legacy JSON camera list)")

    log = sub.add_parser("log", help="inspect and check the event log").add_subparsers(
        dest="log_command", required=True
    )
    log.add_parser("stats", help="counts, head, sizes")
    tail = log.add_parser("tail", help="the last events, optionally following new ones")
    tail.add_argument("-n", type=int, default=20)
    tail.add_argument("--follow", "-f", action="store_true")
    show = log.add_parser("show", help="one event, decoded")
    show.add_argument("position", type=int)
    verify = log.add_parser("verify", help="check hash chain, order, decoding and indexes")
    verify.add_argument(
        "--deep", action="store_true",
        help="also rebuild every projection and compare it with the live export, and check "
        "every segment file against the sha256 of its closing event",
    )  # fmt: skip
    verify.add_argument(
        "--storage", help="with --deep: the recordings directory (default: DATA/../recordings)"
    )
    verify.add_argument(
        "--skip-files", action="store_true", help="with --deep: do not read segment files"
    )
    export = log.add_parser("export", help="write the log as a readable history")
    export.add_argument("--jsonl", action="store_true", required=True)
    export.add_argument("output", nargs="?", default="-")
    imp = log.add_parser("import", help="append a JSONL history")
    imp.add_argument("input")

    exp = sub.add_parser("export-sqlite", help="write or update an SQLite export of the tables")
    exp.add_argument("path")
    replay = sub.add_parser("replay", help="the state of the system at a past instant")
    replay.add_argument("--at", required=True, help="RFC 3339 time, e.g. 2026-11-24T14:00:00Z")
    aud = sub.add_parser("audit", help="who did what, when and from where")
    aud.add_argument("--actor", help="user name or actor (user/ann, cli/root, supervisor)")
    aud.add_argument("--camera")
    aud.add_argument("--since", help="RFC 3339 time (inclusive)")
    aud.add_argument("--until", help="RFC 3339 time (exclusive)")
    aud.add_argument(
        "--refresh",
        action="store_true",
        help="read a copy caught up with the log (the live export may lag)",
    )

    from nvr import retention_cli, user_cli

    user_cli.add_parser(sub)
    retention_cli.add_parser(sub)
    web = sub.add_parser("web", help="serve the web UI alone (nvr run serves it with web_port)")
    web.add_argument("--storage", required=True, help="the recordings directory")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8443)
    web.add_argument("--no-tls", action="store_true", help="plain HTTP (loopback testing only)")

    proj = sub.add_parser("projection", help="fold projections from the log").add_subparsers(
        dest="projection_command", required=True
    )
    proj.add_parser("show", help="catch up and print the log summary")
    proj.add_parser("rebuild", help="rebuild the log summary from scratch and swap it in")
    proj.add_parser("tables", help="every projection table folded from the log, as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "appender":
            from nvr.eventlog.appender import run

            run(log_dir(args), ready=lambda: print(json.dumps({"ready": True}), flush=True))
            return 0
        if args.command == "demo":
            from nvr.demo import run_demo

            return run_demo(
                data_dir(args) if args.data else None,
                seconds=args.seconds,
                keep=args.keep,
                web_port=args.web_port,
            )
        if args.command == "record":
            return record(args, log_dir(args))
        if args.command == "run":
            return run_config(Path(args.config))
        if args.command == "log":
            from nvr import log_cli

            return log_cli.run(args, log_dir(args))
        if args.command in ("export-sqlite", "replay", "audit"):
            from nvr import audit_cli

            if args.command == "export-sqlite":
                return audit_cli.export_sqlite(log_dir(args), Path(args.path))
            if args.command == "replay":
                return audit_cli.replay_at(log_dir(args), args.at)
            return audit_cli.audit(data_dir(args), args)
        if args.command == "user":
            from nvr import user_cli

            return user_cli.run(args, log_dir(args))
        if args.command == "retention":
            from nvr import retention_cli

            return retention_cli.run(args, data_dir(args))
        if args.command == "web":
            return run_web(args)
        if args.command == "projection":
            from nvr import log_cli

            return log_cli.projection(args, data_dir(args))
    except DomainError as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 2


def record(args: argparse.Namespace, path: Path) -> int:
    import getpass

    from nvr.clock import SystemClock
    from nvr.control import request_recording
    from nvr.eventlog.client import RemoteLog
    from nvr.projections.config import ConfigProjection
    from nvr.projections.runtime import fold

    log = RemoteLog(path, deadline_s=10)
    try:
        cameras = list(args.cameras)
        if not cameras and args.panic:
            proj = ConfigProjection()
            cameras = list(fold(proj, proj.initial(), log.read())[0].cameras)
        if not cameras:
            print("nvr: name the cameras (or use --panic for all)", file=sys.stderr)
            return 2
        positions = request_recording(
            log, cameras, "panic" if args.panic else "manual", args.state == "on",
            actor=f"cli/{getpass.getuser()}", now_ns=SystemClock().now_ns(), reason=args.reason,
        )  # fmt: skip
    finally:
        log.close()
    print_json({"requested": len(positions), "cameras": cameras})
    return 0


def run_config(path: Path) -> int:
    from nvr.domain.config import ConfigError
    from nvr.run import System
    from nvr.workers.configfile import ConfigFile

    file = ConfigFile(path)
    try:
        config = file.load()
    except ConfigError as exc:
        print(f"nvr: {path}: configuration refused:\n{exc}", file=sys.stderr)
        return 1
    system = System(config, base=path.resolve().parent, source=str(path), fmt=file.format,
                    raw=path.read_bytes())  # fmt: skip
    system.start()
    system.run(file)
    return 0


def run_web(args: argparse.Namespace) -> int:
    import signal
    import threading

    from nvr.ui_web.config import WebConfig
    from nvr.ui_web.process import serve
    from nvr.workers.projector import EXPORT_NAME

    data = data_dir(args).resolve()
    config = WebConfig(
        log_dir=str(data / "log"), export_path=str(data / EXPORT_NAME),
        storage_dir=str(Path(args.storage).resolve()), data_dir=str(data),
        host=args.host, port=args.port, tls=not args.no_tls,
    )  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = serve(config)
    print(
        f"web UI on {'http' if args.no_tls else 'https'}://{args.host}:{server.port}/", flush=True
    )
    stop.wait()
    server.stop()
    return 0


def print_json(obj: object) -> None:
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")
