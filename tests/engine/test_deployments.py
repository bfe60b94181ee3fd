"""Deployments: everything `validate` refuses (with `FILE:LINE: ELEMENT-ID: message` problems), and what
`deploy` stores — XML, content hash, versions per process, pinning, call-activity bundles, the spec cache."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import resource
import threading
import time
import tracemalloc

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import HEAD, TAIL, files, line_of, process, read

from engine import Engine, ValidationFailed
from engine.bpmn.deployments import SpecCache
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Deployment, Event

PROBLEM_FORMAT = re.compile(r"^(?P<file>[^:\s]+\.bpmn):(?P<line>\d+): (?P<element>[\w-]+): (?P<message>.+)$")

START_TO_END = """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_in" sourceRef="StartEvent_1" targetRef="{first}" />
    {body}
    <bpmn:sequenceFlow id="Flow_out" sourceRef="{last}" targetRef="End" />
    <bpmn:endEvent id="End" />"""


def _flow(body: str, first: str, last: str | None = None) -> str:
    return process("bad", START_TO_END.format(body=body, first=first, last=last or first))


def _timer(text: str) -> str:
    return _flow(f'<bpmn:intermediateCatchEvent id="Timer_x"><bpmn:timerEventDefinition>'
                 f"<bpmn:timeDuration>{text}</bpmn:timeDuration></bpmn:timerEventDefinition>"
                 f"</bpmn:intermediateCatchEvent>", "Timer_x")


def _condition(text: str) -> str:
    return _flow(f"""<bpmn:exclusiveGateway id="Gateway_x" default="Flow_default" />
    <bpmn:sequenceFlow id="Flow_cond" sourceRef="Gateway_x" targetRef="End">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{text}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_default" sourceRef="Gateway_x" targetRef="End" />""", "Gateway_x", "Gateway_x")


def _script(text: str) -> str:
    return _flow(f'<bpmn:scriptTask id="Script_x" scriptFormat="python"><bpmn:script>{text}</bpmn:script>'
                 f"</bpmn:scriptTask>", "Script_x")


def _form(field: str) -> str:
    return _flow(f"""<bpmn:userTask id="Task_form" camunda:candidateGroups="petition_staff">
      <bpmn:extensionElements><camunda:formData>
        {field}
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>""", "Task_form")


def _user_task(attributes: str) -> str:
    return _flow(f'<bpmn:userTask id="Task_x" name="办理" {attributes} />', "Task_x")


LANED = process("bad", """
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_ghost" name="不存在的角色">
        <bpmn:flowNodeRef>Task_x</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_in" sourceRef="StartEvent_1" targetRef="Task_x" />
    <bpmn:userTask id="Task_x" name="办理" />
    <bpmn:sequenceFlow id="Flow_out" sourceRef="Task_x" targetRef="End" />
    <bpmn:endEvent id="End" />""")

