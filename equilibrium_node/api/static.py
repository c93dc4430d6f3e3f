"""The pages: ``GET /`` (live heatmap), ``GET /analytics`` (zone analytics) and the files of ``web/`` (or its
built ``dist/``), served by the node itself."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .endpoint import ApiPart, Endpoint

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"


def web_dir(root: Path = WEB_ROOT) -> Path:
    """The directory to serve: ``web/dist`` when a build exists, else ``web/``."""
    dist = root / "dist"
    return dist if (dist / "index.html").is_file() else root


class StaticApi(ApiPart):
    """Serves the page and its assets; no directory listing, no path escapes."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or web_dir()).resolve()

    async def index(self, _request: web.Request) -> web.StreamResponse:
        """The page."""
        index = self.root / "index.html"
        if not index.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def analytics(self, _request: web.Request) -> web.StreamResponse:
        """The analytics page: one self-contained file (plain JS, no build step), from the web root or ``web/``."""
        for page in (self.root / "analytics.html", WEB_ROOT / "analytics.html"):
            if page.is_file():
                return web.FileResponse(page, headers={"Cache-Control": "no-cache"})
        raise web.HTTPNotFound()

    async def asset(self, request: web.Request) -> web.StreamResponse:
        """A file under the web root."""
        rel = request.match_info["path"]
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file() or path.name.startswith("."):
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})  # small files: always revalidate

    def endpoints(self) -> list[Endpoint]:
        """``GET /``, ``GET /analytics`` and ``GET /static/{path}``."""
        html = {"type": "string"}
        return [
            Endpoint("GET", "/", self.index, "The live heatmap page.", tags=("page",), content_type="text/html",
                     responses={200: (html, "HTML page.")}),
            Endpoint("GET", "/analytics", self.analytics, "The zone analytics page (admin token entered in the page).",
                     tags=("page",), content_type="text/html", responses={200: (html, "HTML page.")}),
            Endpoint("GET", "/static/{path:.+}", self.asset, "Assets of the page.", tags=("page",),
                     content_type="application/octet-stream", responses={200: (html, "A file.")}),
        ]
