"""Nanosecond timestamps to and from RFC 3339 text (UTC, nine fractional digits)."""

from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def format_ns(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def parse_ns(text: str) -> int:
    """Parse RFC 3339 with any number of fractional digits (up to 9) and any offset."""
    body = text.strip()
    if body.endswith(("Z", "z")):
        body = body[:-1] + "+00:00"
    frac_ns = 0
    if "." in body:
        head, rest = body.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        if not digits or len(digits) > 9:
            raise ValueError(f"bad fractional seconds in {text!r}")
        frac_ns = int(digits.ljust(9, "0"))
        body = head + rest
    moment = dt.datetime.fromisoformat(body)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + frac_ns
