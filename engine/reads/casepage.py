"""Read models of the case page: the timeline of the case's audit events, its current deadlines and the
linked duplicates (the assignment slip is engine/reads/slip.py).

Like engine/reads/views.py these read tables and the cached parsed deployment only. Reporter identity is
masked here, before anything reaches a template, for readers who may not see it; whoever shows a
timeline with revealed fields audits the view (see `Timeline.revealed`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.bpmn.attachment_purposes import PURPOSES
from engine.bpmn.deployments import LoadedSpec
from engine.bpmn.forms import Form, FormField
from engine.errors import NotFound, local_minutes
from engine.jsonutil import jsonable
from engine.org import access
from engine.org.organisation import Actor
from engine.reads.views import (
    OPINION_SUFFIXES,
    decision_of_event,
    display_names,
    form_of,
    petition_row,
    process_names,
    task_spec,
)
from engine.secrets.vault import Revealer
from engine.store.models import Case, Event, Petition, Timer, WorkItem

EVENT_LABELS = {
    "start": "启动案件", "complete": "办理", "claim": "领取任务", "unclaim": "退回待领取", "reassign": "转交任务",
    "timer_fired": "定时器触发", "deadline_moved": "调整期限", "incident": "流程异常", "retry": "异常重试",
    "skip": "跳过出错环节", "resolve": "异常人工关闭", "stale": "异常失效关闭", "run": "继续运行",
    "reporter viewed": "查看反映人信息", "attachment viewed": "下载附件", "attachment added": "上传附件",
    "comment": "评论", "migrate": "迁移流程版本", "query code shown": "显示网络举报查询码",
    "scheduled": "按时启动（等待启动时间）", "schedule_superseded": "新版本部署，原定启动取消",
}
# Reads the log records beside the work (reporter viewed, file downloaded): the case page can leave them out.
ACCESS_KINDS = frozenset({"reporter viewed", "attachment viewed"})
# Actors that are not users: the scheduler fires timers under this name (engine/runtime/commands.py SCHEDULER).
SYSTEM_ACTORS = {"scheduler": "系统定时器"}
VIEW_PLACES = {"case": "案件页", "task": "任务页"}


@dataclass(frozen=True)
class Timeline:
    entries: list[dict[str, Any]]
    revealed: tuple[str, ...]  # reporter fields shown unmasked: the caller audits the view


# ---- timeline ---------------------------------------------------------------------------------------

def case_timeline(session: Session, loaded: LoadedSpec, case_id: int, revealer: Revealer | None,
                  confidential: dict[str, str]) -> Timeline:
    """Every audit event of the case, newest first: who (display name), what (Chinese label and task
    name), when, and what a completion submitted (opinions apart), reporter fields masked unless a
    revealer (for those who may see the reporter) opens their vault markers."""
    events = list(session.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.case_seq)))
    payloads = [json.loads(event.payload) for event in events]
    people = _people(session, events, payloads)
    stages = process_names(session)
    masking = _Masking(confidential, revealer)
    entries = [_entry(loaded, event, payload, people, stages, masking)
               for event, payload in zip(events, payloads, strict=True)]
    # newest first, as staff read a file's history; the audit log itself keeps its order
    return Timeline(jsonable(_fold_views(entries)[::-1]), tuple(sorted(masking.revealed)))


def _fold_views(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One reader's consecutive views of the reporter become one entry with their count and the last
    time, or a much-read case would list a line per page load. The audit log keeps every one."""
    folded: list[dict[str, Any]] = []
    for entry in entries:
        last = folded[-1] if folded else None
        if (last is not None and entry["kind"] == last["kind"] == "reporter viewed"
                and entry["actor"] == last["actor"]):
            last["times"], last["until"] = last.get("times", 1) + 1, entry["at"]
        else:
            folded.append(entry)
    return folded


def _people(session: Session, events: list[Event], payloads: list[dict]) -> dict[str, str]:
    names = {event.actor for event in events}
    names |= {payload.get(key) for payload in payloads for key in ("assignee", "previous") if payload.get(key)}
    names |= {note.get(key) for payload in payloads for part in ("returned_to", "to_pool")
              for note in payload.get(part) or () for key in ("assignee", "person") if note.get(key)}
    return {**{name: name for name in names}, **display_names(session, names), **SYSTEM_ACTORS}


