"""The Modeler corpus (tests/engine/modeler_corpus/): small diagrams as the Camunda Modeler saves them (DI,
camunda namespace), one feature each. Each either runs to its stated end — started, every task completed
with its declared data, timers fired with the fake clock — or is refused at validate with its stated
message, on the element it names. None may crash, or be accepted and then stuck."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from common import ROOT, make_actor

from engine import Engine, IncidentRaised, ValidationFailed
from engine.bpmn.deployments import read_paths
from engine.org.organisation import ROLE_CATALOGUE, load_actor, load_organisation
from engine.runtime.handlers_registry import HandlerRegistry

CORPUS = Path(__file__).parent / "modeler_corpus"
ROUND_TRIP = Path(__file__).parents[1] / "processes" / "modeler_roundtrip.mjs"
ANYONE = make_actor("wang", *ROLE_CATALOGUE)


@dataclass(frozen=True)
class Runs:
    """steps: ("complete", bpmn id, data) · ("advance", hours); the case starts with `start`."""

    steps: list[tuple] = field(default_factory=list)
    status: str = "completed"
    data: dict = field(default_factory=dict)  # expected subset of the case data (None: absent)
    open: list[str] = field(default_factory=list)  # bpmn ids of the open work items, sorted
    start: dict = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # bpmn id -> candidate groups, checked first
    with_files: tuple[str, ...] = ()  # other corpus files deployed with it (called processes)


@dataclass(frozen=True)
class Refused:
    element_id: str  # "" for an element without id
    message: str  # part of the Chinese message


MANIFEST: dict[str, Runs | Refused] = {
    # ---- runs ----
    "mc_exclusive_gateway": Runs([("complete", "decide", {"accepted": True})], data={"route": "accepted"}),
    "mc_inclusive_gateway": Runs(start={"a": True, "b": False}, data={"got_a": True, "got_b": None}),
    "mc_parallel_gateway": Runs([("complete", "check_a", {}), ("complete", "check_b", {})]),
    "mc_event_based_gateway": Runs([("advance", 2)], data={"path": "timeout"}),
    "mc_gateway_loop": Runs([("complete", "review", {}), ("complete", "review", {})], data={"rounds": 2}),
    "mc_called": Runs(data={"stamped": True}),
    "mc_call_activity": Runs([("complete", "after", {})], with_files=("mc_called",)),
    "mc_embedded_subprocess": Runs([("complete", "verify", {})]),
    "mc_boundary_timer": Runs([("advance", 3)], data={"escalated": True}),
    "mc_boundary_timer_noninterrupting": Runs([("advance", 2)], status="running", open=["chase", "handle"]),
    "mc_timer_catch": Runs([("advance", 25)], status="running", open=["follow_up"]),
    "mc_link_events": Runs(status="running", open=["review"], data={"registered": True},
                           groups={"review": ["petition_staff"]}),
    "mc_manual_task": Runs([("complete", "sign", {})], groups={"sign": ["petition_head"]}),
    "mc_plain_task": Runs([("complete", "handle", {})], groups={"handle": ["petition_staff"]}),
    "mc_script_task": Runs(start={"a": 2, "b": 3}, data={"total": 5}),
    "mc_service_task": Runs(data={"stamped": True}),
    "mc_generated_form": Runs([("complete", "register", {"summary": "反映某镇干部", "copies": "2", "channel": "letter",
                                                         "urgent": True})],
                              data={"summary": "反映某镇干部", "copies": 2, "channel": "letter", "urgent": True}),
    "mc_form_key_with_fields": Runs([("complete", "register", {"summary": "来信"})], data={"summary": "来信"}),
    "mc_juel_condition": Runs(start={"amount": 150, "kind": "accusation"}, data={"size": "big"}),
    "mc_terminate_end": Runs(),
    "mc_error_boundary": Runs(data={"failed": True}),
    "mc_lane": Runs([("complete", "handle", {})], groups={"handle": ["petition_staff"]}),
    "mc_collaboration_black_box": Runs([("complete", "register", {})]),
    "mc_assignee_expression": Runs([("complete", "choose", {"officer": "li"})], status="running", open=["handle"]),
    # camunda:initiator names the variable holding who started the case (a real-world Camunda example)
    "mc_initiator": Runs(status="running", open=["handle"], data={"initiator": "wang"}),
    "mc_none_throw_event": Runs([("complete", "handle", {})]),
    "mc_data_object": Runs([("complete", "handle", {})]),  # documentation only, as in Camunda
    "mc_send_task": Runs(data={"stamped": True}),  # runs its handler, as a service task
    "mc_escalation": Runs(data={"escalated": True}),
    # ---- refused ----
    "mc_refuse_java_class": Refused("call", "不支持调用 Java 类（camunda:class）"),
    "mc_refuse_delegate_expression": Refused("call", "不支持委托表达式（camunda:delegateExpression）"),
    "mc_refuse_expression_service": Refused("call", "不支持表达式服务任务（camunda:expression）"),
    "mc_refuse_connector": Refused("call", "不支持连接器（camunda:connector）"),
    "mc_refuse_execution_listener": Refused("handle", "不支持执行监听器（camunda:executionListener）"),
    "mc_refuse_task_listener": Refused("handle", "不支持任务监听器（camunda:taskListener）"),
    "mc_refuse_data_store": Refused("DataStoreReference_archive", "不支持数据存储（bpmn:dataStoreReference）"),
    "mc_refuse_compensation": Refused("unbook", "不支持补偿处理任务（isForCompensation=\"true\"）"),
    "mc_refuse_feel_condition": Refused("f_big", "不支持的表达式语言 FEEL（language=\"feel\"）"),
    "mc_refuse_feel_uri": Refused("f_big", "不支持的表达式语言 FEEL（language=\"https://www.omg.org/spec/DMN/20191111/FEEL/\"）"),
    # Camunda ignores a declared default language, so it is named only when the expression is no JUEL
    "mc_refuse_declared_xpath": Refused("f_big", "语法错误：写法无法识别（流程图声明的表达式语言为 XPath"),
    "mc_refuse_empty_timer": Refused("TimerEventDefinition_1", "定时器时长（timeDuration）为空"),
    "mc_refuse_execution_variable": Refused("f_big", "不支持 Camunda 的内置对象“execution”"),
    "mc_refuse_javascript_condition": Refused("f_big", "不支持的表达式语言 JavaScript"),
    "mc_refuse_xpath_condition": Refused("f_big", "不支持的表达式语言 XPath"),
    "mc_refuse_groovy_script": Refused("calc", "不支持的脚本语言 Groovy（scriptFormat=\"groovy\"）"),
    "mc_refuse_script_resource": Refused("calc", "不支持外部脚本文件（camunda:resource）"),
    "mc_refuse_flow_without_id": Refused("", "顺序流（从“handle”到“end”）没有 id"),
    "mc_refuse_not_executable": Refused("mc_refuse_not_executable", "流程未标记为可执行（isExecutable=\"false\"）"),
    "mc_refuse_form_key_only": Refused("handle", "外部表单（camunda:formKey=\"embedded:app:forms/handle.html\"）"),
    "mc_refuse_link_unmatched": Refused("jump", "链接“archive”在同一流程中没有对应的链接捕获事件"),
    "mc_refuse_gateway_flow_without_condition": Refused("f_no", "排他网关的这条出线既没有条件，也不是默认流"),
    "mc_refuse_unnamed_lane": Refused("Lane_staff", "泳道没有名称，对应不到角色"),
    "mc_refuse_complex_gateway": Refused("gw", "不支持复杂网关（bpmn:complexGateway）"),
    "mc_refuse_candidate_group_typo": Refused("handle", "未知的 Camunda 属性 camunda:candidateGroup"),
    "mc_refuse_implicit_split": Refused("handle", "任务有多条出线"),
    "mc_refuse_conditional_catch": Refused("CondDef_1", "不支持条件事件（bpmn:conditionalEventDefinition）"),
    "mc_refuse_message_end": Refused("end", "不支持消息抛出事件"),
    "mc_refuse_feel_unmarked": Refused("f_big", "不支持 FEEL 表达式（Camunda 8 的写法，以“=”开头）"),
    "mc_refuse_camunda_8": Refused("Definitions_mc_refuse_camunda_8", "这是 Camunda 8（Zeebe）的流程图"),
    "mc_refuse_manual_task_nobody": Refused("sign", "手工任务没有指定泳道、候选角色、候选人或办理人，无人能办理"),
    "mc_refuse_assignee_not_user": Refused("handle", "camunda:assignee 中的“zhang_nobody”不是系统中的在职用户"),
}
# What bpmn-js (the Modeler's reader, with camunda-bpmn-moddle) warns about; it keeps the attribute on save.
MODELER_WARNINGS = {
    "mc_manual_task": ["unknown attribute <camunda:candidateGroups>"],  # the panel offers no groups there
    "mc_refuse_candidate_group_typo": ["unknown attribute <camunda:candidateGroup>"],
}
RUNS = sorted(name for name, entry in MANIFEST.items() if isinstance(entry, Runs))
REFUSED = sorted(name for name, entry in MANIFEST.items() if isinstance(entry, Refused))


@pytest.fixture
def eng(database, clock) -> Engine:
    handlers = HandlerRegistry()
    handlers.register("corpus.stamp")(lambda context: {"stamped": True})
    return Engine(database, clock, handlers=handlers)


def _paths(*names: str) -> list[Path]:
    return [CORPUS / f"{name}.bpmn" for name in names]


def test_every_corpus_file_has_a_manifest_entry():
    assert sorted(path.stem for path in CORPUS.glob("*.bpmn")) == sorted(MANIFEST)
    assert len(MANIFEST) >= 25


def test_every_corpus_diagram_opens_in_the_modeler_as_written():
    """The diagrams are what the Modeler saves: bpmn-js reads each without warnings beyond the listed ones."""
    node = shutil.which("node")
    if node is None or not (ROUND_TRIP.parents[2] / "node_modules" / "bpmn-moddle").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("node and node_modules are required under CI=true")
        pytest.skip("node or node_modules missing")
    paths = sorted(CORPUS.glob("*.bpmn"))
    run = subprocess.run([node, str(ROUND_TRIP), *map(str, paths)], capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    warnings = {Path(entry["file"]).stem: entry["warnings"] for entry in map(json.loads, run.stdout.splitlines())}
    assert warnings == {path.stem: MODELER_WARNINGS.get(path.stem, []) for path in paths}


@pytest.mark.parametrize("name", RUNS)
def test_corpus_diagram_runs_to_its_end(eng, clock, name):
    entry = MANIFEST[name]
    assert eng.validate(read_paths(_paths(name, *entry.with_files))) == []
    eng.deploy(read_paths(_paths(name, *entry.with_files)), by="test")
    case_id = eng.start_case(name, entry.start, ANYONE)
    for kind, *args in entry.steps:
        if kind == "complete":
            (item,) = [i for i in eng.work_items(case_id) if i["bpmn_id"] == args[0]][:1]
            assert item["candidate_groups"] == entry.groups.get(args[0], item["candidate_groups"])
            eng.complete(item["task_id"], ANYONE, args[1])
        else:
            clock.advance(timedelta(hours=args[0]))
            eng.scheduler(owner="corpus").drain()
    case = eng.case(case_id)
    assert case["incidents"] == []
    assert case["status"] == entry.status
    assert {key: case["data"].get(key) for key in entry.data} == entry.data
    assert sorted(item["bpmn_id"] for item in case["work_items"]) == entry.open
    for item in case["work_items"]:
        assert item["candidate_groups"] == entry.groups.get(item["bpmn_id"], item["candidate_groups"])


@pytest.mark.parametrize("name", REFUSED)
def test_corpus_diagram_is_refused_with_its_message(eng, name):
    entry = MANIFEST[name]
    files = read_paths(_paths(name))
    problems = eng.validate(files)
    assert [(p.element_id, p.file) for p in problems if entry.message in p.message] == [
        (entry.element_id, f"{name}.bpmn")], [str(p) for p in problems]
    for problem in problems:
        assert problem.line > 0 and "Traceback" not in problem.message and " at 0x" not in problem.message
        assert problem.element_id or not entry.element_id, problem  # every problem names its element
    with pytest.raises(ValidationFailed):
        eng.deploy(files, by="test")
    assert eng.deployments() == []


def test_the_initiator_is_the_assignee_of_a_task_routed_to_them(eng):
    with eng.db.write() as session:
        load_organisation(session, ROOT / "config" / "demo-organisation.toml")
    with eng.db.read() as session:
        starter = load_actor(session, "xf_wang")
    eng.deploy(read_paths(_paths("mc_initiator")), by="test")
    case_id = eng.start_case("mc_initiator", {}, starter)
    assert [(i["bpmn_id"], i["assignee"]) for i in eng.work_items(case_id)] == [("handle", "xf_wang")]


def test_an_assignee_naming_no_variable_is_an_incident_in_chinese(eng):
    """SpiffWorkflow's "Error evaluating expression '…'" and its English "did you mean" note are not what
    staff read: the incident names the expression and the missing variable."""
    eng.deploy(read_paths(_paths("mc_assignee_expression")), by="test")
    case_id = eng.start_case("mc_assignee_expression", {}, ANYONE)
    (item,) = eng.work_items(case_id)
    with pytest.raises(IncidentRaised):
        eng.complete(item["task_id"], ANYONE, {})
    (incident,) = eng.case(case_id)["incidents"]
    assert incident["message"] == "表达式“officer”无法计算：变量 officer 不存在"


def test_one_pass_reports_every_refused_diagram_at_once(eng):
    problems = eng.validate(read_paths(_paths(*REFUSED)))
    for name in REFUSED:
        entry = MANIFEST[name]
        assert any(p.file == f"{name}.bpmn" and p.element_id == entry.element_id and entry.message in p.message
                   for p in problems), name
