"""Configuration: the TOML file's schema and checks, the legacy JSON import, the demo's
default, and the camera settings that configuration events carry (docs/design/config.md).

Pure: text in, a typed `Config` or a `ConfigError` out. Reading files is
`nvr/workers/configfile.py`. Two families of structs live here; do not mix them up:

* Stored value types (`CameraSettings`, `ScheduleWindow`) travel inside events. Append
  fields with defaults only, never `forbid_unknown_fields` (docs/design/events.md).
* File types (`Config`, `SystemSection`, `CameraEntry`, ...) mirror the file and are never
  stored. They forbid unknown fields, so a typo is an error instead of a silent default.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

import msgspec

from nvr.domain.values import CONFIG_STREAM, RecordingMode, RecordingType, Zone, camera_stream

if TYPE_CHECKING:  # events import CameraSettings from here: import them lazily at run time
    from nvr.domain.events import Event

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
    health_port: int | None = None

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
    for field in ("storage_dir", "data_dir", "log_dir"):
        if not getattr(s, field).strip():
            c.bad(f"system.{field}", "must not be empty")
    c.timezone("system.timezone", s.timezone)
    c.port("system.web_port", s.web_port)
    c.port("system.health_port", s.health_port)
    if s.web_port is not None and s.web_port == s.health_port:
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

    def port(self, path: str, port: int | None) -> None:
        if port is not None and not 1 <= port <= 65535:
            self.bad(path, f"{port} is not a port (1-65535)")

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


# ---------------------------------------------------------------------------------------
# From the file to what events carry


def settings_of(cam: CameraEntry, system: SystemSection) -> CameraSettings:
    """The stored settings of one checked camera entry: no secret, canonical order."""
    ref = cam.credential_ref or (f"camera:{cam.id}" if cam.username else "")
    windows = tuple(
        ScheduleWindow(
            days=tuple(d for d in WEEKDAYS if d in w.days),
            start_min=_minutes(w.start, end=False) or 0,
            end_min=_minutes(w.end, end=True) or 0,
        )
        for w in cam.schedule
    )
    return CameraSettings(
        name=cam.name or cam.id,
        main_url=cam.main_url,
        sub_url=cam.sub_url,
        credential_ref=ref,
        recording_mode=cam.recording_mode,
        pre_roll_s=cam.pre_roll_s,
        post_roll_s=cam.post_roll_s,
        motion_threshold=cam.motion_threshold,
        motion_zones=tuple(Zone(name=z.name, points=z.points) for z in cam.motion_zones),
        motion_masks=tuple(Zone(name=z.name, points=z.points) for z in cam.motion_masks),
        retention_days=cam.retention_days,
        has_ptz=cam.has_ptz,
        motion_min_area=cam.motion_min_area,
        motion_fps=cam.motion_fps,
        schedule=windows,
        schedule_tz=(cam.timezone or system.timezone) if windows else "UTC",
        retention_days_by_type=tuple(sorted(cam.retention_days_by_type.items())),
        onvif_port=cam.onvif_port,
    )


def camera_settings(config: Config) -> dict[str, CameraSettings]:
    """Stored settings by camera id, in file order."""
    return {cam.id: settings_of(cam, config.system) for cam in config.cameras}


def credentials_for(config: Config, camera_id: str) -> Credential | None:
    """The secret a camera worker logs in with (never put into an event)."""
    for cam in config.cameras:
        if cam.id == camera_id:
            if cam.credential_ref:
                return config.credentials.get(cam.credential_ref)
            return (
                Credential(username=cam.username, password=cam.password) if cam.username else None
            )
    return None


def dump_config(config: Config) -> str:
    """TOML text that `parse_config` reads back as `config` (comments are not kept)."""
    import tomli_w  # only the writer needs it; parsing uses the standard library

    return tomli_w.dumps(msgspec.to_builtins(config))


# ---------------------------------------------------------------------------------------
# Config changes as events


def camera_events(
    old: Mapping[str, CameraSettings], new: Mapping[str, CameraSettings]
) -> list[tuple[str, Event]]:
    """(stream, event) that turn the cameras `old` into `new`; [] when they are equal.

    `changed` is computed as `nvr.domain.camera.decide` does for ConfigureCamera."""
    from nvr.domain.events.cameras import CameraAdded, CameraConfigured, CameraRemoved

    out: list[tuple[str, Event]] = []
    for cid, settings in new.items():
        before = old.get(cid)
        if before is None:
            out.append((camera_stream(cid), CameraAdded(camera_id=cid, settings=settings)))
        elif before != settings:
            a, b = msgspec.structs.asdict(before), msgspec.structs.asdict(settings)
            changed = tuple(k for k in b if a.get(k) != b[k])
            out.append(
                (
                    camera_stream(cid),
                    CameraConfigured(camera_id=cid, settings=settings, changed=changed),
                )
            )
    for cid in old:
        if cid not in new:
            out.append(
                (
                    camera_stream(cid),
                    CameraRemoved(camera_id=cid, reason="removed from the config file"),
                )
            )
    return out


def config_events(
    old: Config | None, new: Config, *, source: str, fmt: Literal["toml", "json"], sha256: str
) -> list[tuple[str, Event]]:
    """ConfigImported (on system/config) then the camera events, or [] if nothing changed."""
    if old == new:
        return []
    return _imported(new, source, fmt, sha256) + camera_events(
        camera_settings(old) if old else {}, camera_settings(new)
    )


def sync_events(
    cameras: Mapping[str, CameraSettings],
    last_sha256: str,
    new: Config,
    *,
    source: str,
    fmt: Literal["toml", "json"],
    sha256: str,
) -> list[tuple[str, Event]]:
    """Like `config_events`, from what the log already says (at start-up, when there is no
    previous Config object): the cameras as projected and the last import's sha256."""
    changes = camera_events(cameras, camera_settings(new))
    if not changes and sha256 == last_sha256:
        return []
    return _imported(new, source, fmt, sha256) + changes


