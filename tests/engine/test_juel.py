"""JUEL as Camunda 7 users write it: each construct translated to Python, evaluated in the sandbox, and a
Modeler diagram routed by it end to end (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from common import make_actor

from engine.bpmn.deployments import read_paths
from engine.bpmn.expressions import RestrictedEnvironment, check, to_python_expression

DIAGRAM = Path(__file__).parent / "diagrams" / "juel_routing.bpmn"
STAFF = make_actor("wang", "petition_staff")


@pytest.mark.parametrize(("juel", "data", "value"), [
    ("${n eq 3}", {"n": 3}, True),
    ("${n ne 3}", {"n": 3}, False),
    ("${n lt 3 or n gt 5}", {"n": 6}, True),
    ("${n le 3 and n ge 3}", {"n": 3}, True),
    ("${not (n ge 3)}", {"n": 2}, True),
    ("${n div 4 mod 2}", {"n": 6}, 1.5),
    ("${empty reporter}", {"reporter": ""}, True),
    ("${empty accused}", {"accused": []}, True),
    ("${empty reporter}", {"reporter": None}, True),
    ("${!empty accused && accused[0].name eq '张某'}", {"accused": [{"name": "张某"}]}, True),
    ("${amount gt 1000 ? '大额' : '一般'}", {"amount": 1500}, "大额"),
    ("${a ? 'x' : b ? 'y' : 'z'}", {"a": False, "b": True}, "y"),
    ("${max(a ? 1 : 2, 3 lt 4 ? 5 : 0)}", {"a": True}, 5),
    ("${order.amount ge 100}", {"order": {"amount": 120}}, True),
    ("第${n}次", {"n": 2}, "第2次"),
    ("${dept}_${rank}", {"dept": "s1", "rank": None}, "s1_"),
    ("dept_${level eq 'high' ? 'leader' : 'staff'}", {"level": "high"}, "dept_leader"),
    ("${x == '${not a part}'}", {"x": "${not a part}"}, True),
])
def test_juel_evaluates_as_camunda_does(juel, data, value):
    env = RestrictedEnvironment()
    assert env.evaluate(to_python_expression(juel), data) == value


@pytest.mark.parametrize("juel", [
    "${a eq}", "${a ? b}", "${a ne ne b}", "${x ? : y}",
])
def test_broken_juel_is_refused_when_checked(juel):
    assert check(to_python_expression(juel), "eval"), juel


def test_python_text_is_left_as_written():
    python = "category in ('accusation', 'complaint') and not closed  # 检举控告"
    assert to_python_expression(python) == python


@pytest.mark.parametrize(("data", "end"), [
    ({"amount": 5000, "approver": "wang", "days": 1}, "big"),
    ({"amount": 5000, "approver": "", "days": 1}, "end_small"),
    ({"amount": 500, "approver": "", "days": 2}, "end_mid"),
    ({"amount": 10, "approver": "", "days": 1}, "end_small"),
])
def test_modeler_diagram_routes_by_juel(engine, clock, data, end):
    engine.deploy(read_paths([DIAGRAM]), by="test")
    case_id = engine.start_case("juel_routing", data, STAFF)
    case = engine.case(case_id)
    assert case["incidents"] == []
    if end == "big":
        assert [item["bpmn_id"] for item in case["work_items"]] == ["big"]
        return
    if end == "end_mid":  # P${days}D: waits two days, then ends
        assert case["status"] == "running"
        clock.advance(timedelta(days=data["days"], seconds=1))
        engine.scheduler(owner="juel").drain()
        case = engine.case(case_id)
    assert case["status"] == "completed"
    assert case["incidents"] == []
