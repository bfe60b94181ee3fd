"""已办 (/tasks/done): the tasks I completed, newest first, searchable, sortable, paginated, and never a case
I may no longer read; sealed items carry their mark as elsewhere."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from support import SIGN_OFF, login, register, signed_in, work_through

from engine.store.models import CompletedTask
from web import tasks

_ROW = re.compile(r"<tr>\s*(.*?)</tr>", re.S)
_TAG = re.compile(r"<[^>]+>")


def _rows(page: str) -> list[str]:
    """The visible text of each row of the done table."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [" ".join(_TAG.sub(" ", row).split()) for row in _ROW.findall(body)]


def _number(engine, case_id: int) -> str:
    return engine.case(case_id)["data"]["registration_number"]


def _task_name(engine, case_id: int, bpmn_id: str) -> str:
    return next(item["name"] for item in engine.work_items(case_id) if item["bpmn_id"] == bpmn_id)


def test_done_lists_my_completed_tasks_newest_first(client, app, engine, clock):
    login(client, "xf_wang")
    first = register(client)
    clock.advance(timedelta(minutes=10))
    second = register(client, summary="某局科长工作日饮酒", **{"accused.0.name": "钱某"})
    classify = _task_name(engine, first, "Task_classify")
    clock.advance(timedelta(minutes=10))
    work_through(engine, clock, first, "Task_classify")
    page = client.get("/tasks/done").get_data(as_text=True)
    rows = _rows(page)
    assert len(rows) == 3 and "共 3 件" in page
    assert _number(engine, first) in rows[0] and classify in rows[0]
    assert _number(engine, second) in rows[1] and "钱某" in rows[1]
    assert _number(engine, first) in rows[2] and classify not in rows[2]
    with engine.db.read() as session:
        stored = session.scalars(sa.select(CompletedTask).order_by(CompletedTask.id)).all()
    assert [row.completed_by for row in stored] == ["xf_wang"] * 3
    assert stored[2].name == classify and stored[2].arrived_at is not None
    # someone else's 已办 holds none of it
    assert _rows(signed_in(app, "xf_chen").get("/tasks/done").get_data(as_text=True)) == []


def test_done_is_searchable_sortable_and_paginated(client, engine, clock, monkeypatch):
    login(client, "xf_wang")
    cases = []
    for name, summary, received in (("张某", "工程招标收受礼金", "2026-02-20"),
                                    ("赵某", "侵占集体土地补偿款", "2026-02-25"),
                                    ("钱某", "工作日饮酒", "2026-02-10")):
        cases.append(register(client, summary=summary, received_on=received, **{"accused.0.name": name}))
        clock.advance(timedelta(minutes=10))
    found = _rows(client.get("/tasks/done?q=赵某").get_data(as_text=True))
    assert len(found) == 1 and _number(engine, cases[1]) in found[0]
    by_number = _rows(client.get(f"/tasks/done?q={_number(engine, cases[2])}").get_data(as_text=True))
    assert len(by_number) == 1 and "钱某" in by_number[0]
    assert _rows(client.get("/tasks/done?q=饮酒").get_data(as_text=True))[0].count("钱某") == 1
    assert "没有符合条件的已办任务" in client.get("/tasks/done?q=不存在的词").get_data(as_text=True)
    oldest_received = _rows(client.get("/tasks/done?sort=received&dir=asc").get_data(as_text=True))
    assert ["钱某" in oldest_received[0], "张某" in oldest_received[1], "赵某" in oldest_received[2]] == [True] * 3
    newest_received = _rows(client.get("/tasks/done?sort=received").get_data(as_text=True))
    assert "赵某" in newest_received[0] and "钱某" in newest_received[2]
    oldest_done = _rows(client.get("/tasks/done?sort=completed&dir=asc").get_data(as_text=True))
    assert "张某" in oldest_done[0] and "钱某" in oldest_done[2]
    # an unknown column or direction is the default order, not an error
    fallback = client.get("/tasks/done?sort=password&dir=sideways")
    assert fallback.status_code == 200 and "钱某" in _rows(fallback.get_data(as_text=True))[0]
    monkeypatch.setattr(tasks, "PAGE_SIZE", 2)
    first = client.get("/tasks/done").get_data(as_text=True)
    second = client.get("/tasks/done?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first and "下一页" in first and len(_rows(first)) == 2
    assert len(_rows(second)) == 1 and "张某" in _rows(second)[0]


def test_done_drops_a_case_that_left_my_scope(client, app, engine, clock):
    login(client, "xf_wang")
    case_id = register(client)
    chain = work_through(engine, clock, case_id, *SIGN_OFF, "Task_investigate")
    handler = signed_in(app, "s1_liu")
    assert _number(engine, case_id) in " ".join(_rows(handler.get("/tasks/done").get_data(as_text=True)))
    head = engine.actor("xf_chen")
    request_id = engine.staff.request_recusal(case_id, head, "s1_liu", "reporter", "反映人称其与被反映人系亲属")
    engine.staff.decide_recusal(request_id, head, True, "同意回避")
    page = handler.get("/tasks/done").get_data(as_text=True)
    assert _rows(page) == [] and "共 0 件" in page
    assert chain.case_id == case_id


def test_sealed_item_is_marked_for_its_readers_and_gone_for_the_others(client, app, engine, clock):
    login(client, "xf_wang")
    case_id = register(client, summary="反映本级领导班子成员问题")
    work_through(engine, clock, case_id, "Task_classify", Task_classify={"category": "higher_level"})
    assert _rows(client.get("/tasks/done").get_data(as_text=True)) == []  # xf_wang no longer reads it
    work_through(engine, clock, case_id, "Task_report_principal",
                 Task_report_principal={"report_principal_opinion": "同意报上级"})
    rows = _rows(signed_in(app, "leader_zhao").get("/tasks/done").get_data(as_text=True))
    assert len(rows) == 1 and _number(engine, case_id) in rows[0] and "密封件" in rows[0]
