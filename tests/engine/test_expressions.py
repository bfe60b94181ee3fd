import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.expressions import (
    ExpressionError,
    RestrictedEnvironment,
    check,
    to_python_expression,
    to_python_timer,
)

# (source, modes it is valid in, expected message)
ESCAPES = [
    ("__import__('os')", ("eval", "exec"), "不允许导入模块"),
    ("import os", ("exec",), "不允许导入模块"),
    ("from os import path", ("exec",), "不允许导入模块"),
    ("().__class__.__bases__[0].__subclasses__()", ("eval", "exec"), '以下划线开头的属性 "__class__"'),
    ("open('/etc/passwd')", ("eval", "exec"), '不允许使用 "open"'),
    ("getattr(x, '__class__')", ("eval", "exec"), '不允许使用 "getattr"'),
    ("x.__dict__", ("eval", "exec"), '不允许访问以下划线开头的属性 "__dict__"'),
    ("eval('1')", ("eval", "exec"), '不允许使用 "eval"'),
    ("exec('1')", ("eval", "exec"), '不允许使用 "exec"'),
    ("(lambda: 0).__globals__", ("eval", "exec"), '不允许访问以下划线开头的属性 "__globals__"'),
    ("(i for i in x).gi_frame", ("eval", "exec"), '不允许访问属性 "gi_frame"'),
    ("class A:\n    pass", ("exec",), "不允许定义类"),
]
ESCAPE_CASES = [
    pytest.param(source, mode, message, id=f"{mode}:{source}")
    for source, modes, message in ESCAPES
    for mode in modes
]


@pytest.fixture
def env():
    return RestrictedEnvironment({"workdays": lambda n: f"{n} workdays"})


# --- check() -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "mode", "message"), ESCAPE_CASES)
def test_check_refuses_escapes(source, mode, message):
    errors = check(source, mode)
    assert any(message in e.message for e in errors)
    assert all(e.line == 1 for e in errors)
    assert all(isinstance(e, ExpressionError) for e in errors)


@pytest.mark.parametrize("name", [
    "__import__", "open", "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "type", "input", "breakpoint", "memoryview", "print",
])
def test_check_refuses_forbidden_calls(name):
    errors = check(f"{name}('x')")
    assert len(errors) >= 1
    assert errors[0].line == 1


def test_check_reports_line_within_script():
    errors = check("a = 1\nb = a + 1\nimport os\nc = x.__class__", "exec")
    assert [(e.line, e.message) for e in errors] == [
        (3, "不允许导入模块"),
        (4, '不允许访问以下划线开头的属性 "__class__"'),
    ]
    assert str(errors[0]) == "第 3 行：不允许导入模块"


def test_check_reports_each_problem_once():
    assert len(check("eval('1')")) == 1
    assert len(check("__import__('os')")) == 1


def test_check_syntax_error_has_line():
    errors = check("a = 1\nb = (", "exec")
    assert len(errors) == 1
    assert errors[0].message.startswith("语法错误：")
    assert errors[0].line == 2
    assert check("amount >")[0].message.startswith("语法错误：")


def test_check_accepts_unknown_names_and_ordinary_scripts():
    assert check("amount > 3 and category == 'accusation'") == []
    script = (
        "accused.append(name.strip())\n"
        "info['k'] = info.get('k', 0)\n"
        "count += 1\n"
        "labels = {k: f'{v!r}' for k, v in info.items()}\n"
        "due = workdays(3)\n"
    )
    assert check(script, "exec", names=["workdays"]) == []


def test_check_refuses_binding_helper_or_predefined_names():
    assert check("workdays = 3", "exec") == []
    errors = check("workdays = 3\ndate = 1", "exec", names=["workdays"])
    assert [(e.line, e.message) for e in errors] == [
        (1, '不能给预定义名称 "workdays" 赋值'),
        (2, '不能给预定义名称 "date" 赋值'),
    ]


def test_check_explains_augmented_item_assignment():
    errors = check("d['k'] += 1", "exec")
    assert len(errors) == 1 and "d['k'] = d['k'] + 1" in errors[0].message


def test_check_rejects_unknown_mode():
    with pytest.raises(ValueError):
        check("1", "single")


# --- run time: refused code never runs ---------------------------------------------------------------


