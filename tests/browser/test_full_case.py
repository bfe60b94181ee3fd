"""A complete in-scope case worked in the browser, each role signing in in turn: real-name accusation with
two accused and a scanned letter, an extension, a return at joint review, real-name result feedback and
a clarification, closed and archived. The task order and answers are those of tests/processes/scenarios.py
(accusation_real_name_full_chain, extension_approved_moves_the_deadline,
report_sent_back_at_joint_review_and_reworked, clarification_approved_and_method_recorded)."""

from __future__ import annotations

import pytest
from chain import ANSWERS, REGISTRATION, WORKER
from office import TASK_NAMES
from playwright.sync_api import expect

LETTER = {"name": "来信原件.pdf", "mimeType": "application/pdf",
          "buffer": b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"}
RETURN_OPINION = "定性依据不足"

pytestmark = pytest.mark.slow


def test_full_case(office):
    def work(bpmn_id: str, by: str | None = None, screenshot: str | None = None, **answers) -> None:
        office.work(number, bpmn_id, by or WORKER[bpmn_id], {**ANSWERS.get(bpmn_id, {}), **answers}, screenshot)

    # Sign-in page, then the intake form: first submitted empty (errors shown, what was typed kept).
    office.open_login()
    office.screenshot("login")
    page = office.login_as("xf_wang")
    office.goto("/intake/new")
    office.screenshot("intake-form")
    page.locator("form.intake-form").get_by_label("问题发生地").fill("某街道")
    with office.expecting_error_page(422):
        page.get_by_role("button", name="登记").click()
    expect(page.locator(".flash.error")).to_contain_text("登记表有")
    expect(page.locator('.field.has-error[data-field="summary"] .field-error')).to_be_visible()
    expect(page.locator('[name="place"]')).to_have_value("某街道")  # nothing typed is lost
    office.screenshot("intake-form-errors")

    # Registration: real name, two accused (the second row added with "再添加一条"), a scanned letter.
    accused = [*REGISTRATION["accused"], {"name": "王某", "unit": "某区住建局", "position": "科长"}]
    number = office.register({**REGISTRATION, "accused": accused}, attachments=[LETTER])
    assert number == "XF-2026-000001"
    office.screenshot("registered")

    work("Task_classify", screenshot="task-classify")
    work("Task_notify_acceptance")
    work("Task_propose", screenshot="task-propose")
    work("Task_leader_signoff")

    # Handling: the department asks for more time before reporting; the deadline moves by 10 days.
    office.as_user("s1_liu")
    office.open_task(number, "Task_investigate")
    # One month from Mon 2 Mar ends with Thu 2 Apr (shown as 2 Apr 24:00).
    assert office.due_on_task_page() == "2026-04-02 24:00"
    office.goto("/tasks/?view=mine")  # claimed: now in the handler's own queue
    expect(office.page.locator("table.queue")).to_contain_text(number)
    office.screenshot("queue-mine")
    work("Task_investigate", handling_action="extension", screenshot="task-investigate")
    work("Task_request_extension", extension_days="10")
    work("Task_approve_extension")
    office.as_user("s1_liu")
    office.open_task(number, "Task_investigate")
    # Thu 2 Apr + 10 days = Sun 12 Apr, a rest day → Mon 13 Apr (shown as 13 Apr 24:00).
    assert office.due_on_task_page() == "2026-04-13 24:00"
    office.goto(f"/cases/{office.cases[number]}")
    expect(office.page.locator("table.deadlines")).to_contain_text("2026-04-13 24:00")

    # The report: the accusation is untrue and the cadre should be cleared; signed by the department.
    report = {"disposal": "close", "truthfulness": "untrue", "clarification_proposed": "true"}
    work("Task_investigate", **report)
    work("Task_department_sign")

    # Joint review: the case review office sends the report back with its opinion; it is reworked.
    work("Task_review_petition_office")
    work("Task_review_supervision")
    work("Task_review_case_review", joint_review_case_review="return",
         joint_review_case_review_opinion=RETURN_OPINION, screenshot="task-joint-review")
    work("Task_investigate", handling_report="补充定性依据", **report)
    work("Task_department_sign")
    for bpmn_id in ("Task_review_petition_office", "Task_review_supervision", "Task_review_case_review",
                    "Task_read_in_charge", "Task_read_principal"):
        work(bpmn_id)

    # Real-name result feedback, then the clarification of the falsely accused cadre.
    work("Task_result_feedback")
    work("Task_propose_clarification")
    work("Task_approve_clarification")
    work("Task_record_clarification")
    work("Task_close", screenshot="task-close")

    # The case page: closed, archived, and the joint review's return opinion in the timeline.
    office.as_user("xf_chen")
    case_page = office.goto(f"/cases/{office.cases[number]}")
    expect(case_page.locator("h1")).to_contain_text("已办结")
    expect(case_page.locator(".case-context")).to_contain_text("已归档")
    expect(case_page.locator("#timeline")).to_contain_text(RETURN_OPINION)
    expect(case_page.locator("#timeline")).to_contain_text(TASK_NAMES["Task_review_case_review"])
    expect(case_page.locator(".case-context")).to_contain_text("王某")
    expect(case_page.get_by_role("link", name="来信原件.pdf")).to_be_visible()
    expect(case_page.locator('#case-diagram .djs-element[data-element-id="Call_archive"]')).to_be_visible()
    expect(case_page.locator("#case-diagram .diagram-message")).to_be_hidden()  # drawn, no error shown
    office.screenshot("case-closed")

    # Search finds it archived.
    office.goto("/search/?number=" + number)
    expect(case_page.locator("table.results")).to_contain_text("已归档")
    office.screenshot("search-results")

    assert not office.console_errors, "\n".join(office.console_errors)
