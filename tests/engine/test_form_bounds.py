"""Date bounds declared in the form (`not_before` / `not_after` = today or another date field): checked
with the engine's injected clock and the case's earlier dates, refused at deploy time when they name
nothing, and declared on every date of the chain's diagrams."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from common import make_actor
from diagrams import process
from lxml import etree

from engine import Engine, FormErrors, ValidationFailed
from engine.bpmn.form_checks import form_problems
from engine.bpmn.forms import Circumstances, Form, FormField, validate_submission
from engine.runtime.handlers_registry import HandlerRegistry

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
STAFF = make_actor("wang", "petition_staff")


def date_field(field_id: str, label: str, **bounds: str) -> str:
    properties = "".join(f'<camunda:property id="{name}" value="{value}" />' for name, value in bounds.items())
    return (f'<camunda:formField id="{field_id}" label="{label}" type="date">'
            f"<camunda:properties>{properties}</camunda:properties></camunda:formField>")


def user_task(task_id: str, *fields: str) -> str:
    return (f'<bpmn:userTask id="{task_id}" name="{task_id}" camunda:candidateGroups="petition_staff">'
            f'<bpmn:extensionElements><camunda:formData>{"".join(fields)}</camunda:formData>'
            "</bpmn:extensionElements></bpmn:userTask>")


BOUNDED = process("bounded", f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_receive" />
    {user_task("Task_receive", date_field("received_on", "收件日期", not_after="today"),
               date_field("answered_on", "答复日期", not_before="received_on", not_after="today"))}
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_receive" targetRef="Task_notify" />
    {user_task("Task_notify", date_field("notified_on", "告知日期", not_before="received_on", not_after="today"))}
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_notify" targetRef="End" />
    <bpmn:endEvent id="End" />""")


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry())
    engine.deploy({"bounded.bpmn": BOUNDED}, by="owner")
    return engine


def refused(engine: Engine, case_id: int, bpmn_id: str, data: dict) -> dict[str, str]:
    with pytest.raises(FormErrors) as info:
        engine.complete(engine.find_task(case_id, bpmn_id), STAFF, data)
    return info.value.errors


def test_a_receipt_date_after_the_engines_today_is_refused_and_the_task_stays_open(eng, clock):
    case_id = eng.start_case("bounded", {}, STAFF)
    assert refused(eng, case_id, "Task_receive", {"received_on": "2026-03-03"}) == {
        "received_on": "不能晚于今天（2026-03-02）"}
    assert [item["bpmn_id"] for item in eng.work_items(case_id)] == ["Task_receive"]
    # 00:30 on 3 March in Beijing is still 2 March in UTC: "today" is the office's day
    clock.set(datetime.fromisoformat("2026-03-03T00:30:00+08:00"))
    eng.complete(eng.find_task(case_id, "Task_receive"), STAFF, {"received_on": "2026-03-03"})
    assert eng.case(case_id)["data"]["received_on"] == "2026-03-03"


def test_a_date_before_another_of_the_same_submission_is_refused(eng):
    case_id = eng.start_case("bounded", {}, STAFF)
    assert refused(eng, case_id, "Task_receive", {"received_on": "2026-03-02", "answered_on": "2026-03-01"}) == {
        "answered_on": "不能早于收件日期（2026-03-02）"}
    # both wrong at once: each field says its own problem
    assert refused(eng, case_id, "Task_receive", {"received_on": "2026-03-05", "answered_on": "2026-03-04"}) == {
        "received_on": "不能晚于今天（2026-03-02）", "answered_on": "不能晚于今天（2026-03-02）"}


def test_a_notice_dated_before_the_receipt_an_earlier_task_recorded_is_refused(eng, clock):
    case_id = eng.start_case("bounded", {}, STAFF)
    eng.complete(eng.find_task(case_id, "Task_receive"), STAFF, {"received_on": "2026-02-27"})
    clock.set(datetime.fromisoformat("2026-03-04T10:00:00+08:00"))
    assert refused(eng, case_id, "Task_notify", {"notified_on": "2026-02-26"}) == {
        "notified_on": "不能早于收件日期（2026-02-27）"}
    assert refused(eng, case_id, "Task_notify", {"notified_on": "2026-03-05"}) == {
        "notified_on": "不能晚于今天（2026-03-04）"}
    eng.complete(eng.find_task(case_id, "Task_notify"), STAFF, {"notified_on": "2026-02-27"})
    assert eng.case(case_id)["status"] == "completed"