@pytest.mark.parametrize(("source", "mode", "message"), ESCAPE_CASES)
def test_refused_code_raises_at_run_time(env, source, mode, message):
    context = {"x": [1]}
    run = env.evaluate if mode == "eval" else env.execute
    with pytest.raises(ExpressionError) as info:
        run(source, context)
    assert info.value.line == 1
    assert context == {"x": [1]}


def test_refused_script_does_not_run_any_line(env, tmp_path):
    target = tmp_path / "pwned"
    context = {"path": str(target)}
    script = "marker = 1\nopen(path, 'w').write('x')"
    with pytest.raises(ExpressionError) as info:
        env.execute(script, context)
    assert info.value.line == 2
    assert not target.exists()
    assert context == {"path": str(target)}

    with pytest.raises(ExpressionError):
        env.execute(f"import os\nos.system('touch {target}')", context)
    assert not target.exists()


def test_sandbox_holds_without_the_static_checks(env):
    """Defence in depth: code RestrictedPython alone accepts still finds no import, open or getattr."""
    namespace = env._namespace({"x": 1}, {})
    with pytest.raises(ImportError):
        exec(compile_restricted_exec("import os").code, dict(namespace))
    for source in ("open('/etc/passwd')", "getattr(x, '__class__')", "type(x)"):
        with pytest.raises(NameError):
            eval(compile_restricted_eval(source).code, dict(namespace))
    with pytest.raises(AttributeError):
        namespace["_getattr_"](1, "__class__")


def test_task_data_cannot_replace_the_guards(env):
    with pytest.raises(NameError):
        env.evaluate("file_open('/etc/passwd')", {"__builtins__": {"file_open": open}})
    assert env.evaluate("x.real", {"x": 1, "_getattr_": lambda obj, name: "hijacked"}) == 1


def test_helpers_and_classes_are_read_only(env):
    with pytest.raises(TypeError):
        env.execute("timedelta.resolution = 1", {})
    with pytest.raises(TypeError):
        env.execute("workdays.x = 1", {})


def test_str_format_is_refused_at_run_time(env):
    with pytest.raises(NotImplementedError):
        env.evaluate("'{0.__class__}'.format(x)", {"x": 1})


# --- Camunda text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "python"), [
    ("${a && !b}", "a and not b"),
    ("${x == 'a && b'}", "x == 'a && b'"),
    ("${approved}", "approved"),
    ("${n != 3}", "n != 3"),
    ("${ok == true || other == null}", "ok == True or other == None"),
    ("#{false}", "False"),
    ("  ${!done}  ", "not done"),
    ("a&&!b", "a and not b"),
    ("!(a||b)", "not (a or b)"),
    ("${s == \"!true && null\"}", "s == \"!true && null\""),
    ("a and not b", "a and not b"),
    ("obj.true", "obj.true"),
    ("f'{x!r}'", "f'{x!r}'"),
    ("amount > 3\n  and category == 'x'", "amount > 3\n  and category == 'x'"),
])
def test_to_python_expression(text, python):
    assert to_python_expression(text) == python


def test_translated_juel_evaluates(env):
    expression = to_python_expression("${amount > 3 && !closed || vip == true}")
    assert env.evaluate(expression, {"amount": 5, "closed": False, "vip": False}) is True
    assert env.evaluate(expression, {"amount": 5, "closed": True, "vip": False}) is False
    assert env.evaluate(expression, {"amount": 1, "closed": True, "vip": True}) is True


@pytest.mark.parametrize(("text", "python"), [
    ("P3D", "'P3D'"),
    ("PT1H30M", "'PT1H30M'"),
    ("P1Y2M", "'P1Y2M'"),
    ("R3/PT1H", "'R3/PT1H'"),
    ("R/P1D", "'R/P1D'"),
    ("R3/2026-12-01T09:00:00+08:00/P1D", "'R3/2026-12-01T09:00:00+08:00/P1D'"),
    ("R3/2026-12-01T09:00:00/P1D", "'R3/2026-12-01T09:00:00+08:00/P1D'"),
    ("R2/PT1H/2026-12-01", "'R2/PT1H/2026-12-01T00:00:00+08:00'"),
    ("2026-12-01T09:00:00+08:00", "'2026-12-01T09:00:00+08:00'"),
    ("2026-12-01T01:00:00Z", "'2026-12-01T01:00:00Z'"),
    ("2026-12-01T09:00:00", "'2026-12-01T09:00:00+08:00'"),
    ("2026-12-01T09:00", "'2026-12-01T09:00:00+08:00'"),
    ("2026-12-01", "'2026-12-01T00:00:00+08:00'"),
    ("  P3D\n", "'P3D'"),
    ("${delay}", "delay"),
    ("${ !urgent }", "not urgent"),
    ("'P3D'", "'P3D'"),
    ("\"2026-12-01\"", "\"2026-12-01\""),
    ("workdays(3)", "workdays(3)"),
])
def test_to_python_timer(text, python):
    assert to_python_timer(text) == python


