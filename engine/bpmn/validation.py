"""Everything checked before a set of BPMN files may be deployed.

One pass that reports every problem at once, one per line as `FILE:LINE: ELEMENT-ID: message` in Chinese,
never a traceback: hostile or malformed XML, BPMN XSD, what the engine refuses of the Camunda dialect
(engine/bpmn/refusals.py), link events, unresolvable processes and call activities, expressions (compiled
restricted) and their languages, timers, roles of lanes and candidate groups, handlers of service tasks,
user-task forms, and whatever SpiffWorkflow's own parser still objects to.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn import assignment_rules, attachment_purposes, case_fields, decisions, io_mapping, links, refusals
from engine.bpmn.decisions import DmnFile
from engine.bpmn.dialect import XinfangParser, XinfangUserTask
from engine.bpmn.expressions import check
from engine.bpmn.form_checks import form_problems, shared_key_problems
from engine.bpmn.library_messages import spiff_message, xsd_message
from engine.bpmn.safe_xml import BPMN_NS, CAMUNDA_NS, NSMAP, Expression, XmlRefused, line_index, load, normalise
from engine.org.organisation import role_for_lane
from engine.timing.cron import CronRefused, looks_like_cron
from engine.timing.cron import trigger as cron_trigger


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.element_id or '-'}: {self.message}"


@dataclass
class BpmnFile:
    name: str
    text: str
    tree: etree._ElementTree  # normalised: what the engine parses, not what is stored
    lines: dict[str, int]
    expressions: list[Expression]

    def process_ids(self, executable_only: bool = False) -> list[str]:
        processes = self.tree.getroot().iter(f"{{{BPMN_NS}}}process")
        return [p.get("id") for p in processes if not executable_only or p.get("isExecutable") == "true"]


_ISO_LIKE = re.compile(r"(R\d*/)?[P0-9][0-9A-Z:+\-.,/]*")

_validator: BpmnValidator | None = None
_validator_lock = threading.Lock()


def _xsd() -> BpmnValidator:
    global _validator
    with _validator_lock:
        if _validator is None:
            _validator = BpmnValidator()  # the OMG schemas SpiffWorkflow ships; slow to build, so once
        return _validator


def read_files(files: Mapping[str, bytes | str]) -> tuple[dict[str, BpmnFile | DmnFile], list[Problem]]:
    parsed, problems = {}, []
    for name, content in files.items():
        try:
            tree = load(content)
            text = content.decode("utf-8") if isinstance(content, bytes) else content
        except XmlRefused as refused:
            problems.append(Problem(name, refused.line, "", refused.message))
            continue
        except UnicodeDecodeError:
            problems.append(Problem(name, 1, "", "文件不是 UTF-8 编码"))
            continue
        if decisions.is_dmn(tree):
            errors = decisions.schema_errors(tree)
            problems.extend(Problem(name, line, "", f"不符合 DMN 规范：{message}") for line, message in errors)
            if not errors:
                parsed[name] = decisions.read(name, text, tree)
            continue
        problems += _schema_problems(name, tree)
        expressions = normalise(tree) + io_mapping.expressions(tree)
        links.join(tree)
        parsed[name] = BpmnFile(name, text, tree, line_index(tree), expressions)
    return parsed, problems


def _schema_problems(name: str, tree: etree._ElementTree) -> list[Problem]:
    """XSD errors, each named by the element on its line: the file is still checked further, so that one
    pass reports everything."""
    schema = _xsd()
    schema.preprocess(tree)
    if schema.validator.validate(tree):
        return []
    on_line: dict[int, str] = {}
    for node in tree.getroot().iter():
        if isinstance(node.tag, str) and node.get("id"):
            on_line.setdefault(node.sourceline, node.get("id"))
    return [Problem(name, error.line, on_line.get(error.line, ""), xsd_message(error.message))
            for error in schema.validator.error_log]


def build_parser(files: Iterable[BpmnFile | DmnFile]) -> XinfangParser:
    parser = XinfangParser()
    for parsed in files:
        if isinstance(parsed, DmnFile):
            for document in parsed.decision_documents():
                parser.add_dmn_xml(document, parsed.name)
        else:
            parser.add_bpmn_xml(parsed.tree, parsed.name)
    return parser


def validate(files: Mapping[str, bytes | str], roles: dict[str, str], handlers: set[str],
             helpers: set[str], users: set[str] | None = None) -> tuple[dict[str, BpmnFile | DmnFile], list[Problem]]:
    """`users`: the organisation's active users, against which literal assignees and candidate users are
    checked (None: not checked)."""
    parsed, problems = read_files(files)
    for bpmn_file in parsed.values():
        problems += [Problem(bpmn_file.name, *found) for found in refusals.problems(bpmn_file.tree)]
        problems += [Problem(bpmn_file.name, *found) for found in links.problems(bpmn_file.tree)]
        problems += _expression_problems(bpmn_file, helpers)
        problems += _routing_problems(bpmn_file, roles)
        problems += _literal_user_problems(bpmn_file, users)
        problems += _handler_problems(bpmn_file, handlers)
        if not isinstance(bpmn_file, DmnFile):  # a table belongs to no process (refused in decisions)
            problems += _limits_problems(bpmn_file)
        problems += _reserved_id_problems(bpmn_file)
        problems += _timer_start_problems(bpmn_file)
        problems += [Problem(bpmn_file.name, line, element_id, message)
                     for line, element_id, message in io_mapping.problems(bpmn_file.tree)]
    problems += _duplicate_process_problems(parsed)
    problems += _call_activity_problems(parsed)
    problems += [Problem(*found) for found in decisions.problems(parsed)]
    problems += [Problem(*found) for found in assignment_rules.problems(
        ((f.name, f.tree) for f in parsed.values()), roles)]
    problems += [Problem(*found) for found in attachment_purposes.problems((f.name, f.tree) for f in parsed.values())]
    # What SpiffWorkflow trips over is mostly what was reported above, less precisely: its problems count
    # only in files with nothing else wrong.
    failures, tasks = _spec_problems(parsed)
    reported = {problem.file for problem in problems}
    problems += [p for p in failures if p.file not in reported]
    problems += _form_problems(parsed, tasks)
    problems += _case_field_problems(parsed, tasks, handlers)
    return parsed, sorted(set(problems))


# What an empty expression of each kind is, for the message (conditions and timers: scripts may be empty)
_EMPTY_NAMES = {"condition": "条件表达式", "timeDate": "定时器时间（timeDate）",
                "timeDuration": "定时器时长（timeDuration）", "timeCycle": "定时器周期（timeCycle）"}


def _expression_problems(bpmn_file: BpmnFile, helpers: set[str]) -> list[Problem]:
    problems = []
    foreign = refusals.foreign_language_ids(bpmn_file.tree)
    declared = refusals.declared_language(bpmn_file.tree)
    for expression in bpmn_file.expressions:
        if expression.element_id in foreign:
            continue
        if not expression.source.strip():
            problems.append(Problem(bpmn_file.name, expression.line or 0, expression.element_id or "",
                                    f"{_EMPTY_NAMES.get(expression.kind, '表达式')}为空"))
            continue
        if expression.source.strip().startswith("="):
            problems.append(Problem(bpmn_file.name, expression.line or 0, expression.element_id or "",
                                    f"不支持 FEEL 表达式（Camunda 8 的写法，以“=”开头）：{expression.source.strip()}；"
                                    "请用 JUEL（${…}）"))
            continue
        for name, kind in _camunda_context(expression):
            problems.append(Problem(bpmn_file.name, expression.line or 0, expression.element_id or "",
                                    f"不支持 Camunda 的{kind}“{name}”：{expression.source.strip()}；请直接写"
                                    "变量名（如 ${amount}，而不是 ${execution.getVariable(\"amount\")}）"))
        for error in check(expression.python, expression.mode, helpers):
            line = (expression.line or 0) + max((error.line or 1) - 1, 0)
            hint = f"（流程图声明的表达式语言为 {declared}，本引擎只计算 JUEL（${{…}}）或 Python）" \
                if declared and expression.kind in _EMPTY_NAMES else ""
            problems.append(Problem(bpmn_file.name, line, expression.element_id or "", error.message + hint))
        if expression.kind.startswith("time"):
            message = _literal_timer_problem(expression)
            if message:
                problems.append(Problem(bpmn_file.name, expression.line or 0, expression.element_id or "", message))
    return problems


# What Camunda 7 provides to JUEL besides the variables; here such a name would be missing task data and
# such a method missing on the value, an incident at run time (real Camunda examples use them).
_CAMUNDA_CONTEXT = {"execution": "内置对象", "S": "内置函数", "XML": "内置函数", "JSON": "内置函数",
                    "currentUser": "内置函数", "currentUserGroups": "内置函数", "dateTime": "内置函数",
                    "now": "内置函数", "authenticatedUserId": "内置变量"}
_SPIN_METHODS = {"prop", "elementList", "numberValue", "stringValue", "boolValue", "jsonPath", "xPath", "mapTo"}


def _camunda_context(expression: Expression) -> list[tuple[str, str]]:
    """(name, what it is) for each Camunda built-in or Spin method a JUEL expression uses."""
    if "{" not in expression.source or expression.mode != "eval":  # only JUEL text (${…}, #{…})
        return []
    try:
        tree = ast.parse(expression.python, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # check() reports it
    found = {(node.id, _CAMUNDA_CONTEXT[node.id]) for node in ast.walk(tree)
             if isinstance(node, ast.Name) and node.id in _CAMUNDA_CONTEXT}
    found |= {(node.attr, " Spin 方法") for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and node.attr in _SPIN_METHODS}
    return sorted(found)


def _literal_timer_problem(expression: Expression) -> str | None:
    """A timer written as an ISO literal can be checked now instead of failing when the case reaches it."""
    try:
        literal = ast.literal_eval(expression.python)
    except (ValueError, SyntaxError):
        if _ISO_LIKE.fullmatch(expression.source.strip()):
            # Not translated into a timer literal, yet made only of ISO 8601 letters and digits ("P3X",
            # "PT1H30", "R3/PT1H/X"): a mistyped literal, which would otherwise be a NameError at run time.
            return f"无效的 ISO 8601 定时器：{expression.source}"
        return None  # an expression: checked at run time against the case data
    if not isinstance(literal, str):
        return f"定时器的值必须是 ISO 8601 文本：{expression.source}"
    if looks_like_cron(literal):
        if expression.kind != "timeCycle":
            return f"cron 表达式只能用于循环定时器（timeCycle）：{expression.source}"
        try:
            cron_trigger(literal)
        except CronRefused as refused:
            return refused.message
        return None
    parse = {
        "timeDate": TimerEventDefinition.get_datetime,
        "timeDuration": TimerEventDefinition.parse_iso_duration,
        "timeCycle": TimerEventDefinition.parse_iso_recurring_interval,
    }[expression.kind]
    try:
        parse(literal)
    except Exception:  # SpiffWorkflow raises bare Exception for a bad duration
        return f"无效的 ISO 8601 定时器：{expression.source}"
    return None


def _routing_problems(bpmn_file: BpmnFile, roles: dict[str, str]) -> list[Problem]:
    problems = []
    root = bpmn_file.tree.getroot()
    lanes = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        role = role_for_lane(lane.get("name"), roles)
        if role is None:
            problems.append(Problem(bpmn_file.name, lane.sourceline, lane.get("id") or "",
                                    f"泳道“{lane.get('name')}”没有对应的角色" if lane.get("name") else
                                    "泳道没有名称，对应不到角色：请用角色名给泳道命名（如“信访室工作人员”）"))
        for ref in lane.iterfind("bpmn:flowNodeRef", NSMAP):
            lanes[(ref.text or "").strip()] = role
    for task in root.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
        task_id = task.get("id") or ""
        groups = task.get(f"{{{CAMUNDA_NS}}}candidateGroups")
        if groups and "${" not in groups:
            for group in filter(None, (g.strip() for g in groups.split(","))):
                if group not in roles:
                    problems.append(Problem(bpmn_file.name, task.sourceline, task_id, f"候选角色“{group}”不存在"))
        routed = groups or task.get(f"{{{CAMUNDA_NS}}}candidateUsers") or task.get(f"{{{CAMUNDA_NS}}}assignee")
        if not routed and not lanes.get(task_id):
            kind = "手工任务" if task.tag == f"{{{BPMN_NS}}}manualTask" else "用户任务"
            problems.append(Problem(bpmn_file.name, task.sourceline, task_id,
                                    f"{kind}没有指定泳道、候选角色、候选人或办理人，无人能办理"))
    return problems


def _literal_user_problems(bpmn_file: BpmnFile, users: set[str] | None) -> list[Problem]:
    """A named person who is no user would leave the task to nobody (Camunda would wait for them forever)."""
    if users is None:
        return []
    problems = []
    for task in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
        for attribute in ("assignee", "candidateUsers"):
            value = task.get(f"{{{CAMUNDA_NS}}}{attribute}") or ""
            if "${" in value or "#{" in value:
                continue
            for name in filter(None, (part.strip() for part in value.split(","))):
                if name not in users:
                    problems.append(Problem(bpmn_file.name, task.sourceline, task.get("id") or "",
                                            f"camunda:{attribute} 中的“{name}”不是系统中的在职用户"))
    return problems


def _limits_problems(bpmn_file: BpmnFile) -> list[Problem]:
    """Every `limits.name` an expression reads must be a property of its own process."""
    owner, declared = {}, {}
    for process in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}process"):
        path = "bpmn:extensionElements/camunda:properties/camunda:property"
        declared[process.get("id")] = {p.get("name") for p in process.iterfind(path, NSMAP)}
        owner.update((node.get("id"), process.get("id")) for node in process.iter() if node.get("id"))
    problems = []
    for expression in bpmn_file.expressions:
        process_id = owner.get(expression.element_id)
        try:
            tree = ast.parse(expression.python.strip() if expression.mode == "eval" else expression.python,
                             mode=expression.mode)
        except (SyntaxError, RecursionError, MemoryError):
            continue  # reported by _expression_problems
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "limits" and node.attr not in declared.get(process_id, set())):
                problems.append(Problem(bpmn_file.name, expression.line or 0, expression.element_id or "",
                                        f"流程 {process_id} 的属性中没有配置 {node.attr}（limits.{node.attr}）"))
    return problems


def _handler_problems(bpmn_file: BpmnFile, handlers: set[str]) -> list[Problem]:
    problems = []
    for task in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}serviceTask", f"{{{BPMN_NS}}}sendTask"):
        name = task.get(f"{{{CAMUNDA_NS}}}topic")
        if not name:
            problems.append(Problem(bpmn_file.name, task.sourceline, task.get("id") or "",
                                    "服务任务需要指定处理函数（camunda:topic）"))
        elif name not in handlers:
            problems.append(Problem(bpmn_file.name, task.sourceline, task.get("id") or "", f"未注册的处理函数：{name}"))
    return problems


def _reserved_id_problems(bpmn_file: BpmnFile) -> list[Problem]:
    """SpiffWorkflow names each process's own start task "Start" (and its end join "<process>.EndJoin"): an
    element with such an id replaces it, and the case cannot even start."""
    problems = []
    for process in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}process"):
        reserved = {"Start", f"{process.get('id')}.EndJoin"}
        for node in process.iter():
            if isinstance(node.tag, str) and node.get("id") in reserved:
                problems.append(Problem(bpmn_file.name, node.sourceline, node.get("id"),
                                        f"元素 id“{node.get('id')}”被流程引擎保留，请改名（如 StartEvent_1）"))
    return problems


def _timer_start_problems(bpmn_file: BpmnFile) -> list[Problem]:
    """A case created on a schedule waits at its timer start event alone (engine/runtime/timer_starts.py):
    beside another start event of the process it would also take that one's path at once."""
    problems = []
    for process in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}process"):
        starts = process.findall(f"{{{BPMN_NS}}}startEvent")
        for start in starts:
            if len(starts) > 1 and start.find(f"{{{BPMN_NS}}}timerEventDefinition") is not None:
                problems.append(Problem(bpmn_file.name, start.sourceline, start.get("id") or "",
                                        "定时启动事件须是流程唯一的开始事件：按时创建的案件只从它开始"))
    return problems


