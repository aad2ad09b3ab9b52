"""The JSON API, the dashboard page and the notification socket: the authorisation
matrix (every endpoint x every role x a camera the user may and may not see, refusals
logged), what each role sees, account management, the OpenAPI description, and
notices filtered by camera."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from nvr.domain.events import MotionStarted, StorageWarning, StreamLost
from nvr.domain.values import camera_stream
from tests.test_web_env import PASSWORD, S, WebEnv, make_env, running, user

ALL = {"admin", "operator", "viewer"}
# The matrix, written out independently of nvr/domain/access.py.
ALLOWED = {
    "dashboard": ALL, "live": ALL, "playback": ALL, "system": {"admin", "operator"},
    "audit": {"admin"}, "users": {"admin"},
}  # fmt: skip
# (method, path with {cam}, body, what it needs, whether {cam} is checked, status when allowed)
ENDPOINTS: list[tuple[str, str, Any, str, bool, int]] = [
    ("GET", "/", None, "dashboard", False, 200),
    ("GET", "/api/me", None, "dashboard", False, 200),
    ("GET", "/api/cameras", None, "live", False, 200),
    ("GET", "/api/cameras/{cam}", None, "live", True, 200),
    ("GET", "/api/cameras/{cam}/thumbnails/{cam}-0001.jpg", None, "live", True, 200),
    ("GET", "/api/motion", None, "playback", False, 200),
    ("GET", "/api/motion?camera={cam}", None, "playback", True, 200),
    ("GET", "/api/storage", None, "system", False, 200),
    ("GET", "/api/health", None, "system", False, 200),
    ("GET", "/api/audit", None, "audit", False, 200),
    ("GET", "/api/users", None, "users", False, 200),
    ("GET", "/api/users/viewer", None, "users", False, 200),
    ("POST", "/api/users", "new-user", "users", False, 201),
    ("PATCH", "/api/users/allview", {}, "users", False, 200),
    ("POST", "/api/users/spare/disable", {}, "users", False, 200),
]
AS = {"admin": "gateadmin", "operator": "oper", "viewer": "viewer"}  # each may see gate only


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebEnv]:
    bench = make_env(tmp_path_factory.mktemp("web-api"))
    bench.append(user("gateadmin", "admin", ("gate",)), user("spare", "viewer"))
    bench.start()
    yield bench
    bench.stop()


def call(c: httpx.Client, csrf: str, method: str, path: str, body: Any, tag: str) -> httpx.Response:
    if body == "new-user":
        body = {"username": f"made-{tag}", "role": "viewer", "password": PASSWORD}
    headers = {"X-CSRF-Token": csrf} if method != "GET" else {}
    return c.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("role", sorted(ALL))
def test_authorisation_matrix(env: WebEnv, role: str) -> None:
    """Guards against an endpoint that forgets to check the role or the camera."""
    c, csrf = env.login(AS[role])
    for method, template, body, needs, per_camera, ok in ENDPOINTS:
        for cam in ("gate", "yard") if per_camera else ("gate",):
            path = template.format(cam=cam)
            before = env.log.head()
            r = call(c, csrf, method, path, body, f"{role}-{cam}")
            role_ok = role in ALLOWED[needs]
            expected = ok if role_ok and cam == "gate" else 403 if not role_ok else 404
            assert r.status_code == expected, (role, method, path, r.text)
            denied = [e for _, e in env.events("web.access_denied", after=before)]
            if expected in (403, 404):
                [event] = denied
                assert event.username == AS[role] and event.reason == (
                    "camera" if role_ok else "role"
                )
                assert event.camera_id == (cam if per_camera else None)
                assert event.resource.startswith(method)
            else:
                assert not denied


def test_each_role_sees_only_its_cameras(env: WebEnv) -> None:
    oper, _ = env.login("oper")
    everyone, _ = env.login("allview")
    assert [x["camera_id"] for x in oper.get("/api/cameras").json()] == ["gate"]
    assert [x["camera_id"] for x in everyone.get("/api/cameras").json()] == [
        "gate",
        "porch",
        "yard",
    ]
    assert {m["camera_id"] for m in oper.get("/api/motion").json()} == {"gate"}
    assert {m["camera_id"] for m in everyone.get("/api/motion").json()} == {"gate", "porch", "yard"}
    storage = oper.get("/api/storage").json()
    assert [u["camera_id"] for u in storage["cameras"]] == ["gate"] and storage[
        "total_bytes"
    ] == 1000
    gate = oper.get("/api/cameras/gate").json()
    assert (
        gate["name"] == "Gate" and gate["thumbnail"] == "/api/cameras/gate/thumbnails/gate-0001.jpg"
    )
    assert everyone.get("/api/cameras/porch").json()["thumbnail"] is None
    assert oper.get("/api/cameras/nosuch").status_code == 404
    me = everyone.get("/api/me").json()
    assert me["role"] == "viewer" and me["cameras"] is None
    assert set(me["actions"]) == {"dashboard.view", "live.view", "playback.view"}


def test_views_are_logged_once_per_session_and_window(env: WebEnv) -> None:
    c, _ = env.login("allview")
    before = env.log.head()
    for _ in range(3):
        assert c.get("/api/cameras").status_code == 200
    env.clock.advance(61 * S)
    assert c.get("/api/cameras").status_code == 200
    views = [e for _, e in env.events("web.viewed", after=before)]
    assert [(v.username, v.resource) for v in views] == [("allview", "GET /api/cameras")] * 2
    assert all(v.client_addr == "127.0.0.1" and v.ui_session.startswith("web-") for v in views)


def test_openapi_describes_every_api_route(env: WebEnv) -> None:
    spec = env.client().get("/api/openapi.json").json()
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert env.web is not None
    app = env.web.server.config.app
    served = {
        (m, r.path) for r in app.routes if r.path.startswith("/api/") for m in r.methods - {"HEAD"}
    }
    assert served == described
    login = spec["paths"]["/api/login"]["post"]["requestBody"]["content"]["application/json"]
    assert login["schema"]["$ref"] == "#/components/schemas/LoginIn"
    assert spec["components"]["schemas"]["UserIn"]["properties"]["role"]["enum"] == [
        "admin", "operator", "viewer",
    ]  # fmt: skip


def test_dashboard_page_needs_a_session_and_has_no_inline_script(env: WebEnv) -> None:
    anon = env.client().get("/", follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"] == "/login"
    c, _ = env.login("viewer")
    page = c.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("<script") == page.text.count('<script src="/static/')
    assert 'name="viewport"' in page.text and "style=" not in page.text
    for asset in ("style.css", "common.js", "dashboard.js", "login.js"):
        assert c.get(f"/static/{asset}").status_code == 200


def test_notices_follow_the_log_filtered_by_camera(env: WebEnv) -> None:
    oper, oper_csrf = env.login("oper")  # operator, gate only
    everyone, _ = env.login("allview")  # viewer, every camera, no system view
    with env.ws(oper) as o_sock, env.ws(everyone) as e_sock:
        assert '"hello"' in str(o_sock.recv(timeout=5)) and '"hello"' in str(e_sock.recv(timeout=5))
        env.append(
            (StreamLost(camera_id="yard", stream="main", reason="timeout"), camera_stream("yard")),
            (StorageWarning(volume="/rec", level="low", free_bytes=1, total_bytes=10,
                            floor_bytes=2), "system/storage"),
            (MotionStarted(camera_id="gate", motion_id="m-end", at_ns=1, confidence=0.9),
             camera_stream("gate")),
        )  # fmt: skip

        def until_marker(sock: Any) -> list[str]:
            kinds = []
            while True:
                notice = json.loads(sock.recv(timeout=5))
                kinds.append(f"{notice['kind']}:{notice['camera_id']}")
                if notice["camera_id"] == "gate":
                    return kinds

        assert until_marker(o_sock) == ["storage:None", "motion:gate"]
        assert until_marker(e_sock) == ["camera.lost:yard", "motion:gate"]
        # Signing out closes the socket (within the recheck interval).
        oper.post("/api/logout", headers={"X-CSRF-Token": oper_csrf})
        with pytest.raises(ConnectionClosed) as closed:
            o_sock.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_admins_manage_accounts_with_events(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        admin, csrf = env.login("admin")
        h = {"X-CSRF-Token": csrf}
        body = {
            "username": "carol",
            "role": "viewer",
            "password": PASSWORD,
            "cameras": ["gate", "gate", "yard"],
        }
        made = admin.post("/api/users", json=body, headers=h)
        assert made.status_code == 201 and made.json()["cameras"] == ["gate", "yard"]
        assert admin.post("/api/users", json=body, headers=h).status_code == 409
        carol, _ = env.login("carol")
        r = admin.patch("/api/users/carol", json={"role": "operator"}, headers=h)
        assert r.json()["role"] == "operator" and r.json()["open_sessions"] == 1
        assert carol.get("/api/storage").status_code == 200  # the new role applies at once
        r = admin.patch("/api/users/carol", json={"password": "a brand new password"}, headers=h)
        assert r.json()["open_sessions"] == 0 and carol.get("/api/me").status_code == 401
        assert admin.patch("/api/users/nosuch", json={}, headers=h).status_code == 404
        # The last enabled admin can be neither demoted nor disabled.
        assert (
            admin.patch("/api/users/admin", json={"role": "viewer"}, headers=h).status_code == 422
        )
        assert admin.post("/api/users/admin/disable", json={}, headers=h).status_code == 422
        assert admin.post("/api/users/carol/disable", json={"reason": "left"}, headers=h).json()[
            "disabled"
        ]
        tags = [env_.type for env_ in env.log.read() if env_.actor == "user/admin"]
        assert tags == ["session.login_succeeded", "user.created", "user.role_changed",
                        "user.password_changed", "session.logged_out", "user.disabled"]  # fmt: skip
        listed = {u["username"]: u for u in admin.get("/api/users").json()}
        assert listed["carol"]["disabled"] and listed["carol"]["role"] == "operator"
        assert "password_hash" not in listed["carol"]
