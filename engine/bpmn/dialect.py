"""The Camunda 7 dialect the engine understands, on top of SpiffWorkflow's CamundaParser.

SpiffWorkflow ignores candidate groups/users, assignee, due and follow-up dates and priority, and has no
dispatch for service tasks that is safe to use; we read those here and keep them on the task spec. A manual
task is a work item routed like a user task (without a form); a plain `bpmn:task` passes straight on, as in
Camunda, instead of waiting for someone nobody names.
Specs are parsed from the stored XML per deployment and never serialised, so extra attributes are safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.specs.defaults import ManualTask, NoneTask, ServiceTask, StartEvent
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.specs.user_task import UserTask

from engine.bpmn import io_mapping
from engine.bpmn.decision_task import DecisionTask, DecisionTaskParser
from engine.bpmn.forms import Form, form_from_spiff
from engine.bpmn.io_mapping import MAPPABLE, IoMapped, with_io_mapping
from engine.bpmn.safe_xml import CAMUNDA_NS


@dataclass(frozen=True)
class UserTaskRouting:
    """Who may work on a user task and by when, as written in the diagram (text may hold ${...})."""

    candidate_groups: str | None = None
    candidate_users: str | None = None
    assignee: str | None = None
    due_date: str | None = None
    follow_up_date: str | None = None
    priority: str | None = None
    department: str | None = None  # camunda:property "department"
    properties: dict[str, str] = field(default_factory=dict)


class XinfangUserTask(UserTask):
    routing: UserTaskRouting
    xinfang_form: Form


class XinfangManualTask(ManualTask):
    routing: UserTaskRouting
    xinfang_form: Form = Form()


class PassThroughTask(NoneTask):
    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class HandlerServiceTask(ServiceTask):
    """A service task that calls a registered handler function (`camunda:topic`)."""

    def __init__(self, wf_spec, bpmn_id, handler: str, properties: dict[str, str] | None = None, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.handler = handler
        self.properties = properties or {}

    def _run_hook(self, task):
        task.workflow.top_workflow.script_engine.run_handler(task, self.handler)
        return True


def _camunda(node, name: str) -> str | None:
    value = node.get(f"{{{CAMUNDA_NS}}}{name}")
    return value.strip() if value and value.strip() else None


def _routing(node, properties: dict[str, str]) -> UserTaskRouting:
    return UserTaskRouting(
        candidate_groups=_camunda(node, "candidateGroups"),
        candidate_users=_camunda(node, "candidateUsers"),
        assignee=_camunda(node, "assignee"),
        due_date=_camunda(node, "dueDate"),
        follow_up_date=_camunda(node, "followUpDate"),
        priority=_camunda(node, "priority"),
        department=properties.get("department"),
        properties=properties,
    )


class _UserTaskParser(UserTaskParser):
    def create_task(self):
        task = super().create_task()
        task.routing = _routing(self.node, self.parse_extensions())
        task.xinfang_form = form_from_spiff(task.form)
        return task


class _ManualTaskParser(CamundaTaskParser):
    def create_task(self):
        task = super().create_task()
        task.routing = _routing(self.node, self.parse_extensions())
        return task


class _ServiceTaskParser(CamundaTaskParser):
    def create_task(self):
        properties = self.parse_extensions()
        handler = _camunda(self.node, "topic") or properties.get("handler")
        if not handler:
            self.raise_validation_exception("服务任务需要指定处理函数（camunda:topic）")
        return self.spec_class(self.spec, self.bpmn_id, handler=handler, properties=properties,
                               **self.bpmn_attributes)


class _ProcessParser(ProcessParser):
    """Keeps the process's own camunda:properties (its configured limits: deadlines, counts) and each
    activity's Camunda variable mapping."""

    def parse_node(self, node):
        connected = super().parse_node(node)  # with boundary events: their split, not the activity
        spec = self.spec.task_specs.get(node.get("id"), connected)
        mapping = io_mapping.read(node) if etree.QName(node).localname in MAPPABLE else None
        if mapping is not None and not isinstance(spec, IoMapped):
            # Only mapped activities change class, so every other spec stays exactly SpiffWorkflow's (or
            # ours) for its serializer and diff; the subclass adds hooks and no state.
            spec.__class__ = with_io_mapping(type(spec))
            spec.io_mapping = mapping
        return connected

    def create_spec(self):
        spec = super().create_spec()
        spec.properties = {
            node.get("name"): node.get("value") or ""
            for node in self.xpath("./bpmn:extensionElements/camunda:properties/camunda:property")
            if node.get("name")
        }
        return spec


class _StartEventParser(CamundaStartEventParser):
    """Keeps `isInterrupting`, which SpiffWorkflow drops: an interrupting event subprocess cancels the
    rest of its process when it starts (engine/runtime/commands.py); and `camunda:initiator`, the
    variable Camunda sets to the user who started the case."""

    def create_task(self):
        task = super().create_task()
        task.interrupting = self.node.get("isInterrupting") != "false"
        task.initiator = _camunda(self.node, "initiator")
        return task


class XinfangParser(CamundaParser):
    PROCESS_PARSER_CLASS = _ProcessParser
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (_UserTaskParser, XinfangUserTask),
        full_tag("serviceTask"): (_ServiceTaskParser, HandlerServiceTask),
        full_tag("sendTask"): (_ServiceTaskParser, HandlerServiceTask),  # Camunda runs a send task as a service task
        full_tag("manualTask"): (_ManualTaskParser, XinfangManualTask),
        full_tag("task"): (CamundaTaskParser, PassThroughTask),
        full_tag("startEvent"): (_StartEventParser, StartEvent),
        full_tag("businessRuleTask"): (DecisionTaskParser, DecisionTask),
    }
