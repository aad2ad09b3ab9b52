"""Every table projection Vigil keeps, in the order they are folded."""

from __future__ import annotations

from nvr.projections.footage import FootageProjection
from nvr.projections.people import PeopleProjection
from nvr.projections.presets import PresetsProjection
from nvr.projections.tables import TableProjection


def all_projections() -> list[TableProjection]:
    return [FootageProjection(), PresetsProjection(), PeopleProjection()]
