"""Every deciding task of processes/ declares what its decider must see (context_fields) and which field
records the decision (decision); the declarations are checked at deploy, each problem naming file, line
and task."""

from __future__ import annotations

import re

import pytest
from chain import ORGANISATION, PROCESSES
from lxml import etree

from engine.bpmn.case_fields import CONTEXT_FIELDS, DECISION
from engine.bpmn.deployments import read_paths
from engine.org.organisation import load_organisation

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}
# Registration records what arrived (its channel and real-name flag route the case); it judges nothing.
RECORDS_ONLY = {"Task_register"}


def _trees() -> dict[str, etree._ElementTree]:
    return {path.name: etree.parse(str(path)) for path in sorted(PROCESSES.glob("*.bpmn"))}


def _read_names(trees) -> set[str]:
    """Every name a condition or a script of processes/ reads."""
    texts = [node.text or "" for tree in trees.values()
             for node in tree.iter(f"{{{NS['bpmn']}}}conditionExpression", f"{{{NS['bpmn']}}}script")]
    return {word for text in texts for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)}


def _deciding_tasks() -> dict[str, dict[str, str]]:
    """User tasks with an enum or yes/no answer that routes the case, by id, with their properties."""
    trees = _trees()
    read = _read_names(trees)
    found = {}
    for tree in trees.values():
        for task in tree.iter(f"{{{NS['bpmn']}}}userTask"):
            answers = {field.get("id") for field in task.iterfind(".//camunda:formField", NS)
                       if field.get("type") in ("enum", "boolean")}
            if answers & read and task.get("id") not in RECORDS_ONLY:
                properties = {node.get("name"): node.get("value") for node in
                              task.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS)}
                found[task.get("id")] = properties
    return found


def test_the_chain_has_deciding_tasks_in_every_stage_that_decides():
    deciding = _deciding_tasks()
    for expected in ("Task_leader_signoff", "Task_approve_extension", "Task_department_sign",
                     "Task_read_principal", "Task_confirm_duplicate", "Task_approve_clarification"):
        assert expected in deciding


@pytest.mark.parametrize("task_id", sorted(_deciding_tasks()))
def test_every_deciding_task_declares_its_context_and_decision(task_id):
    properties = _deciding_tasks()[task_id]
    assert properties.get(CONTEXT_FIELDS, "").strip(), f"{task_id} 未声明 context_fields"
    assert properties.get(DECISION, "").strip(), f"{task_id} 未声明 decision"


@pytest.fixture
def files(engine) -> dict[str, str]:
    with engine.db.write() as session:
        load_organisation(session, ORGANISATION)
    return {name: content.decode("utf-8") for name, content in read_paths([PROCESSES]).items()}


def _problems(engine, files, name: str, old: str, new: str) -> list[str]:
    assert old in files[name], old
    return [str(p) for p in engine.validate({**files, name: files[name].replace(old, new, 1)})]


def test_the_diagrams_of_the_chain_pass(engine, files):
    assert engine.validate(files) == []


APPROVER_CONTEXT = ('name="context_fields" value="extension_days, extension_reason, report_due=当前办理期限, '
                    'extension_days_used=已延期天数, extension_days_remaining=剩余可延期天数"')


@pytest.mark.parametrize(("old", "new", "message"), [
    (APPROVER_CONTEXT, 'name="context_fields" value="extension_days, no_such_field"',
     "“no_such_field”不是本次部署中任何表单、脚本或服务任务（属性 writes）写入的案件字段"),
    (APPROVER_CONTEXT, 'name="context_fields" value="extension_days_remaining"',
     "“extension_days_remaining”不是表单字段，需写明标签：extension_days_remaining=标签"),
    (APPROVER_CONTEXT, 'name="context_fields" value=" "', "属性 context_fields 为空"),
    ('name="decision" value="extension_decision"', 'name="decision" value="extension_opinion"',
     "属性 decision 应为本任务表单中的枚举或是/否字段，“extension_opinion”不是"),
    ('id="max_from" value="extension_days_remaining"', 'id="max_from" value="extension_days_left"',
     "属性 max_from 引用的“extension_days_left”不是本次部署中写入的案件字段"),
])
def test_bad_declarations_are_refused_at_deploy(engine, files, old, new, message):
    problems = _problems(engine, files, "extension_request.bpmn", old, new)
    assert len(problems) == 1, problems
    assert problems[0].startswith("extension_request.bpmn:") and message in problems[0]
    assert ": Task_approve_extension: " in problems[0] or ": Task_request_extension: " in problems[0]


def test_a_bound_on_a_text_field_and_an_unknown_check_are_refused(engine, files):
    problems = _problems(engine, files, "intake.bpmn", 'id="check_with" value="duplicates.check_link"',
                         'id="check_with" value="duplicates.no_such_check"')
    assert [p.split(": ", 2)[1:] for p in problems] == [
        ["Task_confirm_duplicate",
         "字段 duplicate_of：属性 check_with 引用的“duplicates.no_such_check”不是已注册的处理函数"]]
    problems = _problems(engine, files, "intake.bpmn", 'id="check_with" value="duplicates.check_link"',
                         'id="max_from" value="summary"')
    assert problems and all("属性 max_from 只适用于单个整数或小数字段" in p for p in problems)


def test_a_handler_output_must_be_declared_to_be_shown(engine, files):
    problems = _problems(engine, files, "intake.bpmn",
                         '<camunda:property name="writes" value="duplicate_candidates, is_duplicate" />', "")
    assert len(problems) == 1 and "“duplicate_candidates”不是本次部署中任何表单" in problems[0]


@pytest.mark.parametrize(("new", "message"), [
    ('id="options_while" value="extend=extension_days_remaining"', "属性 options_while 中的“extend”不是本字段的选项"),
    ('id="options_while" value="extension=extension_days_left"',
     "属性 options_while 引用的“extension_days_left”不是本次部署中写入的案件字段"),
    ('id="options_while" value=""', "属性 options_while 只适用于单个枚举字段"),
])
def test_a_bad_option_gate_is_refused_at_deploy(engine, files, new, message):
    problems = _problems(engine, files, "handling.bpmn",
                         'id="options_while" value="extension=extension_days_remaining"', new)
    assert len(problems) == 1 and ": Task_investigate: 字段 handling_action：" in problems[0], problems
    assert message in problems[0]
