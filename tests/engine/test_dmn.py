"""Decision tables (DMN) as the Camunda Modeler saves them: deployed beside the BPMN and versioned with it,
run with the hit policies UNIQUE / FIRST / COLLECT, the results mapped as Camunda maps them, and every
table, cell and business rule task checked before deployment (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from common import make_actor

from engine import IncidentRaised
from engine.bpmn.deployments import ValidationFailed, read_paths
from engine.bpmn.expressions import RestrictedEnvironment
from engine.bpmn.feel import FeelRefused, unary_test

DIAGRAMS = Path(__file__).parent / "dmn"
STAFF = make_actor("wang", "petition_staff")


_NAMES = {"routing": "routing.dmn", "grading": "grading.dmn", "tasks": "dmn_tasks.bpmn"}


def _files(**replace: tuple[str, str]) -> dict[str, str]:
    """The diagrams of tests/engine/dmn/, with `routing=(old, new)` replacing text in one of them."""
    files = {name: content.decode("utf-8") for name, content in read_paths([DIAGRAMS]).items()}
    for key, (old, new) in replace.items():
        name = _NAMES[key]
        assert old in files[name], old
        files[name] = files[name].replace(old, new, 1)
    return files


@pytest.mark.parametrize(("feel", "value", "matches"), [
    ('"a","b"', "b", True),
    ('"a","b"', "c", False),
    ("< 5", 4, True),
    ("< 5", 5, False),
    ("[1..3]", 3, True),
    ("]1..3[", 3, False),
    ("(1..3]", 1, False),
    ('not("a","b")', "c", True),
    ('not("a","b")', "a", False),
    ("true", True, True),
    ("null", None, True),
    ("-2.5", -2.5, True),
    (">= limit", 7, True),
    ("${cellInput gt 5}", 6, True),
])
def test_simple_feel_unary_tests_evaluate_as_camunda_does(feel, value, matches):
    env = RestrictedEnvironment()
    assert env.evaluate(unary_test(feel), {"limit": 7}, {"cellInput": value}) is matches


@pytest.mark.parametrize("feel", ['date("2026-01-01")', "? > 5", 'contains(?, "x")', '"a",', "not(-)",
                                  "[1..]", "< date and time(\"2026-01-01T00:00:00\")"])
def test_feel_beyond_simple_unary_tests_is_refused_in_chinese(feel):
    with pytest.raises(FeelRefused) as refused:
        unary_test(feel)
    assert "不支持的 FEEL 写法" in refused.value.message


@pytest.mark.parametrize(("data", "department", "grading", "notify"), [
    ({"category": "appeal", "rank": "bureau", "days": 2}, "supervision_2", {"grade": "urgent", "remind": True},
     ["petition_staff", "petition_head", "leader_in_charge"]),
    ({"category": "accusation", "rank": "county", "days": 5}, "supervision_1", {"grade": "normal", "remind": False},
     ["petition_staff"]),
    ({"category": "accusation", "rank": "village", "days": 11}, "township_group", {"grade": "low", "remind": None},
     ["petition_staff"]),
    ({"category": "suggestion", "rank": "village", "days": 4}, "supervision_1", {"grade": "urgent", "remind": True},
     ["petition_staff", "petition_head"]),
])
def test_business_rule_tasks_run_the_tables_with_their_hit_policy_and_result_mapping(
        engine, data, department, grading, notify):
    engine.deploy(_files(), by="owner")
    case = engine.case(engine.start_case("dmn_tasks", data, STAFF))
    assert case["incidents"] == []
    assert case["status"] == "completed"
    assert case["data"]["department"] == department  # FIRST, singleEntry
    assert case["data"]["grading"] == grading  # UNIQUE, singleResult; an empty output cell is null
    assert case["data"]["notify"] == notify  # COLLECT, collectEntries, in rule order
    assert case["data"]["grades"] == [grading]  # resultList


def test_unique_table_with_two_matching_rules_is_an_incident_naming_the_rows(engine):
    engine.deploy(_files(), by="owner")
    with pytest.raises(IncidentRaised) as raised:
        engine.start_case("dmn_unique_conflict", {"days": 10}, STAFF)
    case = engine.case(raised.value.case_id)
    assert case["status"] == "running"
    [incident] = case["incidents"]
    assert incident["message"] == "决策表“有重叠的规则”的命中策略为 UNIQUE，但第 1、2 条规则同时命中"
    assert "result" not in case["data"]


def test_a_single_result_mapping_over_several_matched_rules_is_an_incident(engine):
    single = ('camunda:mapDecisionResult="collectEntries"', 'camunda:mapDecisionResult="singleEntry"')
    engine.deploy(_files(tasks=single), by="owner")
    with pytest.raises(IncidentRaised) as raised:
        engine.start_case("dmn_tasks", {"category": "appeal", "rank": "bureau", "days": 2}, STAFF)
    [incident] = engine.case(raised.value.case_id)["incidents"]
    assert incident["bpmn_id"] == "rule_notify"
    assert incident["message"] == ('决策表“通知哪些角色”命中 3 条规则，'
                                   'camunda:mapDecisionResult="singleEntry" 只能接受一条')


@pytest.mark.parametrize(("aggregation", "notify"), [("COUNT", [3]), ("MIN", ["leader_in_charge"]),
                                                   ("MAX", ["petition_staff"])])
def test_collect_aggregates_the_matched_values(engine, aggregation, notify):
    engine.deploy(_files(grading=('hitPolicy="COLLECT"', f'hitPolicy="COLLECT" aggregation="{aggregation}"')),
                  by="owner")
    data = engine.case(engine.start_case("dmn_tasks", {"category": "appeal", "rank": "bureau", "days": 2}, STAFF))[
        "data"]
    assert data["notify"] == notify


@pytest.mark.parametrize(("aggregation", "notify"), [("COUNT", [0]), ("MIN", [None])])
def test_an_aggregate_over_no_matched_rule_is_zero_for_count_else_null(engine, aggregation, notify):
    files = _files(grading=('hitPolicy="COLLECT"', f'hitPolicy="COLLECT" aggregation="{aggregation}"'))
    files["grading.dmn"] = files["grading.dmn"].replace('<inputEntry id="Entry_notify_staff"><text>-</text>',
                                                        '<inputEntry id="Entry_notify_staff"><text>&lt; 0</text>')
    engine.deploy(files, by="owner")
    data = engine.case(engine.start_case("dmn_tasks", {"category": "appeal", "rank": "bureau", "days": 10}, STAFF))[
        "data"]
    assert data["notify"] == notify


def test_a_sum_over_text_is_an_incident_in_chinese(engine):
    engine.deploy(_files(grading=('hitPolicy="COLLECT"', 'hitPolicy="COLLECT" aggregation="SUM"')), by="owner")
    with pytest.raises(IncidentRaised) as raised:
        engine.start_case("dmn_tasks", {"category": "appeal", "rank": "bureau", "days": 2}, STAFF)
    [incident] = engine.case(raised.value.case_id)["incidents"]
    assert incident["message"].startswith("决策表“通知哪些角色”无法汇总（SUM）命中的值")


def test_unique_table_with_one_matching_rule_runs(engine):
    engine.deploy(_files(), by="owner")
    case = engine.case(engine.start_case("dmn_unique_conflict", {"days": 3}, STAFF))
    assert case["status"] == "completed"
    assert case["data"]["result"] == "short"


def test_dmn_files_are_versioned_with_the_processes_that_call_them(engine):
    first = {o.process_id: o for o in engine.deploy(_files(), by="owner")}
    assert first["dmn_tasks"].version == 1
    old_case = engine.start_case("dmn_tasks", {"category": "appeal", "rank": "bureau", "days": 3}, STAFF)
    changed = _files(routing=('<text>"supervision_2"</text>', '<text>"social_affairs"</text>'))
    second = {o.process_id: o for o in engine.deploy(changed, by="owner")}
    assert second["dmn_tasks"].created and second["dmn_tasks"].version == 2
    assert not second["dmn_unique_conflict"].created  # it does not call the changed table
    listed = {d["process_id"]: d["files"] for d in engine.deployments() if d["version"] == 1}
    assert listed["dmn_tasks"] == ["dmn_tasks.bpmn", "grading.dmn", "routing.dmn"]
    assert listed["dmn_unique_conflict"] == ["dmn_tasks.bpmn", "grading.dmn"]
    new_case = engine.start_case("dmn_tasks", {"category": "appeal", "rank": "bureau", "days": 3}, STAFF)
    assert engine.case(old_case)["data"]["department"] == "supervision_2"
    assert engine.case(new_case)["data"]["department"] == "social_affairs"


_DEPENDENT_DECISION = (
    '<decision id="urgency_grade_copy" name="复制">'
    '<informationRequirement id="req"><requiredDecision href="#urgency_grade" /></informationRequirement>'
    '<decisionTable id="t2"><input id="i2"><inputExpression id="ie2"><text>days</text></inputExpression></input>'
    '<output id="o2" name="x" /></decisionTable></decision>'
)


@pytest.mark.parametrize(("replace", "element_id", "message"), [
    ({"grading": ('hitPolicy="UNIQUE"', 'hitPolicy="ANY"')}, "DecisionTable_overlapping", "命中策略 ANY 未支持"),
    ({"grading": ('hitPolicy="UNIQUE"', 'hitPolicy="FIRST" aggregation="SUM"')}, "DecisionTable_overlapping",
     "汇总方式 SUM 只能用于 COLLECT"),
    ({"grading": ('<decisionTable id="DecisionTable_grade">',
                  '<decisionTable id="DecisionTable_grade" hitPolicy="COLLECT" aggregation="COUNT">')},
     "DecisionTable_grade", "COLLECT COUNT 要求决策表只有一个输出列"),
    ({"routing": ('<text>"village"</text>', '<text>date("2026-01-01")</text>')}, "Rule_village",
     "不支持的 FEEL 写法"),
    ({"routing": ('<text>"supervision_1"</text>', '<text>upper("a")</text>')}, "Rule_senior",
     "决策表中不支持函数调用"),
    ({"routing": ('<text>rank</text>', '<text>rank.__class__</text>')}, "Input_rank", "下划线"),
    ({"routing": ("<text>rank</text>", "<text>accused[1].rank</text>")}, "Input_rank", "FEEL 的列表下标从 1 开始"),
    ({"grading": ("<text>&lt; 5</text>", "<text>&lt; limits.urgent_days</text>")}, "Rule_urgent", "limits"),
    ({"routing": ('<inputEntry id="Entry_village_rank">', '<inputEntry id="Entry_village_rank" '
                  'expressionLanguage="javascript">')}, "Rule_village", "不支持 JavaScript 表达式"),
    ({"routing": ('name="department" ', "")}, "Output_department", "输出列需要名称"),
    ({"tasks": ('camunda:decisionRef="department_by_rank"', 'camunda:decisionRef="no_such_table"')},
     "rule_department", "决策表“no_such_table”不存在"),
    ({"tasks": ('camunda:resultVariable="department" ', "")}, "rule_department", "camunda:resultVariable"),
    ({"tasks": ('camunda:mapDecisionResult="singleResult"', 'camunda:mapDecisionResult="singleEntry"')},
     "rule_grade", "只有一个输出列（现有 2 个）"),
    ({"tasks": ('camunda:decisionRefBinding="deployment"', 'camunda:decisionRefBinding="version"')},
     "rule_grade", "decisionRefBinding"),
    ({"tasks": ('camunda:decisionRef="notify_roles"', 'camunda:class="org.example.Rules"')}, "rule_notify",
     "不支持 camunda:class"),
    ({"grading": ('<decision id="notify_roles"', _DEPENDENT_DECISION + '<decision id="notify_roles"')},
     "urgency_grade_copy", "决策之间的依赖"),
    ({"grading": ('<decision id="notify_roles"', '<decision id="literal" name="文字表达式"><literalExpression '
                  'id="le"><text>1</text></literalExpression></decision><decision id="notify_roles"')},
     "literal", "literalExpression"),
    ({"routing": ('id="department_by_rank"', 'id="urgency_grade"')}, "urgency_grade", "决策 id“urgency_grade”"),
    ({"routing": ("<rule id=\"Rule_rest\">", "<rule id=\"Rule_rest\"><bogus/>")}, "", "不符合 DMN 规范"),
    ({"routing": ('<rule id="Rule_rest">', "<rule>")}, "DecisionTable_rank", "决策表的 rule 需要 id"),
    ({"routing": ("https://www.omg.org/spec/DMN/20191111/MODEL/", "https://www.omg.org/spec/DMN/20211108/MODEL/")},
     "", "不支持的 DMN 版本"),
])
def test_bad_tables_and_business_rule_tasks_are_refused_at_validate(engine, replace, element_id, message):
    problems = engine.validate(_files(**replace))
    assert any(p.element_id == element_id and message in p.message for p in problems), problems
    assert all(p.line > 0 for p in problems), problems
    with pytest.raises(ValidationFailed):
        engine.deploy(_files(**replace), by="owner")
    assert engine.deployments() == []


def test_a_business_rule_task_without_its_dmn_file_is_refused(engine):
    files = _files()
    del files["routing.dmn"]
    problems = engine.validate(files)
    assert [(p.file, p.element_id) for p in problems] == [("dmn_tasks.bpmn", "rule_department")]
    assert "需要一起部署" in problems[0].message


def test_a_table_deployed_without_a_process_calling_it_is_refused_not_dropped(engine):
    files = _files()
    problems = engine.validate({"routing.dmn": files["routing.dmn"]})
    assert problems == []  # a table on its own is valid ...
    with pytest.raises(ValidationFailed) as refused:  # ... but deploying it alone would store it nowhere
        engine.deploy({"routing.dmn": files["routing.dmn"]}, by="owner")
    assert [p.file for p in refused.value.problems] == ["routing.dmn"]
    assert "一起部署" in refused.value.problems[0].message
    assert engine.deployments() == []


def test_a_cell_that_cannot_be_evaluated_is_an_incident_naming_the_table_and_row(engine):
    engine.deploy(_files(), by="owner")
    with pytest.raises(IncidentRaised) as raised:
        engine.start_case("dmn_tasks", {"category": "accusation", "days": 2}, STAFF)  # no `rank`
    case = engine.case(raised.value.case_id)
    [incident] = case["incidents"]
    # rule 1 ("appeal") is out at its category; rule 2 is the first to read the rank
    assert incident["message"] == "决策表“按级别分办”第 2 条规则无法计算：变量 rank 不存在"
    assert incident["error_type"] == "NameError"
    assert incident["bpmn_id"] == "rule_department"
    assert "department" not in case["data"]
