"""A case drawn on its diagrams: which elements of each process are done, open, or waiting on a timer.

The live workflow knows what is open; it no longer knows much of what is done, because compaction
(engine/runtime/compaction.py) splices finished tasks out of chains and drops finished subprocesses. The audit
log is the history: each command's event names the elements it completed (`ran`, engine/runtime/history.py),
and the element an external input completed (user tasks, fired timers, skipped failures). So an element is
marked done from the command that completed it on, whatever its type. Events written before `ran` existed
leave gaps, which the diagram fills where it can: an element reached through its only incoming flow means
that flow's source was completed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from lxml import etree
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine.bpmn.deployments import SpecCache
from engine.bpmn.safe_xml import BPMN_NS, load
from engine.runtime.casestate import all_tasks, process_id_of, waiting_timers
from engine.runtime.serialization import CaseSerializer
from engine.store.models import Case, Deployment, Event

# Audit events whose task address names an element that then completed.
COMPLETING_EVENTS = ("complete", "timer_fired", "skip")
_OPEN = TaskState.READY | TaskState.STARTED
_NODE_TAGS = frozenset({"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
                        "businessRuleTask", "callActivity", "subProcess", "startEvent", "endEvent",
                        "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
                        "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"})


@dataclass
class ProcessGraph:
    """What the state computation needs of one process's XML."""

    name: str
    file: str
    nodes: dict[str, str] = field(default_factory=dict)  # flow node id -> BPMN tag
    sources: dict[str, list[str]] = field(default_factory=dict)  # node id -> sources of its incoming flows
    calls: dict[str, str] = field(default_factory=dict)  # call activity id -> called process id


@dataclass(frozen=True)
class ProcessState:
    completed: list[str]
    active: list[str]  # open user tasks, and call activities whose called process is running
    timers: list[str]  # timer events waiting to fire


@dataclass(frozen=True)
class CaseDiagram:
    root: str  # the case's process id: the diagram to show first
    xml: dict[str, str]  # process id -> XML text of the deployment file holding it
    processes: dict[str, ProcessGraph]
    states: dict[str, ProcessState]

    def as_dict(self) -> dict:
        """JSON for the viewer: per process its name, XML, drill-down targets and element states."""
        return {"root": self.root, "processes": {
            process_id: {"name": graph.name, "xml": self.xml[process_id], "calls": graph.calls,
                         **vars(self.states.get(process_id, ProcessState([], [], [])))}
            for process_id, graph in self.processes.items()}}


def parse_processes(files: dict[str, str]) -> dict[str, ProcessGraph]:
    """Every process in a deployment's files, by id."""
    found: dict[str, ProcessGraph] = {}
    for file_name, text in files.items():
        for process in load(text).getroot().iter(f"{{{BPMN_NS}}}process"):
            found[process.get("id")] = _graph(process, file_name)
    return found


def _graph(process: etree._Element, file_name: str) -> ProcessGraph:
    graph = ProcessGraph(process.get("name") or process.get("id"), file_name)
    for element in process:
        if not isinstance(element.tag, str):
            continue
        tag = etree.QName(element).localname
        if tag == "sequenceFlow":
            graph.sources.setdefault(element.get("targetRef"), []).append(element.get("sourceRef"))
        elif tag in _NODE_TAGS:
            graph.nodes[element.get("id")] = tag
            if tag == "callActivity" and element.get("calledElement"):
                graph.calls[element.get("id")] = element.get("calledElement")
    return graph


def case_diagram(session: Session, specs: SpecCache, serializer: CaseSerializer, case_id: int) -> CaseDiagram:
    """The case's diagrams (from its pinned deployment) with the state of every process it ran."""
    case = session.get(Case, case_id)
    deployment = session.get(Deployment, case.deployment_id)
    processes = parse_processes(deployment.files)
    loaded = specs.get(deployment)
    workflow = serializer.loads(case.state, loaded.spec, loaded.subprocess_specs)
    states = element_states(workflow, _recorded_completions(session, case_id), processes)
    xml = {process_id: deployment.files[graph.file] for process_id, graph in processes.items()}
    return CaseDiagram(case.process_id, xml, processes, states)


