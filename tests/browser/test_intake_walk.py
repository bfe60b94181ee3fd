"""Intake as the petition office lives it, in the browser: contradictions in the registration refused at the
field, the web query code shown to the registering clerk once, and a suspected duplicate confirmed against
the suspects the task lists (an unknown registration number is a form error, not a silent loop)."""

from __future__ import annotations

import pytest
from chain import REGISTRATION
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def _field_error(page, name: str):
    return page.locator(f'.field.has-error[data-field="{name}"] .field-error')


def test_intake_refuses_contradictions_shows_the_query_code_once_and_confirms_duplicates(office):
    page = office.login_as("xf_wang")

    # A receipt date after today and a real-name item without the reporter's name: refused at the field.
    office.goto("/intake/new")
    form = page.locator("form.intake-form")
    office.fill_form({**REGISTRATION, "received_on": "2026-03-03", "reporter_name": ""}, form)
    with office.expecting_error_page(422):
        form.get_by_role("button", name="登记").click()
    expect(_field_error(page, "received_on")).to_be_visible()
    expect(_field_error(page, "reporter_name")).to_be_visible()
    expect(page.locator('[name="summary"]')).to_have_value(REGISTRATION["summary"])  # nothing typed is lost

    # A web report: its query code is shown once to the clerk who registered it, never again.
    first = office.register({**REGISTRATION, "channel": "web"})
    code = page.locator("#query-code").inner_text().strip()
    assert code
    page.reload()
    expect(page.locator("#query-code")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(code)
    expect(page.locator("main")).to_contain_text("只在登记完成时向登记人显示一次")
    office.goto(f"/cases/{office.cases[first]}")
    expect(page.locator("main")).not_to_contain_text(code)

    # The same matter again: the confirmation task lists the suspect; an unknown number is refused.
    second = office.register(REGISTRATION)
    office.open_task(second, "Task_confirm_duplicate")
    office.expect_opens_fresh("Task_confirm_duplicate")
    expect(page.locator("#decision-context")).to_contain_text(first)
    office.fill_form({"is_duplicate": "true", "duplicate_of": "XF-2026-999999"})
    with office.expecting_error_page(422):
        page.locator("form.task-form").get_by_role("button", name="提交").click()
    expect(_field_error(page, "duplicate_of")).to_be_visible()
    office.fill_form({"duplicate_of": first})
    office.submit()
    office.goto(f"/cases/{office.cases[second]}")
    expect(page.locator("main")).to_contain_text(first)

    assert not office.console_errors, "\n".join(office.console_errors)
