"""The OpenAPI 3.1 description of the JSON API, served at `/api/openapi.json`.

Operations are listed here once, with the action each needs; body schemas come from
the Structs in `schemas.py`, so the description cannot drift from what is decoded."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from nvr.ui_web import schemas as s


class Op(NamedTuple):
    method: str
    path: str
    summary: str
    action: str | None  # None: no session needed
    request: type | None = None
    response: Any = None  # a Struct, list[Struct], "jpeg", "mp4", or None (204)
    status: int = 200
    query: tuple[str, ...] = ()


OPERATIONS: tuple[Op, ...] = (
    Op("POST", "/api/login", "Sign in; sets the session cookie", None, s.LoginIn, s.LoginOut),
    Op("POST", "/api/logout", "Sign out; ends the session", None, None, None, 204),
    Op("GET", "/api/me", "The caller's account, rights and CSRF token", "dashboard.view", None, s.MeOut),
    Op("POST", "/api/me/password", "Change one's own password (ends every session)",
       "dashboard.view", s.PasswordIn, None, 204),
    Op("GET", "/api/setup", "Whether the first admin still has to be created", None, None, s.SetupOut),
    Op("POST", "/api/setup", "Create the first admin with the setup token", None, s.SetupIn,
       s.UserOut, 201),
    Op("GET", "/api/cameras", "Cameras the caller may see, with status", "live.view", None,
       list[s.CameraOut]),
    Op("GET", "/api/cameras/{camera_id}", "One camera's status", "live.view", None, s.CameraOut),
    Op("GET", "/api/cameras/{camera_id}/thumbnails/{subject_id}.jpg",
       "A segment's or motion's thumbnail", "live.view", None, "jpeg"),
    Op("GET", "/api/cameras/{camera_id}/video.mp4",
       "Footage of a range as one MP4 (remuxed; HTTP Range for seeking)", "playback.view", None,
       "mp4", query=("start", "end")),
    Op("GET", "/api/cameras/{camera_id}/clip.mp4",
       "Download a range as one MP4; recorded with its reason", "export.create", None, "mp4",
       query=("start", "end", "reason")),
    Op("GET", "/api/motion", "Recent motion, newest first", "playback.view", None,
       list[s.MotionOut], query=("camera", "limit")),
    Op("GET", "/api/storage", "Space used per camera and volume levels", "system.view", None,
       s.StorageOut),
    Op("GET", "/api/health", "System health", "system.view", None, s.HealthOut),
    Op("GET", "/api/audit", "The audit trail, newest first", "audit.view", None,
       list[s.AuditOut], query=("actor", "camera", "since", "until", "before", "limit")),
    Op("GET", "/api/users", "Every account", "users.manage", None, list[s.UserOut]),
    Op("POST", "/api/users", "Create an account", "users.manage", s.UserIn, s.UserOut, 201),
    Op("GET", "/api/users/{username}", "One account", "users.manage", None, s.UserOut),
    Op("PATCH", "/api/users/{username}", "Change an account's role or password",
       "users.manage", s.UserPatch, s.UserOut),
    Op("POST", "/api/users/{username}/disable", "Disable an account (ends its sessions)",
       "users.manage", s.DisableIn, s.UserOut),
    Op("GET", "/api/openapi.json", "This description", None, None, "json"),
)  # fmt: skip

_ERRORS = {"400": "Malformed", "401": "Not signed in", "403": "Forbidden (role, CSRF, Origin)",
           "404": "Not found, or a camera outside the caller's list", "413": "Body too large",
           "415": "Body is not JSON", "422": "Body does not fit the schema",
           "429": "Rate limited or locked out"}  # fmt: skip


def _content(tp: Any, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    if tp in ("jpeg", "mp4"):
        kind = "image/jpeg" if tp == "jpeg" else "video/mp4"
        return {kind: {"schema": {"type": "string", "format": "binary"}}}
    if tp == "json":
        return {"application/json": {"schema": {"type": "object"}}}
    return {"application/json": {"schema": refs[tp]}}


def build() -> dict[str, Any]:
    kinds = [t for op in OPERATIONS for t in (op.request, op.response)
             if t is not None and not isinstance(t, str)]  # fmt: skip
    kinds.append(s.ErrorOut)
    found, components = msgspec.json.schema_components(
        kinds, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip(kinds, found, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        item: dict[str, Any] = {"summary": op.summary, "x-vigil-action": op.action}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in ("camera_id", "subject_id", "username") if "{" + n + "}" in op.path]  # fmt: skip
        params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                   for q in op.query]  # fmt: skip
        if params:
            item["parameters"] = params
        if op.request is not None:
            item["requestBody"] = {"required": True, "content": _content(op.request, refs)}
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = _content(op.response, refs)
        error = {"description": "Error", "content": _content(s.ErrorOut, refs)}
        item["responses"] = {str(op.status): ok} | {
            code: error | {"description": text} for code, text in _ERRORS.items()
        }
        if op.action is not None:
            item["security"] = [{"session": []}]
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil",
            "version": "1",
            "description": "State-changing requests need Origin and, when signed in, "
            "X-CSRF-Token (from /api/me or /api/login).",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-vigil-session"}
            },
        },
    }


_SPEC = msgspec.json.encode(build())


async def openapi(request: Request) -> Response:
    return Response(_SPEC, media_type="application/json")


routes: list[BaseRoute] = [Route("/api/openapi.json", openapi, methods=["GET"])]
