"""Second rounds in the browser: a repeated task opens with nothing of its earlier round in it, and work
that comes back goes to the person who did it.

The case asks for an extension (调查核实 comes round again) and its report is sent back at joint review
(调查核实, 部门签批 and the three reviews come round again). Every task of the walk — first rounds included,
where another task's answers already sit in the case — must open showing only its diagram defaults."""

from __future__ import annotations

import pytest
from chain import ANSWERS, REGISTRATION, WORKER
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
