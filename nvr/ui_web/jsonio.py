"""Reading request bodies into typed Structs and writing JSON answers with msgspec."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

T = TypeVar("T")
_encoder = msgspec.json.Encoder()


async def read_json(request: Request, kind: type[T]) -> T:
    """The body as `kind`: 415 unless it is JSON, 400 if it does not parse, 422 if it
    does not fit (unknown field, wrong type, too long). The size limit (413) is the
    app's `max_body_size`, checked while the body is read."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise HTTPException(415)
    body = await request.body()
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError:
        raise HTTPException(422) from None
    except msgspec.DecodeError:
        raise HTTPException(400) from None


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(obj), status, headers=headers, media_type="application/json")
