"""Work items: one row per READY user task with everything a queue needs, and queue views and counts
that read only the work-item tables."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import files, process
from SpiffWorkflow.util.task import TaskState

from engine import Engine
from engine.bpmn.deployments import SpecCache
from engine.reads.queues import QUEUES, QueueQuery
from engine.runtime.handlers_registry import HandlerRegistry
from engine.runtime.serialization import CaseSerializer
from engine.store.models import Case, Deployment, WorkItem, WorkItemCandidate

QUEUE_DIAGRAM = process("queue", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_work" />
    <bpmn:userTask id="Task_work" name="办理" camunda:candidateGroups="petition_staff" camunda:dueDate="${due}">
      <bpmn:extensionElements>
        <camunda:properties><camunda:property name="department" value="${dept}" /></camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_work" targetRef="End" />
    <bpmn:endEvent id="End" />""")

WANG = make_actor("wang", "petition_staff", department="petition_office")
ZHAO = make_actor("zhao", "petition_staff", department="petition_office")
SUN = make_actor("sun", "petition_staff", department="dept_b")
LI = make_actor("li", "leader_in_charge", department="petition_office")


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry())
    engine.deploy({**files("laned.bpmn"), "queue.bpmn": QUEUE_DIAGRAM}, by="owner")
    return engine


def _rows(eng: Engine, case_id: int) -> list[WorkItem]:
    with eng.db.read() as session:
        return list(session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id)))


def _ready_user_tasks(eng: Engine, case_id: int) -> dict[str, str]:
    with eng.db.read() as session:
        case = session.get(Case, case_id)
        loaded = eng.specs.get(session.get(Deployment, case.deployment_id))
        state = case.state
    workflow = eng.commands.serializer.loads(state, loaded.spec, loaded.subprocess_specs)
    return {str(t.id): t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual}


def test_a_row_per_ready_user_task(eng, clock):
    case_id = eng.start_case("laned", {"department": "dept_b"}, WANG)
    rows = _rows(eng, case_id)
    assert {row.task_id: row.bpmn_id for row in rows} == _ready_user_tasks(eng, case_id)
    by_id = {row.bpmn_id: row for row in rows}
    assert set(by_id) == {"Task_register", "Task_check"}

    register, check = by_id["Task_register"], by_id["Task_check"]
    assert (register.case_id, register.process_id, register.name, register.ordinal) == (case_id, "laned", "登记", 1)
    assert register.lane == "信访室工作人员" and register.candidate_groups == ["petition_staff"]  # lane by label
    assert (register.department, register.assignee, register.due_at, register.priority) == (None, None, None, None)
    assert register.created_at == clock.now()
    assert check.lane == "handling_staff" and check.candidate_groups == ["handling_staff"]  # lane by role id
    assert check.department == "dept_b"
    assert check.due_at == datetime.fromisoformat("2026-03-05T00:00:00+08:00")  # two working days from Monday
    with eng.db.read() as session:
        candidates = {(c.work_item_id, c.candidate, c.due_at) for c in session.scalars(sa.select(WorkItemCandidate))}
    # a role of a department-bound item is keyed with the department; the due time is copied for the counts
    assert candidates == {(register.id, "role:petition_staff", None),
                          (check.id, "role:handling_staff@dept_b", check.due_at)}

    # the API view carries the same
    view = {item["bpmn_id"]: item for item in eng.work_items(case_id)}
    assert view["Task_check"]["due_at"] == "2026-03-04T16:00:00+00:00"
    assert view["Task_register"]["created_at"] == clock.now().isoformat()


def test_rows_follow_the_case_and_keep_claims(eng, clock):
    case_id = eng.start_case("laned", {"department": "dept_b"}, WANG)
    register = eng.find_task(case_id, "Task_register")
    eng.claim(register, WANG)
    (before,) = [row for row in _rows(eng, case_id) if row.bpmn_id == "Task_register"]
    clock.advance(hours=2)
    eng.complete(eng.find_task(case_id, "Task_check"), make_actor("sun", "handling_staff", department="dept_b"))
    (row,) = _rows(eng, case_id)
    assert (row.id, row.task_id, row.assignee, row.created_at) == (before.id, register, "wang", before.created_at)
    assert set(_ready_user_tasks(eng, case_id)) == {register}
    eng.complete(register, WANG)
    assert _rows(eng, case_id) == []
    with eng.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(WorkItemCandidate)) == 0


