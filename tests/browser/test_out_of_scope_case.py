"""An out-of-scope item handed over through the coordination office, worked in the browser: the
coordination office writes the slip (late: the clock passes its deadline), the principal leader signs it,
the social affairs office handles it, reports back and tells the reporter, the petition office closes it.
Order and answers: tests/processes/scenarios.py out_of_scope_handed_over_through_coordination_office.

Also the pages not met on the way: the overdue queue, notices, the assignment slip, another department
refused the case, the admin index and the change-password page."""

from __future__ import annotations

from datetime import datetime

import pytest
from chain import ANSWERS, REGISTRATION, WORKER
from playwright.sync_api import expect

SUMMARY = "小区物业长期不维修电梯，要求有关部门处理"

pytestmark = pytest.mark.slow


def test_out_of_scope_case(office, clock, engine):
    def work(bpmn_id: str, by: str | None = None, screenshot: str | None = None, **answers) -> None:
        office.work(number, bpmn_id, by or WORKER[bpmn_id], {**ANSWERS.get(bpmn_id, {}), **answers}, screenshot)

    office.login_as("xf_wang")
    number = office.register({**REGISTRATION, "summary": SUMMARY})
    case_url = f"/cases/{office.cases[number]}"
    office.goto("/tasks/?view=groups")
    expect(office.page.locator("table.queue")).to_contain_text(number)
    office.screenshot("queue-groups")

    work("Task_classify", category="out_of_scope")
    work("Task_out_of_scope", out_of_scope_action="handover", receiving_body="社会事务办",
         screenshot="task-out-of-scope")

    # The slip was due within 3 working days of registration (Fri 6 Mar 00:00). It is now Monday
    # 9 March: the coordination office's queue shows it overdue; the scheduler has told the leaders.
    clock.set(datetime.fromisoformat("2026-03-09T09:00:00+08:00"))
    office.pages.clear()  # a week on, every session has timed out: each user signs in again
    engine.scheduler(owner="browser-test").drain()
    office.as_user("co_feng")
    office.goto("/tasks/?view=overdue")
    overdue = office.page.locator("table.queue tr.overdue").filter(has_text=number)
    expect(overdue).to_contain_text("已超期")
    expect(office.page.locator("header .count.alert").first).to_have_text("1")
    office.screenshot("queue-overdue")

    work("Task_propose", by="co_feng", handling_method="transfer", handling_department="social_affairs",
         proposed_handling="移交社会事务办处理，一个月内报结")
    work("Task_leader_signoff", by="leader_zhao")

    # The assignment slip, signed: the receiving department, never the reporter.
    office.as_user("xf_wang")
    office.goto(case_url)
    office.page.get_by_role("link", name="打印交办单").click()
    slip = office.page.locator("article.slip")
    expect(slip).to_contain_text("社会事务办")
    expect(slip).to_contain_text(SUMMARY)
    expect(slip).not_to_contain_text(REGISTRATION["reporter_name"])
    office.screenshot("assignment-slip")

    # A department the item was not handed to cannot open it (the app answers 404 on purpose).
    office.as_user("s2_zhou")
    with office.expecting_error_page(404):
        response = office.page.goto(case_url)
    assert response.status == 404
    expect(office.page.locator("h1")).not_to_contain_text(number)

    work("Task_investigate", by="sa_lin", disposal="not_applicable", truthfulness="not_applicable",
         handling_report="已协调物业公司维修电梯", screenshot="task-investigate-handover")
    work("Task_department_sign", by="sa_gao")
    work("Task_result_feedback", by="sa_lin")
    work("Task_close")

    office.as_user("xf_chen")
    office.goto(case_url)
    expect(office.page.locator("h1")).to_contain_text("已办结")
    office.screenshot("case-out-of-scope-closed")
    office.goto("/notices/")
    expect(office.page.locator("table")).to_contain_text("超期")
    office.screenshot("notices")

    office.login_as("admin")
    office.goto("/admin/")
    expect(office.page.locator("h1")).to_contain_text("系统管理")
    office.screenshot("admin-index")
    office.goto("/password")
    expect(office.page.get_by_role("heading", name="修改密码")).to_be_visible()
    office.screenshot("change-password")

    assert not office.console_errors, "\n".join(office.console_errors)
