"""The presets projection: the roadmap's `camera_presets` table, one row per live preset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from nvr.domain.envelope import Envelope
from nvr.domain.events import Event
from nvr.projections.footage_state import timestamp
from nvr.projections.tables import Drop, Op, Patch, Put, Table, View

CAMERA_PRESETS = Table(
    name="camera_presets",
    columns=(
        ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),  # the position of its first save
        ("camera_id", "TEXT NOT NULL"),
        ("preset_name", "TEXT NOT NULL"),
        ("ptz_position_json", "TEXT"),
        ("created_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
        ("preset_id", "TEXT NOT NULL"),
        ("updated_at", "TIMESTAMP NOT NULL"),
        ("recalled_at", "TIMESTAMP"),
    ),
    indexes=(("camera_id", "preset_name"),),
    unique=(("preset_id",),),
)


class PresetsWork(msgspec.Struct, frozen=True, gc=False):
    pass


class PresetsProjection:
    name = "presets"
    version = 1
    tables: tuple[Table, ...] = (CAMERA_PRESETS,)
    work_type = PresetsWork
    handles = frozenset(
        {"ptz.preset.saved", "ptz.preset.renamed", "ptz.preset.removed", "ptz.preset.recalled"}
    )

    def initial(self) -> PresetsWork:
        return PresetsWork()

    def evolve(
        self, work: PresetsWork, view: View, env: Envelope, event: Event
    ) -> tuple[PresetsWork, Sequence[Op]]:
        e: Any = event
        at = timestamp(env.recorded_at_ns)
        row = view.find("camera_presets", "preset_id", e.preset_id)
        if env.type == "ptz.preset.saved":
            pose = json.dumps(
                {"pan": e.position.pan, "tilt": e.position.tilt, "zoom": e.position.zoom}
            )
            if row is None:
                return work, [Put("camera_presets", {
                    "id": env.position, "camera_id": e.camera_id, "preset_name": e.name,
                    "ptz_position_json": pose, "created_at": at, "preset_id": e.preset_id,
                    "updated_at": at, "recalled_at": None,
                })]  # fmt: skip
            return work, [
                Patch(
                    "camera_presets",
                    (row["id"],),
                    {"preset_name": e.name, "ptz_position_json": pose, "updated_at": at},
                )
            ]
        if row is None:
            return work, ()
        if env.type == "ptz.preset.renamed":
            return work, [
                Patch("camera_presets", (row["id"],), {"preset_name": e.name, "updated_at": at})
            ]
        if env.type == "ptz.preset.recalled":
            return work, [Patch("camera_presets", (row["id"],), {"recalled_at": at})]
        return work, [Drop("camera_presets", (row["id"],))]
