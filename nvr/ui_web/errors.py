"""Generic error answers: a status and a fixed phrase, never a trace, a path or input.

JSON under `/api/`, a small HTML page elsewhere. Details go to the process's log with a
reference the page shows, so an operator can find them."""

from __future__ import annotations

from http import HTTPStatus

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{code} {phrase} - Vigil</title><link rel="stylesheet" href="/static/style.css"></head>
<body class="error-page"><main><h1>{code}</h1><p>{phrase}</p>{ref}<p><a href="/">Vigil</a></p>
</main></body></html>
"""


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(
    path: str, status: int, *, ref: str = "", headers: dict[str, str] | None = None
) -> Response:
    if path.startswith("/api/") or path == "/api":
        body: dict[str, str] = {"error": phrase(status)}
        if ref:
            body["ref"] = ref
        return Response(
            msgspec.json.encode(body), status, headers=headers, media_type="application/json"
        )
    ref_html = f"<p>Reference: {ref}</p>" if ref else ""
    page = _PAGE.format(code=status, phrase=phrase(status), ref=ref_html)
    return HTMLResponse(page, status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's handler for HTTPException: the generic answer, keeping its headers
    (WWW-Authenticate, Retry-After, Allow)."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request.url.path, exc.status_code, headers=headers)
