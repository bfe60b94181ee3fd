"""Acting as the office's staff in a real browser: sign in, find a task in the queues, claim it, fill in
its generated form, submit; collect console errors and take screenshots along the way.

The tests speak the diagrams' task ids (as tests/processes/chain.py does) but the helpers look for what a
user sees: the registration number and the task's Chinese name in a queue row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chain import on_the_day
from lxml import etree
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, Response, expect

from engine import Engine

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
DEMO_PASSWORD = "xinfang-demo"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
TIMEOUT_MS = 10_000
# a diagram key, role, department or user name (Task_investigate, supervision_1, s1_liu) shown instead of its label
RAW_ID = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+(?![A-Za-z0-9_])")  # ASCII bounds: 由s1_liu


CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def _user_tasks() -> dict[str, etree._Element]:
    """User task id → its element, read from the diagrams themselves."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return {task.get("id"): task for path in PROCESSES.glob("*.bpmn")
            for task in etree.parse(str(path), parser).getroot().iter(f"{BPMN}userTask")}


USER_TASKS = _user_tasks()
TASK_NAMES = {task_id: task.get("name") for task_id, task in USER_TASKS.items()}


def fresh_values(bpmn_id: str) -> dict[str, str]:
    """What each editable field of the task's form must show when it opens: its diagram default, else
    nothing — fields the diagram marks as carried over (property `carry_over`) or read-only are left out."""
    values = {}
    for field in USER_TASKS[bpmn_id].iter(f"{CAMUNDA}formField"):
        properties = {p.get("id") or p.get("name"): p.get("value") for p in field.iter(f"{CAMUNDA}property")}
        constraints = {c.get("name") for c in field.iter(f"{CAMUNDA}constraint")}
        if properties.get("carry_over") == "true" or "readonly" in constraints:
            continue
        values[field.get("id")] = field.get("defaultValue") or ""
    return values


