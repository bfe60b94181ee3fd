"""Browser fixtures: the real app served over HTTP on a free port, driven by Debian's Chromium (headless)
through Playwright, as the office's staff would use it.

The engine runs over the root `database` fixture (SQLite and PostgreSQL) with the demo organisation and
the processes/ diagrams deployed, on a fake clock the test can move to walk deadlines. One browser for
the whole session; a fresh browser context (cookies, storage) for every sign-in.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "processes"))

from chain import seed_staff  # noqa: E402
from office import Office  # noqa: E402

from web import create_app  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def engine(database, clock) -> Engine:
    """The engine on the root fixtures' database and fake clock (Mon 2 March 2026, 09:00), with the demo
    organisation and the processes/ diagrams deployed; the tests move the clock to walk deadlines."""
    engine = Engine(database, clock=clock)
    seed_staff(engine)
    return engine


@pytest.fixture
def live_server(engine) -> Iterator[str]:
    """The app on 127.0.0.1:<free port> in a daemon thread; its base URL."""
    app = create_app({"TESTING": True, "SECRET_KEY": "browser-tests", "SESSION_COOKIE_SECURE": False},
                     engine=engine)
    server = make_server("127.0.0.1", 0, app, threaded=True)  # port 0: the OS picks a free one
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session. Debian's build: Playwright may not download browsers here.

    Under CI=true a missing Chromium fails the run (the Makefile installs it); elsewhere the browser tests
    are skipped with the reason.
    """
    if not CHROMIUM.exists():
        message = f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts(database) -> Path:
    """Where screenshots go: tests/artifacts/ for SQLite, a sub-folder per other database (not committed)."""
    folder = ARTIFACTS if database.dialect == "sqlite" else ARTIFACTS / database.dialect
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def office(browser, live_server, engine, artifacts) -> Iterator[Office]:
    """The office seen through the browser: sign in as any demo user, work tasks, take screenshots."""
    office = Office(browser, live_server, engine, artifacts)
    try:
        yield office
    finally:
        office.close()
