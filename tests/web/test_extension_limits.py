"""Extension limits (DOMAIN: at most 15 days in total): a request beyond the remaining allowance is refused
in the form with a clear message and the input kept; with nothing left the investigator cannot choose to
ask again; approval and refusal send different notices (days and deadline), and the timeline says 不予延期."""

from support import SIGN_OFF, login, post, register, signed_in, work_through

REASON = "需调取银行流水，耗时较长"


def _at_request(client, engine, clock, used: int = 0) -> tuple[int, str]:
    """A case whose investigator asks for more time, after `used` days were already granted."""
    login(client, "xf_wang")
    case_id = register(client)
    chain = work_through(engine, clock, case_id, *SIGN_OFF)
    if used:
        chain.do("Task_investigate", handling_action="extension")
        chain.do("Task_request_extension", extension_days=str(used))
        chain.do("Task_approve_extension")
    chain.do("Task_investigate", handling_action="extension")
    return case_id, engine.find_task(case_id, "Task_request_extension")


def _notices(app, name: str) -> str:
    return signed_in(app, name).get("/notices/").get_data(as_text=True)


def test_a_request_over_the_remaining_allowance_is_refused_in_the_form(client, engine, clock, app):
    case_id, task_id = _at_request(client, engine, clock, used=10)
    handler = signed_in(app, "s1_liu")
    response = post(handler, f"/tasks/{task_id}", {"extension_days": "6", "extension_reason": REASON},
                    token_from=f"/tasks/{task_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<div class="field has-error" data-field="extension_days">' in page
    assert "不能超过剩余可延期天数（5）" in page
    assert REASON in page and 'value="6"' in page  # nothing typed is lost
    assert engine.find_task(case_id, "Task_request_extension") == task_id  # not sent to the leader
    within = post(handler, f"/tasks/{task_id}", {"extension_days": "5", "extension_reason": REASON},
                  token_from=f"/tasks/{task_id}")
    assert within.status_code == 302
    assert "Task_approve_extension" in [item["bpmn_id"] for item in engine.work_items(case_id)]


def test_approval_and_refusal_send_different_notices(client, engine, clock, app):
    case_id, _ = _at_request(client, engine, clock)
    chain = work_through(engine, clock, case_id)
    chain.do("Task_request_extension", extension_days="10")
    chain.do("Task_approve_extension")
    approved = _notices(app, "s1_liu")
    assert "同意延期 10 天，办理期限顺延至 2026-04-13 24:00" in approved and "不予延期" not in approved

    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="3")
    chain.do("Task_approve_extension", extension_decision="refused", extension_opinion="理由不充分，应按期办结")
    refused = _notices(app, "s1_liu")
    assert "不予延期，办理期限仍为 2026-04-13 24:00。申请延长 3 天；审批意见：理由不充分，应按期办结" in refused
    timeline = signed_in(app, "xf_wang").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "审批结果：<strong>不予延期</strong>" in timeline
    assert "审批结果：<strong>同意延期</strong>" in timeline


def test_with_no_allowance_left_the_investigator_cannot_ask_again(client, engine, clock, app):
    login(client, "xf_wang")
    case_id = register(client)
    chain = work_through(engine, clock, case_id, *SIGN_OFF)
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="15")
    chain.do("Task_approve_extension")
    task_id = engine.find_task(case_id, "Task_investigate")
    handler = signed_in(app, "s1_liu")
    response = post(handler, f"/tasks/{task_id}", {"handling_action": "extension", "handling_report": "初稿"},
                    token_from=f"/tasks/{task_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "已提交" not in page
    assert '<div class="field has-error" data-field="handling_action">' in page
    assert "剩余可延期天数为 0，不能选择“申请延期”" in page and "初稿" in page
    assert engine.find_task(case_id, "Task_investigate") == task_id
