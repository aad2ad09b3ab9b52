"""The retention policy: how long footage is kept, how much per camera, and the free-space
floor. A pure value derived from the accepted config; each change gets a new version."""

from __future__ import annotations

import msgspec

from nvr.domain.values import RecordingType


class CameraRetention(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One camera's rules. `days_by_type` (sorted by type) overrides `days` for the types
    it names; `max_bytes` caps the camera's footage (0: no cap)."""

    days: int = 30
    days_by_type: tuple[tuple[RecordingType, int], ...] = ()
    max_bytes: int = 0

    def days_for(self, kind: str) -> int:
        for name, days in self.days_by_type:
            if name == kind:
                return days
        return self.days


class RetentionPolicy(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Invariants: `cameras` sorted by camera id, unique; `floor_bytes` >= 0. A camera not
    listed falls back to `default`."""

    cameras: tuple[tuple[str, CameraRetention], ...] = ()
    default: CameraRetention = CameraRetention()
    floor_bytes: int = 0

    def for_camera(self, camera_id: str) -> CameraRetention:
        for cid, rules in self.cameras:
            if cid == camera_id:
                return rules
        return self.default