def _imported(
    new: Config, source: str, fmt: Literal["toml", "json"], sha256: str
) -> list[tuple[str, Event]]:
    from nvr.domain.events.system import ConfigImported

    ids = tuple(c.id for c in new.cameras)
    return [(CONFIG_STREAM, ConfigImported(source=source, format=fmt, sha256=sha256, cameras=ids))]


# ---------------------------------------------------------------------------------------
# The older JSON camera list


class LegacyCamera(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One camera of the older JSON format; each group of aliases takes at most one key."""

    id: str | int | None = None
    camera_id: str | int | None = None
    name: str = ""
    rtsp_url: str = ""
    main_stream: str = ""
    sub_stream: str = ""
    username: str = ""
    password: str = ""
    motion_threshold: float | None = None
    record_mode: str = ""
    enabled: bool = True
    ptz: bool = False
    retention_days: int | None = None


LEGACY_MODES: dict[str, RecordingMode] = {
    "always": "continuous", "continuous": "continuous", "record": "continuous",
    "motion": "motion", "off": "off", "none": "off", "never": "off", "disabled": "off",
}  # fmt: skip
_LEGACY_FIELD = {"main_url": ("rtsp_url", "main_stream"), "sub_url": ("sub_stream",), "recording_mode": ("record_mode",),
                 "has_ptz": ("ptz",)}  # fmt: skip


def parse_legacy_json(text: str) -> Config:
    """A Config from the older JSON camera list: `[{...}, ...]` or `{"cameras": [...]}`.

    Keys: `id` or `camera_id` (string or integer), `name`, `rtsp_url` or `main_stream`,
    `sub_stream`, `username`, `password`, `motion_threshold` (fraction 0-1), `record_mode`
    (see LEGACY_MODES), `enabled` (false: mode off), `ptz`, `retention_days`. Any other key
    is an error. `user:password@` in a URL is moved into username/password, so that it
    never reaches the log. The system section takes its defaults."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError.one(
            f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}"
        ) from None
    if isinstance(data, dict) and set(data) == {"cameras"}:
        data = data["cameras"]
    if not isinstance(data, list):
        raise ConfigError.one("", 'expected a JSON list of cameras (or {"cameras": [...]})')
    entries: list[dict[str, Any]] = []
    for i, item in enumerate(data):
        try:
            cam = msgspec.convert(item, LegacyCamera)
        except msgspec.ValidationError as exc:
            raise ConfigError([_problem(exc, f"[{i}]", LegacyCamera)]) from None
        entries.append(_from_legacy(f"[{i}]", cam))
    try:
        return convert_config({"cameras": entries})
    except ConfigError as exc:
        raise ConfigError([_legacy_problem(p) for p in exc.problems]) from None


