"""Helpers for the web tests: sign in as a demo user, post forms with the page's CSRF token."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

DEMO_PASSWORD = "xinfang-demo"
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page) or re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, name: str, password: str = DEMO_PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def post(client: FlaskClient, path: str, data: dict | None = None, token_from: str = "/tasks/", **kwargs):
    """POST with a valid CSRF token taken from a page of the signed-in session."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_from)}, **kwargs)
