"""Signing in and out of the web UI over real TLS: the session cookie, session fixation
and reuse after logout, idle and absolute timeouts, lockout by account and address,
sessions ended by a password change or a disable, and the one-time setup token."""

from __future__ import annotations

import hashlib
from pathlib import Path

from nvr.ui_web.sessions import COOKIE, new_token
from tests.test_web_env import PASSWORD, S, running, wait_until


def session_token(set_cookie: str) -> str:
    name, _, rest = set_cookie.partition("=")
    assert name == COOKIE
    return rest.split(";")[0]


def test_login_cookie_is_host_only_secure_httponly_strict_and_only_its_hash_is_logged(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as env:
        r = env.client().post("/api/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        attrs = [a.strip() for a in cookie.split(";")[1:]]
        assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} <= set(attrs)
        assert not any(a.lower().startswith("domain") for a in attrs)  # __Host-: host only
        assert r.headers["strict-transport-security"].startswith("max-age=")
        token = session_token(cookie)
        assert len(token) == 43  # 256 random bits, base64url
        [(_, event)] = env.events("session.login_succeeded")
        assert event.session_hash == hashlib.sha256(token.encode()).hexdigest()
        assert all(token.encode() not in bytes(e.payload) for e in env.log.read())


def test_failed_logins_answer_alike_and_never_log_an_unknown_name(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        c = env.client()
        bad = c.post("/api/login", json={"username": "admin", "password": "wrong password"})
        unknown = c.post("/api/login", json={"username": "hunter2", "password": PASSWORD})
        assert bad.status_code == unknown.status_code == 401
        assert bad.content == unknown.content and "set-cookie" not in bad.headers
        got = [
            (env_.stream, e.username, e.reason) for env_, e in env.events("session.login_failed")
        ]
        assert got == [("user/admin", "admin", "bad password"), ("system/web", "", "unknown user")]


def test_session_fixation_and_reuse_after_logout_fail(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        c = env.client()
        planted = {"Cookie": f"{COOKIE}={new_token()}"}  # an attacker's chosen session id
        assert c.get("/api/me", headers=planted).status_code == 401
        r = c.post("/api/login", json={"username": "viewer", "password": PASSWORD}, headers=planted)
        token = session_token(r.headers["set-cookie"])
        assert f"{COOKIE}={token}" != planted["Cookie"]
        c.cookies.clear()
        assert c.get("/api/me", headers=planted).status_code == 401  # never adopted
        mine = {"Cookie": f"{COOKIE}={token}"}
        me = c.get("/api/me", headers=mine)
        assert me.status_code == 200
        out = c.post("/api/logout", headers=mine | {"X-CSRF-Token": me.json()["csrf"]})
        assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]
        assert c.get("/api/me", headers=mine).status_code == 401  # reuse after logout
        [(_, ended)] = env.events("session.logged_out")
        assert ended.reason == "logout" and ended.username == "viewer"


def test_idle_timeout_ends_a_session(tmp_path: Path) -> None:
    with running(tmp_path, idle_timeout_s=1800.0) as env:
        idle, _ = env.login("viewer")
        env.clock.advance(1860 * S)
        assert idle.get("/api/me").status_code == 401
        [(_, ended)] = env.events("session.logged_out")
        assert ended.reason == "idle-timeout"


def test_absolute_timeout_ends_a_busy_session(tmp_path: Path) -> None:
    with running(tmp_path, idle_timeout_s=1800.0, absolute_timeout_s=3600.0) as env:
        busy, _ = env.login("viewer")
        statuses = []
        for _ in range(4):  # active every 1000 s: never idle, but past the absolute limit
            env.clock.advance(1000 * S)
            statuses.append(busy.get("/api/me").status_code)
        assert statuses == [200, 200, 200, 401]
        [(_, ended)] = env.events("session.logged_out")
        assert ended.reason == "absolute-timeout"


def test_sweeper_logs_out_sessions_whose_browser_never_returns(tmp_path: Path) -> None:
    with running(tmp_path, sweep_s=0.05) as env:
        env.login("viewer")
        env.clock.advance(3600 * S)
        wait_until(lambda: env.events("session.logged_out"))
        [(envelope, ended)] = env.events("session.logged_out")
        assert ended.reason == "idle-timeout" and envelope.actor == "web"


def test_lockout_is_keyed_by_account_and_address(tmp_path: Path) -> None:
    with running(tmp_path, lockout_pair=3, lockout_addr=6) as env:
        attacker = env.client("127.0.0.2")
        wrong = {"username": "oper", "password": "not the password"}
        right = {"username": "oper", "password": PASSWORD}
        assert [attacker.post("/api/login", json=wrong).status_code for _ in range(3)] == [401] * 3
        locked = attacker.post("/api/login", json=right)  # even the right password
        assert locked.status_code == 429 and "retry-after" in locked.headers
        assert env.events("session.login_failed")[-1][1].reason == "locked"
        # The same account from another address is not locked (pair threshold only).
        assert env.client("127.0.0.3").post("/api/login", json=right).status_code == 200
        # Many accounts tried from one address lock that address.
        sprayer = env.client("127.0.0.4")
        for name in ("a1", "a2", "a3", "a4", "a5", "a6"):
            sprayer.post("/api/login", json={"username": name, "password": PASSWORD})
        viewer = {"username": "viewer", "password": PASSWORD}
        assert sprayer.post("/api/login", json=viewer).status_code == 429
        env.clock.advance(16 * 60 * S)  # past the window
        assert attacker.post("/api/login", json=right).status_code == 200
        assert sprayer.post("/api/login", json=viewer).status_code == 200


def test_password_change_and_disable_end_every_session(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        one, csrf = env.login("viewer")
        two, _ = env.login("viewer")
        new = "another long password"
        refused = one.post("/api/me/password", json={"current": "guess", "new": new},
                           headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert refused.status_code == 403
        done = one.post("/api/me/password", json={"current": PASSWORD, "new": new},
                        headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert done.status_code == 204
        assert one.get("/api/me").status_code == two.get("/api/me").status_code == 401
        reasons = [e.reason for _, e in env.events("session.logged_out")]
        assert reasons == ["password-changed", "password-changed"]
        c = env.client()
        assert (
            c.post("/api/login", json={"username": "viewer", "password": PASSWORD}).status_code
            == 401
        )
        assert c.post("/api/login", json={"username": "viewer", "password": new}).status_code == 200
        # An admin disables an account: its open session ends at once.
        oper, _ = env.login("oper")
        admin, admin_csrf = env.login("admin")
        r = admin.post("/api/users/oper/disable", json={"reason": "left"},
                       headers={"X-CSRF-Token": admin_csrf})  # fmt: skip
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert oper.get("/api/me").status_code == 401
        again = env.client().post("/api/login", json={"username": "oper", "password": PASSWORD})
        assert again.status_code == 401
        assert env.events("session.login_failed")[-1][1].reason == "disabled"


def test_setup_token_creates_the_first_admin_once(tmp_path: Path) -> None:
    with running(tmp_path, users=False) as env:
        [token] = env.tokens
        c = env.client()
        assert c.get("/api/setup").json() == {"needed": True}
        body = {"token": token, "username": "root", "password": PASSWORD}
        assert c.post("/api/setup", json=body | {"token": "wrong"}).status_code == 403
        assert c.post("/api/setup", json=body | {"username": "Root Admin"}).status_code == 422
        assert c.post("/api/setup", json=body).status_code == 201
        assert c.post("/api/setup", json=body).status_code == 404  # one time only
        assert c.get("/api/setup").json() == {"needed": False}
        [(_, issued)] = env.events("web.setup_token_issued")
        assert issued.token_hash == hashlib.sha256(token.encode()).hexdigest()
        [(_, used)] = env.events("web.setup_token_used")
        [(created_env, created)] = env.events("user.created")
        assert used.username == created.username == "root" and created.role == "admin"
        assert created_env.actor == "web/setup" and created.cameras is None
        env.login("root")


def test_no_setup_token_when_an_account_exists(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        assert env.tokens == []
        assert env.client().get("/api/setup").json() == {"needed": False}