def _duplicate_process_problems(parsed: dict[str, BpmnFile]) -> list[Problem]:
    owner: dict[str, str] = {}
    problems = []
    for bpmn_file in parsed.values():
        for process in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}process"):
            process_id = process.get("id") or ""
            if process_id in owner:
                problems.append(Problem(bpmn_file.name, process.sourceline, process_id,
                                        f"流程 id“{process_id}”已在文件 {owner[process_id]} 中定义"))
            owner.setdefault(process_id, bpmn_file.name)
    return problems


def _call_activity_problems(parsed: dict[str, BpmnFile]) -> list[Problem]:
    known = {pid for bpmn_file in parsed.values() for pid in bpmn_file.process_ids()}
    problems = []
    for bpmn_file in parsed.values():
        for call in bpmn_file.tree.getroot().iter(f"{{{BPMN_NS}}}callActivity"):
            called = call.get("calledElement")
            if not called or called not in known:
                problems.append(Problem(bpmn_file.name, call.sourceline, call.get("id") or "",
                                        f"调用的流程“{called or ''}”不存在（需要一起部署）"))
    return problems


def _spec_problems(parsed: dict[str, BpmnFile]) -> tuple[list[Problem], dict[str, tuple[str, XinfangUserTask]]]:
    """SpiffWorkflow's own parser, file by file and process by process, so each failure is reported and the
    rest still checked; its messages translated (engine/bpmn/library_messages.py). Also returns the user
    tasks it read, with their files, for the form checks."""
    problems: list[Problem] = []
    tasks: dict[str, tuple[str, XinfangUserTask]] = {}  # user tasks by BPMN id, with their file

    def failed(exc: Exception, file_name: str, process_id: str = "") -> Problem:
        """Named by the element SpiffWorkflow names, else by the process it was reading."""
        file_name = getattr(exc, "file_name", "") or file_name
        element_id = getattr(exc, "id", "") or process_id
        lines = parsed[file_name].lines if file_name in parsed else {}
        text = str(exc.args[0]) if exc.args else ""
        return Problem(file_name, lines.get(element_id) or getattr(exc, "line_number", 0) or 1, element_id,
                       spiff_message(text, getattr(exc, "tag", None)))

    parser = XinfangParser()
    for bpmn_file in parsed.values():
        try:
            if isinstance(bpmn_file, DmnFile):
                for document in bpmn_file.decision_documents():
                    parser.add_dmn_xml(document, bpmn_file.name)
            else:
                parser.add_bpmn_xml(bpmn_file.tree, bpmn_file.name)
        except Exception as exc:  # SpiffWorkflow's ValidationException and whatever its parsers raise
            problems.append(failed(exc, bpmn_file.name))
    for bpmn_file in parsed.values():
        for process_id in bpmn_file.process_ids(executable_only=True):
            try:
                for spec in [parser.get_spec(process_id), *parser.get_subprocess_specs(process_id).values()]:
                    tasks |= {task.bpmn_id: (getattr(spec, "file", None) or "", task)
                              for task in spec.task_specs.values() if isinstance(task, XinfangUserTask)}
            except Exception as exc:  # as above
                problems.append(failed(exc, bpmn_file.name, process_id))
    return problems, tasks