# (diagram, element id the problem names, text on the problem's line, part of the message)
BAD_DIAGRAMS = {
    "malformed-xml": (process("bad", '<bpmn:startEvent id="StartEvent_1">'), "-", "</bpmn:process>", "XML 格式错误"),
    "xsd-unknown-attribute": (process("bad", '<bpmn:startEvent id="StartEvent_1" urgency="high" />'),
                              "StartEvent_1", 'urgency="high"', "元素 bpmn:startEvent 的属性 urgency 不允许出现"),
    "xsd-unknown-element": (process("bad", '<bpmn:startEvent id="StartEvent_1" />\n<bpmn:wormhole id="W" />'), "W",
                            "<bpmn:wormhole", "元素 bpmn:wormhole 不应出现在这里"),
    "unknown-called-element": (_flow('<bpmn:callActivity id="Call_missing" calledElement="nowhere" />',
                                     "Call_missing"), "Call_missing", 'id="Call_missing"', "“nowhere”不存在"),
    "condition-syntax": (_condition("${a &amp;&amp;}"), "Flow_cond", "<bpmn:conditionExpression", "语法错误"),
    "condition-forbidden": (_condition("${__import__('os').getcwd() != ''}"), "Flow_cond",
                            "<bpmn:conditionExpression", "不允许导入模块"),
    "script-syntax": (_script("x = = 1"), "Script_x", "<bpmn:script>", "语法错误"),
    "script-forbidden": (_script("data = open('/etc/passwd').read()"), "Script_x", "<bpmn:script>",
                         '不允许使用 "open"'),
    "script-forbidden-second-line": (_script("ok = 1\nimport os"), "Script_x", "import os", "不允许导入模块"),
    "timer-syntax": (_timer("${workdays(}"), "Timer_x", "<bpmn:timeDuration>", "语法错误"),
    "timer-forbidden": (_timer("${().__class__.__bases__[0].__subclasses__()}"), "Timer_x",
                        "<bpmn:timeDuration>", "以下划线开头的属性"),
    "timer-iso-bad-designator": (_timer("P3X"), "Timer_x", "<bpmn:timeDuration>", "无效的 ISO 8601 定时器"),
    "timer-iso-trailing-number": (_timer("PT1H30"), "Timer_x", "<bpmn:timeDuration>", "无效的 ISO 8601 定时器"),
    "timer-iso-bad-month": (_timer("2026-13-45T09:00:00+08:00"), "Timer_x", "<bpmn:timeDuration>",
                            "无效的 ISO 8601 定时器"),
    "timer-iso-bad-cycle": (_timer("R3/PT1H/X"), "Timer_x", "<bpmn:timeDuration>", "无效的 ISO 8601 定时器"),
    "lane-without-role": (LANED, "Lane_ghost", 'id="Lane_ghost"', "没有对应的角色"),
    "unknown-candidate-group": (_user_task('camunda:candidateGroups="petition_staff, ghost_role"'), "Task_x",
                                'id="Task_x"', "候选角色“ghost_role”不存在"),
    "user-task-nobody-can-do": (_user_task(""), "Task_x", 'id="Task_x"', "无人能办理"),
    "unregistered-handler": (_flow('<bpmn:serviceTask id="Service_x" camunda:topic="no.such.handler" />',
                                   "Service_x"), "Service_x", 'id="Service_x"', "未注册的处理函数：no.such.handler"),
    "service-task-without-handler": (_flow('<bpmn:serviceTask id="Service_x" />', "Service_x"), "Service_x",
                                     'id="Service_x"', "需要指定处理函数"),
    "form-unknown-type": (_form('<camunda:formField id="colour" label="颜色" type="colour" />'), "Task_form",
                          'id="Task_form"', "未知类型 'colour'"),
    "form-bad-constraint-config": (_form("""<camunda:formField id="title" label="标题" type="string">
          <camunda:validation><camunda:constraint name="maxlength" config="many" /></camunda:validation>
        </camunda:formField>"""), "Task_form", 'id="Task_form"', "maxlength 的配置 'many'"),
    "reserved-element-id": (read("chain.bpmn").replace('"StartEvent_1"', '"Start"'), "Start", 'id="Start"',
                            "被流程引擎保留"),
    "form-enum-without-values": (_form('<camunda:formField id="kind" label="类别" type="enum" />'), "Task_form",
                                 'id="Task_form"', "枚举字段没有可选项"),
    "dangling-target": (_flow('<bpmn:task id="Task_x" />\n<bpmn:sequenceFlow id="Flow_x" sourceRef="Task_x" '
                              'targetRef="Task_gone" />', "Task_x"), "Flow_x", 'id="Flow_x"',
                        '顺序流的终点（targetRef="Task_gone"）不是同一流程中的元素'),
    "unknown-message-ref": (_flow('<bpmn:intermediateCatchEvent id="Catch_x"><bpmn:messageEventDefinition '
                                  'id="Def_x" messageRef="Message_gone" /></bpmn:intermediateCatchEvent>', "Catch_x"),
                            "Def_x", 'id="Def_x"', '引用的消息（messageRef="Message_gone"）在文件中没有定义'),
    "script-result-variable": (_flow('<bpmn:scriptTask id="Script_x" scriptFormat="python" camunda:resultVariable="r">'
                                     '<bpmn:script>r = 1</bpmn:script></bpmn:scriptTask>', "Script_x"), "Script_x",
                               'id="Script_x"', "不支持脚本返回值变量（camunda:resultVariable）"),
    "form-ref": (_user_task('camunda:candidateGroups="petition_staff" camunda:formRef="register"'), "Task_x",
                 'id="Task_x"', "不支持 Camunda Forms（camunda:formRef）"),
    "called-element-version": (_flow('<bpmn:callActivity id="Call_x" calledElement="bad" '
                                     'camunda:calledElementBinding="version" camunda:calledElementVersion="3" />',
                                     "Call_x"), "Call_x", 'id="Call_x"',
                               '不支持按版本调用（camunda:calledElementBinding="version"）'),
    "java-variable-mapping": (_flow('<bpmn:callActivity id="Call_x" calledElement="bad" '
                                    'camunda:variableMappingClass="org.example.Mapping" />', "Call_x"), "Call_x",
                              'id="Call_x"', "不支持使用 Java 变量映射类（camunda:variableMappingClass）"),
    "cmmn-case-ref": (_flow('<bpmn:callActivity id="Call_x" camunda:caseRef="case_1" />', "Call_x"), "Call_x",
                      'id="Call_x"', "不支持调用 CMMN 案例（camunda:caseRef）"),
}


