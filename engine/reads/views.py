"""Read models for the staff pages: queue rows with their item's registry facts, a task with its form,
and a case as its reader may see it (scope checked, reporter masked or its viewing audited).

Everything here reads tables only, except the task form and instructions, which come from the cached
parsed deployment — never from a deserialised case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.bpmn.deployments import LoadedSpec, SpecCache, confidential_fields, option_names
from engine.bpmn.forms import Form
from engine.errors import NotFound
from engine.jsonutil import jsonable
from engine.org import access
from engine.org.organisation import Actor, display_names
from engine.reads import attachments, decisions, done, queues
from engine.secrets import vault
from engine.secrets.keys import Keyring
from engine.store.models import Case, Deployment, Event, Petition, PetitionAccused, WorkItem

OUT_OF_SCOPE = "案件不存在，或不在您的查阅范围内"
# Case data keys that carry an opinion, a report or a decision's reasons, shown as "earlier opinions" so
# that whoever reviews, signs or reads sees what they are judging.
OPINION_SUFFIXES = ("opinion", "_note", "instruction", "_reason", "_report", "proposed_handling", "_result",
                    "_record", "_summary", "_requirements")


@dataclass(frozen=True)
class CaseContext:
    """What a page shows of a case beside a task or on the case page."""

    case: dict[str, Any]
    petition: dict[str, Any] | None
    accused: list[dict[str, Any]]
    data: dict[str, Any]  # masked unless reporter_visible
    reporter_visible: bool
    confidential: dict[str, str]  # the reporter fields of this case's forms: id -> label
    opinions: list[dict[str, Any]]
    attachments: list[dict[str, Any]]  # those the reader may open (engine/reads/attachments.py)
    attachments_withheld: int  # how many others there are
    deadlines: list[dict[str, Any]]
    revealed: tuple[str, ...]  # reporter fields shown filled in: the caller audits the view


def process_names(session: Session) -> dict[str, str]:
    rows = session.execute(sa.select(Deployment.process_id, Deployment.name).order_by(Deployment.version))
    return {process_id: name or process_id for process_id, name in rows}


def task_stages(session: Session, specs: SpecCache) -> dict[str, str]:
    """The stages a queue's filter offers: the processes whose diagrams have user tasks (a stage without
    any never has an item in a queue), by name. Each process's newest deployment is read from the spec
    cache, so the cost stays with the number of processes, not of versions."""
    with_tasks = set()
    newest = sa.select(sa.func.max(Deployment.id)).group_by(Deployment.process_id)
    for deployment_id in session.scalars(newest):
        spec = specs.for_id(session, deployment_id).spec
        if any(task.manual for task in spec.task_specs.values()):
            with_tasks.add(spec.name)
    return {process_id: name for process_id, name in process_names(session).items() if process_id in with_tasks}


def task_spec(loaded: LoadedSpec, process_id: str, bpmn_id: str) -> Any:
    spec = loaded.spec if loaded.spec.name == process_id else loaded.subprocess_specs.get(process_id)
    task = spec.task_specs.get(bpmn_id) if spec is not None else None
    if task is None:
        raise NotFound(f"流程 {process_id} 中没有任务 {bpmn_id}")
    return task


def form_of(loaded: LoadedSpec, process_id: str, bpmn_id: str) -> tuple[Form, str]:
    """A user task's form and its instructions (the diagram's documentation)."""
    spec = task_spec(loaded, process_id, bpmn_id)
    return getattr(spec, "xinfang_form", Form()), (spec.documentation or "").strip()


def scoped_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case if the actor may see it; NotFound otherwise, so a guessed id reveals nothing."""
    visible = session.scalar(access.scoped_cases(actor).where(Case.id == case_id))
    if visible is None:
        raise NotFound(OUT_OF_SCOPE)
    return session.get(Case, case_id)


def petition_row(petition: Petition) -> dict[str, Any]:
    """The registry row of an item its reader has in scope (the scope keeps sealed items from others)."""
    row = {column.key: getattr(petition, column.key) for column in Petition.__table__.columns}
    for secret in ("query_code_hash", "query_code_selector"):
        row.pop(secret)
    return jsonable(row)