@pytest.mark.parametrize("text", ["P3D", "PT1H30M", "2026-12-01T09:00:00", "2026-12-01", "2026-12-01T01:00Z"])
def test_timer_strings_are_accepted_by_spiffworkflow(env, text):
    value = env.evaluate(to_python_timer(text), {})
    assert isinstance(value, str)
    TimerEventDefinition.parse_time_or_duration(value)


def test_timer_without_offset_is_shanghai_time(env):
    moment = TimerEventDefinition.get_datetime(env.evaluate(to_python_timer("2026-12-01T09:00:00"), {}))
    assert moment == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    _, start, duration = TimerEventDefinition.parse_iso_recurring_interval(
        env.evaluate(to_python_timer("R3/2026-12-01/P1D"), {}))
    assert start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert duration.days == 1


# --- scripts and conditions ----------------------------------------------------------------------------


def test_script_assignments_land_in_data(env):
    context = {"amount": 5}
    assert env.execute("total = amount * 2\nlabel = f'共{total}元'\nflag = total > 8", context) is True
    assert context == {"amount": 5, "total": 10, "label": "共10元", "flag": True}


def test_script_mutates_lists_and_dicts(env):
    context = {"accused": ["甲"], "info": {"old": 1, "keep": 2}, "tags": {"a"}}
    script = "accused.append('乙')\ninfo['new'] = info.get('keep') + 1\ndel info['old']\ntags.add('b')"
    env.execute(script, context)
    assert context == {"accused": ["甲", "乙"], "info": {"keep": 2, "new": 3}, "tags": {"a", "b"}}


def test_script_augmented_assignment(env):
    context = {"n": 10, "names": ["a"], "text": "x"}
    env.execute("n += 5\nn -= 1\nn *= 2\nn //= 4\nn **= 2\nnames += ['b']\ntext += 'y'", context)
    assert context == {"n": 49, "names": ["a", "b"], "text": "xy"}


def test_script_comprehensions_loops_and_unpacking(env):
    context = {"people": [{"name": " 张三 ", "age": 30}, {"name": "李四", "age": 12}], "pair": (1, 2)}
    env.execute(
        "adults = [p['name'].strip() for p in people if p['age'] >= 18]\n"
        "ages = {p['name'].strip(): p['age'] for p in people}\n"
        "total = sum(p['age'] for p in people)\n"
        "first, second = pair\n"
        "lines = []\n"
        "for name, age in sorted(ages.items(), key=lambda kv: kv[1]):\n"
        "    lines.append(f'{name}:{age}')\n"
        "tail = lines[1:]\n",
        context,
    )
    assert context["adults"] == ["张三"]
    assert context["ages"] == {"张三": 30, "李四": 12}
    assert context["total"] == 42
    assert (context["first"], context["second"]) == (1, 2)
    assert context["lines"] == ["李四:12", "张三:30"]
    assert context["tail"] == ["张三:30"]


def test_script_uses_helpers_and_predefined_names(env):
    context = {}
    env.execute(
        "due = workdays(3)\n"
        "day = date(2026, 1, 1) + timedelta(days=1)\n"
        "price = Decimal('1.10') + Decimal('2.20')\n"
        "year = datetime(2026, 5, 1).year\n",
        context,
    )
    assert context == {"due": "3 workdays", "day": date(2026, 1, 2), "price": Decimal("3.30"), "year": 2026}


def test_helpers_can_be_replaced(env):
    env.set_helpers({"workdays": lambda n: n * 10})
    assert env.evaluate("workdays(3)", {}) == 30
    context = {}
    env.execute("x = workdays(1)", context)
    assert context == {"x": 10}


