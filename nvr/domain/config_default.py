"""The demo's embedded default configuration: no file needed."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from nvr.domain.config import Config, ConfigError, check, parse_config

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
