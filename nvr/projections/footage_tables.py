"""The footage tables: the roadmap's `recordings` and `motion_events` (Milestone 2A.4) with
integer-time columns added, and the timeline tables built beside them.

Conventions: `*_ns` are wall-clock ns since the epoch; the roadmap's TIMESTAMP columns
hold the same instants as UTC text `YYYY-MM-DD HH:MM:SS.ffffff` (SQLite's date functions
read it); an `id` is the log position of the event that created the row, so ids are the
same after every rebuild.
"""

from __future__ import annotations

from nvr.projections.tables import Table

HOUR_NS = 3_600_000_000_000

RECORDINGS = Table(
    name="recordings",
    columns=(
        ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        ("camera_id", "TEXT NOT NULL"),
        ("start_time", "TIMESTAMP NOT NULL"),
        ("end_time", "TIMESTAMP"),
        ("file_path", "TEXT NOT NULL"),
        ("motion_events", "INTEGER DEFAULT 0"),
        ("size_mb", "REAL"),
        ("thumbnail_path", "TEXT"),
        ("recording_type", "TEXT DEFAULT 'motion'"),
        ("created_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
        # Added to the roadmap's columns:
        ("segment_id", "TEXT NOT NULL"),
        ("recording_id", "TEXT NOT NULL"),  # the recording (started..stopped) it belongs to
        ("start_ns", "INTEGER NOT NULL"),
        ("end_ns", "INTEGER"),  # NULL while the segment is being written
        ("bytes", "INTEGER"),
        ("sha256", "TEXT"),
        ("clean", "INTEGER"),  # 0: cut short (crash, storage failure)
        ("keyframes_json", "TEXT"),  # keyframe offsets from start_ns, ns: the seek index
    ),
    indexes=(("camera_id", "start_ns"), ("end_ns", "camera_id")),
    unique=(("segment_id",),),
)

MOTION_EVENTS = Table(
    name="motion_events",
    columns=(
        ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        # NULL when no segment was being written (motion seen while not recording).
        ("recording_id", "INTEGER REFERENCES recordings(id)"),
        ("timestamp", "TIMESTAMP NOT NULL"),
        ("confidence", "REAL"),
        ("bbox_json", "TEXT"),
        ("frame_thumbnail", "TEXT"),
        ("camera_id", "TEXT NOT NULL"),
        ("motion_id", "TEXT NOT NULL"),
        ("start_ns", "INTEGER NOT NULL"),
        ("end_ns", "INTEGER"),  # NULL while the motion goes on
        ("peak_confidence", "REAL"),
    ),
    indexes=(("camera_id", "start_ns"), ("end_ns", "camera_id"), ("recording_id",)),
    unique=(("motion_id",),),
)

GAPS = Table(
    name="timeline_gaps",
    columns=(
        ("camera_id", "TEXT NOT NULL"),
        ("start_ns", "INTEGER NOT NULL"),
        ("end_ns", "INTEGER NOT NULL"),
        ("reason", "TEXT NOT NULL"),
        ("detail", "TEXT NOT NULL"),
    ),
    key=2,
)
"""Time without footage between two recorded spans, and why. Rows never cross a UTC hour
boundary (longer gaps are split), so a window query reads a bounded range."""

HOURS = Table(
    name="timeline_hours",
    columns=(
        ("camera_id", "TEXT NOT NULL"),
        ("hour_ns", "INTEGER NOT NULL"),
        ("recorded_ns", "INTEGER NOT NULL"),
        ("motion_ns", "INTEGER NOT NULL"),
        ("motion_count", "INTEGER NOT NULL"),
    ),
    key=2,
)
"""Per camera and UTC hour: footage kept and motion seen; long windows read this."""

CAMERA_STATUS = Table(
    name="camera_status",
    columns=(
        ("camera_id", "TEXT NOT NULL"),
        ("name", "TEXT NOT NULL"),
        ("recording_mode", "TEXT NOT NULL"),
        ("removed", "INTEGER NOT NULL"),
        ("main_connected", "INTEGER NOT NULL"),
        ("recording_type", "TEXT NOT NULL"),  # '' when not recording
        ("last_end_ns", "INTEGER NOT NULL"),
        ("cause", "TEXT NOT NULL"),  # why it is not recording now ('' when it is)
        ("cause_detail", "TEXT NOT NULL"),
        ("max_segment_ns", "INTEGER NOT NULL"),
        ("max_motion_ns", "INTEGER NOT NULL"),
    ),
)

STORAGE = Table(
    name="storage_usage",
    columns=(
        ("camera_id", "TEXT NOT NULL"),
        ("recording_type", "TEXT NOT NULL"),
        ("bytes", "INTEGER NOT NULL"),
        ("segments", "INTEGER NOT NULL"),
    ),
    key=2,
)

PROTECTIONS = Table(
    name="protections",
    columns=(
        ("protection_id", "TEXT NOT NULL"),
        ("camera_id", "TEXT NOT NULL"),
        ("start_ns", "INTEGER NOT NULL"),
        ("end_ns", "INTEGER NOT NULL"),
        ("reason", "TEXT NOT NULL"),
        ("actor", "TEXT NOT NULL"),
        ("created_at", "TIMESTAMP NOT NULL"),
    ),
    indexes=(("camera_id", "start_ns"),),
)
"""Evidence locks in force: footage overlapping one is never deleted by retention."""

FOOTAGE_TABLES = (RECORDINGS, MOTION_EVENTS, GAPS, HOURS, CAMERA_STATUS, STORAGE, PROTECTIONS)
