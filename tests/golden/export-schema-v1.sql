CREATE INDEX audit_i0 ON audit (at_ns);
CREATE INDEX audit_i1 ON audit (actor, at_ns);
CREATE INDEX audit_i2 ON audit (camera_id, at_ns);
CREATE INDEX camera_presets_i0 ON camera_presets (camera_id, preset_name);
CREATE UNIQUE INDEX camera_presets_u0 ON camera_presets (preset_id);
CREATE INDEX motion_events_i0 ON motion_events (camera_id, start_ns);
CREATE INDEX motion_events_i1 ON motion_events (end_ns, camera_id);
CREATE INDEX motion_events_i2 ON motion_events (recording_id);
CREATE UNIQUE INDEX motion_events_u0 ON motion_events (motion_id);
CREATE INDEX protections_i0 ON protections (camera_id, start_ns);
CREATE INDEX recordings_i0 ON recordings (camera_id, start_ns);
CREATE INDEX recordings_i1 ON recordings (end_ns, camera_id);
CREATE UNIQUE INDEX recordings_u0 ON recordings (segment_id);
CREATE INDEX sessions_i0 ON sessions (username, started_ns);
CREATE TABLE audit (id INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, at TIMESTAMP NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, stream TEXT NOT NULL, camera_id TEXT, client_addr TEXT, detail_json TEXT NOT NULL);
CREATE TABLE camera_presets (id INTEGER PRIMARY KEY AUTOINCREMENT, camera_id TEXT NOT NULL, preset_name TEXT NOT NULL, ptz_position_json TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, preset_id TEXT NOT NULL, updated_at TIMESTAMP NOT NULL, recalled_at TIMESTAMP);
CREATE TABLE camera_status (camera_id TEXT NOT NULL, name TEXT NOT NULL, recording_mode TEXT NOT NULL, removed INTEGER NOT NULL, main_connected INTEGER NOT NULL, recording_type TEXT NOT NULL, last_end_ns INTEGER NOT NULL, cause TEXT NOT NULL, cause_detail TEXT NOT NULL, max_segment_ns INTEGER NOT NULL, max_motion_ns INTEGER NOT NULL, PRIMARY KEY (camera_id));
CREATE TABLE motion_events (id INTEGER PRIMARY KEY AUTOINCREMENT, recording_id INTEGER REFERENCES recordings(id), timestamp TIMESTAMP NOT NULL, confidence REAL, bbox_json TEXT, frame_thumbnail TEXT, camera_id TEXT NOT NULL, motion_id TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER, peak_confidence REAL);
CREATE TABLE protections (protection_id TEXT NOT NULL, camera_id TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY (protection_id));
CREATE TABLE recordings (id INTEGER PRIMARY KEY AUTOINCREMENT, camera_id TEXT NOT NULL, start_time TIMESTAMP NOT NULL, end_time TIMESTAMP, file_path TEXT NOT NULL, motion_events INTEGER DEFAULT 0, size_mb REAL, thumbnail_path TEXT, recording_type TEXT DEFAULT 'motion', created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, segment_id TEXT NOT NULL, recording_id TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER, bytes INTEGER, sha256 TEXT, clean INTEGER, keyframes_json TEXT);
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE sessions (session_hash TEXT NOT NULL, username TEXT NOT NULL, client_addr TEXT NOT NULL, user_agent TEXT NOT NULL, started_ns INTEGER NOT NULL, ended_ns INTEGER, end_reason TEXT, PRIMARY KEY (session_hash));
CREATE TABLE sqlite_sequence(name,seq);
CREATE TABLE storage_usage (camera_id TEXT NOT NULL, recording_type TEXT NOT NULL, bytes INTEGER NOT NULL, segments INTEGER NOT NULL, PRIMARY KEY (camera_id, recording_type));
CREATE TABLE timeline_gaps (camera_id TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (camera_id, start_ns));
CREATE TABLE timeline_hours (camera_id TEXT NOT NULL, hour_ns INTEGER NOT NULL, recorded_ns INTEGER NOT NULL, motion_ns INTEGER NOT NULL, motion_count INTEGER NOT NULL, PRIMARY KEY (camera_id, hour_ns));
CREATE TABLE tracking (
    projection TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    work BLOB NOT NULL
);
CREATE TABLE users (username TEXT NOT NULL, role TEXT NOT NULL, disabled INTEGER NOT NULL, password_hash TEXT NOT NULL, cameras_json TEXT, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (username));
