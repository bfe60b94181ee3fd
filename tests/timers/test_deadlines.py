"""Deadlines computed from the Chinese working-day calendar (task due dates and timers), and moving a waiting
deadline after an approved extension. Instants are checked against WorkingCalendar *and* against the value
worked out by hand from the State Council's 2026 schedule."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from engine import Conflict, NotFound
from engine.store.models import WorkItem, WorkItemCandidate
from engine.timing.calendar import WorkingCalendar

from .support import (
    HEAD,
    ONE_SECOND,
    STAFF,
    at,
    deploy,
    events,
    fire_exactly_after,
    lease,
    open_tasks,
    process,
    timer_row,
)


def deadline_process(process_id: str, expression: str, cancel: bool = False) -> str:
    """A task due at `expression`, with a boundary timer at the same instant that escalates."""
    return process(process_id, f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_handle" />
    <bpmn:userTask id="Task_handle" name="办理" camunda:candidateGroups="petition_staff"
        camunda:dueDate="{expression}" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_handle" targetRef="EndEvent_done" />
    <bpmn:endEvent id="EndEvent_done" />
    <bpmn:boundaryEvent id="Timer_overdue" name="办理超期" attachedToRef="Task_handle"
        cancelActivity="{'true' if cancel else 'false'}">
      <bpmn:timerEventDefinition><bpmn:timeDate>{expression}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Timer_overdue" targetRef="Task_followup" />
    <bpmn:userTask id="Task_followup" name="督办" camunda:candidateGroups="petition_head" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Task_followup" targetRef="EndEvent_followed" />
    <bpmn:endEvent id="EndEvent_followed" />""")


def work_item_due(engine, case_id: int, bpmn_id: str) -> datetime:
    [item] = [item for item in engine.work_items(case_id) if item["bpmn_id"] == bpmn_id]
    return at(item["due_at"])


def test_three_working_days_across_the_spring_festival(engine, clock):
    # Friday 13 Feb 2026 09:00. The start day does not count. Saturday 14 Feb is a make-up working day
    # (day 1); 15–23 Feb are the Spring Festival holidays; Tuesday 24 Feb is day 2, Wednesday 25 Feb day 3.
    # The period ends at 24:00 on 25 Feb = 00:00 on 26 Feb, Beijing time.
    start = at("2026-02-13T09:00:00+08:00")
    expected = at("2026-02-26T00:00:00+08:00")
    assert WorkingCalendar().add_workdays(start, 3) == expected
    clock.set(start)
    deploy(engine, deadline_process("deadline_workdays", "${workdays(3)}"))
    case_id = engine.start_case("deadline_workdays", {}, STAFF)

    assert work_item_due(engine, case_id, "Task_handle") == expected
    row = timer_row(engine, case_id)
    assert (row.kind, row.due_at) == ("date", expected)

    fire_exactly_after(clock, engine.scheduler(), expected)
    assert open_tasks(engine, case_id) == ["Task_followup", "Task_handle"]


def test_one_month_from_31_january_ends_on_the_make_up_saturday(engine, clock):
    # 31 Jan + one month: February has no 31st → its last day, Saturday 28 Feb 2026, which is a make-up
    # working day, so the deadline stays there: 24:00 on 28 Feb = 00:00 on 1 March.
    start = at("2026-01-31T10:00:00+08:00")
    expected = at("2026-03-01T00:00:00+08:00")
    calendar = WorkingCalendar()
    assert date(2026, 2, 28).weekday() == 5 and calendar.is_workday(date(2026, 2, 28))
    assert calendar.add_months(start, 1) == expected
    clock.set(start)
    deploy(engine, deadline_process("deadline_months", "${months(1)}"))
    case_id = engine.start_case("deadline_months", {}, STAFF)

    assert work_item_due(engine, case_id, "Task_handle") == expected
    assert timer_row(engine, case_id).due_at == expected
    fire_exactly_after(clock, engine.scheduler(), expected)
    assert "Task_followup" in open_tasks(engine, case_id)


def test_fifteen_calendar_days_ending_in_the_national_day_holiday_move_to_the_next_working_day(engine, clock):
    # 16 Sep 2026 + 15 days = Thursday 1 Oct, a holiday (1–7 Oct); the next working day is Thursday 8 Oct,
    # so the timer is due at 24:00 on 8 Oct = 00:00 on 9 Oct.
    start = at("2026-09-16T09:00:00+08:00")
    expected = at("2026-10-09T00:00:00+08:00")
    assert WorkingCalendar().add_days(start, 15) == expected
    clock.set(start)
    deploy(engine, process("deadline_days", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Timer_wait" />
    <bpmn:intermediateCatchEvent id="Timer_wait" name="十五日">
      <bpmn:timerEventDefinition><bpmn:timeDate>${days(15)}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer_wait" targetRef="Task_after" />
    <bpmn:userTask id="Task_after" name="后续" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_after" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />"""))
    case_id = engine.start_case("deadline_days", {}, STAFF)

    assert timer_row(engine, case_id).due_at == expected
    fire_exactly_after(clock, engine.scheduler(), expected)
    assert open_tasks(engine, case_id) == ["Task_after"]


# ---- moving a deadline (extension) -----------------------------------------------------------------------

OLD_DUE = at("2026-03-06T00:00:00+08:00")  # Monday 2 March 09:00 + 3 working days
NEW_DUE = at("2026-03-21T00:00:00+08:00")  # + 15 days from the old deadline (5 March) = Friday 20 March