def _from_legacy(p: str, cam: LegacyCamera) -> dict[str, Any]:
    def one(*keys: str) -> Any:
        given = [k for k in keys if getattr(cam, k) not in (None, "")]
        if len(given) > 1:
            raise ConfigError.one(f"{p}.{given[1]}", f"give only one of {' or '.join(keys)}")
        return getattr(cam, given[0]) if given else None

    cid = one("id", "camera_id")
    if cid is None:
        raise ConfigError.one(f"{p}.id", "required field missing (id or camera_id)")
    out: dict[str, Any] = {"id": str(cid), "main_url": one("rtsp_url", "main_stream") or ""}
    if cam.name:
        out["name"] = cam.name
    if cam.sub_stream:
        out["sub_url"] = cam.sub_stream
    user, password = cam.username, cam.password
    for field in ("main_url", "sub_url"):
        if field in out:
            out[field], url_user, url_password = _split_userinfo(out[field])
            if url_user and (
                (user and user != url_user) or (password and password != url_password)
            ):
                raise ConfigError.one(
                    f"{p}.{_LEGACY_FIELD[field][0]}",
                    "its user:password@ differs from username/password",
                )
            user, password = user or url_user, password or url_password
    if user:
        out["username"] = user
    if password:
        out["password"] = password
    mode = cam.record_mode.strip().lower()
    if mode:
        if mode not in LEGACY_MODES:
            raise ConfigError.one(
                f"{p}.record_mode", f"{cam.record_mode!r} is not one of {', '.join(LEGACY_MODES)}"
            )
        out["recording_mode"] = LEGACY_MODES[mode]
    if not cam.enabled:
        out["recording_mode"] = "off"
    if cam.motion_threshold is not None:
        out["motion_threshold"] = cam.motion_threshold
    if cam.retention_days is not None:
        out["retention_days"] = cam.retention_days
    if cam.ptz:
        out["has_ptz"] = True
    return out


def _split_userinfo(url: str) -> tuple[str, str, str]:
    """(url without user info, user, password), percent-decoded; the url as is if none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, "", ""
    if "@" not in parts.netloc:
        return url, "", ""
    host = parts.netloc.rpartition("@")[2]
    return (
        parts._replace(netloc=host).geturl(),
        unquote(parts.username or ""),
        unquote(parts.password or ""),
    )


def _legacy_problem(problem: Problem) -> Problem:
    """`cameras[2].main_url` back to the legacy names: `[2].rtsp_url`."""
    m = re.fullmatch(r"cameras(\[\d+\])\.?(\w*)(.*)", problem.path)
    if m is None:
        return problem
    key = m.group(2)
    legacy = "/".join(_LEGACY_FIELD.get(key, (key,)))
    reason = re.sub(r"\bcameras(\[\d+\])", r"\1", problem.reason)
    return Problem(f"{m.group(1)}.{legacy}{m.group(3)}" if key else m.group(1), reason)


# ---------------------------------------------------------------------------------------
# The demo's embedded default

DEFAULT_TOML = """
[system]
storage_dir = "recordings"
data_dir = "data"
log_dir = "logs"
segment_length_s = 10
min_free_gib = 1.0

[[cameras]]
id = "gate"
name = "Front gate"
main_url = "rtsp://127.0.0.1/gate/main"
recording_mode = "continuous"
has_ptz = true

[[cameras]]
id = "yard"
name = "Yard"
main_url = "rtsp://127.0.0.1/yard/main"
recording_mode = "motion"
motion_zones = [{ name = "lawn", points = [[0.0, 0.1], [1.0, 0.1], [1.0, 1.0], [0.0, 1.0]] }]

[[cameras]]
id = "door"
name = "Back door"
main_url = "rtsp://127.0.0.1/door/main"
recording_mode = "motion"
pre_roll_s = 3
post_roll_s = 5

[[cameras]]
id = "garage"
name = "Garage"
main_url = "rtsp://127.0.0.1/garage/main"
recording_mode = "scheduled"
schedule = [{ start = "00:00", end = "24:00" }]
retention_days_by_type = { scheduled = 7 }
"""


def default_config(urls: Sequence[tuple[str, str]], *, data_root: str = "") -> Config:
    """The demo's config: up to 4 cameras with (main, sub) URLs taken from `urls` in order.
    `data_root` (if given) prefixes the storage, data and log directories."""
    base = parse_config(DEFAULT_TOML)
    if not 1 <= len(urls) <= len(base.cameras):
        raise ValueError(
            f"default_config takes 1 to {len(base.cameras)} (main, sub) URL pairs, got {len(urls)}"
        )
    replace = msgspec.structs.replace
    cameras = tuple(
        replace(cam, main_url=main, sub_url=sub)
        for cam, (main, sub) in zip(base.cameras, urls, strict=False)
    )
    system = base.system
    if data_root:
        root = data_root.rstrip("/")
        system = replace(
            system,
            **{f: f"{root}/{getattr(system, f)}" for f in ("storage_dir", "data_dir", "log_dir")},
        )
    config = replace(base, system=system, cameras=cameras)
    problems = check(config)
    if problems:
        raise ConfigError(problems)
    return config
