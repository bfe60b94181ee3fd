"""DMN decision tables deployed beside the BPMN: reading, translating to Python, and checking.

A `.dmn` file (as the Camunda Modeler saves it: DMN 1.1, 1.2 or 1.3) is parsed safely, validated against
the DMN schema SpiffWorkflow ships, and its FEEL text rewritten to Python on the parse-only tree
(engine/bpmn/feel.py), so every cell is compiled by the same restricted checker as the rest of a diagram.
What the engine cannot run as Camunda would is refused here, with the cell's rule or column id.
"""

from __future__ import annotations

import ast
import functools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS

from engine.bpmn import feel
from engine.bpmn.safe_xml import BPMN_NS, CAMUNDA_NS, Expression, line_index

HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
RESULT_MAPPINGS = ("resultList", "singleResult", "singleEntry", "collectEntries")
_FEEL_LANGUAGES = {"feel", "juel", "http://www.omg.org/spec/feel/20140401",
                   "https://www.omg.org/spec/dmn/20191111/feel/", "http://www.omg.org/spec/dmn/20180521/feel/"}
_LANGUAGE_NAMES = {"javascript": "JavaScript", "groovy": "Groovy", "python": "Python", "jython": "Python",
                   "xpath": "XPath", "juel": "JUEL"}


def is_dmn(tree: etree._ElementTree) -> bool:
    return "/DMN/" in (etree.QName(tree.getroot()).namespace or "").upper()


@dataclass
class DmnFile:
    """One `.dmn` file, shaped like engine.bpmn.validation.BpmnFile so the same checks walk both."""

    name: str
    text: str
    tree: etree._ElementTree  # translated: what the engine parses, not what is stored
    lines: dict[str, int]
    expressions: list[Expression]
    refusals: list[tuple[int, str, str]] = field(default_factory=list)  # (line, element id, message)

    @property
    def namespace(self) -> str:
        return etree.QName(self.tree.getroot()).namespace

    def decisions(self) -> dict[str, etree._Element]:
        return {node.get("id"): node for node in self.tree.getroot().iterfind(f"{{{self.namespace}}}decision")}

    def process_ids(self, executable_only: bool = False) -> list[str]:
        return []

    def decision_documents(self) -> Iterable[etree._Element]:
        """One `definitions` per decision: SpiffWorkflow's DMN parser reads only a file's first decision."""
        root = self.tree.getroot()
        for decision in self.decisions().values():
            document = etree.Element(root.tag, dict(root.attrib), nsmap={None: self.namespace})
            # Comments would trip SpiffWorkflow's DMN parser, which expects only elements in a table.
            document.append(etree.fromstring(etree.tostring(decision), _WITHOUT_COMMENTS))
            yield document


_WITHOUT_COMMENTS = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False, no_network=True)


_validators: dict[str, BpmnValidator] = {}
_validators_lock = threading.Lock()


def _schema(namespace: str) -> BpmnValidator:
    with _validators_lock:
        if namespace not in _validators:
            _validators[namespace] = BpmnValidator(DMN_SCHEMAS[namespace])
        return _validators[namespace]


def schema_errors(tree: etree._ElementTree) -> list[tuple[int, str]]:
    namespace = etree.QName(tree.getroot()).namespace
    if namespace not in DMN_SCHEMAS:
        return [(tree.getroot().sourceline, f"不支持的 DMN 版本（{namespace}；支持 DMN 1.1、1.2、1.3）")]
    validator = _schema(namespace).validator
    if validator.validate(tree):
        return []
    return [(error.line, error.message) for error in validator.error_log]


def read(name: str, text: str, tree: etree._ElementTree) -> DmnFile:
    """Translate every table of a schema-valid DMN file in place and list what it holds."""
    dmn = DmnFile(name, text, tree, line_index(tree), [])
    ns = {"dmn": dmn.namespace}
    default_language = tree.getroot().get("expressionLanguage")
    for decision_id, decision in dmn.decisions().items():
        tables = decision.findall("dmn:decisionTable", ns)
        if decision.find("dmn:informationRequirement", ns) is not None:
            dmn.refusals.append((decision.sourceline, decision_id,
                                 "决策之间的依赖（informationRequirement / requiredDecision）未支持"))
        if len(tables) != 1:
            dmn.refusals.append((decision.sourceline, decision_id,
                                 "决策必须是一张决策表（文字表达式 literalExpression 等未支持）"))
            continue
        _read_table(dmn, tables[0], decision_id, ns, default_language)
    return dmn


