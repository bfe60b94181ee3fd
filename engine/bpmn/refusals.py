"""What the engine refuses of what the Camunda Modeler saves, found by reading the XML before SpiffWorkflow
does: SpiffWorkflow would drop it silently, run it differently from Camunda, or fail on it at run time.

Each check yields (line, element id, message); docs/bpmn-support.md lists every refusal with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.bpmn.safe_xml import BPMN_NS, CAMUNDA_NS, NSMAP, owner_id

Found = tuple[int, str, str]

_MODELER_NS = "http://camunda.org/schema/modeler/1.0"
_ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"

FLOW_NODES = frozenset({
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent", "endEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "inclusiveGateway",
    "parallelGateway", "eventBasedGateway", "complexGateway",
})
_NEEDS_ID = FLOW_NODES | {"sequenceFlow", "lane", "process"}

_DELEGATES = {
    "class": "调用 Java 类（camunda:class）",
    "delegateExpression": "委托表达式（camunda:delegateExpression）",
    "expression": "表达式服务任务（camunda:expression）",
    "variableMappingClass": "使用 Java 变量映射类（camunda:variableMappingClass）",
    "variableMappingDelegateExpression": "委托变量映射（camunda:variableMappingDelegateExpression）",
}
_HANDLER_HINT = "请把逻辑写成 handlers/ 中的处理函数，用 camunda:type=\"external\" 和 camunda:topic 调用"

_UNSUPPORTED_ELEMENTS = {
    f"{{{BPMN_NS}}}complexGateway": "不支持复杂网关（bpmn:complexGateway）：请用排他、包容或并行网关",
    f"{{{BPMN_NS}}}dataStoreReference": "不支持数据存储（bpmn:dataStoreReference）：外部数据请用服务任务读写",
    f"{{{BPMN_NS}}}dataStore": "不支持数据存储（bpmn:dataStore）：外部数据请用服务任务读写",
    f"{{{BPMN_NS}}}conditionalEventDefinition":
        "不支持条件事件（bpmn:conditionalEventDefinition）：引擎不会在数据变化时重新计算条件，案件会一直等待；"
        "请改用排他网关或消息事件",
    f"{{{BPMN_NS}}}compensateEventDefinition":
        "不支持补偿事件（bpmn:compensateEventDefinition）：撤销已办的工作请画成显式的流程路径",
    f"{{{CAMUNDA_NS}}}executionListener": "不支持执行监听器（camunda:executionListener）：请改用服务任务或脚本任务",
    f"{{{CAMUNDA_NS}}}taskListener": "不支持任务监听器（camunda:taskListener）：请改用服务任务或脚本任务",
    f"{{{CAMUNDA_NS}}}connector": "不支持连接器（camunda:connector）：" + _HANDLER_HINT,
}

# Camunda 7's own names (camunda-bpmn-moddle's camunda.json): anything else in its namespace is a typo that
# Camunda and this engine would both ignore silently (camunda:candidateGroup for candidateGroups).
_CAMUNDA_ATTRIBUTES = frozenset({
    "assignee", "async", "asyncAfter", "asyncBefore", "businessKey", "calledElementBinding", "calledElementTenantId",
    "calledElementVersion", "calledElementVersionTag", "candidateGroups", "candidateStarterGroups",
    "candidateStarterUsers", "candidateUsers", "caseBinding", "caseRef", "caseTenantId", "caseVersion", "class",
    "collection", "decisionRef", "decisionRefBinding", "decisionRefTenantId", "decisionRefVersion",
    "decisionRefVersionTag", "delegateExpression", "dueDate", "elementVariable", "errorCodeVariable",
    "errorMessage", "errorMessageVariable", "escalationCodeVariable", "exclusive", "expression", "followUpDate",
    "formHandlerClass", "formKey", "formRef", "formRefBinding", "formRefVersion", "historyTimeToLive",
    "initiator", "isStartableInTasklist", "jobPriority", "mapDecisionResult", "modelerTemplate",
    "modelerTemplateVersion", "priority", "resource", "resultVariable", "taskPriority", "topic", "type",
    "variableMappingClass", "variableMappingDelegateExpression", "versionTag",
})
_CAMUNDA_ELEMENTS = frozenset({
    "connector", "connectorId", "constraint", "entry", "errorEventDefinition", "executionListener",
    "failedJobRetryTimeCycle", "field", "formData", "formField", "formProperty", "in", "inputOutput",
    "inputParameter", "list", "map", "out", "outputParameter", "potentialStarter", "properties", "property",
    "script", "string", "expression", "taskListener", "validation", "value",
})

# Expression languages by how Camunda users write `language=` / `scriptFormat=`; JUEL and Python are evaluated.
_LANGUAGE_NAMES = {
    "javascript": "JavaScript", "js": "JavaScript", "ecmascript": "JavaScript", "nashorn": "JavaScript",
    "graal.js": "JavaScript", "groovy": "Groovy", "feel": "FEEL", "xpath": "XPath",
    "http://www.w3.org/1999/xpath": "XPath", "python": "Python", "jython": "Jython", "juel": "JUEL",
    "ruby": "Ruby", "jruby": "Ruby",
}
_CONDITION_LANGUAGES = {"juel", "python"}
_SCRIPT_LANGUAGES = {"python"}


def problems(tree: etree._ElementTree) -> list[Found]:
    root = tree.getroot()
    return [*_camunda_8(root), *_missing_ids(root), *_non_executable(root), *_unsupported(root), *_languages(root),
            *_forms(root), *_references(root), *_unknown_camunda(root)]


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _missing_ids(root: etree._Element) -> Iterator[Found]:
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        if _local(node) in _NEEDS_ID and not (node.get("id") or "").strip():
            if _local(node) == "sequenceFlow":
                ends = f"从“{node.get('sourceRef') or ''}”到“{node.get('targetRef') or ''}”"
                yield (node.sourceline, "", f"顺序流（{ends}）没有 id：流程引擎会丢弃它，案件会走错路；"
                       "请在 Modeler 中给它一个 id")
            else:
                yield (node.sourceline, "", f"元素 bpmn:{_local(node)} 没有 id：请在 Modeler 中给它一个 id")


def _camunda_8(root: etree._Element) -> Iterator[Found]:
    """A Camunda 8 (Zeebe) diagram keeps its tasks, forms and conditions in another dialect (FEEL)."""
    platform = root.get(f"{{{_MODELER_NS}}}executionPlatform")
    if platform == "Camunda Cloud" or next(root.iter(f"{{{_ZEEBE_NS}}}*"), None) is not None:
        yield (root.sourceline, root.get("id") or "",
               "这是 Camunda 8（Zeebe）的流程图：本引擎使用 Camunda 7 的写法，请在 Modeler 中新建 Camunda 7 流程图")


def _non_executable(root: etree._Element) -> Iterator[Found]:
    if root.tag == f"{{{BPMN_NS}}}definitions" and root.find("bpmn:process", NSMAP) is None:
        yield (root.sourceline, root.get("id") or "", "文件中没有流程（bpmn:process），没有可部署的内容")
    for process in root.iterfind("bpmn:process", NSMAP):
        flag = process.get("isExecutable")
        if flag != "true":
            written = f'isExecutable="{flag}"' if flag is not None else "没有 isExecutable 属性"
            yield (process.sourceline, process.get("id") or "",
                   f"流程未标记为可执行（{written}），不会被部署："
                   "请在 Modeler 中勾选“Executable”（isExecutable=\"true\"）")


def _unsupported(root: etree._Element) -> Iterator[Found]:
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag in _UNSUPPORTED_ELEMENTS:
            yield (node.sourceline, owner_id(node), _UNSUPPORTED_ELEMENTS[node.tag])
        for attribute, what in _DELEGATES.items():
            if node.get(f"{{{CAMUNDA_NS}}}{attribute}") is not None:
                yield (node.sourceline, owner_id(node), f"不支持{what}：{_HANDLER_HINT}")
        if node.tag == f"{{{BPMN_NS}}}messageEventDefinition" and _local(node.getparent()) in (
                "endEvent", "intermediateThrowEvent"):
            yield (node.sourceline, owner_id(node.getparent()),
                   "不支持消息抛出事件：消息由谁接收，图中无从得知；请改用服务任务（camunda:topic）调用处理函数")
        if node.get("isForCompensation") == "true":
            yield (node.sourceline, owner_id(node), "不支持补偿处理任务（isForCompensation=\"true\"）")
        if node.get(f"{{{CAMUNDA_NS}}}caseRef") is not None:
            yield (node.sourceline, owner_id(node), "不支持调用 CMMN 案例（camunda:caseRef）")
        binding = node.get(f"{{{CAMUNDA_NS}}}calledElementBinding")
        if binding not in (None, "latest", "deployment"):
            # A deployment keeps the called process as deployed with it; a pinned older version is not kept.
            yield (node.sourceline, owner_id(node), f"不支持按版本调用（camunda:calledElementBinding=\"{binding}\"）："
                   "被调用的流程总是与调用它的流程一起部署的那个版本")
        if _local(node) == "scriptTask":
            if node.get(f"{{{CAMUNDA_NS}}}resource") is not None:
                yield (node.sourceline, owner_id(node),
                       "不支持外部脚本文件（camunda:resource）：请把脚本写在图中，或写成处理函数")
            if node.get(f"{{{CAMUNDA_NS}}}resultVariable") is not None:
                yield (node.sourceline, owner_id(node),
                       "不支持脚本返回值变量（camunda:resultVariable）：请在脚本中直接给变量赋值")


def _unknown_camunda(root: etree._Element) -> Iterator[Found]:
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag.startswith(f"{{{CAMUNDA_NS}}}") and _local(node) not in _CAMUNDA_ELEMENTS:
            yield (node.sourceline, owner_id(node), f"未知的 Camunda 扩展元素 camunda:{_local(node)}（拼写错误？）")
        for name in node.attrib:
            local = name[len(CAMUNDA_NS) + 2:] if name.startswith(f"{{{CAMUNDA_NS}}}") else None
            if local is not None and local not in _CAMUNDA_ATTRIBUTES:
                yield (node.sourceline, owner_id(node),
                       f"未知的 Camunda 属性 camunda:{local}（拼写错误？Camunda 和本引擎都会忽略它）")


# Languages named by a URI (the BPMN default XPath, FEEL of DMN 1.2/1.3, tools' own), by a word in it
_URI_WORDS = {"feel": "FEEL", "xpath": "XPath", "groovy": "Groovy", "javascript": "JavaScript",
              "ecmascript": "JavaScript"}


def _language_name(written: str) -> str:
    key = written.strip().lower()
    if key in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[key]
    return next((name for word, name in _URI_WORDS.items() if "/" in key and word in key), written.strip())


def declared_language(tree: etree._ElementTree) -> str | None:
    """The name of the default expression language the definitions declare (`expressionLanguage`, written by
    tools other than the Camunda Modeler), when it is not one the engine evaluates; Camunda 7 ignores it and
    reads expressions as JUEL, so it only explains why an expression does not read as JUEL."""
    written = tree.getroot().get("expressionLanguage")
    if written is None or _language_name(written).lower() in _CONDITION_LANGUAGES:
        return None
    return f"{_language_name(written)}（expressionLanguage=\"{written}\"）"


def _foreign(root: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    """(node, message) for each expression or script written in a language the engine does not evaluate."""
    for process in root.iterfind("bpmn:process", NSMAP):
        for node in process.iter():
            if not isinstance(node.tag, str):
                continue
            language = node.get("language")
            if language is not None and language.strip().lower() not in _CONDITION_LANGUAGES:
                yield node, (f"不支持的表达式语言 {_language_name(language)}（language=\"{language}\"）："
                             "条件和定时器请用 JUEL（${…}）或 Python")
            script_format = node.get("scriptFormat")
            if script_format is not None and script_format.strip().lower() not in _SCRIPT_LANGUAGES:
                yield node, (f"不支持的脚本语言 {_language_name(script_format)}（scriptFormat=\"{script_format}\"）："
                             "脚本只能用 Python（scriptFormat=\"python\"）")


def foreign_language_ids(tree: etree._ElementTree) -> set[str]:
    """Elements whose expressions are not checked as Python: their language is refused instead."""
    return {owner_id(node) for node, _ in _foreign(tree.getroot())}


def _languages(root: etree._Element) -> Iterator[Found]:
    for node, message in _foreign(root):
        yield (node.sourceline, owner_id(node), message)


def _forms(root: etree._Element) -> Iterator[Found]:
    """A form key names a form the engine does not have: staff would see no fields and every answer would be
    refused. Forms are the Modeler's generated task forms (camunda:formData)."""
    for task in root.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}startEvent"):
        key = task.get(f"{{{CAMUNDA_NS}}}formKey")
        if key and task.find(".//camunda:formData", NSMAP) is None:
            yield (task.sourceline, task.get("id") or "",
                   f"外部表单（camunda:formKey=\"{key}\"）无法显示：请在 Modeler 中改用“生成的表单”"
                   "（Generated Task Forms）并列出表单字段")
        if task.get(f"{{{CAMUNDA_NS}}}formRef") is not None:
            yield (task.sourceline, task.get("id") or "",
                   "不支持 Camunda Forms（camunda:formRef）：请改用“生成的表单”（Generated Task Forms）")


