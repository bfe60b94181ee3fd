"""Script injection: every free-text field of a registration, and the opinions written later, hold
payloads for each HTML context the pages use (element text, attribute values, textarea contents). The
browser must show them as literal text on every page that displays them and never run them."""

from __future__ import annotations

import pytest
from chain import ANSWERS, REGISTRATION
from playwright.sync_api import expect

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
ATTRIBUTE = '"><img src=x onerror=window.__xss=1>'  # breaks out of value="…" if unescaped
SVG = "'><svg onload=window.__xss=1>"  # … or out of value='…'
TEXTAREA = "</textarea><script>window.__xss=1</script>"  # breaks out of a textarea's content
MARKER = "<i id=xss-id>x</i>"  # fits 18 characters (ID number); an element #xss-id would betray it

SUMMARY = f"注入测试 {IMG} {SCRIPT} {TEXTAREA}"
REGISTRATION_PAYLOADS = {
    **REGISTRATION,
    "summary": SUMMARY, "place": ATTRIBUTE, "keywords": f"{SCRIPT}\n{IMG}",
    "accused": [{"name": IMG, "unit": SCRIPT, "position": ATTRIBUTE, "region": SVG},
                {"name": SCRIPT, "unit": TEXTAREA, "position": SVG}],
    "reporter_name": IMG, "reporter_unit": SCRIPT, "reporter_contact": ATTRIBUTE, "reporter_id_number": MARKER,
}
OPINIONS = {
    "Task_classify": {"classification_note": f"分类 {IMG}"},
    "Task_propose": {"proposed_handling": f"拟办 {SCRIPT}", "slip_requirements": f"要求 {TEXTAREA}"},
    "Task_leader_signoff": {"signoff_opinion": f"批示 {ATTRIBUTE}"},
}

pytestmark = pytest.mark.slow


def assert_inert(office, *literal: str) -> None:
    """No payload ran or became an element, and each of `literal` is shown as text on the page."""
    page = office.page
    page.wait_for_load_state("load")  # an injected <img src=x> has failed and run its onerror by then
    assert page.evaluate("window.__xss") is None, f"script ran on {page.url}"
    assert page.locator("#xss-id, svg[onload], img[onerror], main script").count() == 0, page.url
    for text in literal:
        expect(page.locator("main")).to_contain_text(text)


def test_xss(office):
    def work(bpmn_id: str, by: str) -> None:
        office.work(number, bpmn_id, by, {**ANSWERS[bpmn_id], **OPINIONS.get(bpmn_id, {})})

    page = office.login_as("xf_wang")

    # Sent back with an error first: the form echoes every payload into value="…" and <textarea>.
    office.goto("/intake/new")
    form = page.locator("form.intake-form")
    form.get_by_role("button", name="再添加一条").click()
    office.fill_form({**REGISTRATION_PAYLOADS, "problem_type": ""}, form)
    with office.expecting_error_page(422):
        form.get_by_role("button", name="登记").click()
    expect(page.locator(".flash.error")).to_be_visible()
    assert_inert(office)
    for name, value in {"summary": SUMMARY, "place": ATTRIBUTE, "accused.0.position": ATTRIBUTE,
                        "accused.0.region": SVG, "accused.1.unit": TEXTAREA, "reporter_contact": ATTRIBUTE,
                        "reporter_id_number": MARKER}.items():
        expect(form.locator(f'[name="{name}"]')).to_have_value(value)

    number = office.register(REGISTRATION_PAYLOADS)
    assert_inert(office)
    office.goto("/tasks/?view=groups")
    assert_inert(office, IMG, SCRIPT)  # accused names in the queue row
    office.screenshot("xss-queue")

    work("Task_classify", "xf_wang")
    work("Task_propose", "xf_wang")
    work("Task_leader_signoff", "leader_li")

    # The handler's task page: the case summary, the reporter (a handler may see it), earlier opinions.
    office.as_user("s1_liu")
    office.open_task(number, "Task_investigate")
    assert_inert(office, SUMMARY, IMG, SCRIPT, ATTRIBUTE, SVG, MARKER,
                 OPINIONS["Task_leader_signoff"]["signoff_opinion"])
    office.screenshot("xss-task")
    office.fill_form({**ANSWERS["Task_investigate"], "handling_report": f"报告 {TEXTAREA}"})
    office.submit()
    assert_inert(office)

    office.as_user("xf_wang")
    office.goto(f"/cases/{office.cases[number]}")
    assert_inert(office, SUMMARY, IMG, SCRIPT, TEXTAREA, MARKER, f"报告 {TEXTAREA}",
                 *(text for answers in OPINIONS.values() for text in answers.values()))
    office.screenshot("xss-case")

    office.page.get_by_role("link", name="打印交办单").click()
    assert_inert(office, SUMMARY, IMG, SCRIPT, OPINIONS["Task_propose"]["proposed_handling"],
                 OPINIONS["Task_leader_signoff"]["signoff_opinion"])

    office.goto("/search/?text=注入测试")
    expect(page.locator("table.results")).to_contain_text(number)
    assert_inert(office, IMG, SCRIPT)
    page.locator("#s-reporter").fill(IMG)  # the reporter search, echoed back into its input
    page.get_by_role("button", name="检索").click()
    expect(page.locator("table.results")).to_contain_text(number)
    expect(page.locator("#s-reporter")).to_have_value(IMG)
    assert_inert(office)
    office.screenshot("xss-search")

    assert not office.console_errors, "\n".join(office.console_errors)
