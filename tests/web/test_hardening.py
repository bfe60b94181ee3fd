"""Security headers and no caching, no inline script, wild numbers in URLs, npm and static files only
from their lists, clean upload names, and the reporter search kept out of URLs."""

from __future__ import annotations

import json
import re
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from support import REGISTRATION_FORM, csrf_token, login, post, register

from engine.reads.attachments import clean_filename
from engine.secrets import vault
from engine.store.models import Attachment, Event

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
WILD_NUMBERS = ["99999999999999999999999", "2147483648", "-1", "abc", "1.5", "０", "²", "0x10"]


def _signed_in(app, name: str = "xf_wang"):
    client = app.test_client()
    login(client, name)
    return client


# ---- headers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/tasks/", "/no-such-page", "/static/app.css", "/assets/htmx.min.js"])
def test_every_response_carries_the_security_headers(app, path):
    response = _signed_in(app).get(path)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("no-referrer", "same-origin")


def test_pages_are_never_cached_but_shared_files_may_be(app, engine):
    client = _signed_in(app)
    case_id = register(client)
    for path in ("/login", "/tasks/", f"/cases/{case_id}", f"/cases/{case_id}/slip", "/search/", "/notices/"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")
    assert "no-store" not in client.get("/assets/htmx.min.js").headers.get("Cache-Control", "")


def test_templates_hold_no_inline_script_or_event_handlers():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not inline_script.search(text), template
        assert not handler.search(text), template
        assert "javascript:" not in text.lower(), template


# ---- numbers in URLs --------------------------------------------------------------------------------------


def _int_routes(app) -> list[str]:
    routes = []
    for rule in app.url_map.iter_rules():
        if any(type(converter).__name__ == "BoundedInt" for converter in rule._converters.values()):
            routes.append(re.sub(r"<int:[a-z_]+>", "{}", rule.rule))
    return routes


@pytest.mark.parametrize("number", WILD_NUMBERS)
def test_wild_ids_in_every_route_are_404(app, number):
    client = _signed_in(app, "xf_chen")
    routes = _int_routes(app)
    assert len(routes) >= 5
    for route in routes:
        response = client.get(route.format(number))
        assert response.status_code in (404, 405), (route, number, response.status_code)


@pytest.mark.parametrize("number", WILD_NUMBERS + ["0", "1001", "99999"])
def test_wild_page_numbers_are_404(app, number):
    client = _signed_in(app, "xf_chen")
    for path in (f"/tasks/?page={number}", f"/search/?text=x&page={number}"):
        assert client.get(path).status_code == 404, path
    response = post(client, "/search/", {"text": "x", "page": number}, token_from="/search/")
    assert response.status_code == 404


def test_wild_notice_ids_are_ignored(app):
    client = _signed_in(app)
    response = post(client, "/notices/read", {"id": ["99999999999999999999", "-3", "²", "12"]},
                    token_from="/notices/")
    assert response.status_code == 302


# ---- npm and static files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/assets/../package.json", "/assets/%2e%2e/package.json", "/assets/..%2fpackage.json",
    "/assets/bpmn-font/font/../../../../../htmx.org/package.json",
    "/assets/bpmn-font/font/..%2f..%2f..%2f..%2f..%2fhtmx.org%2fpackage.json",
    "/assets/bpmn-font/font/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/htmx.org/package.json",
    "/assets/htmx.org/package.json", "/assets/htmx.min.js/../htmx.min.js", "/assets/bpmn-font/font/bpmn.exe",
    "/assets/%252e%252e/package.json", "/assets/..\\package.json",
    "/static/../__init__.py", "/static/%2e%2e/__init__.py", "/static/..%2f__init__.py",
    "/static/..%5c__init__.py",
])
def test_no_path_leaves_the_lists(client, path):
    assert client.get(path).status_code == 404, path


def test_the_diagram_font_is_served(client):
    for ext in ("woff2", "woff", "ttf", "eot", "svg"):
        assert client.get(f"/assets/bpmn-font/font/bpmn.{ext}").status_code == 200, ext


# ---- uploads ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "stored"), [
    ("../../etc/来信原件.pdf", "来信原件.pdf"),
    ("/home/wang/扫描件.pdf", "扫描件.pdf"),
    ("bad\tname\x1b.pdf", "badname.pdf"),
    ("\u202efdp.exe.pdf", "fdp.exe.pdf"),
])
def test_upload_names_lose_paths_and_control_characters(client, engine, sent, stored):
    login(client, "xf_wang")
    response = post(client, "/intake/new", {**REGISTRATION_FORM, "attachments": (BytesIO(b"%PDF-1.4"), sent)},
                    token_from="/intake/new", content_type="multipart/form-data")
    assert response.status_code == 302
    with engine.db.read() as session:
        assert session.scalars(sa.select(Attachment.filename)).one() == stored


def test_windows_paths_and_empty_names():
    # the test client's multipart encoder eats backslashes, so this one is checked directly
    assert clean_filename("C:\\Users\\wang\\扫描件.pdf") == "扫描件.pdf"
    assert clean_filename(" ../.. ") == "附件"
    assert clean_filename("bad\r\nname\x00\u2028.pdf") == "badname.pdf"
    assert clean_filename("举报\u3000材料.docx") == "举报 材料.docx"
    assert len(clean_filename("长" * 300 + ".pdf")) == 200 and clean_filename("长" * 300 + ".pdf").endswith(".pdf")


# ---- the reporter search ----------------------------------------------------------------------------------


def test_the_reporter_is_searched_by_post_only(app, engine):
    client = _signed_in(app)
    register(client)
    assert client.get("/search/?reporter=李某").status_code == 400
    page = client.get("/search/").get_data(as_text=True)
    assert '<form method="post" action="/search/"' in page
    response = client.post("/search/", data={"reporter": "李某", "csrf_token": csrf_token(client, "/search/")})
    assert response.status_code == 200
    assert "XF-2026-000001" in response.get_data(as_text=True)
    with engine.db.read() as session:
        searched = session.scalars(sa.select(Event.payload).where(Event.kind == "reporter searched")).all()
    # the event names the search by its blind-index token, never by the name (engine/secrets/vault.py)
    assert [json.loads(payload)["reporter_token"] for payload in searched] == [
        vault.search_digest(engine.keyring, "李某")]
    assert all("李某" not in payload for payload in searched)
    assert client.post("/search/", data={"reporter": "李某"}).status_code == 400  # CSRF as every form


def test_search_pages_are_posted_with_the_criteria(app, monkeypatch):
    monkeypatch.setattr("web.search.PAGE_SIZE", 2)
    client = _signed_in(app)
    for _ in range(3):
        register(client)
    token = csrf_token(client, "/search/")
    first = client.post("/search/", data={"reporter": "李某", "csrf_token": token}).get_data(as_text=True)
    pager = first[first.index('class="pager"'):]
    assert 'name="reporter" value="李某"' in pager and 'name="page" value="2"' in pager
    assert "reporter=" not in pager  # no link carries it
    second = client.post("/search/", data={"reporter": "李某", "page": "2", "csrf_token": token})
    assert "第 2 页" in second.get_data(as_text=True)
