"""Deciders see the facts: the task page shows, above the form, the case fields its diagram lists
(context_fields) with their labels and option names, and the earlier opinions each with the decision
it recorded (同意 / 退回 …), who gave it and when."""

from support import SIGN_OFF, login, register, signed_in, work_through


def _context(page: str) -> str:
    """The decision context block, which comes before the form."""
    start = page.index('id="decision-context"')
    assert start < page.index('class="task-form"')
    return page[start:page.index("</section>", start)]


def _fact(context: str, label: str, value: str) -> bool:
    return f"<dt>{label}</dt><dd>{value}</dd>" in context


def _handled(client, engine, clock, **report):
    login(client, "xf_wang")
    case_id = register(client)
    chain = work_through(engine, clock, case_id, *SIGN_OFF)
    chain.do("Task_investigate", **report)
    return case_id, chain


def test_the_extension_approver_sees_days_deadline_and_allowance(client, engine, clock, app):
    case_id, chain = _handled(client, engine, clock, handling_action="extension")
    chain.do("Task_request_extension", extension_days="4", extension_reason="需调取银行流水")
    task_id = engine.find_task(case_id, "Task_approve_extension")
    context = _context(signed_in(app, "leader_li").get(f"/tasks/{task_id}").get_data(as_text=True))
    assert _fact(context, "申请延长天数", "4")
    assert _fact(context, "延期理由", "需调取银行流水")
    assert _fact(context, "当前办理期限", "2026-04-02 24:00")
    assert _fact(context, "已延期天数", "0") and _fact(context, "剩余可延期天数", "15")


def test_report_signers_and_reviewers_see_disposal_and_truthfulness_as_labels(client, engine, clock, app):
    case_id, chain = _handled(client, engine, clock)  # preliminary verification, partly true
    sign = engine.find_task(case_id, "Task_department_sign")
    context = _context(signed_in(app, "s1_sun").get(f"/tasks/{sign}").get_data(as_text=True))
    assert _fact(context, "处置方式", "初步核实") and _fact(context, "反映问题属实情况", "部分属实")
    assert "preliminary_verification" not in context and "partly_true" not in context
    chain.do("Task_department_sign")
    review = engine.find_task(case_id, "Task_review_case_review")
    context = _context(signed_in(app, "cr_zheng").get(f"/tasks/{review}").get_data(as_text=True))
    assert _fact(context, "处置方式", "初步核实") and _fact(context, "发现违纪问题线索（移交纪工委）", "否")


def test_earlier_opinions_carry_their_decision_and_who_gave_it(client, engine, clock, app):
    case_id, chain = _handled(client, engine, clock)
    chain.do("Task_department_sign", report_signoff="return", report_signoff_opinion="证据不足，补充谈话记录")
    chain.do("Task_investigate")
    task_id = engine.find_task(case_id, "Task_department_sign")
    page = signed_in(app, "s1_sun").get(f"/tasks/{task_id}").get_data(as_text=True)
    opinions = page[page.index("此前意见"):]
    returned = opinions[opinions.index("分管领导审核签字"):]
    assert returned.index("审核结果：<strong>退回修改</strong>") < returned.index("证据不足，补充谈话记录")
    assert "孙" in returned[:returned.index("审核结果")]  # the leader's display name, with the time
    assert "批办意见：<strong>同意</strong>" in opinions  # the sign-off decision too


def test_the_investigator_sees_the_deadline_and_the_days_already_granted(client, engine, clock, app):
    login(client, "xf_wang")
    case_id = register(client)
    chain = work_through(engine, clock, case_id, *SIGN_OFF)
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="10")
    chain.do("Task_approve_extension")
    task_id = engine.find_task(case_id, "Task_investigate")
    context = _context(signed_in(app, "s1_liu").get(f"/tasks/{task_id}").get_data(as_text=True))
    assert _fact(context, "办理期限", "2026-04-13 24:00") and _fact(context, "已延期天数", "10")
