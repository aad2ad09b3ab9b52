"""`nvr user add|passwd|disable|list`: accounts from the command line, as user events.

Events go through the appender when one runs for the log, else straight into the log
(as `nvr log import` does). A password change or a disable also logs out every open
session of the account. The actor is `cli/<login name>`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from nvr.domain import access
from nvr.domain.codec import propose
from nvr.domain.errors import Rejected
from nvr.domain.events import UserCreated, UserDisabled, UserPasswordChanged
from nvr.domain.values import user_stream
from nvr.eventlog.errors import AppenderBusy, WrongExpectedVersion
from nvr.eventlog.port import EventLog


def add_parser(sub: Any) -> None:
    """Add `user` and its subcommands to the `nvr` parser's subparsers."""
    user = sub.add_parser("user", help="web UI accounts").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=access.ROLES)
    add.add_argument("--cameras", help="comma-separated camera ids (default: every camera)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    pw = user.add_parser("passwd", help="set an account's password (ends its sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    off = user.add_parser("disable", help="disable an account (ends its sessions)")
    off.add_argument("name")
    off.add_argument("--reason", default="")
    user.add_parser("list", help="every account, as JSON lines")


def open_log(log_dir: Path) -> EventLog:
    """The appender's log when one runs, else the files directly (single writer)."""
    from nvr.eventlog.client import RemoteLog
    from nvr.eventlog.local import LmdbLog

    try:
        return LmdbLog(log_dir)
    except AppenderBusy:
        return RemoteLog(log_dir, deadline_s=10)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise Rejected("the passwords differ")
    return first


def run(args: argparse.Namespace, log_dir: Path) -> int:
    from nvr.ui_web.directory import Directory, fold, revocations
    from nvr.ui_web.passwords import Passwords

    cmd = args.user_command
    actor = f"cli/{getpass.getuser()}"
    try:
        log = open_log(log_dir)
    except AppenderBusy as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return 1
    try:
        known = fold(Directory(), log.read())
        if cmd == "list":
            for name, a in sorted(known.accounts.items()):
                print(_json({"username": name, "role": a.role, "cameras": a.cameras,
                             "disabled": a.disabled, "open_sessions": len(known.open_sessions(name))}))  # fmt: skip
            return 0
        account = known.accounts.get(args.name)
        if cmd == "add":
            access.check_username(args.name)
            cameras = access.check_cameras(args.cameras.split(",")) if args.cameras else None
            if account is not None:
                raise Rejected(f"{args.name} exists")
            password = read_password(args.password_stdin)
            access.check_password(password)
            event = UserCreated(username=args.name, role=args.role, cameras=cameras,
                                password_hash=Passwords().hash(password))  # fmt: skip
            try:
                log.append([propose(event, stream=user_stream(args.name), actor=actor,
                                    expected_version=0)])  # fmt: skip
            except WrongExpectedVersion:
                raise Rejected(f"{args.name} exists") from None
            print(_json({"created": args.name, "role": args.role, "cameras": cameras}))
            return 0
        if account is None:
            raise Rejected(f"no account named {args.name}")
        if cmd == "passwd":
            password = read_password(args.password_stdin)
            access.check_password(password)
            change = UserPasswordChanged(
                username=args.name, password_hash=Passwords().hash(password)
            )
            ended = revocations(known, args.name, "password-changed", actor)
            log.append([propose(change, stream=user_stream(args.name), actor=actor), *ended])
            print(_json({"password_changed": args.name, "sessions_ended": len(ended)}))
            return 0
        if cmd == "disable":
            if not account.disabled:
                roles = {n: a.role for n, a in known.accounts.items()}
                off = [n for n, a in known.accounts.items() if a.disabled]
                access.check_admin_remains(roles, off, args.name, None)
            ended = revocations(known, args.name, "disabled", actor)
            event_off = UserDisabled(username=args.name, reason=args.reason)
            log.append([propose(event_off, stream=user_stream(args.name), actor=actor), *ended])
            print(_json({"disabled": args.name, "sessions_ended": len(ended)}))
            return 0
    except Rejected as exc:
        print(f"nvr: {exc}", file=sys.stderr)
        return 1
    finally:
        log.close()
    return 2


def _json(obj: object) -> str:
    import msgspec

    return msgspec.json.encode(obj).decode()
