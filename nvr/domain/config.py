"""Configuration: the TOML file's schema, parsing and checks, and the camera settings that
configuration events carry (docs/design/config.md). The legacy JSON import, config changes
as events and the demo's default live in `config_legacy`, `config_changes`, `config_default`.

Pure: text in, a typed `Config` or a `ConfigError` out. Reading files is
`nvr/workers/configfile.py`. Two families of structs live here; do not mix them up:

* Stored value types (`CameraSettings`, `ScheduleWindow`) travel inside events. Append
  fields with defaults only, never `forbid_unknown_fields` (docs/design/events.md).
* File types (`Config`, `SystemSection`, `CameraEntry`, ...) mirror the file and are never
  stored. They forbid unknown fields, so a typo is an error instead of a silent default.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from nvr.domain.values import RecordingMode, RecordingType, Zone

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# ---------------------------------------------------------------------------------------
# Stored value types (inside CameraAdded / CameraConfigured): append-only.


class ScheduleWindow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A weekly window in the camera's `schedule_tz`: on each of `days`, from `start_min`
    to `end_min` minutes after local midnight. Invariant: 0 <= start_min < end_min <= 1440."""

    days: tuple[Weekday, ...]
    start_min: int
    end_min: int


class CameraSettings(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One camera's accepted configuration. Secrets are never stored: `credential_ref`
    names where the credentials are in the config file, and URLs carry no user info.

    `motion_threshold` is the per-pixel change that counts, as a fraction of full
    brightness (0.1 is about 25 grey levels); `motion_min_area` the smallest moving region,
    as a fraction of the picture. `retention_days` applies to every recording type not in
    `retention_days_by_type` (sorted by type). `schedule` is used by the `scheduled` mode.
    `retention_max_bytes` caps the camera's footage on disk (0: no cap).
    """

    name: str
    main_url: str
    sub_url: str = ""
    credential_ref: str = ""
    recording_mode: RecordingMode = "motion"
    pre_roll_s: float = 5.0
    post_roll_s: float = 10.0
    motion_threshold: float = 0.02
    motion_zones: tuple[Zone, ...] = ()
    motion_masks: tuple[Zone, ...] = ()
    retention_days: int = 30
    has_ptz: bool = False
    # Appended after 0.1.0's first golden records: each needs a default, forever.
    motion_min_area: float = 0.002
    motion_fps: float = 5.0
    schedule: tuple[ScheduleWindow, ...] = ()
    schedule_tz: str = "UTC"
    retention_days_by_type: tuple[tuple[RecordingType, int], ...] = ()
    onvif_port: int | None = None
    retention_max_bytes: int = 0


def in_schedule(windows: Sequence[ScheduleWindow], weekday: Weekday, minute: int) -> bool:
    """Whether local `minute` after midnight on `weekday` falls in one of `windows`."""
    return any(weekday in w.days and w.start_min <= minute < w.end_min for w in windows)


# ---------------------------------------------------------------------------------------
# The file's schema: strict, never stored.


class _FileStruct(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    pass


class ZoneEntry(_FileStruct, frozen=True, kw_only=True):
    """A polygon of at least 3 `[x, y]` points in normalised picture coordinates."""

    name: str = ""
    points: tuple[tuple[float, float], ...]


class ScheduleEntry(_FileStruct, frozen=True, kw_only=True):
    """`start` and `end` as "HH:MM" local time ("24:00" allowed for `end`)."""

    days: tuple[Weekday, ...] = WEEKDAYS
    start: str
    end: str


class Credential(_FileStruct, frozen=True, kw_only=True):
    username: str
    password: str = ""

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, password=<hidden>)"


class CameraEntry(_FileStruct, frozen=True, kw_only=True):
    id: str
    main_url: str
    name: str = ""
    sub_url: str = ""
    username: str = ""
    password: str = ""
    credential_ref: str = ""
    recording_mode: RecordingMode = "motion"
    schedule: tuple[ScheduleEntry, ...] = ()
    timezone: str = ""
    pre_roll_s: float = 5.0
    post_roll_s: float = 10.0
    motion_threshold: float = 0.1
    motion_min_area: float = 0.002
    motion_fps: float = 5.0
    motion_zones: tuple[ZoneEntry, ...] = ()
    motion_masks: tuple[ZoneEntry, ...] = ()
    retention_days: int = 30
    retention_days_by_type: dict[RecordingType, int] = {}
    retention_max_gib: float = 0.0
    has_ptz: bool = False
    onvif_port: int | None = None

    def __repr__(self) -> str:
        hidden = "<hidden>" if self.password else "''"
        return f"CameraEntry(id={self.id!r}, main_url={self.main_url!r}, password={hidden}, ...)"


class SystemSection(_FileStruct, frozen=True, kw_only=True):
    storage_dir: str = "recordings"
    data_dir: str = "data"
    log_dir: str = "logs"
    segment_length_s: float = 10.0
    min_free_gib: float = 2.0
    timezone: str = "UTC"
    web_port: int | None = None
    web_host: str = "127.0.0.1"
    web_tls: bool = True
    web_cert_file: str = ""  # both empty: a self-signed certificate made at first start
    web_key_file: str = ""
    health_port: int | None = None
    storage_check_s: float = 30.0

    @property
    def min_free_bytes(self) -> int:
        return int(self.min_free_gib * 2**30)


class Config(_FileStruct, frozen=True, kw_only=True):
    """The whole file as written (no defaults filled in beyond the schema's)."""

    system: SystemSection = msgspec.field(default_factory=SystemSection)
    credentials: dict[str, Credential] = {}
    cameras: tuple[CameraEntry, ...] = ()


# ---------------------------------------------------------------------------------------
# Errors


class Problem(msgspec.Struct, frozen=True):
    path: str
    """Where, as `cameras[1].pre_roll_s`; `line 3, column 7` for syntax; "" for the file."""
    reason: str


class ConfigError(ValueError):
    """A rejected configuration. `problems` lists every one found; `path` and `reason`
    are the first. Messages never quote a password or a URL that may hold one."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        assert problems
        self.problems = tuple(problems)
        self.path, self.reason = problems[0].path, problems[0].reason
        super().__init__(
            "\n".join(f"{p.path}: {p.reason}" if p.path else p.reason for p in problems)
        )

    @classmethod
    def one(cls, path: str, reason: str) -> ConfigError:
        return cls([Problem(path, reason)])


# ---------------------------------------------------------------------------------------
# Parsing


def parse_config(text: str) -> Config:
    """The typed config in TOML `text`, or ConfigError naming each bad field and why."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = re.search(r"\(at (line \d+, column \d+)\)", msg)
        reason = msg[: where.start()].strip() if where else msg
        raise ConfigError.one(
            where.group(1) if where else "", f"not valid TOML: {reason}"
        ) from None
    return convert_config(data)


def convert_config(data: Any) -> Config:
    """Typed and checked config from plain data (as TOML or JSON would give)."""
    if isinstance(data, dict) and isinstance(data.get("credentials"), dict):
        for name, value in data["credentials"].items():  # convert alone: to name the key
            try:
                msgspec.convert(value, Credential)
            except msgspec.ValidationError as exc:
                raise ConfigError([_problem(exc, f"credentials.{name}", Credential)]) from None
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError([_problem(exc, "", Config)]) from None
    problems = check(config)
    if problems:
        raise ConfigError(problems)
    return config


_AT = re.compile(r" - at `(?P<key>key` in `)?\$(?P<at>[^`]*)`$")


def _problem(exc: msgspec.ValidationError, prefix: str, root: type) -> Problem:
    """A msgspec error as a Problem with a plain path (`cameras[1].x`) and reason."""
    msg = str(exc)
    m = _AT.search(msg)
    path = (prefix + m.group("at")) if m else prefix
    path = path.lstrip(".")
    msg = msg[: m.start()] if m else msg
    at_type = _type_at(root, path[len(prefix) :].lstrip(".") if prefix else path)
    if m and m.group("key"):  # a bad key in a table such as retention_days_by_type
        at_type = typing.get_args(at_type)[0] if typing.get_origin(at_type) is dict else None
    if (u := re.fullmatch(r"Object contains unknown field `(.*)`", msg)) is not None:
        names = [f.name for f in msgspec.structs.fields(at_type)] if _is_struct(at_type) else []
        close = difflib.get_close_matches(u.group(1), names, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else f" (known: {', '.join(names)})"
        return Problem(_join(path, u.group(1)), "unknown field" + hint)
    if (u := re.fullmatch(r"Object missing required field `(.*)`", msg)) is not None:
        return Problem(_join(path, u.group(1)), "required field missing")
    if (u := re.fullmatch(r"Invalid enum value (.*)", msg)) is not None:
        options = _literal_options(at_type)
        return Problem(
            path,
            f"{u.group(1)} is not one of {options}" if options else f"invalid value {u.group(1)}",
        )
    if (u := re.fullmatch(r"Expected `(.*)`, got `(.*)`", msg)) is not None:
        want, got = (_plain(s) for s in u.groups())
        return Problem(path, f"expected {want}, got {got}")
    return Problem(path, msg[0].lower() + msg[1:] if msg else "invalid")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _plain(msgspec_type: str) -> str:
    return msgspec_type.replace("object", "table").replace("null", "nothing")


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _type_at(root: type, path: str) -> Any:
    """The schema type at `path` (`cameras[1].motion_zones[0]`), or None if unknown."""
    tp: Any = root
    for token in re.findall(r"[A-Za-z_]\w*|\[[^\]]*\]", path):
        present = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(present) == 1:
            tp = present[0]  # an optional field: look inside
        if token.startswith("["):
            origin, args = typing.get_origin(tp), typing.get_args(tp)
            tp = args[0] if origin is tuple else args[1] if origin is dict else None
        elif _is_struct(tp):
            tp = typing.get_type_hints(tp).get(token)
        else:
            return None
    return tp


def _literal_options(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return ", ".join(repr(a) for a in typing.get_args(tp))
    return ""


# ---------------------------------------------------------------------------------------
# Checks beyond types


_ID = re.compile(r"[a-z0-9_-]{1,64}")
_HHMM = re.compile(r"(\d\d):(\d\d)")
_TZ = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")
PRE_ROLL_MAX_S = 30.0
"""Bounded by the in-memory GOP buffer of a camera worker (about 15 MB at 4 Mbit/s)."""
POST_ROLL_MAX_S = 600.0


def check(config: Config) -> list[Problem]:
    """Every problem a well-typed config still has; [] when it is good."""
    c = _Checks()
    s = config.system
    c.within("system.segment_length_s", s.segment_length_s, 1, 600)
    c.within("system.min_free_gib", s.min_free_gib, 0, 1e6)
    c.within("system.storage_check_s", s.storage_check_s, 0.1, 30)
    if bool(s.web_cert_file) != bool(s.web_key_file):
        c.bad("system.web_cert_file", "web_cert_file and web_key_file go together")
    for field in ("storage_dir", "data_dir", "log_dir"):
        if not getattr(s, field).strip():
            c.bad(f"system.{field}", "must not be empty")
    c.timezone("system.timezone", s.timezone)
    c.port("system.web_port", s.web_port, any_free=True)
    c.port("system.health_port", s.health_port, any_free=True)
    if s.web_port and s.web_port == s.health_port:
        c.bad("system.health_port", "must differ from web_port")
    for name, cred in config.credentials.items():
        if not _ID.fullmatch(name):
            c.bad(f"credentials.{name}", "names are 1-64 of a-z, 0-9, _ and -")
        if not cred.username:
            c.bad(f"credentials.{name}.username", "must not be empty")
    seen: dict[str, int] = {}
    for i, cam in enumerate(config.cameras):
        c.camera(f"cameras[{i}]", cam, config)
        if cam.id in seen:
            c.bad(f"cameras[{i}].id", f"duplicate of cameras[{seen[cam.id]}].id ({cam.id!r})")
        seen.setdefault(cam.id, i)
    return c.problems


class _Checks:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def within(
        self, path: str, value: float, lo: float, hi: float, *, lo_open: bool = False
    ) -> None:
        if not ((lo < value if lo_open else lo <= value) and value <= hi):  # NaN fails too
            self.bad(path, f"{value!r} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}]")

    def port(self, path: str, port: int | None, *, any_free: bool = False) -> None:
        low = 0 if any_free else 1  # 0: any free port, chosen when the server binds
        if port is not None and not low <= port <= 65535:
            self.bad(path, f"{port} is not a port ({low}-65535)")

    def timezone(self, path: str, name: str) -> None:
        if not _TZ.fullmatch(name):
            self.bad(path, f"{name!r} is not a time zone name like 'Europe/Paris' or 'UTC'")

    def camera(self, p: str, cam: CameraEntry, config: Config) -> None:
        if not _ID.fullmatch(cam.id):
            self.bad(f"{p}.id", f"{cam.id!r} is not 1-64 of a-z, 0-9, _ and -")
        for field, url in (("main_url", cam.main_url), ("sub_url", cam.sub_url)):
            if (field == "main_url" or url) and (why := url_problem(url)) is not None:
                self.bad(f"{p}.{field}", why)
        if cam.credential_ref and (cam.username or cam.password):
            self.bad(
                f"{p}.credential_ref", "give either username/password or credential_ref, not both"
            )
        elif cam.credential_ref and cam.credential_ref not in config.credentials:
            self.bad(
                f"{p}.credential_ref", f"no [credentials.{cam.credential_ref}] table in this file"
            )
        if cam.password and not cam.username:
            self.bad(f"{p}.username", "a password needs a username")
        self.within(f"{p}.pre_roll_s", cam.pre_roll_s, 0, PRE_ROLL_MAX_S)
        self.within(f"{p}.post_roll_s", cam.post_roll_s, 0, POST_ROLL_MAX_S)
        self.within(f"{p}.motion_threshold", cam.motion_threshold, 0, 1, lo_open=True)
        self.within(f"{p}.motion_min_area", cam.motion_min_area, 0, 1)
        self.within(f"{p}.motion_fps", cam.motion_fps, 0, 30, lo_open=True)
        self.within(f"{p}.retention_days", cam.retention_days, 1, 36500)
        for kind, days in cam.retention_days_by_type.items():
            self.within(f"{p}.retention_days_by_type.{kind}", days, 1, 36500)
        self.within(f"{p}.retention_max_gib", cam.retention_max_gib, 0, 1e6)
        self.port(f"{p}.onvif_port", cam.onvif_port)
        if cam.timezone:
            self.timezone(f"{p}.timezone", cam.timezone)
        for field, zones in (
            ("motion_zones", cam.motion_zones),
            ("motion_masks", cam.motion_masks),
        ):
            for j, zone in enumerate(zones):
                for where, why in polygon_problems(zone.points):
                    self.bad(f"{p}.{field}[{j}].points{where}", why)
        if cam.recording_mode == "scheduled" and not cam.schedule:
            self.bad(f"{p}.schedule", "recording_mode 'scheduled' needs at least one window")
        for j, window in enumerate(cam.schedule):
            self.window(f"{p}.schedule[{j}]", window)

    def window(self, p: str, w: ScheduleEntry) -> None:
        start, end = _minutes(w.start, end=False), _minutes(w.end, end=True)
        if start is None:
            self.bad(f"{p}.start", f"{w.start!r} is not a time HH:MM from 00:00 to 23:59")
        if end is None:
            self.bad(f"{p}.end", f"{w.end!r} is not a time HH:MM from 00:01 to 24:00")
        if start is not None and end is not None and end <= start:
            self.bad(
                f"{p}.end", "must be after start (split a window that crosses midnight in two)"
            )
        if not w.days:
            self.bad(f"{p}.days", "must list at least one day")
        for day in sorted({d for d in w.days if w.days.count(d) > 1}):
            self.bad(f"{p}.days", f"{day!r} is listed twice")


def url_problem(url: str) -> str | None:
    """Why `url` is not an acceptable camera URL, without quoting it (it may hold a secret)."""
    if not url:
        return "must not be empty"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL"
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "has a bad port (1-65535)"
    if parts.scheme not in ("rtsp", "rtsps"):
        return f"must start with rtsp:// or rtsps:// (not {parts.scheme or 'nothing'}:)"
    if "@" in parts.netloc:
        return (
            "must not hold credentials (user:password@): the event log keeps URLs forever; "
            "set username and password, or credential_ref, instead"
        )
    if not parts.hostname:
        return "has no host"
    return None


def polygon_problems(points: Sequence[tuple[float, float]]) -> list[tuple[str, str]]:
    """(where, why) for a polygon that is not >= 3 points inside [0, 1] with an area."""
    out = [
        (f"[{k}]", f"({x!r}, {y!r}) is outside [0, 1]")
        for k, (x, y) in enumerate(points)
        if not (0 <= x <= 1 and 0 <= y <= 1)
    ]
    if len(points) < 3:
        out.append(("", f"a polygon needs at least 3 points, got {len(points)}"))
    elif not out:
        area2 = sum(
            x0 * y1 - x1 * y0
            for (x0, y0), (x1, y1) in zip(points, (*points[1:], points[0]), strict=True)
        )
        if abs(area2) < 1e-9:
            out.append(("", "the points enclose no area (all on one line)"))
    return out


def _minutes(text: str, *, end: bool) -> int | None:
    m = _HHMM.fullmatch(text)
    if m is None:
        return None
    h, mins = int(m.group(1)), int(m.group(2))
    total = h * 60 + mins
    ok = mins < 60 and (total < 1440 or (end and total == 1440))
    return total if ok else None