@pytest.fixture
def registry() -> HandlerRegistry:
    handlers = HandlerRegistry()
    handlers.register("test.receipt")(lambda context: {"receipt": context.case_id})
    return handlers


@pytest.fixture
def eng(database, clock, registry) -> Engine:
    return Engine(database, clock, handlers=registry)


def _deployment_rows(engine: Engine) -> list[Deployment]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(Deployment).order_by(Deployment.id)))


def _events(engine: Engine, kind: str) -> list[Event]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(Event).where(Event.kind == kind).order_by(Event.id)))


# ---- validate ---------------------------------------------------------------------------------------


def test_the_good_diagrams_validate_clean(eng):
    assert eng.validate(files("chain.bpmn")) == []
    assert eng.validate(files("routing.bpmn")) == []
    assert eng.validate(files("main.bpmn", "sub.bpmn")) == []
    assert eng.validate(files("service.bpmn")) == []


@pytest.mark.parametrize(("xml", "element", "needle", "message"), BAD_DIAGRAMS.values(), ids=BAD_DIAGRAMS.keys())
def test_validate_names_file_line_element_and_problem(eng, xml, element, needle, message):
    problems = eng.validate({"bad.bpmn": xml})
    rendered = [str(problem) for problem in problems]
    matching = [p for p in problems if message in p.message]
    assert matching, rendered
    problem = matching[0]
    assert (problem.file, problem.line, problem.element_id or "-") == ("bad.bpmn", line_of(xml, needle), element)
    for text in rendered:
        parsed = PROBLEM_FORMAT.match(text)
        assert parsed, text
        assert parsed["file"] == "bad.bpmn" and "Traceback" not in text
    assert PROBLEM_FORMAT.match(str(problem))["element"] == element

    with pytest.raises(ValidationFailed) as refused:
        eng.deploy({"bad.bpmn": xml}, by="owner")
    assert [str(p) for p in refused.value.problems] == rendered
    assert _deployment_rows(eng) == []


def test_two_files_defining_one_process_id_are_refused_naming_the_first(eng):
    problems = eng.validate({"a.bpmn": read("chain.bpmn"), "b.bpmn": read("chain.bpmn")})
    assert [(p.file, p.line, p.element_id, p.message) for p in problems] == [
        ("b.bpmn", 5, "chain", "流程 id“chain”已在文件 a.bpmn 中定义")]


def test_one_bad_file_refuses_the_whole_set(eng):
    with pytest.raises(ValidationFailed):
        eng.deploy({**files("chain.bpmn"), "bad.bpmn": _script("import os")}, by="owner")
    assert _deployment_rows(eng) == []
    assert _events(eng, "deploy") == []


# ---- hostile XML --------------------------------------------------------------------------------------

MARKER = "TOP-SECRET-MARKER-7f3c9"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
""" + HEAD.split("\n", 1)[1] + """  <bpmn:process id="lol" name="&lol9;" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="&lol9;" />
  </bpmn:process>
