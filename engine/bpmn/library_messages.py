"""The libraries' own error texts (libxml2's schema validation, SpiffWorkflow's parser) in Chinese.

Process owners read these: no English, no Python reprs, no `<Element … at 0x…>`. A text we do not know is
reported by what it concerns (element, attribute), never passed through.
"""

from __future__ import annotations

import re

_NAMESPACES = {
    "http://www.omg.org/spec/BPMN/20100524/MODEL": "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://camunda.org/schema/1.0/bpmn": "camunda",
}

_XSD_SUBJECT = re.compile(r"^Element '(?P<element>[^']+)'(?:, attribute '(?P<attribute>[^']+)')?: (?P<rest>.*)$",
                          re.DOTALL)
_XSD_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"The attribute '[^']+' is not allowed"), "不允许出现"),
    (re.compile(r"The attribute '(?P<name>[^']+)' is required but missing"), "缺少必需的属性 {name}"),
    (re.compile(r"This element is not expected\. Expected is (?:one of )?\( (?P<expected>.*) \)"),
     "不应出现在这里（此处应为：{expected}）"),
    (re.compile(r"This element is not expected"), "不应出现在这里"),
    (re.compile(r"Missing child element\(s\)\. Expected is (?:one of )?\( (?P<expected>.*) \)"),
     "缺少子元素（应为：{expected}）"),
    (re.compile(r"'(?P<value>[^']*)' is not a valid value of the atomic type 'xs:ID'"),
     "“{value}”不是有效的 id（不能重复，须以字母或下划线开头，不含空格）"),
    (re.compile(r"'(?P<value>[^']*)' is not a valid value of the atomic type 'xs:boolean'"),
     "“{value}”不是布尔值（应为 true 或 false）"),
    (re.compile(r"'(?P<value>[^']*)' is not a valid value of the atomic type '(?P<type>[^']+)'"),
     "“{value}”不是有效的 {type} 值"),
    (re.compile(r"The value '(?P<value>[^']*)' is not an element of the set \{(?P<allowed>[^}]*)\}"),
     "取值“{value}”无效（可选：{allowed}）"),
    (re.compile(r"Character content other than whitespace is not allowed"), "不能直接包含文字"),
    (re.compile(r"No matching global declaration available for the validation root"),
     "不是 BPMN 2.0 的根元素 bpmn:definitions，这不是 BPMN 2.0 文件"),
]


def _short(name: str) -> str:
    """`{namespace}local` as the prefix the Modeler writes, or just `local` for a namespace it does not know."""
    for namespace, prefix in _NAMESPACES.items():
        name = name.replace(f"{{{namespace}}}", f"{prefix}:")
    return re.sub(r"\{[^}]*\}", "", name)


def xsd_message(text: str) -> str:
    """One libxml2 schema-validation message, e.g. "Element '{…}startEvent', attribute 'urgency': The
    attribute 'urgency' is not allowed." -> "不符合 BPMN 2.0 规范：元素 bpmn:startEvent 的属性 urgency 不允许出现"."""
    subject = _XSD_SUBJECT.match(text.strip())
    if subject is None:
        return "不符合 BPMN 2.0 规范"
    element, attribute, rest = _short(subject["element"]), subject["attribute"], subject["rest"]
    where = f"元素 {element}" + (f" 的属性 {attribute}" if attribute else "")
    for pattern, template in _XSD_RULES:
        found = pattern.search(rest)
        if found:
            values = {key: _short(value) for key, value in found.groupdict().items()}
            for listed in ("expected", "allowed"):  # "a, b" or "'a', 'b'" -> a、b
                if listed in values:
                    values[listed] = "、".join(part.strip(" '") for part in values[listed].split(","))
            detail = template.format(**values)
            return f"不符合 BPMN 2.0 规范：{where} {detail}"
    return f"不符合 BPMN 2.0 规范：{where} 的内容不合规"