# What a queue row shows of its item: a few registry columns, read without loading whole rows.
LISTED = (Petition.id, Petition.case_id, Petition.registration_number, Petition.summary, Petition.sealed,
          Petition.handling_department, Petition.received_on, Petition.urgency)


def listed_petitions(session: Session, actor: Actor, case_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The LISTED columns of the cases' items by case id, for the cases in the actor's scope only: a task
    offered to someone the item accuses shows no item."""
    in_scope = access.scoped_cases(actor).where(Case.id.in_(case_ids))  # the page's cases only
    rows = session.execute(sa.select(*LISTED).where(Petition.case_id.in_(in_scope))).mappings()
    return {row["case_id"]: dict(row) for row in rows}


def accused_of(session: Session, petition_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {pid: [] for pid in petition_ids}
    if not petition_ids:
        return found
    accused = PetitionAccused
    rows = session.execute(
        sa.select(accused.petition_id, accused.name, accused.unit, accused.position_title, accused.rank, accused.region)
        .where(accused.petition_id.in_(petition_ids)).order_by(accused.petition_id, accused.position)
    )
    for row in rows:
        found[row.petition_id].append({"name": row.name, "unit": row.unit, "position": row.position_title,
                                       "rank": row.rank, "region": row.region})
    return found


def urgency(due_at: datetime | None, petition: dict[str, Any] | None, priority: int | None, now: datetime,
            due_soon_days: int = 3) -> dict[str, Any]:
    """What the urgency badges say of a task: overdue or due soon by its deadline, urgent by the item's
    registered urgency, and the diagram's priority if it gives one."""
    return {"overdue": due_at is not None and due_at < now,
            "due_soon": due_at is not None and now <= due_at < now + timedelta(days=due_soon_days),
            "urgent": bool(petition) and petition.get("urgency") == queues.URGENT, "priority": priority}


def queue_page(session: Session, actor: Actor, query: queues.QueueQuery, now: datetime,
               due_soon_days: int = 3, total: int | None = None) -> dict[str, Any]:
    items = queues.queue(session, actor, query, now)
    if total is None:
        total = queues.queue_total(session, actor, query, now)
    petitions = listed_petitions(session, actor, [item.case_id for item in items])
    accused = accused_of(session, [p["id"] for p in petitions.values()])
    names = process_names(session)
    people = display_names(session, {item.assignee for item in items if item.assignee})
    rows = []
    for item in items:
        petition = petitions.get(item.case_id)
        rows.append({
            "task_id": item.task_id, "case_id": item.case_id, "name": item.name,
            "stage": names.get(item.process_id, item.process_id), "department": item.department,
            "assignee": item.assignee, "assignee_name": people.get(item.assignee, item.assignee),
            "created_at": item.created_at, "due_at": item.due_at,
            **urgency(item.due_at, petition, item.priority, now, due_soon_days),
            "petition": petition,
            "accused": accused.get(petition["id"], []) if petition else [],
        })
    return {"rows": rows, "total": total}


def done_page(session: Session, actor: Actor, query: done.DoneQuery) -> dict[str, Any]:
    """A page of 已办 with each task's item as the queues show it."""
    tasks, total = done.done(session, actor, query)
    petitions = listed_petitions(session, actor, [task.case_id for task in tasks])
    accused = accused_of(session, [p["id"] for p in petitions.values()])
    names = process_names(session)
    rows = []
    for task in tasks:
        petition = petitions.get(task.case_id)
        rows.append({**done.as_row(task), "stage": names.get(task.process_id, task.process_id),
                     "petition": petition, "accused": accused.get(petition["id"], []) if petition else []})
    return {"rows": rows, "total": total}


def _opinions(session: Session, loaded: LoadedSpec, case_id: int, confidential: dict[str, str],
              revealer: vault.Revealer | None) -> list[dict[str, Any]]:
    """Earlier opinions, each with the decision its task recorded (同意 / 退回 …) and who gave it when; a
    free-text field the diagrams mark confidential (the petition office's record of its contact with the
    reporter) only for readers of the reporter (`revealer` given), who are audited for it: its value is
    a vault marker until revealed."""
    events = session.scalars(sa.select(Event).where(Event.case_id == case_id, Event.kind == "complete")
                             .order_by(Event.case_seq))
    people = {}
    found = []
    for event in events:
        payload = json.loads(event.payload)
        texts = {key: revealer.value(key, value) if key in confidential else value
                 for key, value in (payload.get("data") or {}).items()
                 if key.endswith(OPINION_SUFFIXES) and isinstance(value, str) and value.strip()
                 and (revealer is not None or key not in confidential)}
        decision = decision_of_event(loaded, event, payload.get("data") or {})
        if texts or decision:
            people.setdefault(event.actor, None)
            found.append({"task": payload.get("task") or event.bpmn_id, "actor": event.actor, "at": event.at,
                          "texts": texts, "decision": decision})
    labels = display_names(session, set(people))
    for opinion in found:
        opinion["actor_name"] = labels.get(opinion["actor"], opinion["actor"])
    return jsonable(found)


def decision_of_event(loaded: LoadedSpec, event: Event, submitted: dict[str, Any]) -> dict[str, str] | None:
    """What a completion event decided, by its task's declared decision field."""
    try:
        return decisions.decision_of(task_spec(loaded, event.process_id, event.bpmn_id), submitted)
    except NotFound:  # an element of a process the case's deployment no longer has (after a migration)
        return None


def _deadlines(session: Session, case_id: int) -> list[dict[str, Any]]:
    items = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.due_at.is_not(None))
                            .order_by(WorkItem.due_at))
    return jsonable([{"task": item.name, "due_at": item.due_at, "remind_at": item.remind_at,
                      "department": item.department, "assignee": item.assignee} for item in items])