def _queue_cases(eng: Engine, clock) -> dict[str, int]:
    now = clock.now()

    def start(due: timedelta | None, dept: str | None = None) -> int:
        data = {"due": (now + due).isoformat() if due is not None else None, "dept": dept}
        return eng.start_case("queue", data, WANG)

    cases = {
        "soon": start(timedelta(days=1)),
        "over": start(timedelta(hours=-1)),
        "later": start(timedelta(days=10)),
        "none": start(None),
        "other_dept": start(timedelta(days=1), "dept_b"),
        "mine": start(timedelta(days=2)),
        "zhaos": start(timedelta(days=1)),
    }
    eng.claim(eng.find_task(cases["mine"], "Task_work"), WANG)
    eng.claim(eng.find_task(cases["zhaos"], "Task_work"), ZHAO)
    return cases


def _view(eng: Engine, actor, view: str, **kwargs) -> list[int]:
    return [item["case_id"] for item in eng.queue(actor, QueueQuery(view=view, **kwargs))]


def test_queue_views_and_counts(eng, clock):
    cases = _queue_cases(eng, clock)
    name = {case_id: key for key, case_id in cases.items()}

    def views(actor) -> dict[str, list[str]]:
        return {view: [name[c] for c in _view(eng, actor, view)] for view in QUEUES}

    assert views(WANG) == {
        "mine": ["mine"],
        "groups": ["over", "soon", "later", "none"],
        "overdue": ["over"],
        "due_soon": ["soon", "mine"],
    }
    assert views(ZHAO)["mine"] == ["zhaos"] and views(ZHAO)["due_soon"] == ["soon", "zhaos"]
    assert views(SUN) == {
        "mine": [],
        "groups": ["over", "soon", "other_dept", "later", "none"],
        "overdue": ["over"],
        "due_soon": ["soon", "other_dept"],
    }
    assert views(LI) == {view: [] for view in QUEUES}
    for actor in (WANG, ZHAO, SUN, LI):
        assert eng.queue_counts(actor) == {view: len(items) for view, items in views(actor).items()}

    clock.advance(days=2)  # Wednesday 09:00: "soon" is overdue, "mine" is due right now
    assert views(WANG)["overdue"] == ["over", "soon"]
    assert views(WANG)["due_soon"] == ["mine"]
    assert eng.queue_counts(WANG)["overdue"] == 2
    clock.advance(days=7)  # the next Wednesday: "later" comes within three days
    assert views(WANG)["overdue"] == ["over", "soon", "mine"]
    assert views(WANG)["due_soon"] == ["later"]
    assert [name[c] for c in _view(eng, WANG, "due_soon", within_days=1)] == []
    assert eng.queue_counts(WANG, within_days=1)["due_soon"] == 0
    assert eng.queue_counts(WANG) == {"mine": 1, "groups": 4, "overdue": 3, "due_soon": 1}

    eng.unclaim(eng.find_task(cases["mine"], "Task_work"), WANG)  # counts read copies of the assignee
    assert eng.queue_counts(WANG) == {"mine": 0, "groups": 5, "overdue": 3, "due_soon": 1}
    assert eng.queue_counts(WANG) == {view: len(items) for view, items in views(WANG).items()}


def test_queue_paging(eng, clock):
    _queue_cases(eng, clock)
    everything = _view(eng, WANG, "groups")
    assert _view(eng, WANG, "groups", limit=2) == everything[:2]
    assert _view(eng, WANG, "groups", limit=2, offset=2) == everything[2:4]


def test_queues_read_only_the_work_item_tables(eng, clock, monkeypatch):
    _queue_cases(eng, clock)
    expected = {view: _view(eng, WANG, view) for view in QUEUES}
    expected_counts = eng.queue_counts(WANG)

    def refuse(*args, **kwargs):
        raise AssertionError("a queue must not load a workflow")

    monkeypatch.setattr(CaseSerializer, "loads", refuse)
    monkeypatch.setattr(SpecCache, "get", refuse)
    monkeypatch.setattr(SpecCache, "for_id", refuse)
    monkeypatch.setattr(SpecCache, "_parse", staticmethod(refuse))
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(eng.db.engine, "before_cursor_execute", record)
    try:
        assert {view: _view(eng, WANG, view) for view in QUEUES} == expected
        assert eng.queue_counts(WANG) == expected_counts
    finally:
        sa.event.remove(eng.db.engine, "before_cursor_execute", record)
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # two per view (the page's ids merged from index ranges, then its rows), one for all the counts
    assert len(queries) == 2 * len(QUEUES) + 1
    found = [re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", statement, re.IGNORECASE) for statement in queries]
    tables = {table for names in found for table in names}
    assert tables == {"work_items", "work_item_candidates", "work_item_exclusions"}  # + separation of duties
    assert not any(re.search(r"\b(cases|events|deployments|timers)\b", s) for s in queries)
