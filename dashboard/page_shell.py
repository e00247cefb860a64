"""The HTML every page but the first starts from: Streamlit's own index.html, told where its server is.

Streamlit's frontend finds its server by trying the page's own path first: opened at /train, it asks
/train/_stcore/health, gets a 404, waits 100 ms and then asks /_stcore/health. A new tab on Train, Runs, Draw,
Inspect or Class paid that (about 0.1 s of a page that opens in under one). The dashboard knows its pages, so
their HTML sets `window.__streamlit.BACKEND_BASE_URL` (the setting Streamlit's frontend reads for apps it does not
serve itself, from the page's own address: a proxy's path prefix is kept) and the frontend connects at once.

`PageShell` is an ASGI middleware in front of Streamlit's own routes (`st.App(..., middleware=...)` in app.py): a
GET of a page's path gets that HTML; everything else, the first page included, goes to Streamlit untouched.
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit

PAGES = ("train", "runs", "draw", "inspect", "class")  # the URL paths of every page but the first (app.py)
INDEX_HTML = Path(streamlit.__file__).resolve().parent / "static" / "index.html"
# The page's own address minus its last part (the page's name): where this server's routes are, behind a proxy too.
SERVER_SCRIPT = ("<script>window.__streamlit = Object.assign({}, window.__streamlit, {BACKEND_BASE_URL: "
                 'location.origin + location.pathname.replace(/\\/+$/, "").replace(/\\/[^\\/]*$/, "") + "/"});'
                 "</script>")


def shell_html(index_html: str) -> str:
    """`index_html` with SERVER_SCRIPT first in its head, before Streamlit's own scripts read the setting.
    ValueError for a page with no <head>."""
    patched, found = re.subn(r"<head>", "<head>\n    " + SERVER_SCRIPT, index_html, count=1, flags=re.IGNORECASE)
    if not found:
        raise ValueError("Streamlit's index.html has no <head>")
    return patched


def page_name(path: str, base_url_path: str) -> str | None:
    """The page a request's path opens ("train" for /train or /<base>/train), or None for any other path: /train/
    too, which Streamlit redirects to /train."""
    prefix = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    if not path.startswith(prefix + "/"):
        return None
    rest = path[len(prefix) + 1:]
    return rest if rest in PAGES else None


class PageShell:
    """ASGI middleware: a GET of one of PAGES gets `shell_html` of Streamlit's index.html; any other request, and
    every request when that file cannot be read or patched, goes on to Streamlit."""

    def __init__(self, app, index_path: Path = INDEX_HTML):
        self.app = app
        self._base_url_path: str | None = None  # read from Streamlit's config at the first request
        try:
            self.html = shell_html(index_path.read_text(encoding="utf-8")).encode()
        except (OSError, UnicodeDecodeError, ValueError):
            self.html = None  # Streamlit's own page, and its 100 ms detour, rather than no page

    async def __call__(self, scope, receive, send) -> None:
        if (self.html is not None and scope["type"] == "http" and scope["method"] == "GET"
                and page_name(scope["path"], self.base_url_path()) is not None):
            from starlette.responses import Response

            # no-cache, as Streamlit serves its index.html: a new Streamlit's page names its new scripts.
            await Response(self.html, media_type="text/html", headers={"Cache-Control": "no-cache"})(
                scope, receive, send)
            return
        await self.app(scope, receive, send)

    def base_url_path(self) -> str:
        """`server.baseUrlPath`, which cannot change while the server runs."""
        if self._base_url_path is None:
            from streamlit import config

            self._base_url_path = config.get_option("server.baseUrlPath") or ""
        return self._base_url_path


def middleware() -> list:
    """The middleware list for `st.App`."""
    from starlette.middleware import Middleware

    return [Middleware(PageShell)]
