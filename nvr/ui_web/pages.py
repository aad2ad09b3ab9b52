"""The HTML pages and their assets, all served by Vigil itself from `static/`.

Assets are read once at start into memory from a fixed list, so no part of a URL
ever becomes a file path. Pages hold no inline script or style (the CSP forbids both):
they load `/static/*.js`, which fetch the JSON API."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from nvr.ui_web.guard import current, viewed
from nvr.ui_web.state import web_of

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/manifest+json",
}
ASSETS = (
    "style.css",
    "common.js",
    "dashboard.js",
    "login.js",
    "live.js",
    "icon.svg",
    "manifest.json",
)
PAGES = ("dashboard.html", "login.html", "live.html")


def _load(names: tuple[str, ...]) -> dict[str, tuple[bytes, str]]:
    return {n: ((STATIC / n).read_bytes(), TYPES[Path(n).suffix]) for n in names}


_assets = _load(ASSETS)
_pages = _load(PAGES)


def page(name: str) -> Response:
    body, media = _pages[name]
    return Response(body, media_type=media)


async def dashboard(request: Request) -> Response:
    caller = await current(request)
    if caller is None:
        return RedirectResponse("/login", 303)
    await viewed(web_of(request), caller, "GET /", None)
    return page("dashboard.html")


async def live_page(request: Request) -> Response:
    caller = await current(request)
    if caller is None:
        return RedirectResponse("/login", 303)
    await viewed(web_of(request), caller, "GET /live", None)
    return page("live.html")


async def login_page(request: Request) -> Response:
    if await current(request) is not None:
        return RedirectResponse("/", 303)
    return page("login.html")


async def asset(request: Request) -> Response:
    found = _assets.get(request.path_params["name"])
    if found is None:
        raise HTTPException(404)
    body, media = found
    return Response(body, media_type=media, headers={"cache-control": "no-cache"})


routes: list[BaseRoute] = [
    Route("/", dashboard, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/live", live_page, methods=["GET"]),
    Route("/static/{name}", asset, methods=["GET"]),
]
