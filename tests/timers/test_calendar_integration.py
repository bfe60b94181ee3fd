"""The working-day calendar as the running system sees it: a year the `chinesecalendar` package does not
cover (2027) fails loudly and harmlessly until an administrator imports its schedule (API or CLI), after
which its deadlines compute and fire; the missing-year warning from 1 November on."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

import cli.main
from engine import Engine, FakeClock, IncidentRaised
from engine.timing.calendar import DayOverride, WorkingCalendar, parse_schedule

from .support import (
    ONE_SECOND,
    STAFF,
    at,
    deploy,
    events,
    fire_exactly_after,
    incidents,
    kinds,
    process,
    timer_row,
    timer_rows,
)

# A 2027 schedule for the tests (the real one is published by the State Council around November 2026):
# New Year's Day Friday 1 Jan; Spring Festival holidays Saturday 6 – Sunday 14 Feb, with Saturday 13 Feb
# marked as a make-up working day.
SCHEDULE_2027 = [{"date": "2027-01-01", "workday": False, "note": "元旦"}] + [
    {"date": f"2027-02-{day:02d}", "workday": day == 13, "note": "春节调休上班" if day == 13 else "春节"}
    for day in range(6, 15)
]
SCHEDULE_CSV = "date,workday,note\n" + "".join(
    f"{entry['date']},{'上班' if entry['workday'] else '休息'},{entry['note']}\n" for entry in SCHEDULE_2027)


def schedule() -> list[DayOverride]:
    return parse_schedule(json.dumps(SCHEDULE_2027, ensure_ascii=False), "json")


def two_step_process(process_id: str, timer: str = "", due: str = "") -> str:
    """Task_a, then a task Task_b due at `due` or a timer at `timer` before Task_b."""
    due_attribute = f' camunda:dueDate="{due}"' if due else ""
    waiting = f"""
    <bpmn:intermediateCatchEvent id="Timer_wait" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDate>{timer}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_timer" sourceRef="Timer_wait" targetRef="Task_b" />""" if timer else ""
    return process(process_id, f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_a" />
    <bpmn:userTask id="Task_a" name="登记" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_a" targetRef="{'Timer_wait' if timer else 'Task_b'}" />{waiting}
    <bpmn:userTask id="Task_b" name="办理" camunda:candidateGroups="petition_staff"{due_attribute} />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_b" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />""")


@pytest.fixture
def cli_engines(monkeypatch):
    """Run the CLI in-process with a fake clock; collects its engines so their connections are closed."""
    made: list[Engine] = []
    clock = FakeClock("2026-11-01T09:00:00+08:00")

    def factory(database, clock_=None):
        made.append(Engine(database, clock_ or clock))
        return made[-1]

    monkeypatch.setattr(cli.main, "Engine", factory)
    yield clock
    for engine in made:
        engine.db.dispose()


def run_cli(engine: Engine, *args: str):
    return CliRunner().invoke(cli.main.main, ["--database-url", engine.db.url, *args])


# ---- a year nobody has imported ----------------------------------------------------------------------------

CASES_NEEDING_2027 = {
    # timer text, task due date, clock when Task_a is completed, due instant once 2027 is imported
    "timer from a 2027 date": ("${workdays(3, from_='2027-01-04')}", "", "2026-03-02T09:00:00+08:00",
                               # Tue 5, Wed 6, Thu 7 Jan → 24:00 on 7 Jan
                               "2027-01-08T00:00:00+08:00"),
    "timer counted in late December": ("${workdays(3)}", "", "2026-12-30T09:00:00+08:00",
                                       # Thu 31 Dec; Fri 1 Jan holiday, weekend; Mon 4, Tue 5 Jan
                                       "2027-01-06T00:00:00+08:00"),
    "task due date in late December": ("", "${workdays(3)}", "2026-12-30T09:00:00+08:00",
                                       "2027-01-06T00:00:00+08:00"),
}


@pytest.mark.parametrize("timer, due, now, expected", CASES_NEEDING_2027.values(), ids=CASES_NEEDING_2027.keys())
def test_a_deadline_in_a_missing_year_is_an_incident_until_the_year_is_imported(engine, clock, timer, due, now,
                                                                               expected):
    deploy(engine, two_step_process("needs_2027", timer, due))
    clock.set(at(now))
    case_id = engine.start_case("needs_2027", {}, STAFF)
    task_a = engine.find_task(case_id, "Task_a")
    before = engine.case(case_id)

    with pytest.raises(IncidentRaised) as raised:
        engine.complete(task_a, STAFF)

    message = raised.value.message
    assert "2027" in message and "节假日安排" in message and "导入" in message, message
    after = engine.case(case_id)  # untouched: same version, same open task, no timer, no data change
    assert (after["version"], after["data"], after["timers"]) == (before["version"], before["data"], [])
    assert engine.find_task(case_id, "Task_a") == task_a
    assert kinds(engine, case_id) == ["start", "incident"]
    [incident] = incidents(engine)
    assert "2027" in incident.message and incident.resolved_at is None

    engine.import_calendar(schedule())
    engine.retry(incident.id, STAFF)

    expected_due = at(expected)
    if timer:
        assert timer_row(engine, case_id).due_at == expected_due
        fire_exactly_after(clock, engine.scheduler(), expected_due)
    [item] = engine.work_items(case_id)
    assert item["bpmn_id"] == "Task_b"
    if due:
        assert at(item["due_at"]) == expected_due
    assert kinds(engine, case_id)[-2:] in (["complete", "retry"], ["retry", "timer_fired"])
    assert incidents(engine)[0].resolution == "retry"