class _Masking:
    """Applies the reporter rule to submitted values and remembers which reporter fields it let through."""

    def __init__(self, confidential: dict[str, str], revealer: Revealer | None) -> None:
        self.confidential, self.revealer = confidential, revealer
        self.revealed: set[str] = set()

    def value(self, field_id: str, value: Any) -> Any:
        if field_id not in self.confidential:
            return value
        if self.revealer is None:
            return access.MASK
        self.revealed.add(field_id)
        return self.revealer.value(field_id, value)


def _entry(loaded: LoadedSpec, event: Event, payload: dict, people: dict[str, str], stages: dict[str, str],
           masking: _Masking) -> dict[str, Any]:
    entry = {"seq": event.case_seq, "at": event.at, "actor": event.actor, "actor_name": people[event.actor],
             "kind": event.kind, "label": EVENT_LABELS.get(event.kind, event.kind),
             "access": event.kind in ACCESS_KINDS,
             "stage": stages.get(event.process_id, event.process_id) if event.process_id else None,
             "task": _element_name(loaded, event) or _named(loaded, payload.get("task") or payload.get("timer")),
             "note": _note(loaded, event, payload, people), "opinions": [], "fields": [], "decisions": []}
    if event.kind == "complete":
        form = event_form(loaded, event)
        submitted = payload.get("data") or {}
        for field_id, value in submitted.items():
            _submitted(entry, form, field_id, value, masking)
        decision = decision_of_event(loaded, event, submitted)  # 同意 / 退回 / 不予延期 …, beside the task
        entry["decisions"] = [decision] if decision else []
    return entry


def _element_name(loaded: LoadedSpec, event: Event) -> str | None:
    if not event.bpmn_id:
        return None
    try:
        return task_spec(loaded, event.process_id, event.bpmn_id).bpmn_name or event.bpmn_id
    except NotFound:  # an element of a process the case's deployment no longer has (after a migration)
        return event.bpmn_id


def _named(loaded: LoadedSpec, element: str | None) -> str | None:
    """An element an event's payload names by its id (the task an attachment came with): its name."""
    for spec in (loaded.spec, *loaded.subprocess_specs.values()):
        task = spec.task_specs.get(element) if element else None
        if task is not None:
            return task.bpmn_name or element
    return element


def event_form(loaded: LoadedSpec, event: Event) -> Form:
    try:
        return form_of(loaded, event.process_id, event.bpmn_id)[0]
    except NotFound:
        return Form()


def _submitted(entry: dict, form: Form, field_id: str, value: Any, masking: _Masking) -> None:
    """File one submitted value under the entry's opinions (free text) or its other fields."""
    field = form.field(field_id)
    if value in (None, "", []):
        return
    label = field.label if field else field_id
    if isinstance(value, list):
        shown = "；".join(_record(form, field_id, item, masking) for item in value)
        entry["fields"].append({"label": label if field else _group_label(form, field_id), "value": shown})
        return
    shown = display_value(field, masking.value(field_id, value))
    is_opinion = field_id not in masking.confidential and isinstance(value, str) and (
        field_id.endswith(OPINION_SUFFIXES) or (field is not None and field.type == "text"))
    entry["opinions" if is_opinion else "fields"].append({"label": label, "value": shown})


