"""Configuration: the file schema and its errors, the legacy JSON import, config changes
as events, the config at a past instant, and the loader that keeps the last good config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr.clock import SimulatedClock
from nvr.domain import camera
from nvr.domain.codec import encode
from nvr.domain.commands import AddCamera, ConfigureCamera
from nvr.domain.config import WEEKDAYS, Config, ConfigError, check, in_schedule, parse_config
from nvr.domain.config_changes import (
    camera_settings,
    config_events,
    credentials_for,
    dump_config,
    sync_events,
)
from nvr.domain.config_default import default_config
from nvr.domain.config_legacy import parse_legacy_json
from nvr.domain.events import CameraAdded, CameraConfigured, CameraRemoved, ConfigImported
from nvr.domain.values import CONFIG_STREAM
from nvr.eventlog.memory import MemoryLog
from nvr.projections.config import ConfigProjection, config_at, config_at_position
from nvr.projections.runtime import MemoryStore, Runner
from nvr.workers.configfile import ConfigFile, append_events

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.toml"
S = 1_000_000_000

ONE = """
[[cameras]]
id = "gate"
main_url = "rtsp://10.0.0.5/main"
"""


def cameras_toml(*blocks: str) -> str:
    return "".join(f"\n[[cameras]]\n{b.strip()}\n" for b in blocks)


def cam(cid: str, **extra: Any) -> str:
    lines = [f'id = "{cid}"', f'main_url = "rtsp://10.0.0.5/{cid}"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The file


def test_example_file_is_valid_and_round_trips() -> None:
    config = parse_config(EXAMPLE.read_text())
    assert [c.id for c in config.cameras] == ["gate", "yard"]
    assert parse_config(dump_config(config)) == config
    gate, yard = camera_settings(config).values()
    assert gate.credential_ref == "hikvision" and yard.credential_ref == "camera:yard"
    assert yard.schedule_tz == "Europe/London" and yard.schedule[1].end_min == 7 * 60 + 30
    assert gate.retention_days_by_type == (("manual", 90), ("panic", 365))
    cred = credentials_for(config, "yard")
    assert cred is not None and cred.username == "admin"
    assert "change-me" not in repr(config)


def test_minimal_file_takes_defaults() -> None:
    config = parse_config(ONE)
    assert config.system.segment_length_s == 10
    (settings_,) = camera_settings(config).values()
    assert settings_.name == "gate" and settings_.recording_mode == "motion"
    assert settings_.credential_ref == "" and credentials_for(config, "gate") is None


BAD: list[tuple[str, str, str]] = [
    # (file text, the path the error names, a piece of its reason)
    (
        cameras_toml(cam("a"), cam("b", pre_rol_s=3)),
        "cameras[1].pre_rol_s",
        "did you mean `pre_roll_s`",
    ),
    ("[sytem]\n", "sytem", "did you mean `system`"),
    (
        cameras_toml(cam("a", motion_zones="[{points=[[0,0],[1,0],[0,1]], colour=1}]")),
        "cameras[0].motion_zones[0].colour",
        "unknown field",
    ),
    (
        cameras_toml(cam("a"), cam("b", pre_roll_s='"3"')),
        "cameras[1].pre_roll_s",
        "expected float, got str",
    ),
    (cameras_toml(cam("a", has_ptz=1)), "cameras[0].has_ptz", "expected bool, got int"),
    ("cameras = 3\n", "cameras", "expected array, got int"),
    (cameras_toml('id = "a"'), "cameras[0].main_url", "required field missing"),
    (
        cameras_toml(cam("a", recording_mode='"always"')),
        "cameras[0].recording_mode",
        "not one of 'continuous'",
    ),
    (
        cameras_toml(cam("a", retention_days_by_type="{motoin = 3}")),
        "cameras[0].retention_days_by_type",
        "'motoin' is not one of 'motion'",
    ),
    (cameras_toml('id = "a"\nmain_url = "http://10.0.0.5/x"'), "cameras[0].main_url", "rtsp://"),
    (
        cameras_toml('id = "a"\nmain_url = "rtsp://10.0.0.5:99999/x"'),
        "cameras[0].main_url",
        "bad port",
    ),
    (cameras_toml(cam("a", sub_url='"rtsp:///x"')), "cameras[0].sub_url", "no host"),
    (
        cameras_toml('id = "a"\nmain_url = "rtsp://admin:secret@10.0.0.5/x"'),
        "cameras[0].main_url",
        "must not hold credentials",
    ),
    (cameras_toml(cam("a"), cam("b"), cam("a")), "cameras[2].id", "duplicate of cameras[0].id"),
    (cameras_toml(cam("Front Door")), "cameras[0].id", "a-z, 0-9"),
    (
        cameras_toml(cam("a", motion_zones="[{points=[[0,0],[1,1]]}]")),
        "cameras[0].motion_zones[0].points",
        "at least 3 points",
    ),
    (
        cameras_toml(cam("a", motion_masks="[{points=[[0,0],[1.5,0],[0,1]]}]")),
        "cameras[0].motion_masks[0].points[1]",
        "outside [0, 1]",
    ),
    (
        cameras_toml(cam("a", motion_zones="[{points=[[0,0],[0.5,0.5],[1,1]]}]")),
        "cameras[0].motion_zones[0].points",
        "no area",
    ),
    (
        cameras_toml(cam("a", motion_zones="[{points=[[0,0,0],[1,0],[0,1]]}]")),
        "cameras[0].motion_zones[0].points[0]",
        "length 2",
    ),
    (cameras_toml(cam("a", pre_roll_s=45)), "cameras[0].pre_roll_s", "outside [0, 30]"),
    (cameras_toml(cam("a", post_roll_s="nan")), "cameras[0].post_roll_s", "outside [0, 600]"),
    (cameras_toml(cam("a", motion_threshold=0)), "cameras[0].motion_threshold", "outside (0, 1]"),
    (
        cameras_toml(cam("a", recording_mode='"scheduled"')),
        "cameras[0].schedule",
        "at least one window",
    ),
    (
        cameras_toml(cam("a", schedule='[{start = "18:00", end = "08:00"}]')),
        "cameras[0].schedule[0].end",
        "crosses midnight",
    ),
    (
        cameras_toml(cam("a", schedule='[{start = "8am", end = "18:00"}]')),
        "cameras[0].schedule[0].start",
        "HH:MM",
    ),
    (
        cameras_toml(
            cam("a", schedule='[{days = ["mon", "mon"], start = "08:00", end = "09:00"}]')
        ),
        "cameras[0].schedule[0].days",
        "listed twice",
    ),
    (
        cameras_toml(cam("a", schedule='[{days = ["monday"], start = "08:00", end = "09:00"}]')),
        "cameras[0].schedule[0].days[0]",
        "not one of 'mon'",
    ),
    (
        cameras_toml(cam("a", credential_ref='"nope"')),
        "cameras[0].credential_ref",
        "no [credentials.nope]",
    ),
    (cameras_toml(cam("a", password='"x"')), "cameras[0].username", "needs a username"),
    ("[credentials.front]\nusername = 1\n", "credentials.front.username", "expected str, got int"),
    ('[credentials.front]\nuser = "a"\n', "credentials.front.user", "did you mean `username`"),
    ("[system]\nweb_port = 70000\n", "system.web_port", "not a port"),
    ('[system]\ntimezone = "not a zone"\n', "system.timezone", "time zone"),
    ("[[cameras]\nid = 1\n", "line 1, column 10", "not valid TOML"),
    ('[[cameras]]\nid = "a\n', "line 2, column 8", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "path", "reason"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_input_names_the_field_and_the_reason(text: str, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    err = info.value
    assert (err.path, reason in err.reason) == (path, True), str(err)
    assert str(err).startswith(f"{path}: ")


def test_every_problem_is_reported_at_once() -> None:
    text = cameras_toml(cam("a", pre_roll_s=99), cam("a", post_roll_s=-1))
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    paths = [p.path for p in info.value.problems]
    assert paths == ["cameras[0].pre_roll_s", "cameras[1].post_roll_s", "cameras[1].id"]


def test_errors_never_quote_a_password() -> None:
    """Guards against a secret copied into a log line by way of an error message."""
    for text in (
        cameras_toml('id = "a"\nmain_url = "rtsp://admin:hunter2@10.0.0.5/x"'),
        cameras_toml('id = "a"\nmain_url = "rtsp://admin:hunter2@10.0.0.5:bad/x"'),
        '[credentials.x]\nusername = "u"\npassword = "hunter2"\nextra = 1\n',
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(text)
        assert "hunter2" not in str(info.value)


def test_schedule_windows() -> None:
    config = parse_config(
        cameras_toml(
            cam(
                "a",
                recording_mode='"scheduled"',
                schedule='[{days = ["fri", "mon"], start = "08:00", end = "24:00"}]',
            )
        )
    )
    windows = camera_settings(config)["a"].schedule
    assert windows[0].days == ("mon", "fri")  # canonical order: reordering is no change
    assert in_schedule(windows, "mon", 8 * 60) and in_schedule(windows, "fri", 1439)
    assert not in_schedule(windows, "mon", 8 * 60 - 1) and not in_schedule(windows, "tue", 600)


def test_default_config_for_the_demo() -> None:
    urls = [
        (f"rtsp://127.0.0.1:8554/cam{i}/main", f"rtsp://127.0.0.1:8554/cam{i}/sub")
        for i in range(4)
    ]
    config = default_config(urls, data_root="/tmp/demo")
    assert [(c.main_url, c.sub_url) for c in config.cameras] == urls
    assert {c.recording_mode for c in config.cameras} == {"continuous", "motion", "scheduled"}
    assert config.system.storage_dir == "/tmp/demo/recordings"
    assert parse_config(dump_config(config)) == config
    assert len(default_config(urls[:2]).cameras) == 2
    with pytest.raises(ValueError):
        default_config(urls * 2)
    with pytest.raises(ConfigError, match=r"cameras\[0\].main_url"):
        default_config([("rtsp://u:p@h/x", "")])


# ---------------------------------------------------------------------------------------
# The older JSON camera list


def test_legacy_json_import() -> None:
    text = """[
      {"id": 7, "name": "Gate", "rtsp_url": "rtsp://admin:p%40ss@10.0.0.5/main",
       "sub_stream": "rtsp://10.0.0.5/sub", "record_mode": "always", "motion_threshold": 0.3,
       "ptz": true, "retention_days": 14},
      {"camera_id": "yard", "main_stream": "rtsp://10.0.0.6/main", "username": "u",
       "password": "p", "enabled": false}
    ]"""
    config = parse_legacy_json(text)
    assert config == parse_legacy_json('{"cameras": ' + text + "}")
    gate, yard = camera_settings(config).values()
    assert gate.main_url == "rtsp://10.0.0.5/main"  # the password left the URL ...
    cred = credentials_for(config, "7")
    assert cred is not None and (cred.username, cred.password) == ("admin", "p@ss")  # ... for here
    assert (gate.recording_mode, gate.motion_threshold, gate.has_ptz, gate.retention_days) == (
        "continuous",
        0.3,
        True,
        14,
    )
    assert yard.recording_mode == "off" and yard.credential_ref == "camera:yard"
    assert parse_config(dump_config(config)) == config  # import once, then edit as TOML


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ('[{"id": "a", "rtsp_url": "rtsp://x/1", "colour": 2}]', "[0].colour", "unknown field"),
        (
            '[{"id": "a", "rtsp_url": "rtsp://x/1", "main_stream": "rtsp://x/2"}]',
            "[0].main_stream",
            "only one of",
        ),
        ('[{"rtsp_url": "rtsp://x/1"}]', "[0].id", "required"),
        ('[{"id": "a", "rtsp_url": "http://x/1"}]', "[0].rtsp_url/main_stream", "rtsp://"),
        (
            '[{"id": "a", "rtsp_url": "rtsp://x/1", "record_mode": "sometimes"}]',
            "[0].record_mode",
            "not one of",
        ),
        (
            '[{"id": "a", "rtsp_url": "rtsp://x/1", "motion_threshold": "high"}]',
            "[0].motion_threshold",
            "expected float | nothing, got str",
        ),
        (
            '[{"id": "a", "rtsp_url": "rtsp://x/1"}, {"id": "a", "rtsp_url": "rtsp://x/2"}]',
            "[1].id",
            "duplicate of [0].id",
        ),
        ('[{"id": "a", "rtsp_url": "rtsp://u:p@x/1", "username": "v"}]', "[0].rtsp_url", "differs"),
        ('{"id": "a"}', "", "a JSON list"),
        ('[{"id": "a",]', "line 1, column 13", "not valid JSON"),
    ],
)
def test_legacy_json_errors(text: str, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_legacy_json(text)
    assert (info.value.path, reason in info.value.reason) == (path, True), str(info.value)


# ---------------------------------------------------------------------------------------
# Config changes as events

V1 = cameras_toml(cam("gate"), cam("yard"))
V2 = cameras_toml(cam("gate", pre_roll_s=2, name='"Gate"'), cam("yard"), cam("door"))
V3 = cameras_toml(cam("gate", pre_roll_s=2, name='"Gate"'), cam("door"))


def events_between(old: str | None, new: str, sha: str = "s") -> list[tuple[str, Any]]:
    before = parse_config(old) if old is not None else None
    return config_events(before, parse_config(new), source="vigil.toml", fmt="toml", sha256=sha)


def test_config_events_add_change_remove_and_no_op() -> None:
    first = events_between(None, V1)
    assert [(s, type(e)) for s, e in first] == [
        (CONFIG_STREAM, ConfigImported),
        ("camera/gate", CameraAdded),
        ("camera/yard", CameraAdded),
    ]
    assert first[0][1].cameras == ("gate", "yard")
    change = events_between(V1, V2)
    assert [(s, type(e)) for s, e in change] == [
        (CONFIG_STREAM, ConfigImported),
        ("camera/gate", CameraConfigured),
        ("camera/door", CameraAdded),
    ]
    assert change[1][1].changed == ("name", "pre_roll_s")
    removal = events_between(V2, V3)
    assert [(s, type(e)) for s, e in removal][1:] == [("camera/yard", CameraRemoved)]
    assert events_between(V3, V3) == []
    assert events_between(V3, "# a comment changes nothing\n" + V3) == []
    system_only = events_between(V3, "[system]\nmin_free_gib = 9\n" + V3)
    assert [type(e) for _, e in system_only] == [ConfigImported]


def test_config_events_agree_with_the_camera_aggregate() -> None:
    """The config path and the command path must record a change the same way."""
    old, new = camera_settings(parse_config(V1))["gate"], camera_settings(parse_config(V2))["gate"]
    state = camera.initial("gate")
    added = camera.decide(
        state, AddCamera(command_id="1", actor="a", camera_id="gate", settings=old), 0
    )
    assert added == [e for s, e in events_between(None, V1) if s == "camera/gate"]
    state = camera.evolve(state, added[0])
    configured = camera.decide(
        state, ConfigureCamera(command_id="2", actor="a", camera_id="gate", settings=new), 0
    )
    assert configured == [e for s, e in events_between(V1, V2) if s == "camera/gate"]


def test_no_secret_reaches_an_event() -> None:
    config = parse_config(EXAMPLE.read_text())
    for _, event in config_events(None, config, source="x", fmt="toml", sha256="s"):
        assert b"change-me" not in encode(event)


def test_sync_from_the_log_at_start_up() -> None:
    config = parse_config(V2)
    cams = camera_settings(config)
    assert sync_events(cams, "abc", config, source="f", fmt="toml", sha256="abc") == []
    assert [
        type(e) for _, e in sync_events(cams, "old", config, source="f", fmt="toml", sha256="abc")
    ] == [ConfigImported]
    ahead = sync_events({}, "", config, source="f", fmt="toml", sha256="abc")
    assert [type(e) for _, e in ahead] == [ConfigImported, CameraAdded, CameraAdded, CameraAdded]


def test_config_at_a_past_instant_is_rebuilt_from_the_log() -> None:
    clock = SimulatedClock()
    log = MemoryLog(clock)
    t0 = clock.now_ns()
    versions: list[tuple[int, Config]] = []
    previous: Config | None = None
    for i, text in enumerate((V1, V2, V3, V1)):
        clock.advance(60 * S)
        config = parse_config(text)
        append_events(
            log,
            config_events(previous, config, source="v", fmt="toml", sha256=str(i)),
            actor="test",
        )
        versions.append((clock.now_ns(), config))
        previous = config
    assert config_at(log, t0).cameras == {}
    for at, config in versions:
        assert config_at(log, at).cameras == camera_settings(config)
        assert config_at(log, at + 59 * S).cameras == camera_settings(config)
    assert config_at(log, versions[0][0] - 1).cameras == {}
    assert config_at(log, versions[2][0]).sha256 == "2"
    assert config_at_position(log, 3).cameras == camera_settings(versions[0][1])
    # The followed projection agrees with the replay, and camera events name the import.
    runner = Runner(log, ConfigProjection(), MemoryStore())
    runner.catch_up()
    assert runner.state == config_at(log, clock.now_ns())
    imported, added = log.get(1), log.get(2)
    assert (
        added.causation_id == imported.event_id == imported.correlation_id == added.correlation_id
    )


# ---------------------------------------------------------------------------------------
# The loader


def test_config_file_keeps_the_last_good_config(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(V1)
    cf = ConfigFile(path)
    good = cf.load()
    assert cf.current is good and next(type(e) for _, e in cf.events()) is ConfigImported
    assert good.system.storage_dir == str(tmp_path / "recordings")  # relative to the file
    path.write_text(V2.replace("pre_roll_s = 2", "pre_roll_s = 99"))
    err = cf.reload()
    assert err is not None and err.path == "cameras[0].pre_roll_s"
    assert cf.current is good and cf.last_error is err
    with pytest.raises(ConfigError):
        cf.load()
    path.write_text(V2)
    assert cf.reload() is None and cf.last_error is None
    assert cf.previous is good and [type(e) for _, e in cf.events()] == [
        ConfigImported,
        CameraConfigured,
        CameraAdded,
    ]
    path.unlink()
    err = cf.reload()
    assert err is not None and "cannot read" in err.reason and cf.current is not None


def test_config_file_formats_and_machine_checks(tmp_path: Path) -> None:
    legacy = tmp_path / "cameras.json"
    legacy.write_text('[{"id": "a", "rtsp_url": "rtsp://10.0.0.5/a"}]')
    cf = ConfigFile(legacy)
    assert [c.id for c in cf.load().cameras] == ["a"] and cf.format == "json"
    other = tmp_path / "vigil.yaml"
    other.write_text(V1)
    assert "unknown format" in str(ConfigFile(other).reload())
    zone = tmp_path / "zone.toml"
    zone.write_text('[system]\ntimezone = "Mars/Olympus_Mons"\n')
    err = ConfigFile(zone).reload()
    assert err is not None and err.path == "system.timezone"
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    assert "UTF-8" in str(ConfigFile(binary).reload())


def test_config_file_warns_when_others_can_read_passwords(tmp_path: Path) -> None:
    path = tmp_path / "vigil.toml"
    path.write_text(cameras_toml(cam("a", username='"u"', password='"p"')))
    os.chmod(path, 0o644)
    cf = ConfigFile(path)
    cf.load()
    assert cf.warnings and "chmod 600" in cf.warnings[0]
    os.chmod(path, 0o600)
    cf.load()
    assert cf.warnings == ()


# ---------------------------------------------------------------------------------------
# Any valid config survives the TOML writer

_ids = st.from_regex(r"[a-z0-9_-]{1,12}", fullmatch=True)
_host = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z0-9]{1,6}){0,3}", fullmatch=True)
_url = st.builds(
    lambda host, port, path: f"rtsp://{host}{port}/{path}",
    _host,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    st.from_regex(r"[A-Za-z0-9/_.?=&-]{0,20}", fullmatch=True),
)


def _unit(lo: float = 0.0, hi: float = 1.0) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False)


@st.composite
def _polygon(draw: st.DrawFn) -> dict[str, Any]:
    points = draw(st.lists(st.tuples(_unit(), _unit()), min_size=3, max_size=6))
    ring = zip(points, (*points[1:], points[0]), strict=True)
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in ring)
    if abs(area2) < 1e-6:
        points = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]
    return {"name": draw(st.text(max_size=8)), "points": points}


@st.composite
def _window(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(start + 1, 1440))
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    return {
        "days": days,
        "start": f"{start // 60:02d}:{start % 60:02d}",
        "end": f"{end // 60:02d}:{end % 60:02d}",
    }


@st.composite
def valid_configs(draw: st.DrawFn) -> Config:
    cred_names = draw(st.lists(_ids, max_size=2, unique=True))
    credentials = {
        n: {
            "username": draw(st.text(min_size=1, max_size=8)),
            "password": draw(st.text(max_size=8).map(lambda p: f"pw:{p}" if p else p)),  # unlike any id or name
        }
        for n in cred_names
    }
    cameras = []
    for cid in draw(st.lists(_ids, max_size=4, unique=True)):
        c: dict[str, Any] = {"id": cid, "main_url": draw(_url), "name": draw(st.text(max_size=20))}
        c["sub_url"] = draw(st.one_of(st.just(""), _url))
        login = draw(
            st.sampled_from(["none", "inline", "ref"] if cred_names else ["none", "inline"])
        )
        if login == "inline":
            c["username"], c["password"] = (
                draw(st.text(min_size=1, max_size=8)),
                draw(st.text(max_size=8)),
            )
        elif login == "ref":
            c["credential_ref"] = draw(st.sampled_from(cred_names))
        c["recording_mode"] = draw(st.sampled_from(["continuous", "motion", "scheduled", "off"]))
        min_windows = 1 if c["recording_mode"] == "scheduled" else 0
        c["schedule"] = draw(st.lists(_window(), min_size=min_windows, max_size=3))
        c["timezone"] = draw(
            st.sampled_from(["", "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
        )
        c["pre_roll_s"], c["post_roll_s"] = draw(_unit(0, 30)), draw(_unit(0, 600))
        c["motion_threshold"] = draw(st.floats(0, 1, exclude_min=True))
        c["motion_min_area"], c["motion_fps"] = (
            draw(_unit()),
            draw(st.floats(0, 30, exclude_min=True)),
        )
        c["motion_zones"] = draw(st.lists(_polygon(), max_size=2))
        c["motion_masks"] = draw(st.lists(_polygon(), max_size=2))
        c["retention_days"] = draw(st.integers(1, 36500))
        kinds = st.sampled_from(["motion", "manual", "scheduled", "panic"])
        c["retention_days_by_type"] = draw(st.dictionaries(kinds, st.integers(1, 36500)))
        c["has_ptz"] = draw(st.booleans())
        if draw(st.booleans()):
            c["onvif_port"] = draw(st.integers(1, 65535))
        cameras.append(c)
    ports = draw(st.lists(st.integers(1, 65535), min_size=2, max_size=2, unique=True))
    system = {
        "storage_dir": draw(st.text(min_size=1, max_size=12).filter(str.strip)),
        "segment_length_s": draw(_unit(1, 600)),
        "min_free_gib": draw(_unit(0, 1000)),
        "timezone": draw(st.sampled_from(["UTC", "Asia/Tokyo", "Etc/GMT+5"])),
        "web_port": ports[0],
        "health_port": ports[1],
    }
    config = msgspec.convert(
        {"system": system, "credentials": credentials, "cameras": cameras}, Config
    )
    assert check(config) == []
    return config


@settings(max_examples=150, deadline=None)
@given(config=valid_configs())
def test_any_valid_config_survives_serialisation(config: Config) -> None:
    assert parse_config(dump_config(config)) == config
    assert config_events(config, config, source="f", fmt="toml", sha256="s") == []
    for _, event in config_events(None, config, source="f", fmt="toml", sha256="s"):
        for cred in config.credentials.values():
            if len(cred.password) >= 4:
                assert cred.password.encode() not in encode(event)
