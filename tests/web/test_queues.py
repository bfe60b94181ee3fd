"""Task queues: columns, counts in the navigation, filters, paging, claim / release / reassign, overdue."""

from datetime import timedelta

from support import SIGN_OFF, login, post, register, signed_in, work_through

from web import tasks


def _task_id(engine, case_id, bpmn_id):
    return engine.find_task(case_id, bpmn_id)


def test_groups_queue_lists_the_new_item_with_its_columns(client):
    login(client, "xf_wang")
    register(client)
    page = client.get("/tasks/?view=groups").get_data(as_text=True)
    for text in ("XF-2026-000001", "某街道城建办主任张某", "分类与分流", "分类", "张某（某街道城建办）", "2026-03-02",
                 "未领取"):
        assert text in page, text
    assert 'id="count-mine">0<' in page


def test_claim_release_and_reassign(client, engine, app):
    login(client, "xf_wang")
    case_id = register(client)
    task_id = _task_id(engine, case_id, "Task_classify")
    assert post(client, f"/tasks/{task_id}/claim").status_code == 302
    page = client.get("/tasks/?view=mine").get_data(as_text=True)
    assert "XF-2026-000001" in page and 'id="count-mine">1<' in page
    post(client, f"/tasks/{task_id}/release")
    assert engine.work_items(case_id)[0]["assignee"] is None
    post(client, f"/tasks/{task_id}/claim")
    task_page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'value="xf_chen"' in task_page and 'value="s1_liu"' not in task_page  # colleagues of the same role
    post(client, f"/tasks/{task_id}/reassign", {"to": "xf_chen", "reason": "本人出差"})
    assert engine.work_items(case_id)[0]["assignee"] == "xf_chen"
    refused = post(client, f"/tasks/{task_id}/reassign", {"to": "s1_liu", "reason": "本人出差"})
    assert "请选择同一角色、同一部门的同事" in refused.get_data(as_text=True)
    other = signed_in(app, "xf_chen")
    assert "XF-2026-000001" in other.get("/tasks/?view=mine").get_data(as_text=True)


def test_other_departments_see_nothing_in_their_queues(client, app):
    login(client, "xf_wang")
    register(client)
    other = signed_in(app, "s1_liu")
    for view in ("mine", "groups", "overdue", "due_soon"):
        assert "XF-2026-000001" not in other.get(f"/tasks/?view={view}").get_data(as_text=True)


def test_filters_and_paging(client, monkeypatch):
    login(client, "xf_wang")
    register(client)
    register(client, channel="visit", summary="某村支书侵占集体土地补偿款", **{"accused.0.name": "赵某"})
    register(client, channel="phone", summary="某局科长工作日饮酒", **{"accused.0.name": "钱某"})
    page = client.get("/tasks/?view=groups&channel=visit").get_data(as_text=True)
    assert "赵某" in page and "张某" not in page and "钱某" not in page
    assert "共 1 件" in page
    monkeypatch.setattr(tasks, "PAGE_SIZE", 2)
    first = client.get("/tasks/?view=groups&sort=case").get_data(as_text=True)
    second = client.get("/tasks/?view=groups&sort=case&page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first and "下一页" in first
    assert "钱某" in first and "张某" not in first and "张某" in second
    assert "没有符合条件的任务" in client.get("/tasks/?view=groups&stage=intake").get_data(as_text=True)
    assert "共 3 件" in client.get("/tasks/?view=groups&stage=classification").get_data(as_text=True)


def test_overdue_and_due_soon_are_marked_and_counted(client, engine, clock):
    login(client, "xf_wang")
    work_through(engine, clock, register(client), "Task_classify")
    page = client.get("/tasks/?view=due_soon").get_data(as_text=True)
    assert "拟办" in page and "即将到期" in page
    clock.advance(timedelta(days=10))
    login(client, "xf_wang")  # ten days on, the session has timed out
    page = client.get("/tasks/?view=overdue").get_data(as_text=True)
    assert "已超期" in page and "XF-2026-000001" in page
    assert 'class="count alert">1<' in page


def test_department_leader_sees_the_department_view(client, app, engine, clock):
    login(client, "xf_wang")
    work_through(engine, clock, register(client), *SIGN_OFF)
    leader = signed_in(app, "s1_sun")
    page = leader.get("/tasks/?view=department").get_data(as_text=True)
    assert "XF-2026-000001" in page and "调查核实并形成报告" in page
    staff = signed_in(app, "s1_liu")
    assert staff.get("/tasks/?view=department").status_code == 404
