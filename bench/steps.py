"""`xinfang bench`: engine throughput and latency on SQLite and PostgreSQL, next to bare SpiffWorkflow.

Single client thread, so one core does the engine work. Numbers and the command that produced them are
recorded in docs/performance.md.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from bench.measure import DIAGRAM_HEAD, figures
from engine.api import Engine
from engine.org.organisation import Actor
from engine.store import schema
from engine.store.db import Database

_ACTOR = Actor("bench", "bench", None, frozenset({"petition_staff"}))


def _user_task(task_id: str, incoming: str, outgoing: str) -> str:
    return (f'<bpmn:userTask id="{task_id}" name="{task_id}" camunda:candidateGroups="petition_staff">'
            '<bpmn:extensionElements><camunda:formData><camunda:formField id="note" label="备注" type="string"/>'
            f'</camunda:formData></bpmn:extensionElements><bpmn:incoming>{incoming}</bpmn:incoming>'
            f'<bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:userTask>')


def linear_diagram(tasks: int = 10) -> str:
    """Start, `tasks` user tasks in a row, end."""
    body = ['<bpmn:process id="bench_linear" isExecutable="true">',
            '<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>']
    for index in range(tasks):
        body.append(_user_task(f"t{index}", f"f{index}", f"f{index + 1}"))
    body.append(f'<bpmn:endEvent id="end"><bpmn:incoming>f{tasks}</bpmn:incoming></bpmn:endEvent>')
    nodes = ["start", *[f"t{i}" for i in range(tasks)], "end"]
    body += [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
             for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))]
    return DIAGRAM_HEAD + "".join(body) + "</bpmn:process></bpmn:definitions>"


def loop_diagram(condition: str = "${done}") -> str:
    """One user task repeated until `done`: every round adds completed tasks to the case.
    Bare SpiffWorkflow needs the condition as plain Python."""
    return DIAGRAM_HEAD + (
        '<bpmn:process id="bench_loop" isExecutable="true">'
        '<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>'
        '<bpmn:exclusiveGateway id="merge"><bpmn:incoming>f0</bpmn:incoming><bpmn:incoming>again</bpmn:incoming>'
        '<bpmn:outgoing>f1</bpmn:outgoing></bpmn:exclusiveGateway>'
        + _user_task("step", "f1", "f2").replace('type="string"/>', 'type="string"/>'
                                                 '<camunda:formField id="done" label="完成" type="boolean"/>')
        + '<bpmn:exclusiveGateway id="check" default="again"><bpmn:incoming>f2</bpmn:incoming>'
        '<bpmn:outgoing>finish</bpmn:outgoing><bpmn:outgoing>again</bpmn:outgoing></bpmn:exclusiveGateway>'
        '<bpmn:endEvent id="end"><bpmn:incoming>finish</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="merge"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="merge" targetRef="step"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="step" targetRef="check"/>'
        '<bpmn:sequenceFlow id="finish" sourceRef="check" targetRef="end">'
        f'<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>'
        '<bpmn:sequenceFlow id="again" sourceRef="check" targetRef="merge"/>'
        '</bpmn:process></bpmn:definitions>'
    )


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def bare_spiff_linear(tasks: int, cases: int) -> dict[str, float]:
    """The same diagram in memory with SpiffWorkflow alone: complete a user task, run engine steps."""
    parser = CamundaParser()
    parser.add_bpmn_str(linear_diagram(tasks).encode(), "bench.bpmn")
    spec = parser.get_spec("bench_linear")
    samples = []
    for _ in range(cases):
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        while not workflow.is_completed():
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            samples.append(_timed(lambda t=task, w=workflow: (t.run(), w.do_engine_steps())))
    return figures(samples)


def bare_spiff_loop(points: tuple[int, ...] = (10, 300), repeats: int = 5) -> dict:
    """SpiffWorkflow alone on the loop diagram: a completion's cost as completed tasks pile up."""
    parser = CamundaParser()
    parser.add_bpmn_str(loop_diagram("done").encode(), "loop.bpmn")
    spec = parser.get_spec("bench_loop")
    samples: dict[str, list[float]] = {str(p): [] for p in points}
    for _ in range(repeats):
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()

        def step(w=workflow):
            task = w.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data["done"] = False
            task.run()
            w.do_engine_steps()

        for point in points:
            while len(workflow.get_tasks(state=TaskState.COMPLETED)) < point:
                step()
            samples[str(point)].append(_timed(step))
    summary = {point: figures(values) for point, values in samples.items()}
    summary[f"ratio_{points[-1]}_vs_{points[0]}"] = round(
        summary[str(points[-1])]["p50_ms"] / summary[str(points[0])]["p50_ms"], 2)
    return summary