_SPIFF_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Multiple outgoing flows are not supported"),
     "任务有多条出线：本引擎不做隐式并行分支，请在任务后加并行网关或排他网关"),
    (re.compile(r"No start event found"), "流程没有开始事件"),
    (re.compile(r"is not executable"), "流程未标记为可执行（isExecutable）"),
    (re.compile(r"There is no support implemented for this task type"), "流程引擎不支持这种元素"),
    (re.compile(r"Duplicate process ID: (?P<id>\S+)"), "流程 id“{id}”在本次部署的文件中出现了不止一次"),
    (re.compile(r"The process '(?P<id>[^']+)' was not found"), "找不到流程“{id}”"),
    (re.compile(r"A SubWorkflow Must contain an End event"), "子流程必须有结束事件"),
    (re.compile(r"Exactly one start event is required in a SubWorkflow Task; found (?P<count>\d+)"),
     "子流程必须有且只有一个开始事件（现有 {count} 个）"),
    # Camunda 7 would take such a flow as always true; the Modeler's own lint (conditional-flows) flags it
    (re.compile(r"Non-default exclusive outgoing sequence flow without condition"),
     "排他网关的这条出线既没有条件，也不是默认流：请加条件，或在 Modeler 中设为默认流（Default Flow）"),
    (re.compile(r"Cancel Events may only be used with transactions"), "取消事件只能用在事务子流程中"),
    (re.compile(r"A loopMaximum or loopCondition must be specified"), "标准循环需要 loopMaximum 或 loopCondition"),
    (re.compile(r"A multiinstance task must specify a cardinality or a collection"),
     "多实例任务需要指定 camunda:collection 或 loopCardinality"),
    (re.compile(r"Expected an? (?P<kind>Error|Escalation|Message|Signal) node"), "引用的{kind}定义不存在"),
    (re.compile(r"Could not find messageRef"), "消息事件没有引用消息（messageRef）"),
    (re.compile(r"(?P<kind>Signal|Error|Escalation|Correlation) identifier is missing"), "{kind} 定义缺少 id"),
    (re.compile(r"Conditional event definition with missing condition"), "条件事件缺少条件"),
    (re.compile(r"Unknown Time Specification"), "定时器缺少 timeDate、timeDuration 或 timeCycle"),
    (re.compile(r"Time Specification Error"), "定时器的写法无效"),
    (re.compile(r"Cannot resolve data(?P<way>In|Out)putAssociation (?P<name>\S+)"), "数据关联“{name}”无法解析"),
    (re.compile(r"Sequential ordering for ad hoc subprocesses not supported"), "不支持顺序执行的特设子流程"),
    (re.compile(r"Ad hoc subprocesses may not contain start or end events"), "特设子流程不能包含开始或结束事件"),
    (re.compile(r"When looking for a task spec, we found two items"), "顺序流指向的元素不存在或 id 重复"),
]
_KINDS = {"Error": "错误", "Escalation": "升级", "Message": "消息", "Signal": "信号", "Correlation": "关联"}


def spiff_message(text: str, tag: str | None = None) -> str:
    """A SpiffWorkflow parser message in Chinese; `tag` (e.g. "bpmn:task") names what it concerns."""
    for pattern, template in _SPIFF_RULES:
        found = pattern.search(text)
        if found:
            values = {key: _KINDS.get(value, value) for key, value in found.groupdict().items()}
            return "流程无法解析：" + template.format(**values)
    what = f"（元素 {_short(tag)}）" if tag else ""
    return f"流程无法解析：流程引擎不能读取这个元素{what}，请检查它的写法"