def _form_problems(parsed: dict[str, BpmnFile], tasks: dict[str, tuple[str, XinfangUserTask]]) -> list[Problem]:
    """Each form on its own, its date bounds against every deployed field, and keys shared between tasks."""
    deployed = {field.id: field for _, task in tasks.values() for field in task.xinfang_form.fields}

    def problem(task_id: str, message: str) -> Problem:
        return _task_problem(parsed, tasks, task_id, message)

    found = [problem(task_id, message) for task_id, (_, task) in tasks.items()
             for message in form_problems(task.xinfang_form, deployed)]
    forms = {task_id: task.xinfang_form for task_id, (_, task) in tasks.items()}
    return found + [problem(task_id, message) for task_id, message in shared_key_problems(forms)]


def _case_field_problems(parsed: dict[str, BpmnFile], tasks: dict[str, tuple[str, XinfangUserTask]],
                         handlers: set[str]) -> list[Problem]:
    """Decision context, decision fields and submit-time bounds name case fields that exist."""
    written = case_fields.service_writes(f.tree for f in parsed.values())
    written |= {name for f in parsed.values() for e in f.expressions if e.kind == "script"
                for name in case_fields.script_targets(e.python)}
    deployed = [case_fields.DeployedTask(task_id, case_fields.user_task_properties(task), task.xinfang_form.fields)
                for task_id, (_, task) in tasks.items()]
    return [_task_problem(parsed, tasks, task_id, message)
            for task_id, message in case_fields.problems(deployed, written, handlers)]


def _task_problem(parsed: dict[str, BpmnFile], tasks: dict[str, tuple[str, XinfangUserTask]], task_id: str,
                  message: str) -> Problem:
    file_name = tasks[task_id][0]
    return Problem(file_name, parsed[file_name].lines.get(task_id, 0) if file_name in parsed else 0, task_id,
                   message)