def _engine_linear(engine: Engine, cases: int) -> dict:
    engine.deploy({"bench_linear.bpmn": linear_diagram(10)}, by="bench")
    samples, started = [], time.perf_counter()
    for _ in range(cases):
        case_id = engine.start_case("bench_linear", {}, _ACTOR)
        for index in range(10):
            task_id = engine.find_task(case_id, f"t{index}")
            samples.append(_timed(lambda t=task_id: engine.complete(t, _ACTOR, {"note": "ok"})))
    elapsed = time.perf_counter() - started
    return {**figures(samples), "completions_per_s": round(len(samples) / (sum(samples) / 1000), 1),
            "wall_s_incl_start_and_lookup": round(elapsed, 2)}


def _engine_loop(engine: Engine, cases: int, points: tuple[int, ...] = (10, 300)) -> dict:
    """Cost of one completion when the case already holds ~N completed tasks; warm = workflow kept in
    memory between commands, cold = loaded from the database."""
    engine.deploy({"bench_loop.bpmn": loop_diagram()}, by="bench")
    result: dict[str, dict[str, list[float]]] = {str(p): {"warm": [], "cold": []} for p in points}
    for _ in range(cases):
        case_id = engine.start_case("bench_loop", {}, _ACTOR)
        completed = 2  # start and merge gateway
        for point in points:
            while completed < point:
                engine.complete(engine.find_task(case_id, "step"), _ACTOR, {"done": False})
                completed += 2
            for mode in ("warm", "cold"):
                if mode == "cold":
                    engine.commands._live.clear()
                task_id = engine.find_task(case_id, "step")
                result[str(point)][mode].append(_timed(lambda t=task_id: engine.complete(t, _ACTOR, {"done": False})))
                completed += 2
    summary = {point: {mode: figures(samples) for mode, samples in modes.items()} for point, modes in result.items()}
    first, last = str(points[0]), str(points[-1])
    for mode in ("warm", "cold"):
        summary[f"ratio_{last}_vs_{first}_{mode}"] = round(
            summary[last][mode]["p50_ms"] / summary[first][mode]["p50_ms"], 2)
    return summary


def _backend(url: str, cases: int) -> dict:
    database = Database(url)
    schema.upgrade(database)
    engine = Engine(database)
    try:
        gc.collect()
        return {"linear_10_user_tasks": _engine_linear(engine, cases),
                "completion_cost_by_case_size": _engine_loop(engine, max(3, cases // 6))}
    finally:
        database.dispose()


def run_engine_benchmarks(backends: dict[str, Callable[[], str]], cases: int) -> dict:
    """Bare SpiffWorkflow and the engine on each backend, the same diagrams in the same run."""
    report: dict = {"bare_spiffworkflow_linear_10": bare_spiff_linear(10, cases),
                    "bare_spiffworkflow_completion_cost_by_case_size": bare_spiff_loop()}
    bare = report["bare_spiffworkflow_linear_10"]["p50_ms"]
    for name, fresh_url in backends.items():
        report[name] = _backend(fresh_url(), cases)
        linear = report[name]["linear_10_user_tasks"]
        linear["ratio_to_bare_spiffworkflow_p50"] = round(linear["p50_ms"] / bare, 2)
    return report
