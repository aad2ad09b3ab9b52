"""Storage, worker lifecycle and configuration imports."""

from __future__ import annotations

from typing import Literal

from nvr.domain.events.base import Event
from nvr.domain.retention import RetentionPolicy


class StorageWarning(Event, tag="storage.warning", frozen=True, kw_only=True):
    volume: str
    level: Literal["low", "critical", "ok"]
    free_bytes: int
    total_bytes: int
    floor_bytes: int


class EmergencyPurged(Event, tag="storage.emergency_purged", frozen=True, kw_only=True):
    """Free space fell below the floor; the listed segments were decided for deletion."""

    volume: str
    free_bytes: int
    floor_bytes: int
    segment_ids: tuple[str, ...]
    freed_bytes: int


class WorkerStarted(Event, tag="worker.started", frozen=True, kw_only=True):
    worker: str
    kind: str
    pid: int


class WorkerExited(Event, tag="worker.exited", frozen=True, kw_only=True):
    worker: str
    pid: int
    exit_code: int | None
    signal: int | None
    reason: str = ""


class WorkerRestarted(Event, tag="worker.restarted", frozen=True, kw_only=True):
    worker: str
    attempt: int
    backoff_ms: int
    reason: str


class ConfigImported(Event, tag="config.imported", frozen=True, kw_only=True):
    source: str
    format: Literal["toml", "json"]
    sha256: str
    cameras: tuple[str, ...]


class RetentionPolicyChanged(Event, tag="retention.policy_changed", frozen=True, kw_only=True):
    """The effective retention policy from now on. `version` counts from 1 and is what
    `segment.deleted` names; `source` says where it came from (a config file)."""

    version: int
    policy: RetentionPolicy
    source: str = ""