def _language_refusal(node: etree._Element, default: str | None) -> str | None:
    language = (node.get("expressionLanguage") or default or "feel").strip()
    if language.lower() in _FEEL_LANGUAGES:
        return None
    named = _LANGUAGE_NAMES.get(language.lower(), language)
    return f"不支持 {named} 表达式（决策表只支持 FEEL 的简单写法和 JUEL）"


def _read_table(dmn: DmnFile, table: etree._Element, decision_id: str, ns: dict[str, str],
                default_language: str | None) -> None:
    table_id = table.get("id") or decision_id
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy not in HIT_POLICIES:
        dmn.refusals.append((table.sourceline, table_id,
                             f"命中策略 {policy} 未支持（支持 UNIQUE、FIRST、COLLECT）"))
    inputs = table.findall("dmn:input", ns)
    outputs = table.findall("dmn:output", ns)
    aggregation = table.get("aggregation")
    if aggregation and policy != "COLLECT":  # the schema allows SUM, MIN, MAX and COUNT only
        dmn.refusals.append((table.sourceline, table_id, f"汇总方式 {aggregation} 只能用于 COLLECT"))
    elif aggregation and len(outputs) != 1:
        dmn.refusals.append((table.sourceline, table_id, f"COLLECT {aggregation} 要求决策表只有一个输出列"))
    for part in (*inputs, *outputs, *table.iterfind("dmn:rule", ns), *table.iterfind("dmn:rule/*", ns)):
        if isinstance(part.tag, str) and not part.get("id") and etree.QName(part).localname != "description":
            # SpiffWorkflow's DMN parser indexes every column, rule and cell by its id
            dmn.refusals.append((part.sourceline, table_id, f"决策表的 {etree.QName(part).localname} 需要 id"))
    for column in inputs:
        node = column.find("dmn:inputExpression", ns)
        text = node.find("dmn:text", ns) if node is not None else None
        if text is None or not (text.text or "").strip():
            dmn.refusals.append((column.sourceline, column.get("id") or table_id, "决策表输入列需要输入表达式"))
            continue
        _translate(dmn, text, node, column.get("id") or table_id, feel.expression, default_language)
    for column in outputs:
        if not (column.get("name") or "").strip():
            dmn.refusals.append((column.sourceline, column.get("id") or table_id,
                                 "决策表输出列需要名称（name），结果按名称保存"))
    for rule in table.findall("dmn:rule", ns):
        rule_id = rule.get("id") or table_id
        entries = rule.findall("dmn:inputEntry", ns)
        results = rule.findall("dmn:outputEntry", ns)
        if len(entries) != len(inputs) or len(results) != len(outputs):
            dmn.refusals.append((rule.sourceline, rule_id, "规则的单元格数与决策表的列数不符"))
            continue
        for entry in entries:
            _translate(dmn, entry.find("dmn:text", ns), entry, rule_id, feel.unary_test, default_language)
        for entry in results:
            _translate(dmn, entry.find("dmn:text", ns), entry, rule_id, feel.expression, default_language)


def _translate(dmn: DmnFile, text_node: etree._Element | None, owner: etree._Element, element_id: str,
               translate, default_language: str | None) -> None:
    source = (text_node.text or "") if text_node is not None else ""
    refused = _language_refusal(owner, default_language)
    if refused:
        dmn.refusals.append((owner.sourceline, element_id, refused))
        return
    try:
        python = translate(source)
    except feel.FeelRefused as refusal:
        dmn.refusals.append((owner.sourceline, element_id, refusal.message))
        return
    if python in ("", feel.ANY):
        return
    if _calls(python):
        dmn.refusals.append((owner.sourceline, element_id, f"决策表中不支持函数调用：{source.strip()}"))
        return
    if "${" not in source and "#{" not in source and any(isinstance(node, ast.Subscript) for node in _nodes(python)):
        # FEEL counts list items from 1, Python from 0: the same text would pick another item
        dmn.refusals.append((owner.sourceline, element_id, f"FEEL 的列表下标从 1 开始，不能照写：{source.strip()}"
                             "（请写成 JUEL，如 ${accused[0].rank}，或在业务规则任务上用输入参数传入）"))
        return
    if "limits" in _names(python):
        dmn.refusals.append((owner.sourceline, element_id, "决策表不属于某个流程，不能读取 limits（流程属性）；"
                             "请在业务规则任务上用输入参数传入"))
        return
    text_node.text = python
    dmn.expressions.append(Expression(element_id, owner.sourceline, "decision", "eval", source, python))


