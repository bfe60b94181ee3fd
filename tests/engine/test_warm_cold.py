"""Warm or cold, a case runs the same (issue 14, defects 1 and 2).

Every diagram of the test suite is walked twice with the same generated data: once by one engine that
keeps the workflow in memory between commands (warm), once by a fresh engine — empty spec cache, nothing
kept — for every command, as after a restart, from the CLI or on a second worker (cold). After each
command both walks must show the same work items, data, timers, incidents, audit events and status, and
no command may raise anything but a refusal or an incident.
"""

from __future__ import annotations

import random
import secrets
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from common import ROOT
from lxml import etree

from engine import Actor, Conflict, Engine, FakeClock, FormErrors, IncidentRaised
from engine.bpmn.deployments import read_paths
from engine.bpmn.forms import Form, FormField
from engine.org.organisation import load_organisation
from engine.runtime.handlers_registry import HandlerRegistry, load_handler_modules, registry
from engine.store import schema
from engine.store.db import Database
from engine.store.models import Case, EventSubscription

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
RUNTIME_CORPUS = ROOT / "tests" / "engine" / "runtime_corpus"
# Corpus diagrams (one feature each) are deployed alone — but those the Modeler corpus expects refused at
# validate (mc_refuse_*); the other folders each as a whole, as their tests deploy them (call activities,
# decision tables and cross-task rules name files beside them).
CORPORA = [ROOT / "tests" / "engine" / "corpus_events", RUNTIME_CORPUS, ROOT / "tests" / "engine" / "modeler_corpus"]
FOLDERS = sorted({path.parent for path in (ROOT / "tests").glob("**/diagrams/*.bpmn")}) + [
    ROOT / "tests" / "engine" / "dmn", ROOT / "processes"]
MAX_COMMANDS = 16
START = "2026-03-02T09:00:00+08:00"


def _called(path: Path, folder: Path) -> list[Path]:
    """The corpus files defining the processes `path` calls, deployed beside it."""
    called = {node.get("calledElement") for node in etree.parse(str(path)).getroot().iter(f"{BPMN}callActivity")}
    return [other for other in sorted(folder.glob("*.bpmn")) if other != path and called & {
        process.get("id") for process in etree.parse(str(other)).getroot().iter(f"{BPMN}process")}]


def _startable(folder: Path) -> list[tuple[list[Path], str, dict[str, Any]]]:
    """Executable processes with a plain or a timer start event (deploying schedules the case; the walk
    lets its time come), and start data: each multi-instance collection a list of two names (what the
    case would be given at intake)."""
    found = []
    for path in sorted(folder.glob("*.bpmn")):
        if path.stem.startswith("mc_refuse_"):
            continue
        files = [path, *_called(path, folder)] if folder in CORPORA else [folder]
        for process in etree.parse(str(path)).getroot().iter(f"{BPMN}process"):
            starts = process.findall(f"{BPMN}startEvent")
            startable = [s for s in starts if all(not child.tag.endswith("EventDefinition")
                                                  or child.tag == f"{BPMN}timerEventDefinition" for child in s)]
            if process.get("isExecutable") != "true" or not startable:
                continue
            collections = {node.get(f"{CAMUNDA}collection", "").strip("${} ")
                           for node in process.iter(f"{BPMN}multiInstanceLoopCharacteristics")}
            found.append((files, process.get("id"), {name: ["wang", "li"] for name in collections if name}))
    return found


