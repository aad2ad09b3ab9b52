"""The example projection: counts of events by type and by stream kind, and time bounds."""

from __future__ import annotations

import msgspec

from nvr.domain.envelope import Envelope
from nvr.domain.events import Event


class LogSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Invariants: sum(by_type.values()) == events == sum(by_kind.values());
    streams counts the distinct streams seen; first_ns <= last_ns when events > 0."""

    events: int = 0
    streams: int = 0
    by_type: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    first_ns: int = 0
    last_ns: int = 0


class SummaryProjection:
    name = "log_summary"
    version = 1
    handles: frozenset[str] | None = None
    state_type = LogSummary

    def initial(self) -> LogSummary:
        return LogSummary()

    def evolve(self, state: LogSummary, env: Envelope, event: Event) -> LogSummary:
        kind = env.stream.split("/", 1)[0]
        by_type = dict(state.by_type)
        by_type[env.type] = by_type.get(env.type, 0) + 1
        by_kind = dict(state.by_kind)
        by_kind[kind] = by_kind.get(kind, 0) + 1
        return LogSummary(
            events=state.events + 1,
            streams=state.streams + (env.stream_version == 1),
            by_type=by_type,
            by_kind=by_kind,
            first_ns=state.first_ns if state.events else env.recorded_at_ns,
            last_ns=env.recorded_at_ns,
        )
