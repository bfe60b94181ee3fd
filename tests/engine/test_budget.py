"""The budget of diagram text: a script that loops or builds a huge value is stopped, becomes an incident
and releases the write lock, while other cases go on; what is certain to blow up is refused at deployment."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from xml.sax.saxutils import escape

import pytest
from common import make_actor
from diagrams import process

from engine import Engine, IncidentRaised
from engine.api import Budget
from engine.bpmn.budget import Meter
from engine.bpmn.expressions import LimitExceeded, RestrictedEnvironment, check
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Case

STAFF = make_actor("wang", "petition_staff")
LOOP = "n = 0\nwhile n >= 0:\n    n = n + 1"


def _script_diagram(process_id: str, script: str) -> str:
    return process(process_id, f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_a" />
    <bpmn:userTask id="Task_a" name="登记" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_a" targetRef="Script_x" />
    <bpmn:scriptTask id="Script_x" name="计算" scriptFormat="python">
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Script_x" targetRef="Task_b" />
    <bpmn:userTask id="Task_b" name="复核" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Task_b" targetRef="End" />
    <bpmn:endEvent id="End" />""")


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry(), budget=Budget(seconds=0.2))
    engine.deploy({"looping.bpmn": _script_diagram("looping", LOOP),
                   "calm.bpmn": _script_diagram("calm", "total = 1 + 2")}, by="owner")
    return engine


def _stored(eng: Engine, case_id: int) -> tuple:
    with eng.db.read() as session:
        case = session.get(Case, case_id)
        return case.state, case.version, case.data, case.status


def test_endless_script_becomes_an_incident_while_another_case_completes(eng, monkeypatch):
    looping = eng.start_case("looping", {}, STAFF)
    calm = eng.start_case("calm", {}, STAFF)
    before = _stored(eng, looping)
    in_loop = threading.Event()
    tick = Meter.tick

    def watched_tick(self: Meter) -> bool:
        if threading.current_thread().name == "looping":
            in_loop.set()
        return tick(self)

    monkeypatch.setattr(Meter, "tick", watched_tick)
    outcome: dict[str, BaseException] = {}

    def run_loop() -> None:
        try:
            eng.complete(eng.find_task(looping, "Task_a"), STAFF)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread to assert on
            outcome["error"] = error

    thread = threading.Thread(target=run_loop, name="looping", daemon=True)
    thread.start()
    assert in_loop.wait(10)
    # The looping command holds its write transaction (on SQLite the database's write lock) only until
    # its budget runs out: this completion waits at most that long, or runs alongside on PostgreSQL.
    eng.complete(eng.find_task(calm, "Task_a"), STAFF)
    thread.join(10)
    assert not thread.is_alive()

    error = outcome.get("error")
    assert isinstance(error, IncidentRaised), error
    assert "脚本超出时间限制" in error.message
    assert _stored(eng, looping) == before
    looping_case = eng.case(looping)
    (incident,) = looping_case["incidents"]
    assert (incident["bpmn_id"], incident["error_type"]) == ("Script_x", "LimitExceeded")
    assert incident["message"].startswith("脚本超出时间限制")
    assert [item["bpmn_id"] for item in looping_case["work_items"]] == ["Task_a"]
    calm_case = eng.case(calm)
    assert calm_case["data"]["total"] == 3
    assert [item["bpmn_id"] for item in calm_case["work_items"]] == ["Task_b"]
    assert eng.verify_audit().ok


def test_the_write_lock_is_free_after_an_over_budget_command(eng):
    looping = eng.start_case("looping", {}, STAFF)
    with pytest.raises(IncidentRaised):
        eng.complete(eng.find_task(looping, "Task_a"), STAFF)
    calm = eng.start_case("calm", {}, STAFF)
    eng.complete(eng.find_task(calm, "Task_a"), STAFF)
    assert eng.case(calm)["data"] == {"total": 3}


def test_huge_value_at_run_time_is_an_incident(eng):
    eng.deploy({"huge.bpmn": _script_diagram("huge", "n = 10\nbig = 'x' * n ** n")}, by="owner")
    case_id = eng.start_case("huge", {}, STAFF)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(eng.find_task(case_id, "Task_a"), STAFF)
    assert "脚本生成的值过大" in raised.value.message
    assert "big" not in eng.case(case_id)["data"]


# ---- refused before deployment ------------------------------------------------------------------------

REFUSED = {
    "while-true": ("while True:\n    n = 1", "无限循环"),
    "while-1": ("while 1: pass", "无限循环"),
    "break-of-inner-loop-only": ("while True:\n    for i in items:\n        break", "无限循环"),
    "tower-of-powers": ("n = 10**10**10", "整数过大"),
    "giant-string": ("s = 'x' * 10**10", "值过大"),
    "giant-list": ("s = [0] * 10**9", "值过大"),
    "giant-shift": ("s = 1 << 10**9", "整数过大"),
}


