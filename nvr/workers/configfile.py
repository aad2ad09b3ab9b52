"""The configuration file on disk: load TOML or legacy JSON, keep the last good config
through bad reloads, and append accepted changes to the log as events."""

from __future__ import annotations

import hashlib
import stat
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import msgspec

from nvr.domain.codec import propose
from nvr.domain.config import Config, ConfigError, Problem, SystemSection, parse_config
from nvr.domain.config_changes import config_events
from nvr.domain.config_legacy import parse_legacy_json
from nvr.domain.envelope import Proposed
from nvr.domain.events import Event
from nvr.eventlog.port import EventLog

FORMATS: dict[str, Literal["toml", "json"]] = {".toml": "toml", ".json": "json"}


class ConfigFile:
    """One config file. Invariant: `current` is None or the last config that loaded
    without error; a failed load changes only `last_error`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.current: Config | None = None
        self.previous: Config | None = None
        """The good config before `current` (None before the second good load)."""
        self.sha256 = ""
        """Of the bytes `current` was parsed from."""
        self.last_error: ConfigError | None = None
        self.warnings: tuple[str, ...] = ()

    @property
    def format(self) -> Literal["toml", "json"]:
        return FORMATS.get(self.path.suffix.lower(), "toml")

    def load(self) -> Config:
        """Read and check the file; on success it becomes `current`. Raises ConfigError
        (and keeps `current`) when the file is missing, unreadable or invalid."""
        try:
            config, sha256, warnings = self._read()
        except ConfigError as exc:
            self.last_error = exc
            raise
        self.previous, self.current = self.current, config
        self.sha256, self.warnings, self.last_error = sha256, warnings, None
        return config

    def reload(self) -> ConfigError | None:
        """`load`, returning its error instead of raising (the running system goes on
        with `current`)."""
        try:
            self.load()
        except ConfigError as exc:
            return exc
        return None

    def events(self) -> list[tuple[str, Event]]:
        """The events recording the change from `previous` to `current` ([] if none)."""
        if self.current is None:
            return []
        return config_events(
            self.previous, self.current, source=str(self.path), fmt=self.format, sha256=self.sha256
        )

    def _read(self) -> tuple[Config, str, tuple[str, ...]]:
        if self.path.suffix.lower() not in FORMATS:
            raise ConfigError.one(
                "",
                f"{self.path}: unknown format; name it *.toml (or *.json for a legacy camera list)",
            )
        try:
            data = self.path.read_bytes()
            mode = self.path.stat().st_mode
        except OSError as exc:
            raise ConfigError.one("", f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError.one("", f"{self.path} is not UTF-8 text (byte {exc.start})") from None
        parse = parse_legacy_json if self.format == "json" else parse_config
        config = parse(text)
        _check_time_zones(config)
        config = msgspec.structs.replace(
            config, system=_resolve_dirs(config.system, self.path.parent)
        )
        warnings: list[str] = []
        has_secret = bool(config.credentials) or any(c.password for c in config.cameras)
        if has_secret and mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(f"{self.path} holds passwords and is readable by others: chmod 600 it")
        return config, hashlib.sha256(data).hexdigest(), tuple(warnings)


def _check_time_zones(config: Config) -> None:
    """Names the pure checks accept but this machine's time zone database does not know."""
    wanted = [("system.timezone", config.system.timezone)]
    wanted += [
        (f"cameras[{i}].timezone", c.timezone) for i, c in enumerate(config.cameras) if c.timezone
    ]
    problems = []
    for path, name in wanted:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(Problem(path, f"unknown time zone {name!r}"))
    if problems:
        raise ConfigError(problems)


def _resolve_dirs(system: SystemSection, base: Path) -> SystemSection:
    """Relative directories are relative to the config file, not the working directory."""
    fields = ("storage_dir", "data_dir", "log_dir")
    return msgspec.structs.replace(system, **{f: str(base / getattr(system, f)) for f in fields})


def propose_events(events: Sequence[tuple[str, Event]], *, actor: str) -> list[Proposed]:
    """Config events ready to append as one batch: the camera events name the first (the
    import) as their cause, and all share its id as correlation id. Keep the result to
    retry an append: the event ids make a retry idempotent."""
    if not events:
        return []
    (stream, event), rest = events[0], events[1:]
    first = propose(event, stream=stream, actor=actor)
    cause = first.event_id
    return [
        msgspec.structs.replace(first, correlation_id=cause),
        *(
            propose(e, stream=s, actor=actor, causation_id=cause, correlation_id=cause)
            for s, e in rest
        ),
    ]


def append_events(log: EventLog, events: Sequence[tuple[str, Event]], *, actor: str) -> list[int]:
    """Append `events` (from `ConfigFile.events` or `config_events`); their positions."""
    return log.append(propose_events(events, actor=actor)) if events else []
