"""The configuration projection: every camera's accepted settings by id, and the last
import, so the configuration at any past instant or position can be rebuilt."""

from __future__ import annotations

import msgspec

from nvr.domain.config import CameraSettings
from nvr.domain.envelope import Envelope
from nvr.domain.events import CameraAdded, CameraConfigured, CameraRemoved, ConfigImported, Event
from nvr.eventlog.port import EventLog
from nvr.projections.runtime import fold


class ConfigView(msgspec.Struct, frozen=True, kw_only=True):
    """Invariants: `cameras` holds exactly the cameras added and not removed since, each
    with its latest settings; `source`, `sha256` and `imported_ns` are those of the last
    `config.imported` ("" and 0 before any); `changed_ns` is when either last changed."""

    cameras: dict[str, CameraSettings] = {}
    source: str = ""
    format: str = ""
    sha256: str = ""
    imported_ns: int = 0
    changed_ns: int = 0


class ConfigProjection:
    name = "config"
    version = 1
    handles: frozenset[str] | None = frozenset(
        {"camera.added", "camera.configured", "camera.removed", "config.imported"}
    )
    state_type = ConfigView

    def initial(self) -> ConfigView:
        return ConfigView()

    def evolve(self, state: ConfigView, env: Envelope, event: Event) -> ConfigView:
        replace = msgspec.structs.replace
        t = env.recorded_at_ns
        match event:
            case (
                CameraAdded(camera_id=cid, settings=s) | CameraConfigured(camera_id=cid, settings=s)
            ):
                return replace(state, cameras={**state.cameras, cid: s}, changed_ns=t)
            case CameraRemoved(camera_id=cid) if cid in state.cameras:
                cameras = {k: v for k, v in state.cameras.items() if k != cid}
                return replace(state, cameras=cameras, changed_ns=t)
            case ConfigImported(source=source, format=fmt, sha256=sha):
                return replace(
                    state, source=source, format=fmt, sha256=sha, imported_ns=t, changed_ns=t
                )
            case _:
                return state


def config_at(log: EventLog, at_ns: int) -> ConfigView:
    """The configuration as it was at wall-clock `at_ns`: every event recorded at or
    before it (recorded_at_ns never decreases with position, so this is a prefix)."""
    projection = ConfigProjection()
    return fold(projection, projection.initial(), log.read_time(0, at_ns + 1))[0]


def config_at_position(log: EventLog, position: int) -> ConfigView:
    """The configuration as it was once the event at `position` had been committed."""
    projection = ConfigProjection()
    return fold(projection, projection.initial(), log.read(1, position + 1))[0]
