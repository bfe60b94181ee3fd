"""Restricted evaluation: escapes are refused when a diagram is deployed, refused again by the run-time
evaluator itself, and a script that reaches for a forbidden builtin only at run time raises an incident
without changing anything."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import line_of, process

from engine import Engine, IncidentRaised, ValidationFailed
from engine.bpmn.expressions import ExpressionError, RestrictedEnvironment
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Case, Deployment

ESCAPES = {
    "dunder-import": "__import__('os')",
    "import-statement": "import os",
    "subclasses-walk": "().__class__.__bases__[0].__subclasses__()",
    "open-file": "open('/etc/passwd')",
}


@pytest.fixture
def eng(database, clock) -> Engine:
    return Engine(database, clock, handlers=HandlerRegistry())


@pytest.fixture
def staff():
    return make_actor("wang", "petition_staff")


def _script_diagram(script: str) -> str:
    return process("escape", f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_a" />
    <bpmn:userTask id="Task_a" name="登记" camunda:candidateGroups="petition_staff">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="summary" label="摘要" type="string" />
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_a" targetRef="Script_x" />
    <bpmn:scriptTask id="Script_x" name="脚本" scriptFormat="python">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Script_x" targetRef="Task_b" />
    <bpmn:userTask id="Task_b" name="复核" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Task_b" targetRef="End" />
    <bpmn:endEvent id="End" />""")


def _condition_diagram(condition: str) -> str:
    return process("escape", f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Gateway_x" />
    <bpmn:exclusiveGateway id="Gateway_x" default="Flow_default" />
    <bpmn:sequenceFlow id="Flow_cond" sourceRef="Gateway_x" targetRef="End">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_default" sourceRef="Gateway_x" targetRef="End" />
    <bpmn:endEvent id="End" />""")


# ---- refused when deployed --------------------------------------------------------------------------


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_deploy_refuses_escape_in_script(eng, source):
    xml = _script_diagram(f"before = 1\n{source}")
    with pytest.raises(ValidationFailed) as refused:
        eng.deploy({"escape.bpmn": xml}, by="owner")
    problems = [p for p in refused.value.problems if p.element_id == "Script_x"]
    assert problems, [str(p) for p in refused.value.problems]
    assert {p.line for p in problems} == {line_of(xml, source)}
    _assert_nothing_deployed(eng)


@pytest.mark.parametrize("source", [s for s in ESCAPES.values() if not s.startswith("import")],
                         ids=[k for k, s in ESCAPES.items() if not s.startswith("import")])
@pytest.mark.parametrize("wrapped", [False, True], ids=["python", "juel"])
def test_deploy_refuses_escape_in_condition(eng, source, wrapped):
    condition = f"${{{source} != None}}" if wrapped else f"{source} != None"
    xml = _condition_diagram(condition)
    with pytest.raises(ValidationFailed) as refused:
        eng.deploy({"escape.bpmn": xml}, by="owner")
    problems = [p for p in refused.value.problems if p.element_id == "Flow_cond"]
    assert problems and {p.line for p in problems} == {line_of(xml, "<bpmn:conditionExpression")}
    _assert_nothing_deployed(eng)


def test_import_statement_in_condition_is_refused(eng):
    # a statement is not an expression at all: refused as a syntax error
    problems = eng.validate({"escape.bpmn": _condition_diagram("import os")})
    assert [p.element_id for p in problems] == ["Flow_cond"]


def _assert_nothing_deployed(eng: Engine) -> None:
    with eng.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Deployment)) == 0


# ---- refused by the evaluator itself ----------------------------------------------------------------


# the same escapes, each with a side effect that would show if it ran
RUNTIME_ESCAPES = {
    "dunder-import": "__import__('os').mkdir({witness})",
    "import-statement": "import os\nos.mkdir({witness})",
    "subclasses-walk": "leaked = ().__class__.__bases__[0].__subclasses__()",
    "open-file": "open({witness}, 'w').write('x')",
}


@pytest.mark.parametrize("template", RUNTIME_ESCAPES.values(), ids=RUNTIME_ESCAPES.keys())
def test_runtime_environment_refuses_escape_scripts(template, tmp_path):
    witness = tmp_path / "ran"
    environment = RestrictedEnvironment({"helper": lambda: "h"})
    context = {"summary": "举报", "count": 1}
    with pytest.raises(ExpressionError):
        environment.execute("count = 2\n" + template.format(witness=repr(str(witness))), context)
    assert context == {"summary": "举报", "count": 1}  # not even the first line ran
    assert not witness.exists()


@pytest.mark.parametrize("source", [s for s in ESCAPES.values() if not s.startswith("import")],
                         ids=[k for k, s in ESCAPES.items() if not s.startswith("import")])
def test_runtime_environment_refuses_escape_expressions(source):
    environment = RestrictedEnvironment()
    with pytest.raises(ExpressionError):
        environment.evaluate(source, {"x": 1})
    with pytest.raises(ExpressionError):
        environment.evaluate(f"${{{source}}}", {"x": 1})


def test_runtime_environment_refuses_import_statement_as_expression():
    with pytest.raises(ExpressionError):
        RestrictedEnvironment().evaluate("import os", {})


def test_runtime_environment_still_runs_ordinary_code():
    environment = RestrictedEnvironment({"double": lambda n: n * 2})
    context = {"n": 3}
    environment.execute("m = double(n) + len([1, 2])", context)
    assert context == {"n": 3, "m": 8}
    assert environment.evaluate("${n > 2 && !(m < 0)}", context) is True


# ---- a forbidden builtin reached only at run time ---------------------------------------------------


@pytest.mark.parametrize("name", ["getattr", "open", "eval", "type", "globals"])
def test_forbidden_builtin_taken_at_run_time_raises_an_incident(eng, staff, name):
    """`fn = getattr` is not a call, so the static check lets it through; at run time the name simply
    does not exist in the sandbox, and the command leaves the case untouched."""
    script = f"touched = True\nfn = {name}\nleak = fn(summary, 'upper')"
    xml = _script_diagram(script)
    assert eng.validate({"escape.bpmn": xml}) == []
    eng.deploy({"escape.bpmn": xml}, by="owner")
    case_id = eng.start_case("escape", {}, staff)
    task_id = eng.find_task(case_id, "Task_a")
    before = _stored(eng, case_id)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(task_id, staff, {"summary": "举报"})
    assert _stored(eng, case_id) == before
    case = eng.case(case_id)
    (incident,) = case["incidents"]
    assert incident["id"] == raised.value.incident_id
    assert (incident["bpmn_id"], incident["error_type"], incident["line"]) == ("Script_x", "NameError", 2)
    assert name in incident["message"]
    assert "touched" not in case["data"] and "leak" not in case["data"]
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_a"]
    assert [e["kind"] for e in case["events"]] == ["start", "incident"]


def _stored(eng: Engine, case_id: int) -> tuple:
    with eng.db.read() as session:
        case = session.get(Case, case_id)
        return case.state, case.version, case.data, case.status