def display_value(field: FormField | None, value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    if field is not None and field.options:
        return next((option.name for option in field.options if option.id == value), value)
    return value


def _record(form: Form, group: str, item: Any, masking: _Masking) -> str:
    """One repeating record in the form's field order; a checked box shows as its label ("中共党员")."""
    if not isinstance(item, dict):
        return str(item)
    parts = []
    for field in form.groups().get(group, ()):
        value = item.get(field.key)
        if value in (None, "", False):
            continue
        parts.append(field.label if value is True else display_value(field, masking.value(field.id, value)))
    return "，".join(str(part) for part in parts)


def _group_label(form: Form, group: str) -> str:
    fields = form.groups().get(group, ())
    # a group's fields are labelled "被反映人姓名", "被反映人单位"…; the repeated prefix names the group
    return fields[0].label.removesuffix("姓名") if fields else group


def _note(loaded: LoadedSpec, event: Event, payload: dict, people: dict[str, str]) -> str:
    """One line of what the event did beyond its label, for the kinds that carry more than a task."""
    kind = event.kind
    if kind == "reassign":
        moved = f"{people.get(payload.get('previous'), '未领取')} → {people.get(payload.get('assignee'), '')}"
        return moved + (f"；理由：{payload['reason']}" if payload.get("reason") else "")
    if kind == "unclaim":
        return f"原领取人：{people.get(payload.get('previous'), '')}"
    if kind == "deadline_moved":
        return f"{_instant(payload.get('from'))} → {_instant(payload.get('to'))}；理由：{payload.get('reason', '')}"
    if kind == "incident":
        return payload.get("message", "")
    if payload.get("returned_to") or payload.get("to_pool"):
        return _arrivals(payload, people)
    if kind in ("retry", "skip"):
        skipped = "、".join(payload.get("skipped") or ())
        return f"异常 #{payload.get('incident_id')}" + (f"，跳过：{skipped}" if skipped else "")
    if kind in ("resolve", "stale"):
        return f"异常 #{payload.get('incident_id')}：{payload.get('note') or payload.get('reason') or ''}"
    if kind == "attachment viewed":
        return f"附件 #{payload.get('attachment_id')}"
    if kind == "attachment added":
        purpose = PURPOSES.get(payload.get("purpose"))
        return f"附件 #{payload.get('attachment_id')}（{purpose.label if purpose else payload.get('purpose')}）"
    if kind == "comment":
        return payload.get("text", "")
    if kind == "reporter viewed":
        return f"在{VIEW_PLACES.get(str(payload.get('where', '')).split(':')[0], '页面')}查看"
    return ""


def _arrivals(payload: dict, people: dict[str, str]) -> str:
    """Where returning work went (engine/runtime/arrivals.py): to its earlier owner, or to the pool and why."""
    back = [f"“{n['task']}”交回原办理人 {people.get(n['assignee'], n['assignee'])}"
            for n in payload.get("returned_to", ())]
    pool = [f"“{n['task']}”未交回 {people.get(n['person'], n['person'])}（{n['why']}），转入待领取"
            for n in payload.get("to_pool", ())]
    return "；".join(back + pool)


def _instant(value: str | None) -> str:
    return local_minutes(datetime.fromisoformat(value)) if value else "无"


# ---- deadlines --------------------------------------------------------------------------------------

def case_deadlines(session: Session, case_id: int, now: datetime) -> list[dict[str, Any]]:
    """Open work items' due dates and waiting timers, soonest first, each marked overdue when past."""
    stages = process_names(session)
    found = [{"what": item.name, "kind": "办理期限", "stage": stages.get(item.process_id, item.process_id),
              "due_at": item.due_at}
             for item in session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id,
                                                                   WorkItem.due_at.is_not(None)))]
    found += [{"what": timer.name or timer.bpmn_id, "kind": "定时器", "stage": stages.get(timer.process_id,
                                                                                      timer.process_id),
               "due_at": timer.due_at}
              for timer in session.scalars(sa.select(Timer).where(Timer.case_id == case_id))]
    for row in found:
        row["overdue"] = row["due_at"] < now
    return jsonable(sorted(found, key=lambda row: row["due_at"]))


# ---- duplicates -------------------------------------------------------------------------------------

def linked_petitions(session: Session, actor: Actor, petition: Petition) -> dict[str, Any]:
    """The earlier item this one repeats, the later items that repeat it, and its repeat count. Items
    outside the reader's scope are named by number only, without a link or summary; a sealed one outside
    it is not named at all (an item sealed after it was linked)."""
    original = session.get(Petition, petition.duplicate_of_id) if petition.duplicate_of_id else None
    repeats = list(session.scalars(sa.select(Petition).where(Petition.duplicate_of_id == petition.id)
                                   .order_by(Petition.received_on, Petition.id)))
    linked = ([original] if original else []) + repeats
    visible = set(session.scalars(access.scoped_cases(actor).where(Case.id.in_([p.case_id for p in linked]))))
    if original is not None and original.sealed and original.case_id not in visible:
        original = None
    repeats = [other for other in repeats if not other.sealed or other.case_id in visible]

    def row(other: Petition) -> dict[str, Any]:
        shown = other.case_id in visible
        return {"registration_number": other.registration_number, "received_on": other.received_on.isoformat(),
                "case_id": other.case_id if shown else None,
                "summary": petition_row(other)["summary"] if shown else None}

    return {"original": row(original) if original else None, "repeats": [row(p) for p in repeats],
            "repeat_count": petition.repeat_count}
