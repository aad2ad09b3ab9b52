"""The older JSON camera list, imported into the current config schema (pure)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec

from nvr.domain.config import Config, ConfigError, Problem, _problem, convert_config
from nvr.domain.values import RecordingMode


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