_XML_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Document is empty"), "文件是空的"),
    (re.compile(r"Start tag expected, '<' not found"), "这不是 XML 文件（开头不是“<”）"),
    (re.compile(r"Opening and ending tag mismatch: (?P<open>\S+) line (?P<line>\d+) and (?P<close>\S+?),?$"),
     "第 {line} 行的 <{open}> 没有正确结束（遇到了 </{close}>）"),
    (re.compile(r"Premature end of data in tag (?P<tag>\S+) line (?P<line>\d+)"),
     "文件不完整：第 {line} 行的 <{tag}> 没有结束"),
    (re.compile(r"EndTag: '</' not found"), "文件不完整：缺少结束标签"),
    (re.compile(r"Extra content at the end of the document"), "根元素之后还有多余的内容"),
    (re.compile(r"XML declaration allowed only at the start of the document"),
     "XML 声明（<?xml …?>）必须在文件最前面，之前不能有空行或其他字符"),
    (re.compile(r"Entity '(?P<name>[^']+)' not defined"), "未定义的实体 &{name};"),
    (re.compile(r"Namespace prefix (?P<prefix>\S+) (?:on (?P<tag>\S+) )?is not defined"),
     "命名空间前缀 {prefix} 没有声明（xmlns:{prefix}）"),
    (re.compile(r"Invalid bytes in character encoding|Input is not proper UTF-8"), "文件不是 UTF-8 编码"),
    (re.compile(r"Unsupported encoding: (?P<name>\S+)"), "不支持的编码 {name}，请保存为 UTF-8"),
    (re.compile(r"Attribute (?P<name>\S+) redefined"), "属性 {name} 重复出现"),
    (re.compile(r"Excessive depth in document"), "元素嵌套过深"),
    (re.compile(r"AttValue: \" or ' expected"), "属性值必须用引号括起来"),
    (re.compile(r"Specification mandates value for attribute (?P<name>\S+)"), "属性 {name} 缺少值"),
    (re.compile(r"Unescaped '<' not allowed in attributes values"), "属性值中不能直接写“<”（应写作 &lt;）"),
    (re.compile(r"Comment not terminated"), "注释没有结束（缺少 -->）"),
    (re.compile(r"CData section not finished"), "CDATA 段没有结束（缺少 ]]>）"),
    (re.compile(r"xmlParseCharRef: invalid xmlChar value"), "无效的字符引用"),
    (re.compile(r"xmlParseEntityRef: no name"), "“&”后缺少实体名（文字中的 & 应写作 &amp;）"),
    (re.compile(r"Couldn't find end of Start Tag (?P<tag>\S+)"), "<{tag}> 标签没有写完"),
    (re.compile(r"StartTag: invalid element name"), "无效的元素名"),
    (re.compile(r"Char 0x[0-9A-Fa-f]+ out of allowed range|PCDATA invalid Char value"),
     "文件中有 XML 不允许的控制字符"),
]


def xml_message(text: str) -> str:
    """libxml2's syntax error (without its ", line L, column C" tail) in Chinese."""
    text = re.sub(r", line \d+, column \d+$", "", text.strip())
    for pattern, template in _XML_RULES:
        found = pattern.search(text)
        if found:
            return "XML 格式错误：" + template.format(**found.groupdict())
    return "XML 格式错误：无法读取这个文件"


_PYTHON_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^invalid syntax"), "写法无法识别"),
    (re.compile(r"^'(?P<bracket>.)' was never closed"), "“{bracket}”没有配对的右括号"),
    (re.compile(r"^unmatched '(?P<bracket>.)'"), "多出一个“{bracket}”"),
    (re.compile(r"^closing parenthesis '(?P<close>.)' does not match opening parenthesis '(?P<open>.)'"),
     "括号不配对：“{open}”与“{close}”"),
    (re.compile(r"^unterminated (?:triple-quoted )?string literal"), "文字没有结束的引号"),
    (re.compile(r"^expected '(?P<token>[^']+)'"), "此处缺少“{token}”"),
    (re.compile(r"^unexpected indent"), "多余的缩进"),
    (re.compile(r"^expected an indented block"), "此处需要缩进"),
    (re.compile(r"^unindent does not match"), "缩进不一致"),
    (re.compile(r"^'(?P<word>\w+)' outside (?:function|loop)"), "“{word}”只能用在函数或循环中"),
    (re.compile(r"^cannot assign to"), "不能给这个对象赋值（比较请用 ==）"),
    (re.compile(r"^invalid character '(?P<char>.)'"), "无效的字符“{char}”"),
    (re.compile(r"^invalid decimal literal"), "无效的数字"),
    (re.compile(r"^unexpected EOF"), "表达式不完整"),
    (re.compile(r"^too many nested parentheses"), "括号嵌套过深"),
    (re.compile(r"^invalid non-printable character"), "有不可见的控制字符"),
]


def python_syntax_message(text: str) -> str:
    """Python's SyntaxError text (scripts, and conditions after JUEL translation) in Chinese."""
    for pattern, template in _PYTHON_RULES:
        found = pattern.search(text or "")
        if found:
            return "语法错误：" + template.format(**found.groupdict())
    return "语法错误"