def _references(root: etree._Element) -> Iterator[Found]:
    """Sequence flows, defaults and boundary events must name elements of their own (sub)process, and event
    definitions the messages, signals, errors and escalations the file declares."""
    for scope in [*root.iterfind("bpmn:process", NSMAP), *root.iter(f"{{{BPMN_NS}}}subProcess",
                                                                       f"{{{BPMN_NS}}}transaction",
                                                                       f"{{{BPMN_NS}}}adHocSubProcess")]:
        nodes = {child.get("id"): child for child in scope if _local(child) in FLOW_NODES and child.get("id")}
        flows = {child.get("id"): child for child in scope if _local(child) == "sequenceFlow"}
        for flow in flows.values():
            for end, role in (("sourceRef", "起点"), ("targetRef", "终点")):
                ref = flow.get(end)
                if ref not in nodes:
                    yield (flow.sourceline, flow.get("id") or "",
                           f"顺序流的{role}（{end}=\"{ref or ''}\"）不是同一流程中的元素")
        for node in nodes.values():
            default = node.get("default")
            if default and (default not in flows or flows[default].get("sourceRef") != node.get("id")):
                yield (node.sourceline, node.get("id"), f"默认流（default=\"{default}\"）不是这个元素的出线")
            attached = node.get("attachedToRef")
            if _local(node) == "boundaryEvent" and attached not in nodes:
                yield (node.sourceline, node.get("id"),
                       f"边界事件附着的元素（attachedToRef=\"{attached or ''}\"）不在同一流程中")
    declared: dict[str, set[str]] = {}
    for node in root:
        if isinstance(node.tag, str) and node.get("id"):
            declared.setdefault(_local(node), set()).add(node.get("id"))
    for kind, ref, what in (("message", "messageRef", "消息"), ("signal", "signalRef", "信号"),
                            ("error", "errorRef", "错误"), ("escalation", "escalationRef", "升级")):
        for node in root.iter(f"{{{BPMN_NS}}}*"):
            value = node.get(ref)
            if value is not None and value not in declared.get(kind, set()):
                yield (node.sourceline, owner_id(node), f"引用的{what}（{ref}=\"{value}\"）在文件中没有定义")