@pytest.fixture
def extension_case(engine):
    deploy(engine, deadline_process("deadline_extension", "${workdays(3)}", cancel=True))
    case_id = engine.start_case("deadline_extension", {}, STAFF)
    assert timer_row(engine, case_id).due_at == OLD_DUE
    assert WorkingCalendar().add_days(OLD_DUE, 15) == NEW_DUE
    return case_id


def test_moved_deadline_fires_at_the_new_time_only(engine, clock, extension_case):
    case_id = extension_case
    handle = engine.find_task(case_id, "Task_handle")
    timer_id = timer_row(engine, case_id).id
    version = engine.case(case_id)["version"]

    engine.move_deadline(case_id, "Timer_overdue", NEW_DUE, HEAD, "延期申请已批准")

    row = timer_row(engine, case_id)
    assert (row.id, row.due_at) == (timer_id, NEW_DUE)  # the same row, moved
    assert work_item_due(engine, case_id, "Task_handle") == NEW_DUE
    with engine.db.read() as session:  # the queues' copy moves with it
        copies = session.scalars(sa.select(WorkItemCandidate.due_at).join(
            WorkItem, WorkItem.id == WorkItemCandidate.work_item_id).where(WorkItem.task_id == handle)).all()
    assert copies and set(copies) == {NEW_DUE}
    assert engine.find_task(case_id, "Task_handle") == handle
    case = engine.case(case_id)
    assert case["version"] == version + 1
    [moved] = events(engine, case_id, "deadline_moved")
    assert moved["actor"] == HEAD.name and moved["bpmn_id"] == "Timer_overdue"
    assert at(moved["payload"]["from"]) == OLD_DUE
    assert at(moved["payload"]["to"]) == NEW_DUE
    assert moved["payload"]["reason"] == "延期申请已批准"
    assert engine.verify_audit().ok

    scheduler = engine.scheduler()
    clock.set(OLD_DUE + ONE_SECOND)
    assert scheduler.tick().claimed == 0  # not at the old time
    clock.advance(days=3)
    assert scheduler.tick().claimed == 0
    assert open_tasks(engine, case_id) == ["Task_handle"]
    assert events(engine, case_id, "timer_fired") == []

    fire_exactly_after(clock, scheduler, NEW_DUE)
    assert open_tasks(engine, case_id) == ["Task_followup"]
    [fired] = events(engine, case_id, "timer_fired")
    assert at(fired["payload"]["due_at"]) == NEW_DUE


def test_moving_a_leased_timer_stops_the_old_firing(engine, clock, extension_case):
    """A scheduler leased the timer at the old deadline; the extension is approved before it fires."""
    case_id = extension_case
    clock.set(OLD_DUE + ONE_SECOND)
    slow = engine.scheduler(owner="slow")
    [timer_id] = lease(slow, clock.now())

    engine.move_deadline(case_id, "Timer_overdue", NEW_DUE, HEAD, "延期")

    with pytest.raises(Conflict, match="尚未到期"):  # not due any more
        engine.commands.fire_timer(timer_id, "slow")
    assert open_tasks(engine, case_id) == ["Task_handle"]
    assert events(engine, case_id, "timer_fired") == []
    fire_exactly_after(clock, engine.scheduler(owner="other"), NEW_DUE)
    assert len(events(engine, case_id, "timer_fired")) == 1


def test_moving_a_deadline_twice_and_earlier(engine, clock, extension_case):
    case_id = extension_case
    engine.move_deadline(case_id, "Timer_overdue", NEW_DUE, HEAD, "第一次延期")
    earlier = at("2026-03-04T12:00:00+08:00")
    engine.move_deadline(case_id, "Timer_overdue", earlier, HEAD, "提前")
    moves = [(at(e["payload"]["from"]), at(e["payload"]["to"])) for e in events(engine, case_id, "deadline_moved")]
    assert moves == [(OLD_DUE, NEW_DUE), (NEW_DUE, earlier)]
    assert work_item_due(engine, case_id, "Task_handle") == earlier
    fire_exactly_after(clock, engine.scheduler(), earlier)
    assert open_tasks(engine, case_id) == ["Task_followup"]


def test_move_deadline_refusals(engine, clock, extension_case):
    case_id = extension_case
    version = engine.case(case_id)["version"]
    with pytest.raises(ValueError):
        engine.move_deadline(case_id, "Timer_overdue", datetime(2026, 3, 20), HEAD, "无时区")
    with pytest.raises(NotFound):
        engine.move_deadline(case_id, "Timer_unknown", NEW_DUE, HEAD, "不存在")
    assert engine.case(case_id)["version"] == version
    assert timer_row(engine, case_id).due_at == OLD_DUE
    clock.set(OLD_DUE + ONE_SECOND)
    engine.scheduler().drain()
    with pytest.raises(NotFound):  # already fired: nothing is waiting
        engine.move_deadline(case_id, "Timer_overdue", NEW_DUE, HEAD, "太晚了")


def test_a_deadline_moved_into_the_past_fires_on_the_next_tick_and_is_recorded(engine, clock, extension_case):
    case_id = extension_case
    clock.advance(hours=2)
    engine.move_deadline(case_id, "Timer_overdue", clock.now() - ONE_SECOND, HEAD, "期限已过，立即督办")
    assert open_tasks(engine, case_id) == ["Task_handle"]  # moving is not firing
    assert engine.scheduler().tick().fired == 1
    assert open_tasks(engine, case_id) == ["Task_followup"]
    assert [event["kind"] for event in engine.case(case_id)["events"]] == ["start", "deadline_moved", "timer_fired"]
