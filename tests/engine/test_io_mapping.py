"""Camunda variable mapping: camunda:inputOutput on tasks and subprocesses (local variables, outputs copied
out) and camunda:in / camunda:out on call activities, kept in memory or loaded cold between commands;
what the engine does not run as Camunda would is refused at validate (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from common import make_actor

from engine import Engine, IncidentRaised
from engine.bpmn.deployments import ValidationFailed, read_paths

DIAGRAMS = Path(__file__).parent / "io_mapping"
STAFF = make_actor("wang", "petition_staff")


def _files(name: str = "", old: str = "", new: str = "") -> dict[str, str]:
    files = {key: content.decode("utf-8") for key, content in read_paths([DIAGRAMS]).items()}
    if name:
        assert old in files[name], old
        files[name] = files[name].replace(old, new, 1)
    return files


@pytest.mark.parametrize("cold", [False, True], ids=["in-memory", "cold"])
def test_input_parameters_are_local_and_output_parameters_go_out(engine, database, clock, cold):
    engine.deploy(_files(), by="owner")
    case_id = engine.start_case("io_tasks", {"amount": 100, "label": "外部"}, STAFF)
    data = engine.case(case_id)["data"]
    assert data["label"] == "外部"  # shadowed inside the script task, kept outside
    assert data["total"] == 201
    assert data["seen"] == {"label": "内部", "items": ["a", 100, ["第100号"]], "info": {"who": "外部", "n": "1"},
                            "nothing": None}  # inputs are evaluated against the data outside
    assert data["script_var"] == 200 and data["label_in_script"] == "内部"  # what the task writes goes out
    assert not {"doubled", "items", "info", "nothing"} & data.keys()
    [item] = engine.case(case_id)["work_items"]
    # the task's own attributes read its input parameters, as in Camunda
    assert item["candidate_groups"] == ["petition_staff"] and item["priority"] == 80
    runner = Engine(database, clock) if cold else engine
    runner.complete(item["task_id"], STAFF, {"decision": "属实"})
    case = runner.case(case_id)
    assert case["incidents"] == [] and case["status"] == "completed"
    data = case["data"]
    assert data["decision"] == "属实" and data["decision_copy"] == "属实（请复核）"
    assert not {"note", "group", "urgency"} & data.keys()
    assert data["from_sub"] == 1010 and data["sub_out"] == 101  # the subprocess saw its local `inner`
    assert "inner" not in data


def test_call_activity_passes_only_what_camunda_in_and_out_name(engine):
    engine.deploy(_files(), by="owner")
    case = engine.case(engine.start_case("io_caller", {"a": 1, "b": 2, "secret": "不给被调用流程"}, STAFF))
    assert case["incidents"] == [] and case["status"] == "completed"
    data = case["data"]
    assert data["result"] == "1+20" and data["sum"] == 21
    assert data["secret_hidden"] is True  # `secret` was not handed in
    assert data["secret"] == "不给被调用流程" and data["a"] == 1


def test_call_activity_with_variables_all_hands_everything_both_ways(engine):
    engine.deploy(_files(), by="owner")
    data = engine.case(engine.start_case("io_caller", {"a": 1, "b": 2, "secret": "s"}, STAFF))["data"]
    # call_all: x and y are its input parameters, handed in by variables="all" (they are visible there) and
    # dropped again when it is left; everything the callee wrote comes back.
    assert data["z"] == "1+20+1"
    assert data["callee_only"] is True
    assert "hidden" not in data  # with variables="all" the callee saw `secret`
    assert "x" not in data and "y" not in data


_BOUNDARY = """
    <bpmn:boundaryEvent id="review_reminder" cancelActivity="false" attachedToRef="review">
      <bpmn:outgoing>reminded</bpmn:outgoing>
      <bpmn:timerEventDefinition id="review_reminder_timer"><bpmn:timeDuration>P1D</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="reminded_end"><bpmn:incoming>reminded</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="reminded" sourceRef="review_reminder" targetRef="reminded_end" />
    <bpmn:endEvent id="end">"""


def test_a_task_with_a_boundary_event_keeps_its_mapping(engine):
    engine.deploy(_files("io_tasks.bpmn", '\n    <bpmn:endEvent id="end">', _BOUNDARY), by="owner")
    case_id = engine.start_case("io_tasks", {"amount": 100, "label": "外部"}, STAFF)
    [item] = engine.case(case_id)["work_items"]
    assert item["candidate_groups"] == ["petition_staff"]  # read from its input parameter
    engine.complete(item["task_id"], STAFF, {"decision": "属实"})
    data = engine.case(case_id)["data"]
    assert data["decision_copy"] == "属实（请复核）" and "note" not in data


_MAP = '<camunda:inputOutput><camunda:inputParameter name="p">1</camunda:inputParameter></camunda:inputOutput>'


@pytest.mark.parametrize(("name", "old", "new", "element_id", "message"), [
    ("io_tasks.bpmn", '<bpmn:startEvent id="sub_start">',
     f'<bpmn:startEvent id="sub_start"><bpmn:extensionElements>{_MAP}</bpmn:extensionElements>', "sub_start",
     "变量映射只支持任务、子流程和调用活动"),
    ("io_tasks.bpmn", "<camunda:inputParameter name=\"nothing\" />",
     '<camunda:inputParameter name="nothing"><camunda:script scriptFormat="groovy">1</camunda:script>'
     "</camunda:inputParameter>", "calc", "camunda:script 未支持"),
    ("io_tasks.bpmn", "<camunda:inputParameter name=\"nothing\" />", "<camunda:inputParameter />", "calc",
     "参数需要名称"),
    ("io_tasks.bpmn", "${amount * 2}", "${__import__('os')}", "calc", "不允许导入模块"),
    ("io_tasks.bpmn", "${amount * 2}", "${amount eq}", "calc", "语法错误"),
    ("io_tasks.bpmn", "<bpmn:outgoing>f3</bpmn:outgoing>",
     '<bpmn:outgoing>f3</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics camunda:collection="${people}" '
     'camunda:elementVariable="person" />', "review", "多实例或循环活动上的变量映射未支持"),
    ("io_tasks.bpmn", "<camunda:inputOutput>\n          <camunda:inputParameter name=\"note\">",
     '<camunda:in source="a" target="b" /><camunda:inputOutput>\n          <camunda:inputParameter name="note">',
     "review", "camunda:in 只能用于调用活动"),
    ("io_call.bpmn", '<camunda:in source="a" target="x" />', '<camunda:in source="a" target="x" local="true" />',
     "call_mapped", 'local="true" 未支持'),
    ("io_call.bpmn", "#{execution.processBusinessKey}", "${other_key}", "call_mapped", "业务键只能是"),
    ("io_call.bpmn", '<camunda:out source="z" target="result" />', '<camunda:out source="z" />', "call_mapped",
     "camunda:out 需要 target"),
    ("io_call.bpmn", '<camunda:in source="a" target="x" />', '<camunda:in target="x" />', "call_mapped",
     "需要 source 或 sourceExpression"),
])
def test_mappings_the_engine_cannot_run_as_camunda_are_refused_at_validate(engine, name, old, new, element_id,
                                                                            message):
    files = _files(name, old, new)
    problems = engine.validate(files)
    assert any(p.element_id == element_id and message in p.message and p.line > 0 for p in problems), problems
    with pytest.raises(ValidationFailed):
        engine.deploy(files, by="owner")


def test_a_parameter_that_cannot_be_evaluated_is_an_incident_naming_it(engine):
    engine.deploy(_files("io_tasks.bpmn", "${doubled + 1}", "${doubled + missing}"), by="owner")
    with pytest.raises(IncidentRaised) as raised:
        engine.start_case("io_tasks", {"amount": 100, "label": "外部"}, STAFF)
    case = engine.case(raised.value.case_id)
    [incident] = case["incidents"]
    assert incident["bpmn_id"] == "calc"
    assert incident["message"] == "参数“total”无法计算：变量 missing 不存在"
    assert "label_in_script" not in case["data"]  # the failed command changed nothing
