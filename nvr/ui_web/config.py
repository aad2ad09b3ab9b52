"""The web UI's settings: where the log, export and footage are, how it listens, and the
limits it enforces. Every field has a safe default except the paths."""

from __future__ import annotations

import msgspec


class WebConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Times are in seconds; sizes in bytes.

    `allowed_origins` empty: a state-changing request must come from the origin the
    request was sent to (scheme, Host header). List the public origins
    (`https://nvr.example:8443`) to pin them, which also defeats DNS rebinding."""

    log_dir: str
    export_path: str
    storage_dir: str
    data_dir: str  # the web UI keeps its TLS certificate and key under DATA/web/
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True
    cert_file: str = ""  # both empty: a self-signed pair made at first start
    key_file: str = ""
    allowed_origins: tuple[str, ...] = ()
    # Sessions
    idle_timeout_s: float = 30 * 60
    absolute_timeout_s: float = 12 * 3600
    sweep_s: float = 30.0  # how often sessions past a timeout are logged out
    view_log_window_s: float = 60.0  # one `web.viewed` per session and resource per window
    # Login throttling: failures within the window lock the key until the window passes
    lockout_window_s: float = 15 * 60
    lockout_pair: int = 5  # one account from one address
    lockout_addr: int = 20  # one address, any account
    lockout_account: int = 100  # one account, any address (slows distributed guessing)
    login_burst: int = 10  # login and setup attempts per address, then one per login_refill_s
    login_refill_s: float = 6.0
    # API rate limit per client address (token bucket)
    api_burst: int = 200
    api_rate_per_s: float = 50.0
    max_body_bytes: int = 64 * 1024
    # argon2id cost of new password hashes (verification reads the cost from the hash)
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    log_deadline_s: float = 5.0  # an append that waits longer answers 503


class WebJob(WebConfig, frozen=True, kw_only=True):
    """What the supervisor hands the web process (`web_main`), encoded as JSON."""

    text_log_dir: str = ""