@functools.lru_cache(maxsize=4096)
def _nodes(python: str) -> tuple[ast.AST, ...]:
    try:
        return tuple(ast.walk(ast.parse(python.strip(), mode="eval")))
    except SyntaxError:
        return ()  # reported by the expression check, as any other diagram text


def _calls(python: str) -> bool:
    return any(isinstance(node, ast.Call) for node in _nodes(python))


def _names(python: str) -> set[str]:
    return {node.id for node in _nodes(python) if isinstance(node, ast.Name)}


# ---- business rule tasks -------------------------------------------------------------------------------


def _camunda(node: etree._Element, name: str) -> str | None:
    value = node.get(f"{{{CAMUNDA_NS}}}{name}")
    return value.strip() if value and value.strip() else None


def decision_refs(tree: etree._ElementTree, process: etree._Element | None = None) -> set[str]:
    """The decisions the business rule tasks of a process (or of a whole file) call."""
    root = process if process is not None else tree.getroot()
    return {ref for task in root.iter(f"{{{BPMN_NS}}}businessRuleTask") if (ref := _camunda(task, "decisionRef"))}


def problems(files: Mapping[str, object]) -> list[tuple[str, int, str, str]]:
    """(file, line, element id, message) for the tables themselves and every business rule task."""
    found: list[tuple[str, int, str, str]] = []
    tables: dict[str, etree._Element] = {}
    owners: dict[str, str] = {}
    for dmn in (f for f in files.values() if isinstance(f, DmnFile)):
        found += [(dmn.name, line, element_id, message) for line, element_id, message in dmn.refusals]
        for decision_id, decision in dmn.decisions().items():
            if decision_id in owners:
                found.append((dmn.name, decision.sourceline, decision_id,
                              f"决策 id“{decision_id}”与 {owners[decision_id]} 中的决策重复"))
            owners[decision_id] = dmn.name
            table = decision.find(f"{{{dmn.namespace}}}decisionTable")
            if table is not None:
                tables[decision_id] = table
    for bpmn in (f for f in files.values() if not isinstance(f, DmnFile)):
        for task in bpmn.tree.getroot().iter(f"{{{BPMN_NS}}}businessRuleTask"):
            found += [(bpmn.name, task.sourceline, task.get("id") or "", message)
                      for message in _task_problems(task, tables)]
    return found


def _task_problems(task: etree._Element, tables: dict[str, etree._Element]) -> list[str]:
    for other in ("class", "delegateExpression", "expression", "topic", "type"):
        if _camunda(task, other):
            return [f"业务规则任务只支持决策表（camunda:decisionRef），不支持 camunda:{other}"]
    ref = _camunda(task, "decisionRef")
    if ref is None:
        return ["业务规则任务需要指定决策表（camunda:decisionRef）"]
    messages = []
    if "${" in ref or "#{" in ref:
        return ["camunda:decisionRef 必须是决策 id，不能是表达式"]
    if ref not in tables:
        messages.append(f"决策表“{ref}”不存在（.dmn 文件需要一起部署）")
    binding = _camunda(task, "decisionRefBinding") or "latest"
    if binding not in ("latest", "deployment"):
        messages.append(f"camunda:decisionRefBinding=\"{binding}\" 未支持："
                        "决策表随流程一起部署，使用同一次部署中的版本")
    if _camunda(task, "resultVariable") is None:
        messages.append("业务规则任务需要指定结果变量（camunda:resultVariable），否则决策结果不会保存")
    mapping = _camunda(task, "mapDecisionResult") or "resultList"
    if mapping not in RESULT_MAPPINGS:
        messages.append(f"camunda:mapDecisionResult=\"{mapping}\" 未支持（支持 {'、'.join(RESULT_MAPPINGS)}）")
    elif mapping in ("singleEntry", "collectEntries") and ref in tables:
        outputs = tables[ref].findall(f"{{{etree.QName(tables[ref]).namespace}}}output")
        if len(outputs) != 1:
            messages.append(f"camunda:mapDecisionResult=\"{mapping}\" 要求决策表只有一个输出列"
                            f"（现有 {len(outputs)} 个）")
    return messages


def needed_files(files: Mapping[str, object], refs: set[str]) -> dict[str, str]:
    """The `.dmn` files (name -> stored text) that define the given decisions."""
    return {dmn.name: dmn.text for dmn in files.values()
            if isinstance(dmn, DmnFile) and refs & dmn.decisions().keys()}