def test_helpers_modules_and_functions_do_not_leak_into_data(env):
    context = {"keep": 1}
    env.execute("def double(v):\n    return v * 2\nf = workdays\nlater = double(keep)\nd = date", context)
    assert context == {"keep": 1, "later": 2}


def test_script_del_removes_data(env):
    context = {"a": 1, "b": 2}
    env.execute("del a", context)
    assert context == {"b": 2}


def test_failing_script_leaves_data_untouched(env):
    context = {"a": 1, "items": []}
    with pytest.raises(ZeroDivisionError):
        env.execute("b = 2\na = 5\nc = 1 / 0", context)
    assert context == {"a": 1, "items": []}


def test_data_overwriting_a_helper_is_refused(env):
    with pytest.raises(ValueError):
        env.execute("x = 1", {"workdays": 3})


def test_conditions_evaluate_against_data(env):
    condition = "amount > 3 and category == 'accusation'"
    assert env.evaluate(condition, {"amount": 5, "category": "accusation"}) is True
    assert env.evaluate(condition, {"amount": 5, "category": "other"}) is False
    assert env.evaluate("${amount > 3 && category == 'accusation'}", {"amount": 4, "category": "accusation"})
    assert env.evaluate("name.strip() == '张三' and d.get('k') is None", {"name": " 张三 ", "d": {}})
    assert env.evaluate("len(xs) + max(xs)", {"xs": [1, 5]}) == 7
    assert env.evaluate("max(*xs) + dict(**d)['k']", {"xs": [1, 5], "d": {"k": 2}}) == 7
    assert env.evaluate("a", {"a": 1}, external_context={"a": 2}) == 1


def test_unknown_name_is_a_run_time_error_only(env):
    assert check("missing > 3") == []
    with pytest.raises(NameError):
        env.evaluate("missing > 3", {"amount": 1})


def test_cached_condition_is_fast(env):
    condition, context = "amount > 3 and category == 'accusation'", {"amount": 5, "category": "accusation"}
    env.evaluate(condition, context)
    runs = 2000
    started = time.perf_counter()
    for _ in range(runs):
        env.evaluate(condition, context)
    assert (time.perf_counter() - started) / runs < 50e-6


# --- SpiffWorkflow integration -------------------------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="case" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_script" sourceRef="start" targetRef="script"/>
    <bpmn:scriptTask id="script" scriptFormat="python">
      <bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="to_gateway" sourceRef="script" targetRef="gateway"/>
    <bpmn:exclusiveGateway id="gateway" default="to_small"/>
    <bpmn:sequenceFlow id="to_big" sourceRef="gateway" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        ${total &gt; 10 &amp;&amp; !closed}
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_small" sourceRef="gateway" targetRef="end_small"/>
    <bpmn:endEvent id="end_big"/>
    <bpmn:endEvent id="end_small"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(script, data):
    parser = CamundaParser()
    parser.add_bpmn_str(BPMN.replace("SCRIPT", script).encode())
    engine = PythonScriptEngine(environment=RestrictedEnvironment({"workdays": lambda n: n + 100}))
    workflow = BpmnWorkflow(parser.get_spec("case"), script_engine=engine)
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    return workflow


@pytest.mark.parametrize(("amount", "end"), [(6, "end_big"), (4, "end_small")])
def test_bpmn_script_and_gateway_run_restricted(amount, end):
    workflow = _workflow("total = amount * 2\naccused = [n.strip() for n in names]\ndue = workdays(1)",
                         {"amount": amount, "names": [" 甲 "], "closed": False})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data == {"amount": amount, "names": [" 甲 "], "closed": False, "total": amount * 2,
                             "accused": ["甲"], "due": 101}
    completed = {task.task_spec.name for task in workflow.get_tasks(state=TaskState.COMPLETED)}
    assert end in completed
    assert ({"end_big", "end_small"} - {end}).isdisjoint(completed)


def test_bpmn_script_importing_os_fails_without_running():
    workflow = _workflow("marker = 1\nimport os", {"amount": 1, "closed": False})
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert info.value.error_type == "ExpressionError"
    assert isinstance(info.value.__context__, ExpressionError)
    assert info.value.__context__.message == "不允许导入模块"
    assert info.value.__context__.line == 2
    script_task = workflow.get_tasks(spec_name="script")[0]
    assert script_task.state == TaskState.ERROR
    assert "marker" not in script_task.data
    assert not workflow.is_completed()
