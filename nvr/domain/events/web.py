"""What remote users did through the web UI: views, refusals, and the one-time setup token.

Views and refusals live in the browser session's stream `ui/<ui_session>`, where
`ui_session` is `web-` plus the first 16 hex digits of the session hash (the session
token itself is never logged). Setup tokens live in `system/web`, as hashes only.
"""

from __future__ import annotations

from nvr.domain.events.base import Event


class ResourceViewed(Event, tag="web.viewed", frozen=True, kw_only=True):
    """`username` looked at `resource` (a method and route, e.g. `GET /api/cameras`).

    Repeated views of one resource by one session within a short window are logged once."""

    ui_session: str
    username: str
    resource: str
    client_addr: str
    camera_id: str | None = None
    subject_id: str = ""  # a segment or motion id, when the resource is one of its files


class AccessDenied(Event, tag="web.access_denied", frozen=True, kw_only=True):
    """A signed-in user was refused. `reason`: role (the role lacks the action), camera
    (the camera is not in the user's list), csrf (missing or wrong token)."""

    ui_session: str
    username: str
    resource: str
    client_addr: str
    reason: str
    camera_id: str | None = None


class SetupTokenIssued(Event, tag="web.setup_token_issued", frozen=True, kw_only=True):
    """No account existed, so the web UI printed a one-time token to create the first admin."""

    token_hash: str


class SetupTokenUsed(Event, tag="web.setup_token_used", frozen=True, kw_only=True):
    """The setup token created the first admin `username` (logged with its `user.created`)."""

    token_hash: str
    username: str
    client_addr: str


class ClipExported(Event, tag="web.clip_exported", frozen=True, kw_only=True):
    """A user downloaded footage of `camera_id` from `start_ns` to `end_ns` as one file;
    `reason` is what they gave for it."""

    ui_session: str
    username: str
    camera_id: str
    start_ns: int
    end_ns: int
    reason: str
    client_addr: str
    bytes: int
