"""The camera settings schema carried by configuration events (extended, never reshaped)."""

from __future__ import annotations

import msgspec

from nvr.domain.values import RecordingMode, Zone


class CameraSettings(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One camera's accepted configuration. Secrets are never stored: `credential_ref`
    names an entry in the credentials file instead."""

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