def _recorded_completions(session: Session, case_id: int) -> set[tuple[str, str]]:
    """Every element the case's events say completed: the one an input addressed, and what the command ran."""
    rows = session.execute(sa.select(Event.kind, Event.process_id, Event.bpmn_id, Event.payload)
                           .where(Event.case_id == case_id))
    found: set[tuple[str, str]] = set()
    for kind, process_id, bpmn_id, payload in rows:
        if kind in COMPLETING_EVENTS and bpmn_id is not None:
            found.add((process_id, bpmn_id))
        found.update((ran_in, element) for ran_in, element in json.loads(payload).get("ran", ()))
    return found


def element_states(workflow: BpmnWorkflow, recorded: Iterable[tuple[str, str]],
                   processes: dict[str, ProcessGraph]) -> dict[str, ProcessState]:
    """Per process id: completed, active and waiting-timer element ids (sorted, each process that ran); an
    element is in one of them only, open or waiting before done."""
    completed, active, timers = _live_states(workflow, processes)
    for process_id, bpmn_id in recorded:
        completed.setdefault(process_id, set()).add(bpmn_id)
    finished = {called for process_id, done in completed.items()
                for call_id, called in _calls(processes, process_id).items() if call_id in done}
    if workflow.is_completed():
        finished.add(workflow.spec.name)
    ran = set(completed) | set(active) | set(timers)
    for process_id in ran & set(processes):
        reached = completed.setdefault(process_id, set())
        _infer(processes[process_id], reached, active.get(process_id, set()) | timers.get(process_id, set()),
               process_id in finished)
    # one state per element: an element open again (a loop, a returned report) shows as open, not done
    return {process_id: ProcessState(
        sorted(completed.get(process_id, set()) - active.get(process_id, set()) - timers.get(process_id, set())),
        sorted(active.get(process_id, ())), sorted(timers.get(process_id, ())))
        for process_id in sorted(ran)}


def _live_states(workflow: BpmnWorkflow, processes: dict[str, ProcessGraph]) -> tuple[dict[str, set[str]], ...]:
    completed: dict[str, set[str]] = {}
    active: dict[str, set[str]] = {}
    for task in all_tasks(workflow):
        bpmn_id = task.task_spec.bpmn_id
        if bpmn_id is None:  # SpiffWorkflow's own bookkeeping tasks (Start, End, Root)
            continue
        process_id = process_id_of(task)
        if task.state == TaskState.COMPLETED:
            completed.setdefault(process_id, set()).add(bpmn_id)
        elif task.state & _OPEN and (task.task_spec.manual or bpmn_id in _calls(processes, process_id)):
            active.setdefault(process_id, set()).add(bpmn_id)
    timers: dict[str, set[str]] = {}
    for task in waiting_timers(workflow):
        timers.setdefault(process_id_of(task), set()).add(task.task_spec.bpmn_id)
    return completed, active, timers


def _calls(processes: dict[str, ProcessGraph], process_id: str) -> dict[str, str]:
    graph = processes.get(process_id)
    return graph.calls if graph else {}


def _infer(graph: ProcessGraph, completed: set[str], open_ids: set[str], finished: bool) -> None:
    """Add, in place, the elements the diagram proves completed. A node reached through its only incoming
    flow had that flow's source complete, and a completed parallel join had all of them complete; a
    process that ran had its (single) start event complete; a finished process with a single end event
    ended there."""
    starts = [node for node, tag in graph.nodes.items() if tag == "startEvent"]
    ends = [node for node, tag in graph.nodes.items() if tag == "endEvent"]
    if len(starts) == 1:
        completed.add(starts[0])
    if finished and len(ends) == 1:
        completed.add(ends[0])
    pending = list(completed | open_ids)
    while pending:
        node = pending.pop()
        sources = graph.sources.get(node, [])
        if len(sources) == 1 or (graph.nodes.get(node) == "parallelGateway" and node in completed):
            for source in set(sources) - completed:
                completed.add(source)
                pending.append(source)
