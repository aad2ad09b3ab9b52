"""From the config file to what events carry, and config changes as events (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

from nvr.domain.config import (
    WEEKDAYS,
    CameraEntry,
    CameraSettings,
    Config,
    Credential,
    ScheduleWindow,
    SystemSection,
    _minutes,
)
from nvr.domain.events import Event
from nvr.domain.events.cameras import CameraAdded, CameraConfigured, CameraRemoved
from nvr.domain.events.system import ConfigImported
from nvr.domain.retention import CameraRetention, RetentionPolicy
from nvr.domain.values import CONFIG_STREAM, Zone, camera_stream


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
        retention_max_bytes=int(cam.retention_max_gib * 2**30),
    )


def retention_policy(config: Config) -> RetentionPolicy:
    """The retention rules a config file sets: per camera, and the system's free-space floor."""
    cameras = {
        cam.id: CameraRetention(
            days=cam.retention_days,
            days_by_type=tuple(sorted(cam.retention_days_by_type.items())),
            max_bytes=int(cam.retention_max_gib * 2**30),
        )
        for cam in config.cameras
    }
    return RetentionPolicy(
        cameras=tuple(sorted(cameras.items())), floor_bytes=config.system.min_free_bytes
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

    ids = tuple(c.id for c in new.cameras)
    return [(CONFIG_STREAM, ConfigImported(source=source, format=fmt, sha256=sha256, cameras=ids))]
