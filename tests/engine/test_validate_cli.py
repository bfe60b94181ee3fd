"""`xinfang validate` on anything a process owner may hand it: one line per problem, `FILE:LINE: ELEMENT:
message`, in Chinese, never a traceback, never English library text, never an lxml element repr."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from diagrams import HEAD, TAIL, line_of, process

import cli.main
from engine.bpmn.safe_xml import MAX_FILE_BYTES

LINE = re.compile(r"^(?P<file>.+?):(?P<line>[1-9]\d*): (?P<element>[\w.-]+): (?P<message>.+)$")
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,.']+[A-Za-z]{2,}")  # two English words in a row: untranslated text

DEEP = "<bpmn:documentation>" + "<a>" * 300 + "</a>" * 300 + "</bpmn:documentation>"
INPUTS: dict[str, bytes] = {
    "empty": b"",
    "blank": b"   \n",
    "plain-text": "这不是流程图".encode(),
    "binary": b"PK\x03\x04\x00\x00binary",
    "not-bpmn": b"<html><body>hello</body></html>",
    "wrong-namespace": b'<definitions xmlns="http://example.com/not-bpmn"><process id="p" /></definitions>',
    "unclosed": process("bad", '<bpmn:startEvent id="StartEvent_1">').encode(),
    "tag-mismatch": process("bad", '<bpmn:startEvent id="s"></bpmn:endEvent>').encode(),
    "undeclared-prefix": process("bad", '<foo:startEvent id="s" />').encode(),
    "gbk": '<?xml version="1.0" encoding="UTF-8"?><a>中文</a>'.encode("gbk"),
    "too-deep": process("bad", DEEP).encode(),
    "huge": b"<a>" + b" " * (MAX_FILE_BYTES + 1) + b"</a>",
    "billion-laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>',
    "external-entity": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    "xsd-errors": process("bad", '<bpmn:startEvent id="s" urgency="high" />\n'
                          '<bpmn:inclusiveGateway id="g" gatewayDirection="Sideways" />\n'
                          '<bpmn:wormhole id="w" />').encode(),
    "duplicate-ids": process("bad", '<bpmn:startEvent id="s" />\n<bpmn:endEvent id="s" />').encode(),
    "no-start-event": process("bad", '<bpmn:endEvent id="end" />').encode(),
    "timer-without-time": process("bad", """<bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    <bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition id="ted" /></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />
    <bpmn:endEvent id="e" />""").encode(),
    "python-syntax": process("bad", """<bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x" />
    <bpmn:scriptTask id="x" scriptFormat="python"><bpmn:script>if total</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="e" />
    <bpmn:endEvent id="e" />""").encode(),
    "only-definitions": (HEAD + TAIL).encode(),
    **{f"deep-expression-{index}": process("bad", f"""<bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
    <bpmn:exclusiveGateway id="g" default="f3" />
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{text}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="e" />
    <bpmn:endEvent id="e" />""").encode() for index, text in enumerate([
        "-" * 20000 + "1", "(" * 300 + "1" + ")" * 300, "${" + "not " * 5000 + "a}", "a" + ".b" * 20000,
        "1+" * 20000 + "1"])},
    "multi-instance-without-collection": process("bad", """<bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review" />
    <bpmn:userTask id="review" camunda:candidateGroups="petition_staff">
      <bpmn:multiInstanceLoopCharacteristics />
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e" />
    <bpmn:endEvent id="e" />""").encode(),
}


def _validate(database, *paths) -> tuple[int, list[str], BaseException | None]:
    run = CliRunner().invoke(cli.main.main, ["--database-url", database.url, "validate", *map(str, paths)])
    return run.exit_code, run.output.strip().splitlines(), run.exception


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_validate_answers_every_input_in_chinese_without_a_traceback(database, tmp_path, kind):
    path = tmp_path / f"{kind}.bpmn"
    path.write_bytes(INPUTS[kind])
    code, lines, exception = _validate(database, path)
    assert code == 1 and isinstance(exception, SystemExit), lines
    assert lines and not any("Traceback" in line or " at 0x" in line for line in lines)
    for line in lines:
        parsed = LINE.match(line)
        assert parsed, line
        assert parsed["file"] == str(path)
        assert not ENGLISH.search(parsed["message"]), line


def test_validate_reports_every_problem_of_a_file_at_once(database, tmp_path):
    """libxml2 stops checking a parent's content at the first unexpected child: the wormhole comes last."""
    path = tmp_path / "bad.bpmn"
    path.write_bytes(INPUTS["xsd-errors"])
    _, lines, _ = _validate(database, path)
    assert [LINE.match(line)["element"] for line in lines] == ["s", "g", "w"]
    assert "元素 bpmn:startEvent 的属性 urgency 不允许出现" in lines[0]
    assert "元素 bpmn:inclusiveGateway 的属性 gatewayDirection 取值“Sideways”无效" in lines[1]
    assert "元素 bpmn:wormhole 不应出现在这里" in lines[2]


def test_validate_names_unreadable_paths_and_checks_the_rest(database, tmp_path):
    good = tmp_path / "bad.bpmn"
    good.write_bytes(INPUTS["no-start-event"])
    code, lines, _ = _validate(database, tmp_path / "missing.bpmn", tmp_path, good)
    assert code == 1
    assert lines[:2] == [f"{tmp_path / 'missing.bpmn'}:1: -: 无法读取文件：文件不存在",
                         f"{tmp_path}:1: -: 无法读取文件：这是一个文件夹"]
    line = line_of(INPUTS["no-start-event"].decode(), '<bpmn:process id="bad"')
    assert lines[2:] == [f"{good}:{line}: bad: 流程无法解析：流程没有开始事件"]


def test_deploy_refuses_a_process_id_from_another_file_until_forced(database, tmp_path):
    first, second = tmp_path / "first.bpmn", tmp_path / "second.bpmn"
    first.write_text(process("shared", '<bpmn:startEvent id="s" />'), encoding="utf-8")
    second.write_text(process("shared", '<bpmn:startEvent id="s" name="改过" />'), encoding="utf-8")

    def deploy(*options):
        run = CliRunner().invoke(cli.main.main, ["--database-url", database.url, "deploy", *options])
        return run.exit_code, run.output.strip()

    assert deploy(str(first)) == (0, "shared v1（新版本）")
    code, output = deploy(str(second))
    assert code == 1 and "second.bpmn:6: shared: 流程 id“shared”已由文件 first.bpmn 部署（第 1 版）" in output
    assert deploy("--force", str(second)) == (0, "shared v2（新版本）")