CASES = [case for folder in FOLDERS + CORPORA for case in _startable(folder)]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One migrated SQLite database with the demo organisation, copied for every walk."""
    path = tmp_path_factory.mktemp("warm_cold") / "template.db"
    database = Database(f"sqlite:///{path}")
    schema.upgrade(database)
    with database.write() as session:
        load_organisation(session, ROOT / "config" / "demo-organisation.toml")
    database.dispose()
    return path


def test_the_walk_covers_every_diagram_folder():
    assert {(files[0] if files[0].is_dir() else files[0].parent) for files, _, _ in CASES} == {*FOLDERS, *CORPORA}
    assert len(CASES) >= 40


# ---- generated data ----------------------------------------------------------------------------------

def _value(field: FormField, rng: random.Random, today: date) -> Any:
    if field.type == "boolean":
        return rng.choice(["true", "false"])
    if field.type == "enum":
        return rng.choice(field.options).id if field.options else None
    if field.type in ("long", "decimal"):
        low = int(field.min) if field.min is not None else 1
        high = int(field.max) if field.max is not None else low + 9
        return str(rng.randint(low, max(low, high)) if field.type == "long" else Decimal(low))
    if field.type == "date":
        return today.isoformat()
    if field.type == "datetime":
        return f"{today.isoformat()}T10:00"
    length = max(field.min_length or 0, 4)
    if field.max_length is not None:
        length = min(length, field.max_length)
    return ("走查测试" * length)[:length]


def generated(form: Form, rng: random.Random, today: date) -> dict[str, Any]:
    """Plausible answers to every field of a form, the same for the same seed."""
    data = {f.id: _value(f, rng, today) for f in form.single_fields() if not f.readonly}
    for group, fields in form.groups().items():
        data[group] = [{f.key: _value(f, rng, today) for f in fields if not f.readonly}]
    return {key: value for key, value in data.items() if value is not None}


def _handlers(files: list[Path]) -> HandlerRegistry:
    """The real handlers, and for the test diagrams' own handler names (registered by their tests) one
    that returns nothing."""
    load_handler_modules("handlers")
    handlers = HandlerRegistry()
    for name in registry.names():
        handlers.register(name)(registry.get(name))
    topics = {node.get(f"{CAMUNDA}topic") for text in read_paths(files).values()
              for tag in ("serviceTask", "sendTask") for node in etree.fromstring(text).iter(f"{BPMN}{tag}")}
    for name in sorted(topics - registry.names() - {None}):
        handlers.register(name)(lambda context: None)
    return handlers


# ---- one walk ----------------------------------------------------------------------------------------

@dataclass
class Walk:
    database: Database
    clock: FakeClock
    cold: bool
    handlers: HandlerRegistry
    current: Engine | None = None

    def engine(self) -> Engine:
        """The engine for the next command: the same one (warm), or a fresh one (cold)."""
        if self.cold or self.current is None:
            self.current = Engine(self.database, self.clock, handlers=self.handlers)
        return self.current


def _form_of(engine: Engine, case_id: int, item: dict[str, Any]) -> Form:
    with engine.db.read() as session:
        loaded = engine.specs.for_id(session, session.get(Case, case_id).deployment_id)
    specs = [loaded.spec, *loaded.subprocess_specs.values()]
    spec = next(s for s in specs if s.name == item["process_id"])
    return next(t.xinfang_form for t in spec.task_specs.values()
                if getattr(t, "bpmn_id", None) == item["bpmn_id"] and hasattr(t, "xinfang_form"))


def _worker(item: dict[str, Any], step: int) -> Actor:
    """Someone who may take the item and did not do the earlier steps (separation of duties)."""
    name = item["assignee"] or (item["candidate_users"] or [f"walker{step}"])[0]
    return Actor(name, name, item["department"], frozenset(item["candidate_groups"]))


def _snapshot(engine: Engine, case_id: int) -> dict[str, Any]:
    case = engine.case(case_id)
    return {
        "status": case["status"], "data": case["data"],
        "work_items": sorted((i["process_id"], i["bpmn_id"], i["ordinal"], tuple(i["candidate_groups"]),
                              i["assignee"], i["department"], i["due_at"]) for i in case["work_items"]),
        "timers": sorted((t["bpmn_id"], t["kind"], t["due_at"]) for t in case["timers"]),
        "incidents": [(i["bpmn_id"], i["error_type"], i["message"]) for i in case["incidents"]],
        "events": [(e["kind"], e["bpmn_id"], e["ordinal"]) for e in case["events"]],
    }


def _subscriptions(engine: Engine, case_id: int) -> list[tuple[str, str]]:
    with engine.db.read() as session:
        return sorted(set(session.execute(sa.select(EventSubscription.kind, EventSubscription.name)
                                          .where(EventSubscription.case_id == case_id)).all()))


def _command(walk: Walk, case_id: int, step: int) -> str | None:
    """Run the walk's next command; what it did, or None when the case waits for nothing we can give."""
    engine = walk.engine()
    items = sorted(engine.work_items(case_id), key=lambda i: (i["bpmn_id"], i["ordinal"]))
    waiting = _subscriptions(engine, case_id)
    timers = engine.case(case_id)["timers"]
    if waiting and (step % 3 == 0 or not items):  # first, and now and then, an event before the next task
        kind, name = waiting[0]
        if kind == "signal":
            engine.signal(name, {"walk_step": step}, Actor("walker"))
        else:
            engine.correlate(name, {}, {"walk_step": step}, Actor("walker"))
        return f"{kind} {name}"
    if items:
        item = items[0]
        rng = random.Random(f"{item['process_id']}:{item['bpmn_id']}:{item['ordinal']}")
        data = generated(_form_of(engine, case_id, item), rng, walk.clock.now().date())
        engine.complete(item["task_id"], _worker(item, step), data)
        return f"complete {item['bpmn_id']}"
    if timers:
        walk.clock.set(min(datetime.fromisoformat(t["due_at"]) for t in timers) + timedelta(seconds=1))
        engine.scheduler(owner="walk").drain()
        return "timers"
    return None


