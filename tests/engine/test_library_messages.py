"""The libraries' error texts in Chinese (engine/bpmn/library_messages.py): known texts translated with what
they name, unknown ones reported by the element they concern — never passed through in English."""

from __future__ import annotations

import re

import pytest

from engine.bpmn.library_messages import python_syntax_message, spiff_message, xml_message, xsd_message

ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,.']+[A-Za-z]{2,}")
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@pytest.mark.parametrize(("translate", "text", "expected"), [
    (xsd_message, f"Element '{BPMN}startEvent', attribute 'urgency': The attribute 'urgency' is not allowed.",
     "不符合 BPMN 2.0 规范：元素 bpmn:startEvent 的属性 urgency 不允许出现"),
    (xsd_message, f"Element '{BPMN}endEvent', attribute 'id': 's' is not a valid value of the atomic type 'xs:ID'.",
     "不符合 BPMN 2.0 规范：元素 bpmn:endEvent 的属性 id “s”不是有效的 id（不能重复，须以字母或下划线开头，不含空格）"),
    (xsd_message, f"Element '{BPMN}startEvent': Character content other than whitespace is not allowed because the "
                  "content type is 'element-only'.", "不符合 BPMN 2.0 规范：元素 bpmn:startEvent 不能直接包含文字"),
    (xsd_message, "Element '{urn:other}thing': Some future libxml2 text.",
     "不符合 BPMN 2.0 规范：元素 thing 的内容不合规"),
    (xml_message, "Opening and ending tag mismatch: startEvent line 7 and process, line 9, column 20",
     "XML 格式错误：第 7 行的 <startEvent> 没有正确结束（遇到了 </process>）"),
    (xml_message, "Document is empty, line 1, column 1", "XML 格式错误：文件是空的"),
    (xml_message, "Something libxml2 says one day, line 3, column 1", "XML 格式错误：无法读取这个文件"),
    (spiff_message, "Multiple outgoing flows are not supported for tasks of type",
     "流程无法解析：任务有多条出线：本引擎不做隐式并行分支，请在任务后加并行网关或排他网关"),
    (spiff_message, "Duplicate process ID: intake", "流程无法解析：流程 id“intake”在本次部署的文件中出现了不止一次"),
    (spiff_message, "Expected a Signal node", "流程无法解析：引用的信号定义不存在"),
    (spiff_message, "Exactly one start event is required in a SubWorkflow Task; found 0.",
     "流程无法解析：子流程必须有且只有一个开始事件（现有 0 个）"),
    (xml_message, "XML declaration allowed only at the start of the document, line 2, column 6",
     "XML 格式错误：XML 声明（<?xml …?>）必须在文件最前面，之前不能有空行或其他字符"),
    (python_syntax_message, "'(' was never closed", "语法错误：“(”没有配对的右括号"),
    (python_syntax_message, "expected ':'", "语法错误：此处缺少“:”"),
    (python_syntax_message, "a new kind of SyntaxError", "语法错误"),
])
def test_known_texts_are_translated(translate, text, expected):
    assert translate(text) == expected


def test_an_unknown_parser_failure_names_the_element_not_the_python_repr():
    text = "AttributeError(\"'NoneType' object has no attribute 'get'\") <Element {urn:x}task at 0x7f3a2c1b>"
    message = spiff_message(text, f"{BPMN}task")
    assert message == "流程无法解析：流程引擎不能读取这个元素（元素 bpmn:task），请检查它的写法"
    assert not ENGLISH.search(message) and "0x" not in message
