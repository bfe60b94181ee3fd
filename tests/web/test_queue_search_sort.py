"""Text search (?q=) and column sorting (?sort=…&dir=…) in the open queues, urgency shown in words, the
department filter offering only departments that handle items; answered from the work-item tables."""

from __future__ import annotations

import re
from datetime import timedelta

from support import login, register, signed_in, work_through

from engine.api import DONE_SORTS, QUEUE_SORTS
from engine.runtime.serialization import CaseSerializer
from engine.store.models import Department
from web.queue_args import DONE_SORT_LABELS, QUEUE_SORT_LABELS

_ROW = re.compile(r'<tr class="[^"]*">\s*(.*?)</tr>', re.S)
_TAG = re.compile(r"<[^>]+>")


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [" ".join(_TAG.sub(" ", row).split()) for row in _ROW.findall(body)]


def _three(client, clock) -> None:
    for name, summary, received, urgency in (("张某", "工程招标收受礼金", "2026-02-20", "normal"),
                                              ("赵某", "侵占集体土地补偿款", "2026-02-25", "urgent"),
                                              ("钱某", "工作日饮酒", "2026-02-10", "normal")):
        register(client, summary=summary, received_on=received, urgency=urgency, **{"accused.0.name": name})
        clock.advance(timedelta(minutes=5))


def test_search_finds_by_accused_summary_number_and_task_name(client, engine, clock):
    login(client, "xf_wang")
    _three(client, clock)
    for words, expected in (("赵某", "赵某"), ("饮酒", "钱某"), ("XF-2026-000001", "张某")):
        rows = _rows(client.get(f"/tasks/?view=groups&q={words}").get_data(as_text=True))
        assert len(rows) == 1 and expected in rows[0], words
    task_name = engine.work_items(1)[0]["name"]
    assert len(_rows(client.get(f"/tasks/?view=groups&q={task_name}").get_data(as_text=True))) == 3
    nothing = client.get("/tasks/?view=groups&q=%25").get_data(as_text=True)  # a LIKE wildcard is a literal
    assert "没有符合条件的任务" in nothing and "共 0 件" in nothing


def test_search_never_matches_an_item_out_of_the_readers_scope(client, app, engine, clock):
    login(client, "xf_wang")
    register(client, summary="反映本级领导班子成员问题", **{"accused.0.name": "孙某"})
    case_id = register(client, summary="另一件反映村务问题")
    work_through(engine, clock, 1, "Task_classify", Task_classify={"category": "higher_level"})
    # the sealed item's task goes to the principal leader; the petition staff's search cannot reach it
    assert _rows(client.get("/tasks/?view=groups&q=孙某").get_data(as_text=True)) == []
    assert len(_rows(client.get("/tasks/?view=groups&q=另一件反映").get_data(as_text=True))) == 1
    assert case_id


def test_columns_sort_both_ways_and_unknown_sorts_fall_back(client, clock):
    login(client, "xf_wang")
    _three(client, clock)

    def order(query: str) -> list[str]:
        rows = _rows(client.get(f"/tasks/?view=groups&{query}").get_data(as_text=True))
        return [next(name for name in ("张某", "赵某", "钱某") if name in row) for row in rows]

    assert order("sort=received&dir=asc") == ["钱某", "张某", "赵某"]
    assert order("sort=received") == ["赵某", "张某", "钱某"]  # natural direction: newest received first
    assert order("sort=number&dir=asc") == ["张某", "赵某", "钱某"]
    assert order("sort=number&dir=desc") == ["钱某", "赵某", "张某"]
    assert order("sort=arrived") == ["钱某", "赵某", "张某"]
    assert order("sort=urgency")[0] == "赵某"
    assert order("sort=id;drop&dir=up") == order("sort=due")
    page = client.get("/tasks/?view=groups&sort=received&dir=asc").get_data(as_text=True)
    assert 'aria-sort="ascending"' in page and "↑升序" in page
    # the header of the sorted column turns the order round; the others start in their natural direction
    assert "sort=received&amp;dir=desc" in page and "sort=number&amp;dir=desc" in page


def test_every_sortable_column_has_a_chinese_label():
    assert set(QUEUE_SORT_LABELS) == set(QUEUE_SORTS)
    assert set(DONE_SORT_LABELS) == set(DONE_SORTS)


def test_urgency_is_a_badge_with_words(client, engine, clock):
    login(client, "xf_wang")
    _three(client, clock)
    rows = _rows(client.get("/tasks/?view=groups").get_data(as_text=True))
    urgent = [row for row in rows if "赵某" in row]
    assert "紧急" in urgent[0] and all("紧急" not in row for row in rows if "赵某" not in row)
    work_through(engine, clock, 1, "Task_classify")
    clock.advance(timedelta(days=1))
    login(client, "xf_wang")  # a day on, the session has timed out
    soon = _rows(client.get("/tasks/?view=due_soon").get_data(as_text=True))
    assert soon and all("即将到期" in row for row in soon)
    clock.advance(timedelta(days=10))
    login(client, "xf_wang")
    late = _rows(client.get("/tasks/?view=overdue").get_data(as_text=True))
    assert late and all("已超期" in row for row in late)
    # the task page carries the same badges
    urgent_task = next(item["task_id"] for item in engine.work_items(2))
    assert re.search(r'<span class="badge bad">紧急</span>', client.get(f"/tasks/{urgent_task}").get_data(as_text=True))
    plain_task = next(item["task_id"] for item in engine.work_items(3))
    plain = client.get(f"/tasks/{plain_task}").get_data(as_text=True)
    assert "已超期" in plain and '<span class="badge bad">紧急</span>' not in plain


def test_department_filter_lists_only_departments_that_handle_items(client, engine):
    login(client, "xf_wang")
    page = client.get("/tasks/?view=groups").get_data(as_text=True)
    select = page.split('id="f-department"', 1)[1].split("</select>", 1)[0]
    offered = set(re.findall(r'<option value="([^"]+)"', select))
    with engine.db.read() as session:
        kinds = dict(session.query(Department.code, Department.kind).all())
    assert offered == {code for code, kind in kinds.items() if kind == "handling"}
    assert "petition_office" not in offered and "office" not in offered


def test_stage_filter_offers_only_stages_with_user_tasks(client):
    login(client, "xf_wang")
    for path in ("/tasks/?view=groups", "/tasks/done"):
        page = client.get(path).get_data(as_text=True)
        select = page.split('id="f-stage"', 1)[1].split("</select>", 1)[0]
        offered = set(re.findall(r'<option value="([^"]+)"', select))
        # the main diagram and the supervision stage only call others and fire timers: no task to filter by
        assert {"intake", "classification", "handling", "joint_review"} <= offered, path
        assert not offered & {"petition", "supervision"}, path


def test_queue_pages_never_load_a_workflow(client, clock, monkeypatch):
    login(client, "xf_wang")
    _three(client, clock)

    def refuse(*args, **kwargs):
        raise AssertionError("a queue deserialised a workflow")

    monkeypatch.setattr(CaseSerializer, "loads", refuse)
    for query in ("view=groups&q=赵某", "view=groups&sort=urgency", "view=mine&sort=received&dir=asc"):
        assert client.get(f"/tasks/?{query}").status_code == 200, query
    assert client.get("/tasks/done?q=赵某&sort=number").status_code == 200


def test_other_users_do_not_see_the_matches(app, client, clock):
    login(client, "xf_wang")
    _three(client, clock)
    assert _rows(signed_in(app, "s2_zhou").get("/tasks/?view=groups&q=赵某").get_data(as_text=True)) == []