def test_a_timer_reached_at_start_in_a_missing_year_records_an_incident(engine, clock):
    deploy(engine, process("start_2027", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Timer_wait" />
    <bpmn:intermediateCatchEvent id="Timer_wait" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDate>${workdays(3, from_='2027-01-04')}</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer_wait" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />"""))
    with pytest.raises(IncidentRaised, match="2027") as raised:
        engine.start_case("start_2027", {}, STAFF)
    case_id = raised.value.case_id
    assert timer_rows(engine, case_id) == []
    assert kinds(engine, case_id) == ["start", "incident"]
    engine.import_calendar(schedule())
    engine.retry(raised.value.incident_id, STAFF)
    assert timer_row(engine, case_id).due_at == at("2027-01-08T00:00:00+08:00")


# ---- importing a year ----------------------------------------------------------------------------------------

# Thursday 4 Feb 2027 09:00 + 3 working days: Fri 5 Feb (1); 6–14 Feb holidays except the make-up
# Saturday 13 Feb (2); Mon 15 Feb (3) → 24:00 on 15 Feb.
FEB_START = "2027-02-04T09:00:00+08:00"
FEB_DUE = "2027-02-16T00:00:00+08:00"


@pytest.mark.parametrize("how", ["api", "cli"])
def test_an_imported_2027_schedule_drives_deadlines_and_timers(engine, clock, tmp_path, cli_engines, how):
    if how == "api":
        assert engine.import_calendar(schedule()) == len(SCHEDULE_2027)
    else:
        path = tmp_path / "2027.csv"
        path.write_text("\ufeff" + SCHEDULE_CSV, encoding="utf-8")  # as Excel saves it
        result = run_cli(engine, "calendar", "import", str(path))
        assert result.exit_code == 0, result.output
        assert f"已导入 {len(SCHEDULE_2027)} 天" in result.output
        engine.forget_calendar()  # another process imported it; a running engine re-reads within a minute
    calendar = engine.calendar()
    assert calendar.covers(2027)
    assert calendar.is_workday(date(2027, 2, 13)) and not calendar.is_workday(date(2027, 2, 10))
    assert calendar.add_workdays(at(FEB_START), 3) == at(FEB_DUE)

    deploy(engine, two_step_process("deadline_2027", timer="${workdays(3)}", due="${workdays(3)}"))
    clock.set(at(FEB_START))
    case_id = engine.start_case("deadline_2027", {}, STAFF)
    engine.complete(engine.find_task(case_id, "Task_a"), STAFF)
    assert timer_row(engine, case_id).due_at == at(FEB_DUE)

    fire_exactly_after(clock, engine.scheduler(), at(FEB_DUE))
    [item] = engine.work_items(case_id)
    assert item["bpmn_id"] == "Task_b"
    assert at(item["due_at"]) == WorkingCalendar([*schedule()]).add_workdays(at(FEB_DUE) + ONE_SECOND, 3)
    assert at(item["due_at"]) == at("2027-02-20T00:00:00+08:00")  # from Tue 16 Feb: Wed 17, Thu 18, Fri 19
    assert len(events(engine, case_id, "timer_fired")) == 1


def test_the_cli_refuses_a_broken_schedule_and_imports_nothing(engine, tmp_path, cli_engines):
    path = tmp_path / "2027.csv"
    path.write_text("date,workday,note\n2027-01-01,休息,元旦\n2027-01-01,上班,重复\n", encoding="utf-8")
    result = run_cli(engine, "calendar", "import", str(path))
    assert result.exit_code == 1
    assert "重复" in result.output
    engine.forget_calendar()
    assert not engine.calendar().covers(2027)


# ---- the missing-year warning ----------------------------------------------------------------------------------


@pytest.mark.parametrize("now, warned", [
    ("2026-10-31T09:00:00+08:00", False),
    ("2026-10-31T23:59:59+08:00", False),
    ("2026-10-31T16:00:00+00:00", True),  # already 1 November in Beijing
    ("2026-11-01T00:00:00+08:00", True),
    ("2026-12-31T09:00:00+08:00", True),
])
def test_calendar_warning_from_1_november_when_next_year_is_missing(engine, clock, now, warned):
    clock.set(at(now))
    warning = engine.calendar_warning()
    if warned:
        assert warning is not None and "2027" in warning and "导入" in warning
    else:
        assert warning is None
    engine.import_calendar(schedule())
    assert engine.calendar_warning() is None


def test_calendar_warning_in_a_missing_current_year(engine, clock):
    clock.set(at("2027-03-01T09:00:00+08:00"))
    assert "2027" in engine.calendar_warning()
    engine.import_calendar(schedule())
    clock.set(at("2027-11-02T09:00:00+08:00"))
    assert "2028" in engine.calendar_warning()  # and then it is next year's turn


def test_cli_calendar_check_exits_1_with_the_warning_until_the_year_is_imported(engine, tmp_path, cli_engines):
    cli_engines.set(at("2026-10-31T09:00:00+08:00"))
    result = run_cli(engine, "calendar", "check")
    assert (result.exit_code, result.output.strip()) == (0, "节假日安排齐全")

    cli_engines.set(at("2026-11-01T09:00:00+08:00"))
    result = run_cli(engine, "calendar", "check")
    assert result.exit_code == 1
    assert "2027" in result.output and "请管理员" in result.output

    path = tmp_path / "2027.json"
    path.write_text(json.dumps(SCHEDULE_2027, ensure_ascii=False), encoding="utf-8")
    assert run_cli(engine, "calendar", "import", str(path)).exit_code == 0
    result = run_cli(engine, "calendar", "check")
    assert (result.exit_code, result.output.strip()) == (0, "节假日安排齐全")
