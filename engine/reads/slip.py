"""The assignment slip (交办单, seed 003 附件1): what the printed slip carries, and whether it may be
printed at all — only once the leader approved the proposal, and never for a sealed item (the Rules,
Art. 15: no copies, no wider circle of readers). The route checks this, not only the page's button.

The slip names the deadline first assigned and, apart from it, every extension, read from the audit log:
each event's data delta says when the report deadline was set and moved, and by how many extension days.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.bpmn.deployments import LoadedSpec
from engine.errors import Conflict, Forbidden, NotFound
from engine.jsonutil import jsonable
from engine.reads.casepage import display_value, event_form
from engine.reads.views import accused_of, display_names, petition_row
from engine.store.models import Case, Department, Event, Petition
from engine.timing.calendar import SHANGHAI

PROPOSAL_TASK = ("signoff", "Task_propose")
SIGNOFF_TASK = ("signoff", "Task_leader_signoff")
APPROVED = "approve"  # the sign-off decision that makes the slip final
ISSUER_KIND = "petition"  # the department kind of the petition office, which issues the slip
DEFAULT_ISSUER = "信访室"
DEADLINE_KEY = "report_due"  # set by handling's 计算办理期限, moved by extension_request's 顺延办理期限
EXTENSION_USED_KEY = "extension_days_used"
NO_REGISTRY = "该案件没有登记信息，无法生成交办单"
SEALED = "密封件不得制作或打印交办单：不得复制、摘抄，不得扩大知情范围"
NOT_SIGNED_OFF = "交办单须经领导批办同意后方可打印；当前尚未批办同意"


def refusal(session: Session, case: Case) -> Forbidden | Conflict | NotFound | None:
    """Why the case's slip may not be printed now, or None when it may."""
    petition = _petition(session, case)
    if petition is None:
        return NotFound(NO_REGISTRY)
    if petition.sealed:
        return Forbidden(SEALED)
    if not _approved(_signoff(session, case.id, _latest_completion(session, case.id, PROPOSAL_TASK))):
        return Conflict(NOT_SIGNED_OFF)
    return None


def assignment_slip(session: Session, loaded: LoadedSpec, case: Case) -> dict[str, Any]:
    """What the printed slip carries: registry facts, accused, the proposal and the leader's instruction
    (with names and dates), the handling department, the deadline first assigned, each extension and the
    deadline now, the issuing office. Never the reporter: the slip travels on paper, and the department
    learns the reporter only on a need-to-know basis. Raises the refusal when it may not be printed."""
    refused = refusal(session, case)
    if refused is not None:
        raise refused
    petition = _petition(session, case)
    proposal = _latest_completion(session, case.id, PROPOSAL_TASK)
    signoff = _signoff(session, case.id, proposal)
    deadlines = _deadline_history(session, case.id)
    people = display_names(session, {proposal.actor, signoff.actor} | {move["by"] for move in deadlines["extensions"]})
    for move in deadlines["extensions"]:
        move["by"] = people.get(move["by"], move["by"])
    department = case.data.get("handling_department") or petition.handling_department
    return jsonable({
        "petition": petition_row(petition), "accused": accused_of(session, [petition.id])[petition.id],
        "proposal": _signed(proposal, people, loaded, ("handling_method", "proposed_handling", "slip_requirements")),
        "signoff": _signed(signoff, people, loaded, ("signoff_decision", "signoff_opinion")),
        "department": _department_name(session, department),
        "listed_supervision": bool(case.data.get("listed_supervision")),
        "first_deadline_day": deadlines["first"], "extensions": deadlines["extensions"],
        "deadline_day": last_day(case.data.get(DEADLINE_KEY)), "issuer": _issuer(session),
    })


def _petition(session: Session, case: Case) -> Petition | None:
    return session.scalars(sa.select(Petition).where(Petition.case_id == case.id)).first()


def _signoff(session: Session, case_id: int, proposal: Event | None) -> Event | None:
    """The sign-off of the proposal's last version: a proposal returned and redone needs a new one."""
    return _latest_completion(session, case_id, SIGNOFF_TASK, after=proposal) if proposal else None


def _approved(signoff: Event | None) -> bool:
    return signoff is not None and _submitted_value(signoff, "signoff_decision") == APPROVED


def _latest_completion(session: Session, case_id: int, task: tuple[str, str], after: Event | None = None
                       ) -> Event | None:
    query = sa.select(Event).where(Event.case_id == case_id, Event.kind == "complete",
                                   Event.process_id == task[0], Event.bpmn_id == task[1])
    if after is not None:
        query = query.where(Event.case_seq > after.case_seq)
    return session.scalars(query.order_by(Event.case_seq.desc()).limit(1)).first()


def _deadline_history(session: Session, case_id: int) -> dict[str, Any]:
    """The report deadline's first value, then every later move: an extension when the extension days
    used grew with it (how many, old and new last day, who decided it and when), else a deadline set anew."""
    first: str | None = None
    due: str | None = None
    used = 0
    moves: list[dict[str, Any]] = []
    rows = session.execute(sa.select(Event.actor, Event.at, Event.payload).where(Event.case_id == case_id)
                           .order_by(Event.case_seq))
    for actor, at, payload in rows:
        changed = (json.loads(payload).get("delta") or {}).get("changed") or {}
        new_used = changed.get(EXTENSION_USED_KEY, used)
        if changed.get(DEADLINE_KEY) and changed[DEADLINE_KEY] != due:
            if due is None:
                first = last_day(changed[DEADLINE_KEY])
            else:
                grown = new_used - used if isinstance(new_used, int) and new_used > used else None
                moves.append({"days": grown, "from": last_day(due), "to": last_day(changed[DEADLINE_KEY]),
                              "by": actor, "at": at})
            due = changed[DEADLINE_KEY]
        used = new_used if isinstance(new_used, int) else used
    return {"first": first, "extensions": moves}


def _signed(event: Event | None, people: dict[str, str], loaded: LoadedSpec, keys: tuple[str, ...]
            ) -> dict[str, Any] | None:
    """The named values of a completion (enum ids as their Chinese names), who submitted it and when."""
    if event is None:
        return None
    form = event_form(loaded, event)
    values = {key: display_value(form.field(key), _submitted_value(event, key)) for key in keys}
    return {**values, "by": people.get(event.actor, event.actor), "at": event.at}


def _department_name(session: Session, code: str | None) -> str | None:
    row = session.get(Department, code) if code else None
    return row.name if row else code


def last_day(deadline: str | None) -> str | None:
    """The Shanghai day a deadline ends: deadlines fall at 24:00, which the clock calls 00:00 of the next
    day, and a printed slip names the last day ("… 24 时前")."""
    if not deadline:
        return None
    return (datetime.fromisoformat(deadline).astimezone(SHANGHAI) - timedelta(microseconds=1)).date().isoformat()


def _submitted_value(event: Event, key: str) -> Any:
    return (json.loads(event.payload).get("data") or {}).get(key)


def _issuer(session: Session) -> str:
    name = session.scalar(sa.select(Department.name).where(Department.kind == ISSUER_KIND).order_by(Department.code)
                          .limit(1))
    return name or DEFAULT_ISSUER
