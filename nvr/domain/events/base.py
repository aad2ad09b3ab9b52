"""The base of every event: a frozen, tagged, keyword-only msgspec Struct.

Rules (see docs/design/events.md): a tag is permanent and never reused; a field is
never removed nor retyped; new fields are appended with defaults; any other change is
a new VERSION with an upcaster from the previous one.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec


class Event(msgspec.Struct, frozen=True, tag_field="type", kw_only=True, gc=False):
    """A fact in the past tense. Subclasses state `tag=` and `kw_only=True` themselves."""

    VERSION: ClassVar[int] = 1