def named_accused(loaded: LoadedSpec, accused: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The accused with their coded values (rank…) by the names the registration form gives them."""
    names = option_names(loaded)
    return [{key: names.get(f"accused.{key}", {}).get(value, value) if isinstance(value, str) else value
             for key, value in person.items()} for person in accused]


def case_context(session: Session, specs: SpecCache, keyring: Keyring, actor: Actor, case: Case) -> CaseContext:
    petition = session.scalars(sa.select(Petition).where(Petition.case_id == case.id)).first()
    loaded = specs.for_id(session, case.deployment_id)
    confidential = confidential_fields(loaded)
    handling_department = petition.handling_department if petition else case.data.get("handling_department")
    visible = access.may_see_reporter(actor, handling_department)
    # case data holds vault markers in the reporter fields: opened only for those who may see them
    revealer = vault.Revealer(session, keyring, case.id) if visible else None
    data = revealer.data(case.data, confidential) if revealer else access.mask(case.data, confidential)
    files, withheld = attachments.listed(session, case.id, visible)
    uploaders = display_names(session, {row["uploaded_by"] for row in files})
    for row in files:
        row["uploaded_by_name"] = uploaders.get(row["uploaded_by"], row["uploaded_by"])
    return CaseContext(
        case={"id": case.id, "process_id": case.process_id, "status": case.status, "created_by": case.created_by,
              "created_at": case.created_at.isoformat(), "updated_at": case.updated_at.isoformat(),
              "completed_at": case.completed_at.isoformat() if case.completed_at else None,
              "deployment_id": case.deployment_id},
        petition=petition_row(petition) if petition else None,
        accused=named_accused(loaded, accused_of(session, [petition.id])[petition.id]) if petition else [],
        data=data, reporter_visible=visible, confidential=confidential,
        opinions=_opinions(session, specs.for_id(session, case.deployment_id), case.id, confidential, revealer),
        attachments=files, attachments_withheld=withheld,
        deadlines=_deadlines(session, case.id),
        revealed=tuple(access.reveals(case.data, confidential)) if visible else (),
    )
