"""The web UI's defences, each against the failure it guards: security headers on every
response, CSRF and Origin checks (config rewritten by a cross-site request), oversized
and malformed input, a thumbnail URL that tries to leave `.thumbs`, and rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.test_web_env import JPEG, PASSWORD, WebEnv, running


@pytest.fixture
def env(tmp_path: Path) -> Iterator[WebEnv]:
    with running(tmp_path) as bench:
        yield bench


def check_headers(r: httpx.Response) -> None:
    h = r.headers
    csp = h["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["strict-transport-security"].startswith("max-age=")
    assert "cache-control" in h and "server" not in h


def test_security_headers_on_every_response(env: WebEnv) -> None:
    anon = env.client()
    admin, csrf = env.login("admin")
    responses = [
        anon.get("/"),  # 303 to the login page
        anon.get("/login"),
        anon.get("/static/style.css"),
        anon.get("/static/dashboard.js"),
        anon.get("/static/../../etc/passwd"),
        anon.get("/api/openapi.json"),
        anon.get("/api/me"),  # 401
        anon.get("/no/such/page"),
        anon.delete("/api/me"),  # 405
        anon.post(
            "/api/login", content=b"x" * 70_000, headers={"content-type": "application/json"}
        ),
        anon.post("/api/login", content=b"{", headers={"content-type": "application/json"}),
        admin.get("/"),
        admin.get("/api/cameras"),
        admin.get("/api/cameras/gate/thumbnails/gate-0001.jpg"),
        admin.get("/api/audit?limit=5"),
        admin.post("/api/users", json={}, headers={"X-CSRF-Token": csrf}),  # 422
    ]
    assert {r.status_code for r in responses} >= {200, 303, 400, 401, 404, 405, 413, 422}
    for r in responses:
        check_headers(r)


def test_error_pages_are_generic(env: WebEnv) -> None:
    r = env.client().get("/<script>alert(1)</script>")
    assert r.status_code == 404 and "<script>alert" not in r.text and "Traceback" not in r.text
    api = env.client().get("/api/cameras/%3Cb%3E")
    assert api.status_code in (401, 404) and api.json()["error"] in ("Unauthorized", "Not Found")


def test_state_changes_need_the_csrf_token_and_this_origin(env: WebEnv) -> None:
    admin, csrf = env.login("admin")
    body = {"username": "newbie", "role": "viewer", "password": PASSWORD}
    assert admin.post("/api/users", json=body).status_code == 403  # no token
    assert (
        admin.post("/api/users", json=body, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    )
    denied = [e for _, e in env.events("web.access_denied")]
    assert [(e.username, e.reason, e.resource) for e in denied] == [
        ("admin", "csrf", "POST /api/users"), ("admin", "csrf", "POST /api/users"),
    ]  # fmt: skip
    good = {"X-CSRF-Token": csrf}
    foreign = admin.post("/api/users", json=body, headers=good | {"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    cross = admin.post("/api/users", json=body, headers=good | {"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    no_origin = admin.build_request("POST", "/api/users", json=body, headers=good)
    del no_origin.headers["Origin"]
    assert admin.send(no_origin).status_code == 403
    # A cross-site HTML form can only send form encodings: refused even with a token.
    form = admin.post("/api/users", data={"username": "newbie"}, headers=good)
    assert form.status_code == 415
    assert "newbie" not in [e.username for _, e in env.events("user.created")]
    assert admin.post("/api/users", json=body, headers=good).status_code == 201
    created = [e.username for _, e in env.events("user.created")]
    assert created.count("newbie") == 1
    # Login CSRF: signing a victim into the attacker's account from another site.
    login = env.client(origin=False).post(
        "/api/login", json={"username": "admin", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert login.status_code == 403


def test_websocket_needs_a_session_and_this_origin(env: WebEnv) -> None:
    admin, _ = env.login("admin")
    with pytest.raises(InvalidStatus) as refused:
        env.ws(admin, origin="https://evil.example")  # cross-site WebSocket hijacking
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as anonymous:
        env.ws(None)
    assert anonymous.value.response.status_code == 403
    with env.ws(admin) as sock:
        assert '"hello"' in str(sock.recv(timeout=5))


def test_oversized_and_malformed_inputs_are_refused_with_4xx(env: WebEnv) -> None:
    c = env.client()
    json_type = {"content-type": "application/json"}
    cases = {
        413: [c.post("/api/login", content=b'{"username": "' + b"a" * 70_000 + b'"}', headers=json_type)],
        415: [c.post("/api/login", content=b"username=admin", headers={"content-type": "text/plain"})],
        400: [c.post("/api/login", content=b"{", headers=json_type),
              c.post("/api/login", content=b"\xff\xfe", headers=json_type)],
        422: [c.post("/api/login", json={"username": "admin", "password": "x", "extra": 1}),
              c.post("/api/login", json={"username": "a" * 65, "password": "x"}),
              c.post("/api/login", json={"username": "admin", "password": "p" * 2000}),
              c.post("/api/login", json={"username": 7, "password": "x"}),
              c.post("/api/login", json=["admin", "x"])],
    }  # fmt: skip
    for status, responses in cases.items():
        assert [r.status_code for r in responses] == [status] * len(responses)
    huge_header = c.get("/api/openapi.json", headers={"x-filler": "y" * 70_000})
    assert 400 <= huge_header.status_code < 500
    admin, csrf = env.login("admin")
    assert admin.get("/api/motion?limit=abc").status_code == 400
    assert admin.get("/api/motion?limit=100000").status_code == 400
    assert admin.get("/api/motion?camera=../../etc").status_code == 400
    assert admin.get("/api/audit?since=yesterday").status_code == 400
    bad_cams = {"username": "eve", "role": "viewer", "password": PASSWORD, "cameras": ["../x"]}
    r = admin.post("/api/users", json=bad_cams, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and "camera id" in r.json()["detail"]
    weak = {"username": "eve", "role": "viewer", "password": "short"}
    assert admin.post("/api/users", json=weak, headers={"X-CSRF-Token": csrf}).status_code == 422


def test_thumbnail_urls_never_reach_a_file_the_export_does_not_name(env: WebEnv) -> None:
    admin, _ = env.login("admin")
    thumbs = env.data / "storage" / ".thumbs"
    assert admin.get("/api/cameras/gate/thumbnails/gate-0001.jpg").content == JPEG
    (thumbs / "gate" / "planted.jpg").write_bytes(JPEG)  # on disk, unknown to the export
    (env.data / "secret.jpg").write_bytes(b"secret")
    for url in (
        "/api/cameras/gate/thumbnails/planted.jpg",
        "/api/cameras/gate/thumbnails/..%2F..%2F..%2Fsecret.jpg",
        "/api/cameras/gate/thumbnails/%2e%2e.jpg",
        "/api/cameras/..%2Fgate/thumbnails/gate-0001.jpg",
        "/api/cameras/gate/thumbnails/yard-0001.jpg",  # another camera's id
        "/api/cameras/porch/thumbnails/porch-0001.jpg",  # no thumbnail recorded
    ):
        r = admin.get(url)
        assert r.status_code == 404 and b"secret" not in r.content, url
    # A symlink planted in place of a real thumbnail does not lead out of .thumbs.
    target = thumbs / "yard" / "yard-0001.jpg"
    target.unlink()
    target.symlink_to(env.data / "secret.jpg")
    assert admin.get("/api/cameras/yard/thumbnails/yard-0001.jpg").status_code == 404


def test_api_rate_limit_answers_429_per_address(tmp_path: Path) -> None:
    with running(tmp_path, api_burst=5, api_rate_per_s=0.001) as env:
        c = env.client()
        codes = [c.get("/api/openapi.json").status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
        assert int(c.get("/api/openapi.json").headers["retry-after"]) >= 1
        assert env.client("127.0.0.2").get("/api/openapi.json").status_code == 200


def test_login_attempts_are_throttled_per_address(tmp_path: Path) -> None:
    with running(tmp_path, login_burst=3, login_refill_s=600.0) as env:
        c = env.client("127.0.0.5")
        wrong = {"username": "nobody", "password": "nothing at all"}
        codes = [c.post("/api/login", json=wrong).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        # Throttled attempts are not logged: a flood cannot fill the log.
        assert len(env.events("session.login_failed")) == 3