def form_fields(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Chain answers as the page's input names: a list of records becomes `accused.0.name` …"""
    fields: dict[str, Any] = {}
    for key, value in answers.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for index, row in enumerate(value):
                fields.update({f"{key}.{index}.{name}": cell for name, cell in row.items()})
        else:
            fields[key] = value
    return fields


class Office:
    """The staff's browsers: each demo user signs in once in a context of their own (cookies, cache) and
    keeps it, as each person has their own browser; `page` is the tab of whoever acted last."""

    def __init__(self, browser: Browser, base_url: str, engine: Engine, artifacts: Path):
        self.browser, self.base_url, self.engine = browser, base_url, engine
        self.artifacts = artifacts
        self.contexts: list[BrowserContext] = []
        self.pages: dict[str, Page] = {}  # signed-in user → their tab
        self.page: Page | None = None
        self.user: str | None = None
        self.cases: dict[str, int] = {}  # registration number → case id, of the items registered here
        self._console: list[tuple[str, str]] = []  # (document URL the message is about, message)
        self._error_documents: dict[str, int] = {}  # page URL → HTTP error status it was answered with
        self._expected_statuses: set[int] = set()

    # ---- console errors ---------------------------------------------------------------------------------

    @property
    def console_errors(self) -> list[str]:
        """What the browser reported as errors, plus pages answered with an unexpected error status.

        Chromium logs "Failed to load resource" for a page answered with an error status too; such a page
        is judged once, by its status (see `expecting_error_page`), so that line is left out here. A
        failed sub-resource (favicon, script, stylesheet, fetch) always counts."""
        return [message for url, message in self._console
                if not (url in self._error_documents and "Failed to load resource" in message)]

    @contextmanager
    def expecting_error_page(self, status: int) -> Iterator[None]:
        """Pages loaded inside are answered with `status` on purpose (422: a form sent back with errors;
        404: a case outside the reader's scope) — the test checks them; anything else is an error."""
        self._expected_statuses.add(status)
        try:
            yield
        finally:
            self._expected_statuses.discard(status)

    def _watch(self, page: Page, user: str) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                url = message.location.get("url", "")
                self._console.append((url, f"[{user}] {page.url}: console error: {message.text} ({url})"))

        def on_response(response: Response) -> None:
            if response.request.resource_type == "document" and response.status >= 400:
                self._error_documents[response.url] = response.status
                if response.status not in self._expected_statuses:
                    self._console.append((response.url, f"[{user}] {response.url}: HTTP {response.status} page"))

        page.on("console", on_console)
        page.on("pageerror", lambda error: self._console.append((page.url, f"[{user}] {page.url}: {error}")))
        page.on("response", on_response)

    # ---- sessions ---------------------------------------------------------------------------------------

    def _new_page(self, user: str) -> Page:
        context = self.browser.new_context(base_url=self.base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                           viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        self._watch(page, user)
        self.page, self.user = page, None
        return page

    def open_login(self) -> Page:
        """A fresh, signed-out browser on the login page."""
        page = self._new_page("(signed out)")
        page.goto("/login")
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        return page

    def login_as(self, name: str, password: str = DEMO_PASSWORD) -> Page:
        """Sign in through the login form in a fresh context (no cookies shared with another user)."""
        page = self._new_page(name)
        page.goto("/login")
        page.get_by_label("用户名").fill(name)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("header.top .user")).to_be_visible()
        self.pages[name], self.user = page, name
        return page

    def as_user(self, name: str) -> Page:
        """Switch to `name`'s browser, signing in the first time."""
        if name not in self.pages:
            return self.login_as(name)
        self.page, self.user = self.pages[name], name
        return self.page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts, self.pages, self.page, self.user = [], {}, None, None

    def goto(self, path: str) -> Page:
        response = self.page.goto(path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        return self.page

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)

    def expect_flash(self, text: str) -> None:
        expect(self.page.locator(".flash").filter(has_text=text)).to_be_visible()

    # ---- intake -----------------------------------------------------------------------------------------

    def register(self, registration: Mapping[str, Any], attachments: list[dict] | None = None) -> str:
        """Fill in the intake form (adding accused rows with "再添加一条" as needed), attach files, submit;
        returns the registration number the registered page shows."""
        page = self.goto("/intake/new")
        form = page.locator("form.intake-form")
        for _ in range(1, len(registration.get("accused") or [{}])):
            form.get_by_role("button", name="再添加一条").click()
        self.fill_form(registration, form)
        if attachments:
            form.locator("#attachments").set_input_files(attachments)
        form.get_by_role("button", name="登记").click()
        expect(page).to_have_url(re.compile(r"/intake/registered/\d+$"))
        number = page.locator("#registration-number").inner_text().strip()
        assert re.fullmatch(r"XF-\d{4}-\d{6}", number), number
        self.cases[number] = int(page.url.rsplit("/", 1)[1])
        return number

    # ---- queues and tasks -------------------------------------------------------------------------------

    def queue_row(self, view: str, number: str, task_name: str) -> Locator:
        self.goto(f"/tasks/?view={view}")
        rows = self.page.locator("table.queue tbody tr")
        return (rows.filter(has=self.page.get_by_role("link", name=number, exact=True))
                .filter(has=self.page.get_by_role("link", name=task_name, exact=True)))

    def open_task(self, number: str, task: str) -> Page:
        """Find the case's task (its diagram id or its name) in "我的待办", else in "本组待领取" and claim it
        (it leaves that queue for "我的待办"); open it."""
        task_name = TASK_NAMES.get(task, task)
        for view in ("mine", "groups"):
            row = self.queue_row(view, number, task_name)
            if row.count():
                break
        else:
            raise AssertionError(f"{self.user} sees no “{task_name}” of {number} in mine or groups; "
                                 f"open tasks of the case: {self._open_tasks(number)}")
        assert row.count() == 1, f"{row.count()} rows for “{task_name}” of {number} in {view}"
        claim = row.get_by_role("button", name="领取")
        if claim.count():
            claim.click()  # back on the same queue, which no longer lists it
            self.expect_flash("已领取")
            expect(row).to_have_count(0)
            row = self.queue_row("mine", number, task_name)
            expect(row.get_by_role("button", name="领取")).to_have_count(0)
        row.get_by_role("link", name=task_name, exact=True).click()
        expect(self.page.locator("h1")).to_contain_text(task_name)
        expect(self.page.locator("main")).to_contain_text(number)
        return self.page

    def _open_tasks(self, number: str) -> list[tuple[str, str | None]]:
        """For failure messages only: what the engine says is open on the case (task id, assignee)."""
        case_id = self.cases.get(number)
        return [] if case_id is None else [(i["bpmn_id"], i["assignee"]) for i in self.engine.work_items(case_id)]

    def fill_form(self, answers: Mapping[str, Any], form: Locator | None = None) -> None:
        """Answer each field the way a user would: pick an option, tick a box, type text."""
        form = form or self.page.locator("form.task-form")
        for name, value in form_fields(answers).items():
            field = form.locator(f'[name="{name}"]')
            expect(field, f"field {name}").to_have_count(1)
            kind = field.evaluate("element => element.tagName === 'INPUT' ? element.type : element.tagName")
            if kind == "SELECT":
                field.select_option(str(value))
            elif kind == "checkbox":
                field.set_checked(value in (True, "true"))
            else:
                field.fill("" if value is None else str(value))

    def expect_opens_fresh(self, bpmn_id: str) -> None:
        """The open task's form shows no earlier answer: every field its diagram default or empty."""
        form = self.page.locator("form.task-form")
        shown = {}
        for name, expected in fresh_values(bpmn_id).items():
            field = form.locator(f'[name="{name}"]')
            if not field.count():
                continue  # a record group's field: rows are named group.N.key
            shown[name] = field.evaluate(
                "e => e.type === 'checkbox' ? (e.checked ? 'true' : '') : e.value")
            if shown[name] == expected or (expected == "false" and shown[name] == ""):
                del shown[name]
        assert not shown, f"{TASK_NAMES[bpmn_id]} opens with earlier answers: {shown}"

    def expect_no_raw_ids(self) -> None:
        """The page's main content names things as the office does: no snake_case key, role or user name."""
        found = sorted(set(RAW_ID.findall(self.page.locator("main").inner_text())))
        assert not found, f"{self.page.url} shows raw ids: {found}"

    def submit(self) -> None:
        """Submit the task form; it must be accepted (back to the queue with "已提交")."""
        self.page.locator("form.task-form").get_by_role("button", name="提交").click()
        errors = self.page.locator(".field-error")
        try:
            self.expect_flash("已提交")
        except AssertionError:
            details = [errors.nth(i).evaluate(
                "e => (e.closest('.field')?.dataset.field || '?') + ': ' + e.textContent")
                for i in range(errors.count())]
            flashes = self.page.locator(".flash").all_inner_texts()
            raise AssertionError(f"task not accepted at {self.page.url}: {flashes} {details}") from None

    def work(self, number: str, bpmn_id: str, by: str, answers: Mapping[str, Any],
             screenshot: str | None = None) -> None:
        """Sign in as `by` (if needed), open the task from the queues, check that it shows no earlier answer
        and no raw id, answer it and submit it."""
        self.as_user(by)
        self.open_task(number, bpmn_id)
        self.expect_opens_fresh(bpmn_id)
        self.expect_no_raw_ids()
        self.fill_form(on_the_day(dict(answers), self.engine.now()))
        if screenshot:
            self.screenshot(screenshot)
        self.submit()

    def due_on_task_page(self) -> str:
        """The "办理期限" shown on the open task page, as staff read it (local time)."""
        text = self.page.locator("main p.muted").first.inner_text()
        match = re.search(r"办理期限：(\d{4}-\d\d-\d\d \d\d:\d\d)", text)
        assert match, text
        return match.group(1)
