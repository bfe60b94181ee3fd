"""The task page: the generated form, instructions and case context; server-side validation with the
input kept; completing; two people completing the same task."""

from support import SIGN_OFF, csrf_token, login, post, register, work_through


def _classify_task(client, engine):
    login(client, "xf_wang")
    case_id = register(client)
    return case_id, engine.find_task(case_id, "Task_classify")


def test_form_fields_instructions_and_context(client, engine):
    case_id, task_id = _classify_task(client, engine)
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert '<select id="category" name="category"' in page
    assert "检举控告" in page and 'class="required"' in page
    assert 'class="instructions"' in page
    assert "某街道城建办主任张某" in page and "张某，某街道城建办，主任" in page
    assert "李某" in page  # the petition office sees the reporter


def test_bad_input_is_kept_with_per_field_messages(client, engine):
    case_id, task_id = _classify_task(client, engine)
    response = post(client, f"/tasks/{task_id}", {"category": "", "classification_note": "先记下的说明"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "此项为必填项" in page and "先记下的说明" in page
    assert engine.find_task(case_id, "Task_classify") == task_id


def test_completing_moves_the_case_on(client, engine):
    case_id, task_id = _classify_task(client, engine)
    response = post(client, f"/tasks/{task_id}", {"category": "accusation", "classification_note": "反映违纪问题"})
    assert response.status_code == 302
    assert "Task_propose" in [item["bpmn_id"] for item in engine.work_items(case_id)]
    assert engine.case(case_id)["data"]["category"] == "accusation"


def test_second_completion_is_told_who_was_first(client, engine, app):
    case_id, task_id = _classify_task(client, engine)
    colleague = app.test_client()
    login(colleague, "xf_chen")
    token = csrf_token(colleague, f"/tasks/{task_id}")
    post(client, f"/tasks/{task_id}", {"category": "accusation", "classification_note": "一"})
    late = colleague.post(f"/tasks/{task_id}", data={"category": "appeal", "csrf_token": token},
                          follow_redirects=True)
    assert f"该任务已由 {engine.actor('xf_wang').label} 于" in late.get_data(as_text=True)  # named as staff know him
    assert engine.case(case_id)["data"]["category"] == "accusation"


def test_a_task_without_rights_is_read_only(client, engine, app):
    case_id, task_id = _classify_task(client, engine)
    leader = app.test_client()
    login(leader, "leader_li")
    page = leader.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "只能查看" in page and 'class="task-form"' not in page
    refused = post(leader, f"/tasks/{task_id}", {"category": "accusation"}, follow_redirects=True)
    assert engine.find_task(case_id, "Task_classify") == task_id
    assert "候选人" in refused.get_data(as_text=True) or "无权" in refused.get_data(as_text=True)


def test_findings_are_required_for_a_report_but_not_for_an_extension_request(client, engine, clock, app):
    login(client, "xf_wang")
    case_id = register(client)
    work_through(engine, clock, case_id, *SIGN_OFF)
    task_id = engine.find_task(case_id, "Task_investigate")
    handler = app.test_client()
    login(handler, "s1_liu")
    page = handler.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert page.count("（本次提交为“提交调查报告”时必填）") == 3  # disposal, truthfulness, report
    report = post(handler, f"/tasks/{task_id}", {"handling_action": "report"}, token_from=f"/tasks/{task_id}")
    assert report.status_code == 422
    errors = report.get_data(as_text=True)
    for field in ("disposal", "truthfulness", "handling_report"):
        assert f'<div class="field has-error" data-field="{field}">' in errors, field
    extension = post(handler, f"/tasks/{task_id}", {"handling_action": "extension"}, token_from=f"/tasks/{task_id}")
    assert extension.status_code == 302
    assert "Task_request_extension" in [item["bpmn_id"] for item in engine.work_items(case_id)]
