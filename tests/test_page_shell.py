"""The page shell (dashboard/page_shell.py): the HTML of every page but the first tells Streamlit's frontend where its
server is, so that it connects without first trying the page's own path. Its end-to-end check (no request to
/runs/_stcore/..., the page drawn) is in test_browser_page_load.py."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard import page_shell
from dashboard.page_shell import PAGES, PageShell, page_name, shell_html

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def test_the_setting_comes_first_in_the_head_before_streamlit_s_scripts():
    html = shell_html(page_shell.INDEX_HTML.read_text())
    head = html[html.index("<head>"):html.index("</head>")]
    assert head.index("BACKEND_BASE_URL") < head.index('<script type="module"')
    assert html.count(page_shell.SERVER_SCRIPT) == 1
    assert html.replace("\n    " + page_shell.SERVER_SCRIPT, "") == page_shell.INDEX_HTML.read_text()


def test_a_page_without_a_head_is_refused():
    with pytest.raises(ValueError, match="no <head>"):
        shell_html("<html><body></body></html>")


@pytest.mark.parametrize(("path", "base", "page"), [
    ("/train", "", "train"), ("/runs/", "", None), ("/class", "", "class"),
    ("/mnist/draw", "mnist", "draw"), ("/mnist/draw", "/mnist/", "draw"), ("/a/b/inspect", "a/b", "inspect"),
    ("/", "", None), ("", "", None), ("/lab", "", None), ("/Train", "", None), ("/trainx", "", None),
    ("/train/_stcore/health", "", None), ("/static/js/index.js", "", None), ("/app/static/train", "", None),
    ("/mnist/draw", "", None), ("/draw", "mnist", None), ("/mnistx/draw", "mnist", None),
])
def test_only_a_page_s_own_path_is_a_page(path, base, page):
    assert page_name(path, base) == page


@given(st.text(alphabet="/abcdeinrstwuxl_.", max_size=30), st.sampled_from(["", "mnist", "/x/y/"]))
def test_any_path_is_a_page_only_when_it_ends_with_that_page_s_name(path, base):
    page = page_name(path, base)
    assert page is None or (page in PAGES and path.endswith("/" + page))


def test_every_page_of_the_app_but_the_first_is_served_with_the_shell():
    """app.py's pages, read from its source: the default page is served by Streamlit, every other by the shell."""
    url_paths, defaults = set(), 0
    for node in ast.walk(ast.parse(APP.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page":
            keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
            if keywords.get("default"):
                defaults += 1
            else:
                url_paths.add(keywords.get("url_path"))
    assert defaults == 1
    assert url_paths == set(PAGES)


def _request(middleware: PageShell, path: str, method: str = "GET") -> tuple[int, dict, bytes, list]:
    """One request through `middleware`; what the app behind it saw, and the response."""
    passed, sent = [], []

    async def app(scope, receive, send):
        passed.append(scope["path"])
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"streamlit"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    middleware.app = app
    asyncio.run(middleware(scope, receive, send))
    headers = {key.decode(): value.decode() for key, value in sent[0].get("headers", [])}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:]), passed


def test_the_middleware_answers_a_page_and_passes_everything_else_on(tmp_path):
    index = tmp_path / "index.html"
    index.write_text("<html><head><title>Streamlit</title></head><body></body></html>")
    shell = PageShell(None, index_path=index)
    status, headers, body, passed = _request(shell, "/inspect")
    assert (status, passed) == (200, [])
    assert headers["content-type"].startswith("text/html") and headers["cache-control"] == "no-cache"
    assert body.decode() == shell_html(index.read_text())
    for path, method in [("/", "GET"), ("/_stcore/health", "GET"), ("/inspect", "POST"), ("/media/x.png", "GET")]:
        assert _request(shell, path, method)[3] == [path]


def test_without_a_readable_index_everything_goes_to_streamlit(tmp_path):
    for index in (tmp_path / "missing.html", tmp_path / "headless.html"):
        if index.name == "headless.html":
            index.write_text("<html><body></body></html>")
        shell = PageShell(None, index_path=index)
        assert shell.html is None
        assert _request(shell, "/train")[3] == ["/train"]


def test_streamlit_run_serves_app_py_through_st_app_with_the_shell():
    """`streamlit run dashboard/app.py` finds `app = st.App(...)` (read from the source, as Streamlit reads it)."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(APP)
    assert found.is_asgi_app and found.import_string == "app:app"
    assert "middleware=page_shell.middleware()" in APP.read_text()
    assert [entry.cls for entry in page_shell.middleware()] == [PageShell]
