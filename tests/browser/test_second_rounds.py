"""Second rounds in the browser: a repeated task opens with nothing of its earlier round in it, and work
that comes back goes to the person who did it.

The case asks for an extension twice, approved then refused (调查核实 and both extension tasks come round
again), and its report is sent back at joint review (调查核实, 部门签批 and the three reviews come round
again). Every task of the walk — first rounds included,
where another task's answers already sit in the case — must open showing only its diagram defaults.

An incident raised by a staff member's submit (no calendar for the year: the deadline cannot be computed)
is listed for the administrator, and closes itself once the year is entered and the staff member resubmits."""

from __future__ import annotations

from datetime import datetime

import pytest
from chain import ANSWERS, REGISTRATION, SHANGHAI, WORKER
from office import TASK_NAMES
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

REVIEWS = ("Task_review_petition_office", "Task_review_supervision", "Task_review_case_review")


def test_every_round_opens_fresh_and_returned_work_comes_back_to_its_author(office):
    def work(bpmn_id: str, **answers) -> None:  # office.work checks that the form opens fresh
        office.work(number, bpmn_id, WORKER[bpmn_id], {**ANSWERS.get(bpmn_id, {}), **answers})

    def expect_in_own_queue(bpmn_id: str) -> None:
        """Back with its author: in their 我的待办 already, nothing to claim."""
        office.as_user(WORKER[bpmn_id])
        row = office.queue_row("mine", number, TASK_NAMES[bpmn_id])
        expect(row).to_have_count(1)
        expect(row.get_by_role("button", name="领取")).to_have_count(0)

    office.login_as("xf_wang")
    number = office.register(REGISTRATION)
    for bpmn_id in ("Task_classify", "Task_notify_acceptance", "Task_propose", "Task_leader_signoff"):
        work(bpmn_id)

    work("Task_investigate", handling_action="extension")
    work("Task_request_extension")
    work("Task_approve_extension")
    expect_in_own_queue("Task_investigate")
    # A second request within the 5 days left, refused: both extension tasks open fresh again, the notice
    # and the timeline say 不予延期, and the investigation is back with its author.
    work("Task_investigate", handling_action="extension")
    work("Task_request_extension", extension_days="5")
    work("Task_approve_extension", extension_decision="refused", extension_opinion="理由不充分")
    expect_in_own_queue("Task_investigate")
    office.goto("/notices/")
    expect(office.page.locator("main")).to_contain_text("同意延期 10 天")
    expect(office.page.locator("main")).to_contain_text("的延期申请不予延期")
    office.goto(f"/cases/{office.cases[number]}")
    expect(office.page.locator("#timeline")).to_contain_text("不予延期")
    report = {"disposal": "close", "truthfulness": "untrue", "clarification_proposed": "true"}
    work("Task_investigate", **report)
    work("Task_department_sign")

    work("Task_review_petition_office")
    work("Task_review_supervision")
    work("Task_review_case_review", joint_review_case_review="return",
         joint_review_case_review_opinion="定性依据不足")
    expect_in_own_queue("Task_investigate")
    work("Task_investigate", handling_report="补充定性依据", **report)
    work("Task_department_sign")
    for bpmn_id in REVIEWS:
        work(bpmn_id)

    assert not office.console_errors, "\n".join(office.console_errors)


def test_an_incident_raised_then_made_stale_is_listed_and_closed(office, clock):
    clock.set(datetime(2027, 3, 2, 9, tzinfo=SHANGHAI))  # chinesecalendar has no 2027: no deadline
    office.login_as("xf_wang")
    number = office.register({**REGISTRATION, "received_on": "2027-03-02"})
    office.open_task(number, "Task_classify")
    office.fill_form(ANSWERS["Task_classify"])
    staff = office.page
    staff.locator("form.task-form").get_by_role("button", name="提交").click()
    expect(staff.locator("#incident-raised")).to_contain_text("缺少 2027 年的节假日安排")
    expect(staff.locator('[name="classification_note"]')).to_have_value(
        ANSWERS["Task_classify"]["classification_note"])  # the input is kept for the resubmission
    case_page = f"/cases/{office.cases[number]}"

    colleague = office.as_user("xf_chen")  # the admin's scope holds no cases; a colleague reads it
    office.goto(case_page)
    expect(colleague.locator("main")).to_contain_text("未处理的流程异常")

    admin = office.as_user("admin")
    office.goto("/incidents/")
    listed = admin.locator("#incident-list tbody tr")  # the case is outside the admin's scope: no number
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("缺少 2027 年的节假日安排")
    expect(listed).to_contain_text("王晓燕（信访室）")
    office.goto("/admin/calendar?year=2027")
    calendar = admin.locator("form.admin-form").filter(has_text="添加一天")
    calendar.get_by_label("日期").fill("2027-01-01")
    calendar.get_by_label("休息（节假日）").check()
    calendar.get_by_label("说明").fill("元旦")
    calendar.get_by_role("button", name="添加").click()
    expect(admin.locator("table.calendar-days")).to_contain_text("元旦")

    office.as_user("xf_wang")
    office.submit()  # the same page, the form as it was kept
    office.as_user("xf_chen")
    office.goto(case_page)
    expect(colleague.locator("main")).not_to_contain_text("未处理的流程异常")
    expect(colleague.locator("#timeline")).to_contain_text("异常失效关闭")

    office.as_user("admin")
    office.goto("/incidents/")
    expect(admin.locator("main")).to_contain_text("没有未处理的流程异常")
    office.goto("/incidents/?state=closed")
    closed = admin.locator("#incident-list tbody tr")
    expect(closed).to_have_count(1)
    expect(closed).to_contain_text("已失效，自动关闭")
    expect(closed).to_contain_text("缺少 2027 年的节假日安排")

    assert not office.console_errors, "\n".join(office.console_errors)