def _scheduled_case(engine: Engine, process_id: str) -> int | None:
    """The case deploying scheduled, when the process starts with a timer."""
    with engine.db.read() as session:
        return session.scalar(sa.select(Case.id).where(Case.process_id == process_id, Case.status == "scheduled"))


def _same_draws(monkeypatch) -> None:
    """Query codes and vault references are random by design: both walks draw the same ones."""
    rng = random.Random(0)
    monkeypatch.setattr(secrets, "choice", rng.choice)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))


def walk(template: Path, target: Path, files: list[Path], process_id: str, start_data: dict, cold: bool,
         monkeypatch) -> list:
    """Start the process and work it command by command; the state after each command."""
    _same_draws(monkeypatch)
    shutil.copy(template, target)
    database = Database(f"sqlite:///{target}")
    walk = Walk(database, FakeClock(START), cold, _handlers(files))
    walk.engine().deploy(read_paths(files), by="walk")
    trail = []
    case_id = _scheduled_case(walk.engine(), process_id)
    if case_id is None:
        try:
            case_id = walk.engine().start_case(process_id, start_data, Actor("walker", "walker", None, frozenset()))
        except IncidentRaised as incident:
            case_id = incident.case_id
    trail.append(("start", _snapshot(walk.engine(), case_id)))
    for step in range(MAX_COMMANDS):
        try:
            done = _command(walk, case_id, step)
        except (IncidentRaised, Conflict, FormErrors) as refused:  # the case is as it was: the walk ends
            trail.append((type(refused).__name__, _snapshot(walk.engine(), case_id)))
            break
        if done is None:
            break
        trail.append((done, _snapshot(walk.engine(), case_id)))
    database.dispose()
    return trail


@pytest.mark.parametrize(("files", "process_id", "start_data"), CASES,
                         ids=[f"{files[0].parent.name if files[0].is_file() else files[0].name}/{process_id}"
                              for files, process_id, _ in CASES])
def test_a_case_runs_the_same_kept_in_memory_and_loaded_cold(template, tmp_path, monkeypatch, files, process_id,
                                                             start_data):
    warm = walk(template, tmp_path / "warm.db", files, process_id, start_data, False, monkeypatch)
    cold = walk(template, tmp_path / "cold.db", files, process_id, start_data, True, monkeypatch)
    for (warm_step, warm_state), (cold_step, cold_state) in zip(warm, cold, strict=False):
        assert (cold_step, cold_state) == (warm_step, warm_state)
    assert len(cold) == len(warm)
    assert warm[-1][0] != "FormErrors", "the generated data should pass the form's checks"