@pytest.mark.parametrize(("script", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_certainly_unbounded_script_is_refused_at_deployment(eng, script, reason):
    problems = eng.validate({"bad.bpmn": _script_diagram("bad", script)})
    assert [p.element_id for p in problems] == ["Script_x"]
    assert reason in problems[0].message


@pytest.mark.parametrize("script", [
    "while True:\n    if n > 3:\n        break\n    n = n + 1",
    "def f():\n    while True:\n        return 1",
    "x = 2 ** 64 * 'ab'.count('a')",
    "s = 'x' * 1000",
])
def test_bounded_loops_and_values_pass(script):
    assert check(script, "exec") == []


# ---- the guards, one by one ---------------------------------------------------------------------------

OVER_BUDGET = {
    "loop": "n = 0\nwhile n >= 0: n += 1",
    "loop-caught": "n = 0\ntry:\n    while n >= 0: n += 1\nexcept Exception:\n    pass\nafter = 1",
    "recursion-tree": "def f(n):\n    return f(n - 1) + f(n - 1) if n else 1\nx = f(200)",
    "lambda-tree": "g = lambda n: g(n - 1) + g(n - 1) if n else 1\nx = g(200)",
    "nested-comprehension": "x = [a for a in range(10**6) for b in range(10**6)]",
    "power-of-names": "n = 10\nx = n ** n ** n",
    "pow-builtin": "x = pow(10, 10**10)",
    "repeat-text": "n = 10**9\nx = 'x' * n",
    "repeat-list": "n = 10**9\nx = n * [0]",
    "doubling": "s = 'ab'\nfor i in range(40):\n    s = s + s",
    "doubling-inplace": "s = [1]\nfor i in range(40):\n    s += s",
    "range": "x = sum(range(10**12))",
    "shift": "n = 10**9\nx = 1 << n",
    "padding": "x = 'a'.ljust(10**10)",
    "replace": "x = ('a' * 10**5).replace('a', 'b' * 10**5)",
    "join": "x = ','.join(['x' * 1000] * 10**5)",
    "translate": "x = ('a' * 10**5).translate({97: 'b' * 10**5})",
    "to-bytes": "x = (1).to_bytes(10**10, 'big')",
    "percent-width": "x = '%10000000000d' % 1",
    "fstring-width": "w = 10**10\nx = f'{1:>{w}}'",
    "endless-iter": "x = list(iter(int, 1))",
    "sum-of-lists": "x = sum([[1]] * 10, [])",
}


@pytest.mark.parametrize("script", OVER_BUDGET.values(), ids=OVER_BUDGET.keys())
def test_guard_stops_the_script(script):
    environment = RestrictedEnvironment(budget=Budget(seconds=0.1))
    context = {"kept": 1}
    with pytest.raises(LimitExceeded):
        environment.execute(script, context)
    assert context == {"kept": 1}


def test_endless_expression_is_stopped_too():
    environment = RestrictedEnvironment(budget=Budget(seconds=0.1))
    with pytest.raises(LimitExceeded, match="时间限制"):
        environment.evaluate("any(False for a in range(10**6) for b in range(10**6))", {})


def test_the_time_budget_is_shared_by_the_whole_command():
    environment = RestrictedEnvironment(budget=Budget(seconds=0.1))
    with pytest.raises(LimitExceeded):
        environment.execute("n = 0\nwhile n >= 0: n += 1", {})
    with pytest.raises(LimitExceeded, match="时间限制"):  # nothing is left for the next script
        environment.evaluate("1 + 1", {})


def test_smaller_caps_are_configurable():
    environment = RestrictedEnvironment(budget=Budget(max_items=10, max_int_bits=8))
    assert environment.evaluate("'x' * 10 + ''", {}) == "x" * 10
    with pytest.raises(LimitExceeded, match="上限 10 项"):
        environment.evaluate("'x' * 11", {})
    with pytest.raises(LimitExceeded, match="上限 8 位"):
        environment.evaluate("2 ** 9", {})


def test_ordinary_arithmetic_and_text_still_work():
    environment = RestrictedEnvironment()
    context = {"n": 3}
    environment.execute(
        "m = n * 2 + 1\ns = 'a' * 3 + 'b'\nl = [1] * 3 + [2]\nx = 2 ** 10 << 1\nf = f'{m:>5}|{s!r}'\n"
        "y = '%5d' % m\nz = sum(l)\nq = [i * i for i in range(5) if i]\nh = (lambda a: a + 1)(2)\n"
        "j = ','.join(str(i) for i in range(3)).center(7, '*')\nk = 7 % 4\nm += 1\nm *= 2\n"
        "t = 'ab'.translate({97: 'xy'}) + str(len((258).to_bytes(2, 'big')))", context)
    assert context == {"n": 3, "m": 16, "s": "aaab", "l": [1, 1, 1, 2], "x": 2048, "f": "    7|'aaab'",
                       "y": "    7", "z": 5, "q": [1, 4, 9, 16], "h": 3, "j": "*0,1,2*", "k": 3, "t": "xyb2"}


def test_a_handlers_own_time_is_not_the_diagram_texts(database, clock, monkeypatch):
    """A handler is trusted Python (hashing a query code takes its time): what it spends does not eat the
    budget of the scripts and expressions after it."""
    cpu = [100.0]  # the meter's clock, moved by hand
    monkeypatch.setattr("engine.bpmn.budget.time", SimpleNamespace(thread_time=lambda: cpu[0]))
    handlers = HandlerRegistry()

    @handlers.register("slow.work")
    def slow(context) -> dict:
        cpu[0] += 5  # far beyond the 0.2 s budget
        return {"worked": True}

    engine = Engine(database, clock, handlers=handlers, budget=Budget(seconds=0.2))
    engine.deploy({"slow.bpmn": process("slow", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Service_slow" />
    <bpmn:serviceTask id="Service_slow" name="慢处理" camunda:type="external" camunda:topic="slow.work" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Service_slow" targetRef="Script_after" />
    <bpmn:scriptTask id="Script_after" name="计算" scriptFormat="python"><bpmn:script>checked = worked</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Script_after" targetRef="End" />
    <bpmn:endEvent id="End" />""")}, by="owner")
    case_id = engine.start_case("slow", {}, STAFF)
    assert engine.case(case_id)["data"]["checked"] is True
