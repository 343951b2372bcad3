"""The web console's static files (`console/`, built by `make install` with Vite) at /console/.

Any path under /console/ that is not a built file answers the app's index.html, so the
console's own routes (/console/agents/3/test) survive a reload. `/` sends a browser there. When
the console was never built, /console/ says how to build it instead of a bare 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from core.settings import Settings

router = APIRouter(include_in_schema=False)

PREFIX: Final = "/console"
NOT_BUILT: Final = (
    "<!doctype html><html lang='en'><title>Callwright console</title><body>"
    "<h1>The console is not built</h1><p>Run <code>make install</code> (it runs "
    "<code>npm ci &amp;&amp; npm run build</code> in <code>console/</code>), or set "
    "<code>CONSOLE_DIR</code> to a folder with the built files.</p></body></html>"
)
# Hashed asset names never change content: a browser may keep them. index.html must be fresh.
_IMMUTABLE: Final = {"Cache-Control": "public, max-age=31536000, immutable"}
_FRESH: Final = {"Cache-Control": "no-cache"}


def console_dir(settings: Settings) -> Path:
    """Where the built console lies: CONSOLE_DIR, or `console/dist` beside the source tree."""
    if settings.console_dir:
        return Path(settings.console_dir)
    return Path(__file__).resolve().parent.parent / "console" / "dist"


@router.get("/")
async def root() -> RedirectResponse:
    """A person who opens the API's address lands in the console."""
    return RedirectResponse(f"{PREFIX}/")


@router.get(PREFIX)
@router.get(PREFIX + "/{path:path}")
async def console(request: Request, path: str = "") -> Response:
    """A built file, or index.html for the console's own routes."""
    folder = console_dir(request.app.state.settings).resolve()
    index = folder / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503)
    if path:
        if "\x00" in path:
            raise HTTPException(404, "not found")  # no file has such a name (resolve() raises)
        wanted = (folder / path).resolve()
        if not wanted.is_relative_to(folder):
            raise HTTPException(404, "not found")
        if wanted.is_file():
            headers = _IMMUTABLE if wanted.parent.name == "assets" else _FRESH
            return FileResponse(wanted, headers=headers)
        if path.startswith("assets/"):
            raise HTTPException(404, "not found")  # a missing asset is not a console route
    return FileResponse(index, headers=_FRESH)