""" + TAIL


def _hostile(kind: str, target: str) -> str:
    body = HEAD.split("\n", 1)[1] + f"""  <bpmn:process id="hostile" name="恶意" isExecutable="true">
    <bpmn:documentation>&e;</bpmn:documentation>
    <bpmn:startEvent id="StartEvent_1" />
  </bpmn:process>
{TAIL}"""
    doctype = {
        "external-entity": f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{target}">]>',
        "parameter-entity": f'<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{target}"> %p; <!ENTITY e "x">]>',
        "external-dtd": f'<!DOCTYPE x SYSTEM "file://{target}" [<!ENTITY e "x">]>',
    }[kind]
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{body}'


HOSTILE_KINDS = ["external-entity", "parameter-entity", "external-dtd"]


def _assert_refused_without_leak(eng: Engine, name: str, xml: str) -> list[str]:
    problems = eng.validate({name: xml})
    assert problems, "hostile XML must not validate"
    rendered = [str(p) for p in problems]
    assert all(PROBLEM_FORMAT.match(text) or text.startswith(f"{name}:0: -: ") for text in rendered), rendered
    assert any("DOCTYPE" in p.message for p in problems), rendered
    with pytest.raises(ValidationFailed) as refused:
        eng.deploy({name: xml}, by="attacker")
    outputs = rendered + [str(refused.value), refused.value.message, repr(refused.value.problems)]
    assert not any(MARKER in text for text in outputs)
    assert _deployment_rows(eng) == []
    return rendered


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_hostile_xml_is_refused_and_the_file_never_leaks(eng, tmp_path, kind):
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{MARKER}\n", encoding="utf-8")
    _assert_refused_without_leak(eng, "hostile.bpmn", _hostile(kind, str(secret)))


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_hostile_xml_never_opens_the_referenced_file(eng, tmp_path, kind):
    """The entity points at a FIFO: whoever opens it for reading blocks until a writer appears, and a
    non-blocking open for writing succeeds only while someone has it open for reading."""
    fifo = tmp_path / "entity.fifo"
    os.mkfifo(fifo)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["problems"] = eng.validate({"hostile.bpmn": _hostile(kind, str(fifo))})
        except Exception as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=20)
    try:
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        assert exc.errno == errno.ENXIO  # no reader: nobody opened the file
    else:  # release the blocked reader before failing
        os.write(writer, b"<x/>")
        os.close(writer)
        pytest.fail("validation opened the file named by the entity")
    assert not worker.is_alive()
    assert "error" not in outcome
    assert outcome["problems"]


def test_billion_laughs_is_refused_without_blowing_memory(eng):
    eng.validate({"warm.bpmn": read("chain.bpmn")})  # build the XSD validator before measuring
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.monotonic()
    try:
        problems = eng.validate({"lol.bpmn": BILLION_LAUGHS})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    rss_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert [p.message for p in problems if "DOCTYPE" in p.message], [str(p) for p in problems]
    assert all(str(p).startswith("lol.bpmn:") for p in problems)
    assert peak < 5 * 1024 * 1024
    assert rss_growth_kib < 50 * 1024
    assert elapsed < 5
    assert "lollollol" not in "".join(str(p) for p in problems)


def test_xinclude_is_not_processed(eng, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(MARKER, encoding="utf-8")
    xml = process("xinc", f"""
    <bpmn:documentation><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file://{secret}"
        parse="text" /></bpmn:documentation>
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="End" />
    <bpmn:endEvent id="End" />""")
    problems = eng.validate({"xinc.bpmn": xml})
    assert not any(MARKER in str(p) for p in problems)
    if not problems:
        eng.deploy({"xinc.bpmn": xml}, by="owner")
        case_id = eng.start_case("xinc", {}, make_actor("wang", "petition_staff"))
        assert MARKER not in repr(eng.case(case_id))
        (row,) = _deployment_rows(eng)
        assert MARKER not in repr(row.files)


# ---- deploy ---------------------------------------------------------------------------------------------


def _expected_hash(bundle: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(bundle.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def test_deploy_stores_xml_hash_version_and_who(eng, clock):
    routing = read("routing.bpmn")
    (outcome,) = eng.deploy({"routing.bpmn": routing}, by="alice")
    assert (outcome.process_id, outcome.version, outcome.created) == ("routing", 1, True)
    (row,) = _deployment_rows(eng)
    assert row.id == outcome.deployment_id
    assert row.files == {"routing.bpmn": routing}  # exactly what was submitted, not the normalised tree
    assert "${a &amp;&amp; !b}" in row.files["routing.bpmn"] and "camunda:formKey=" not in row.files["routing.bpmn"]
    assert re.fullmatch(r"[0-9a-f]{64}", row.content_hash)
    assert row.content_hash == _expected_hash({"routing.bpmn": routing})
    assert (row.process_id, row.name, row.version, row.deployed_by) == ("routing", "分办", 1, "alice")
    assert row.deployed_at == clock.now()
    listed = eng.deployments()
    assert listed == [{"id": row.id, "process_id": "routing", "name": "分办", "version": 1,
                       "hash": row.content_hash, "files": ["routing.bpmn"], "deployed_by": "alice",
                       "deployed_by_name": "alice",  # no such user: the name as recorded
                       "deployed_at": clock.now().isoformat()}]
    (event,) = _events(eng, "deploy")
    assert (event.actor, event.deployment_id, event.case_id) == ("alice", row.id, None)
    assert row.content_hash in event.payload and '"version":1' in event.payload


def test_redeploying_unchanged_content_is_a_no_op(eng, clock):
    (first,) = eng.deploy(files("chain.bpmn"), by="alice")
    clock.advance(hours=1)
    (again,) = eng.deploy(files("chain.bpmn"), by="bob")
    assert again.created is False
    assert (again.version, again.deployment_id) == (first.version, first.deployment_id) == (1, first.deployment_id)
    (row,) = _deployment_rows(eng)
    assert row.deployed_by == "alice"
    assert len(_events(eng, "deploy")) == 1


def test_a_process_id_deployed_from_another_file_is_refused_unless_forced(eng):
    eng.deploy(files("chain.bpmn"), by="alice")
    copy = {"copy.bpmn": read("chain.bpmn").replace('name="登记"', 'name="登记（二）"')}
    with pytest.raises(ValidationFailed) as refused:
        eng.deploy(copy, by="bob")
    (problem,) = refused.value.problems
    assert (problem.file, problem.line, problem.element_id) == ("copy.bpmn", 5, "chain")
    assert "已由文件 chain.bpmn 部署（第 1 版）" in problem.message and "--force" in problem.message
    assert [d["version"] for d in eng.deployments()] == [1]
    (outcome,) = eng.deploy(copy, by="bob", force=True)
    assert (outcome.version, outcome.created) == (2, True)
    (again,) = eng.deploy(copy, by="bob")  # now copy.bpmn owns the id
    assert (again.version, again.created) == (2, False)


def test_changed_content_gets_the_next_version_per_process(eng, clock):
    eng.deploy(files("chain.bpmn", "loop.bpmn"), by="alice")
    changed = read("chain.bpmn").replace('name="复核"', 'name="复核（新）"')
    clock.advance(days=1)
    outcomes = {o.process_id: o for o in eng.deploy({"chain.bpmn": changed, "loop.bpmn": read("loop.bpmn")},
                                                     by="bob")}
    assert (outcomes["chain"].version, outcomes["chain"].created) == (2, True)
    assert (outcomes["loop"].version, outcomes["loop"].created) == (1, False)
    third = read("chain.bpmn").replace('name="登记"', 'name="登记（三）"')
    (outcome,) = eng.deploy({"chain.bpmn": third}, by="carol")
    assert outcome.version == 3
    rows = [(r.process_id, r.version, r.deployed_by) for r in _deployment_rows(eng)]
    assert sorted(rows) == [("chain", 1, "alice"), ("chain", 2, "bob"), ("chain", 3, "carol"), ("loop", 1, "alice")]
    hashes = {r.content_hash for r in _deployment_rows(eng) if r.process_id == "chain"}
    assert len(hashes) == 3
    # redeploying an older text is a new version too: versions only go up
    (back,) = eng.deploy(files("chain.bpmn"), by="dave")
    assert (back.version, back.created) == (4, True)


def test_a_running_case_stays_on_its_deployment(eng):
    staff = make_actor("wang", "petition_staff")
    (v1,) = eng.deploy(files("chain.bpmn"), by="alice")
    old_case = eng.start_case("chain", {}, staff)
    changed = read("chain.bpmn").replace('name="复核"', 'name="复核（新）"')
    (v2,) = eng.deploy({"chain.bpmn": changed}, by="alice")
    new_case = eng.start_case("chain", {}, staff)
    eng.commands._live.clear()  # the old case is re-read from the database
    for case_id in (old_case, new_case):
        eng.complete(eng.find_task(case_id, "Task_a"), staff, {"title": "问题线索"})
    old, new = eng.case(old_case), eng.case(new_case)
    assert old["deployment"] == {"id": v1.deployment_id, "version": 1, "hash": _deployment_rows(eng)[0].content_hash}
    assert new["deployment"]["id"] == v2.deployment_id and new["deployment"]["version"] == 2
    assert [item["name"] for item in old["work_items"]] == ["复核"]
    assert [item["name"] for item in new["work_items"]] == ["复核（新）"]
    assert {e["kind"] for e in old["events"]} == {"start", "complete"}


def test_call_activity_bundle_keeps_the_called_file(eng):
    outcomes = {o.process_id: o for o in eng.deploy(files("main.bpmn", "sub.bpmn"), by="alice")}
    rows = {row.process_id: row for row in _deployment_rows(eng)}
    assert sorted(rows["main"].files) == ["main.bpmn", "sub.bpmn"]
    assert rows["main"].files["sub.bpmn"] == read("sub.bpmn")
    assert sorted(rows["sub"].files) == ["sub.bpmn"]
    assert outcomes["main"].version == outcomes["sub"].version == 1
    # the main deployment parses on its own, without the sub deployment row
    with eng.db.read() as session:
        main_row = session.get(Deployment, outcomes["main"].deployment_id)
    loaded = SpecCache._parse(main_row)
    assert "sub" in loaded.subprocess_specs
    # the called file is part of the main process's content: changing it makes a new main version
    changed_sub = read("sub.bpmn").replace('name="子流程办理"', 'name="子流程办理（新）"')
    changed = {o.process_id: o for o in eng.deploy({"main.bpmn": read("main.bpmn"), "sub.bpmn": changed_sub},
                                                    by="alice")}
    assert (changed["main"].version, changed["sub"].version) == (2, 2)
    # and a case runs through the call activity
    staff, handler = make_actor("wang", "petition_staff"), make_actor("zhao", "handling_staff")
    case_id = eng.start_case("main", {}, staff)
    eng.complete(eng.find_task(case_id, "Task_intake"), staff)
    (item,) = eng.work_items(case_id)
    assert (item["process_id"], item["bpmn_id"], item["name"]) == ("sub", "Task_sub", "子流程办理（新）")
    eng.complete(item["task_id"], handler)
    assert eng.case(case_id)["status"] == "completed"


def test_parsed_specs_are_cached_per_deployment(eng, monkeypatch):
    parsed: list[int] = []
    original = SpecCache._parse

    def counting(deployment):
        parsed.append(deployment.id)
        return original(deployment)

    monkeypatch.setattr(SpecCache, "_parse", staticmethod(counting))
    (v1,) = eng.deploy(files("chain.bpmn"), by="alice")
    with eng.db.read() as session:
        row = session.get(Deployment, v1.deployment_id)
    first = eng.specs.get(row)
    second = eng.specs.get(row)
    assert first is second
    assert parsed == [v1.deployment_id]

    staff = make_actor("wang", "petition_staff")
    cases = [eng.start_case("chain", {}, staff) for _ in range(3)]
    eng.commands._live.clear()  # force loading the cases from stored state: still no re-parse
    for case_id in cases:
        eng.complete(eng.find_task(case_id, "Task_a"), staff, {"title": "标题"})
    assert parsed == [v1.deployment_id]

    changed = read("chain.bpmn").replace('name="复核"', 'name="复核（二）"')
    (v2,) = eng.deploy({"chain.bpmn": changed}, by="alice")
    eng.start_case("chain", {}, staff)
    assert parsed == [v1.deployment_id, v2.deployment_id]
    with eng.db.read() as session:
        assert eng.specs.get(session.get(Deployment, v2.deployment_id)) is not first
