"""The case page's diagram in a real browser: bpmn-js draws the case's state from /cases/<id>/diagram.json,
a call activity opens the called process with its own state, the breadcrumb leads back, and the browser
reports no errors."""

from __future__ import annotations

from chain import Chain
from playwright.sync_api import expect


def test_diagram_marks_state_and_drills_into_handling(office, engine, clock):
    chain = Chain(engine, clock)
    chain.start()
    chain.accept()
    chain.sign_off()
    page = office.login_as("xf_wang")
    office.goto(f"/cases/{chain.case_id}")
    diagram = page.locator("#case-diagram")
    expect(diagram.locator('.djs-element.state-completed[data-element-id="Call_signoff"]')).to_be_visible()
    expect(diagram.locator('.djs-element.state-active[data-element-id="Call_handling"]')).to_be_visible()
    office.screenshot("case-diagram")

    diagram.locator('.djs-element.drillable[data-element-id="Call_handling"]').click()
    expect(diagram.locator(".diagram-crumbs strong")).to_have_text("承办")
    expect(diagram.locator('.djs-element.state-active[data-element-id="Task_investigate"]')).to_be_visible()
    expect(diagram.locator('.djs-element.state-timer[data-element-id="Timer_investigate_overdue"]')).to_be_visible()
    expect(diagram.locator(".diagram-message")).to_be_hidden()
    office.screenshot("case-diagram-handling")

    diagram.locator(".diagram-crumbs button", has_text="信访举报件办理").click()
    expect(diagram.locator('.djs-element.state-active[data-element-id="Call_handling"]')).to_be_visible()
    diagram.locator(".diagram-calls button", has_text="进入 拟办与批办").click()
    expect(diagram.locator('.djs-element.state-completed[data-element-id="Task_leader_signoff"]')).to_be_visible()
    # only this page's errors: the sign-in before it trips over /favicon.ico (404), which is not the case page's
    assert [error for error in office.console_errors if "/cases/" in error] == []
