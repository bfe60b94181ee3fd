"""The Camunda 7 dialect as process owners write it: generated forms without formKey, routing attributes
with ${...} expressions, due and follow-up dates, priority, properties, unquoted ISO timers and JUEL
conditions — all deploy and work."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import files, read

from engine import Engine, FormErrors
from engine.reads.queues import QueueQuery
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Deployment, Timer, User, WorkItem


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry())
    engine.deploy(files("routing.bpmn"), by="owner")
    return engine


@pytest.fixture
def staff():
    return make_actor("wang", "petition_staff", department="petition_office")


def _spec(eng: Engine):
    with eng.db.read() as session:
        row = session.scalars(sa.select(Deployment).where(Deployment.process_id == "routing")).one()
    return eng.specs.get(row).spec


def _route(eng: Engine, staff, start: dict, form: dict) -> int:
    """Start a case and complete the first task; the expressions of the next task need officer and urgency."""
    case_id = eng.start_case("routing", start, staff)
    eng.complete(eng.find_task(case_id, "Task_choose"), staff, {"officer": "li", "urgency": "50", **form})
    return case_id


def test_form_fields_are_read_without_form_key(eng, staff):
    assert "camunda:formKey=" not in read("routing.bpmn")
    form = _spec(eng).task_specs["Task_choose"].xinfang_form
    assert [(f.id, f.type, f.required) for f in form.fields] == [
        ("handling_department", "enum", True), ("urgency", "long", False), ("officer", "string", False)]
    assert [o.id for o in form.field("handling_department").options] == ["dept_a", "dept_b"]
    # ... and enforced on the server
    case_id = eng.start_case("routing", {"a": True, "b": False}, staff)
    task_id = eng.find_task(case_id, "Task_choose")
    with pytest.raises(FormErrors) as errors:
        eng.complete(task_id, staff, {"handling_department": "dept_x", "urgency": "很急", "extra": "1"})
    assert errors.value.errors == {"handling_department": "请从可选项中选择", "urgency": "应为整数",
                                   "extra": "表单中没有此字段"}
    with pytest.raises(FormErrors) as errors:
        eng.complete(task_id, staff, {})
    assert errors.value.errors == {"handling_department": "此项为必填项"}


def test_routing_expressions_use_earlier_task_data(eng, staff, clock):
    case_id = _route(eng, staff, {"a": True, "b": False},
                     {"handling_department": "dept_b", "urgency": "80", "officer": "zhao"})
    (item,) = eng.work_items(case_id)
    assert item["bpmn_id"] == "Task_handle"
    assert item["department"] == "dept_b"  # camunda:property department = ${handling_department}
    assert item["candidate_groups"] == ["handling_staff"]  # literal candidateGroups
    assert item["candidate_users"] == ["zhao"]  # candidateUsers = ${officer}
    assert item["priority"] == 80  # camunda:priority = ${urgency}
    assert item["assignee"] is None
    with eng.db.read() as session:
        row = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id)).one()
    # Monday 09:00 + 3 working days: Tue, Wed, Thu → ends at 24:00 Thursday
    assert row.due_at == datetime.fromisoformat("2026-03-06T00:00:00+08:00")
    assert row.remind_at == datetime.fromisoformat("2026-03-04T00:00:00+08:00")  # workdays(1): end of Tuesday
    assert row.created_at == clock.now()

    # another department routes the same task elsewhere
    other = _route(eng, staff, {"a": True, "b": False}, {"handling_department": "dept_a"})
    (item,) = eng.work_items(other)
    assert (item["department"], item["candidate_users"], item["priority"]) == ("dept_a", ["li"], 50)


def test_due_date_counts_from_the_moment_the_task_arrives(eng, staff, clock):
    case_id = eng.start_case("routing", {"a": True, "b": False}, staff)
    clock.set(datetime.fromisoformat("2026-03-06T15:00:00+08:00"))  # Friday afternoon
    eng.complete(eng.find_task(case_id, "Task_choose"), staff,
                 {"handling_department": "dept_a", "officer": "li", "urgency": "1"})
    with eng.db.read() as session:
        row = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id)).one()
    # Mon 9, Tue 10, Wed 11 → 24:00 Wednesday
    assert row.due_at == datetime.fromisoformat("2026-03-12T00:00:00+08:00")
    assert row.remind_at == datetime.fromisoformat("2026-03-10T00:00:00+08:00")


def test_assignee_and_candidate_groups_as_expressions(eng, staff):
    with eng.db.write() as session:
        session.add(User(name="zhao", display_name="赵"))
    case_id = _route(eng, staff, {"a": True, "b": True, "review_role": "petition_head"},
                     {"handling_department": "dept_a", "officer": "zhao"})
    (item,) = eng.work_items(case_id)
    assert item["bpmn_id"] == "Task_other"
    assert item["assignee"] == "zhao"  # camunda:assignee = ${officer}
    assert item["candidate_groups"] == ["petition_head"]  # candidateGroups = ${review_role}
    zhao, head = make_actor("zhao"), make_actor("chen", "petition_head")
    assert [i["case_id"] for i in eng.queue(zhao, QueueQuery(view="mine"))] == [case_id]
    assert eng.queue(head, QueueQuery(view="groups")) == []  # assigned items are not up for claiming


def test_an_assignee_who_is_no_user_leaves_the_task_in_the_pool_and_says_why(eng, staff):
    case_id = _route(eng, staff, {"a": True, "b": True, "review_role": "petition_head"},
                     {"handling_department": "dept_a", "officer": "nobody"})
    (item,) = eng.work_items(case_id)
    assert item["assignee"] is None
    head = make_actor("chen", "petition_head")
    assert [i["case_id"] for i in eng.queue(head, QueueQuery(view="groups"))] == [case_id]
    (pooled,) = [e["payload"]["to_pool"] for e in eng.history(case_id) if e["payload"].get("to_pool")]
    assert pooled[0]["person"] == "nobody" and pooled[0]["why"] == "办理人不存在或已停用"


def test_camunda_properties_are_kept(eng):
    routing = _spec(eng).task_specs["Task_handle"].routing
    assert routing.properties == {"department": "${handling_department}", "help": "请按期办结"}
    assert routing.department == "${handling_department}"
    assert (routing.candidate_groups, routing.candidate_users, routing.priority) == (
        "handling_staff", "${officer}", "${urgency}")
    assert (routing.due_date, routing.follow_up_date) == ("${workdays(3)}", "${workdays(1)}")
    with eng.db.read() as session:
        (row,) = session.scalars(sa.select(Deployment))
    assert '<camunda:property name="help" value="请按期办结" />' in row.files["routing.bpmn"]


@pytest.mark.parametrize(("a", "b", "expected"), [
    (True, False, "Task_handle"), (True, True, "Task_other"), (False, False, "Task_other"),
])
def test_juel_condition_chooses_the_branch(eng, staff, a, b, expected):
    case_id = _route(eng, staff, {"a": a, "b": b, "review_role": "petition_staff"},
                     {"handling_department": "dept_a", "officer": "zhao"})
    assert [item["bpmn_id"] for item in eng.work_items(case_id)] == [expected]


def test_unquoted_iso_timers_wait_with_the_right_due_time(eng, staff):
    case_id = _route(eng, staff, {"a": True, "b": False}, {"handling_department": "dept_a"})
    timers = {t["bpmn_id"]: t for t in eng.case(case_id)["timers"]}
    assert {k: (t["kind"], t["name"]) for k, t in timers.items()} == {
        "Timer_duration": ("duration", "三日提醒"), "Timer_cycle": ("cycle", "每小时催办"),
        "Timer_date": ("date", "年底清理")}
    with eng.db.read() as session:
        rows = {row.bpmn_id: row for row in session.scalars(sa.select(Timer).where(Timer.case_id == case_id))}
    assert rows["Timer_duration"].due_at == datetime.fromisoformat("2026-03-05T09:00:00+08:00")  # P3D
    assert rows["Timer_cycle"].due_at == datetime.fromisoformat("2026-03-02T10:00:00+08:00")  # R3/PT1H
    assert rows["Timer_date"].due_at == datetime.fromisoformat("2026-12-01T09:00:00+08:00")
    assert all(row.due_at.utcoffset().total_seconds() == 0 for row in rows.values())  # stored as aware UTC
    # the timers leave with their task
    eng.complete(eng.find_task(case_id, "Task_handle"), make_actor("zhao", "handling_staff", department="dept_a"))
    assert eng.case(case_id)["timers"] == []
    assert eng.case(case_id)["status"] == "completed"


def test_timer_due_times_follow_the_clock(eng, staff, clock):
    clock.set(datetime.fromisoformat("2026-04-10T14:30:00+08:00"))
    case_id = _route(eng, staff, {"a": True, "b": False}, {"handling_department": "dept_a"})
    due = {t["bpmn_id"]: datetime.fromisoformat(t["due_at"]) for t in eng.case(case_id)["timers"]}
    assert due["Timer_duration"] == datetime.fromisoformat("2026-04-13T14:30:00+08:00")
    assert due["Timer_cycle"] == datetime.fromisoformat("2026-04-10T15:30:00+08:00")
    assert due["Timer_date"] == datetime.fromisoformat("2026-12-01T09:00:00+08:00")
