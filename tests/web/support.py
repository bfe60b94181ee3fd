"""Helpers for the web tests: sign in as a demo user, post forms with the page's CSRF token."""

from __future__ import annotations

import re

from chain import Chain
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


def search_reporter(client: FlaskClient, name: str):
    """The reporter search as its page sends it: a POST, so the name is in no URL, history or log."""
    return post(client, "/search/", {"reporter": name})


REGISTRATION_FORM = {
    "received_on": "2026-03-02", "channel": "letter", "source": "direct", "urgency": "normal",
    "summary": "某街道城建办主任张某在工程招标中收受施工方礼金", "problem_type": "integrity",
    "accused.0.name": "张某", "accused.0.unit": "某街道城建办", "accused.0.position": "主任",
    "real_name": "true", "real_name_verified": "true", "reporter_name": "李某", "reporter_contact": "13800000000",
}


def register(client: FlaskClient, **changes) -> int:
    """Register an item through the intake page as the signed-in user; returns the case id."""
    response = post(client, "/intake/new", {**REGISTRATION_FORM, **changes}, token_from="/intake/new",
                    content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


SIGN_OFF = ("Task_classify", "Task_propose", "Task_leader_signoff")  # registered → with supervision_1


def work_through(engine, clock, case_id: int, *bpmn_ids: str, **answers) -> Chain:
    """Complete the case's tasks in turn as their usual workers (tests/processes/chain.py); `answers`
    maps a task id to the answers that differ from the defaults."""
    chain = Chain(engine, clock)
    chain.case_id = case_id
    for bpmn_id in bpmn_ids:
        chain.do(bpmn_id, **answers.get(bpmn_id, {}))
    return chain


def signed_in(app, name: str) -> FlaskClient:
    """A new browser session of `name`."""
    client = app.test_client()
    login(client, name)
    return client