def test_a_bound_whose_value_is_unknown_is_skipped():
    form = Form((FormField("received_on", "收件日期", "date"),
                 FormField("answered_on", "答复日期", "date", not_before=("received_on",))))
    assert validate_submission(form, {"answered_on": "2020-01-01"}, Circumstances(date(2026, 3, 2))) == {
        "answered_on": date(2020, 1, 1)}


def test_a_datetime_is_bounded_by_its_beijing_day():
    form = Form((FormField("visited_at", "来访时间", "datetime", not_after=("today",)),))
    today = Circumstances.at(datetime.fromisoformat("2026-03-02T16:30:00+00:00"))  # 00:30 on 3 March in Beijing
    assert today.today == date(2026, 3, 3)
    assert validate_submission(form, {"visited_at": "2026-03-03T08:00"}, today)
    with pytest.raises(FormErrors) as info:
        validate_submission(form, {"visited_at": "2026-03-04T08:00"}, today)
    assert info.value.errors == {"visited_at": "不能晚于今天（2026-03-03）"}


def test_today_without_the_engines_clock_is_a_programming_error():
    form = Form((FormField("received_on", "收件日期", "date", not_after=("today",)),))
    with pytest.raises(ValueError, match="Circumstances"):
        validate_submission(form, {"received_on": "2026-03-02"})


# ---------------------------------------------------------------- deploy time

NOT_A_DATE = "不是 today，也不是本表单或本次部署中的日期字段"


@pytest.mark.parametrize(("bounds", "problem"), [
    ({"not_before": "receved_on"}, f"属性 not_before 引用的 'receved_on' {NOT_A_DATE}"),
    ({"not_after": "note"}, f"属性 not_after 引用的 'note' {NOT_A_DATE}"),
    ({"not_after": "notified_on"}, "属性 not_after 不能引用字段自身"),
    ({"not_before": " "}, "属性 not_before 为空，应写 today 或日期字段的 id"),
])
def test_deploying_a_bound_that_names_no_date_field_is_refused(engine, bounds, problem):
    diagram = process("broken", f"""
        <bpmn:startEvent id="StartEvent_1" />
        <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_notify" />
        {user_task("Task_notify", '<camunda:formField id="note" label="说明" type="string" />',
                   date_field("notified_on", "告知日期", **bounds))}
        <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_notify" targetRef="End" />
        <bpmn:endEvent id="End" />""")
    with pytest.raises(ValidationFailed) as info:
        engine.deploy({"broken.bpmn": diagram}, by="owner")
    assert [(p.element_id, p.message) for p in info.value.problems] == [("Task_notify", f"字段 notified_on：{problem}")]
    assert engine.deployments() == []


def test_a_bound_on_a_field_that_is_no_date_is_refused():
    form = Form((FormField("note", "说明", "string", properties={"not_after": "today"}, not_after=("today",)),))
    assert form_problems(form) == ["字段 note：属性 not_after 只适用于单个日期或日期时间字段"]


def test_a_bound_may_name_a_date_of_another_form_deployed_with_it():
    received = FormField("received_on", "收件日期", "date")
    notice = Form((FormField("notified_on", "告知日期", "date", properties={"not_before": "received_on"},
                             not_before=("received_on",)),))
    assert form_problems(notice, {"received_on": received}) == []
    assert form_problems(notice) != []


# ---------------------------------------------------------------- the chain's diagrams

def _date_fields() -> list[tuple[str, dict[str, str]]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    found = []
    for path in sorted(PROCESSES.glob("*.bpmn")):
        for field in etree.parse(str(path), parser).getroot().iter(f"{CAMUNDA}formField"):
            if field.get("type") in ("date", "datetime"):
                properties = {p.get("id"): p.get("value") for p in field.iter(f"{CAMUNDA}property")}
                found.append((f"{path.stem}:{field.get('id')}", properties))
    return found


def test_every_date_of_the_chain_is_not_after_today_and_not_before_the_receipt():
    dates = _date_fields()
    assert len(dates) >= 9
    for name, properties in dates:
        assert "today" in properties.get("not_after", "").split(","), name
        if name != "intake:received_on":
            assert "received_on" in properties.get("not_before", "").split(","), name
