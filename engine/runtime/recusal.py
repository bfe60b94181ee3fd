"""Recusal (回避, 监察法 Art. 58): staff related to an item's accused or reporter, or with an interest in
it, must not handle it; the reporter or the accused may ask for it; the petition-office head decides.

- Declarations: each staff member lists their relations and interests (a person, a unit, or both).
- `conflict` is the one check behind claim, complete, reassignment and diagram-given assignment (and
  the reassign colleague list). It refuses a user whom the item accuses, whose recusal from the item
  was approved, or whose active declaration matches the item's accused or reporter; given the task,
  also one the diagram's separation of duties excludes from it (engine/runtime/arrivals.py; the
  queues hide such a task from them through `not_excluded`).
- Matching, on the comparison form (NFKC, no whitespace, casefolded, `access.normalise`):
  person names must be equal (Chinese names are two or three characters: a fuzzy score would tie
  strangers together); units match when equal, when one contains the other and the shorter has at least
  MIN_CONTAINED characters (an interest in 县财政局 covers 县财政局办公室), or when rapidfuzz's `ratio`
  reaches UNIT_SIMILARITY (青山镇人民政府 / 青山镇政府 scores 83). This fails closed: 城关镇人民政府 and
  城南镇人民政府 (86) also match, and the declarant withdraws or narrows an over-broad declaration.
- The reporter is compared inside the engine: the vault opens the reporter's name and unit for the
  comparison only, and the refusal is the same sentence whoever matched, so it never tells the blocked
  person that their relation is the reporter.
- Requests: filed on an item by a staff member about themselves, or recorded by the petition office for
  the reporter or the accused; decided by the petition-office head. Approval takes the item out of the
  person's scope (`access.recused_from`) and releases any task of the item they hold.
Every change is an audit event: recusal declared / withdrawn / requested / decided.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import EngineError, Forbidden, NotFound
from engine.org import access
from engine.org.organisation import Actor, display_names
from engine.runtime import assignment
from engine.secrets import vault
from engine.secrets.keys import Keyring
from engine.store.models import (
    Case,
    Petition,
    PetitionAccused,
    RecusalDeclaration,
    RecusalRequest,
    User,
    WorkItem,
    WorkItemExclusion,
)

KINDS = {"relative": "亲属", "interest": "利害关系", "former_colleague": "曾共事", "other": "其他"}
RAISERS = {"self": "本人", "reporter": "反映人", "accused": "被反映人"}
STATUSES = {"pending": "待决定", "approved": "已批准回避", "rejected": "未批准"}
DECIDERS = frozenset({"petition_head"})
ON_BEHALF = frozenset({"petition_staff", "petition_head"})  # record a request for the reporter or accused
UNIT_SIMILARITY = 80.0
MIN_CONTAINED = 4
REPORTER_UNIT = "reporter_unit"

ACCUSED_SELF = "被反映人应当回避，不能领取或办理反映其本人的件"
DECLARED = "您已申报与本件被反映人存在回避关系，不能办理"
APPROVED = "信访室主任已决定您对本件回避，不能办理"
SEPARATED = "按流程规定，该任务不能由办理过本件前一环节的人员（或其所在部门领导）办理"
OTHER = "{label} 对本件应当回避，不能转交或分派给其本人"


class RecusalInvalid(EngineError):
    """Bad input to a recusal form; `field` names the form field the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def unit_matches(declared: str | None, other: str | None) -> bool:
    a, b = access.normalise(declared), access.normalise(other)
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) >= MIN_CONTAINED and shorter in longer:
        return True
    return fuzz.ratio(a, b) >= UNIT_SIMILARITY


def _name_matches(declared: str | None, other: str | None) -> bool:
    a = access.normalise(declared)
    return bool(a) and a == access.normalise(other)


# ---- the check -----------------------------------------------------------------------------------------

def conflict(session: Session, keyring: Keyring, case_id: int, actor: Actor,
             item: WorkItem | None = None) -> str | None:
    """Why `actor` must not handle the case, or the task `item` of it (a Chinese sentence fit for them
    to read), or None."""
    if item is not None and session.get(WorkItemExclusion, (item.id, actor.name)) is not None:
        return SEPARATED
    accused = session.scalar(sa.select(Petition.id).where(Petition.case_id == case_id, access.about_reader(actor)))
    if accused is not None:
        return ACCUSED_SELF
    approved = session.scalar(sa.select(RecusalRequest.id).where(
        RecusalRequest.case_id == case_id, RecusalRequest.staff_name == actor.name,
        RecusalRequest.status == "approved").limit(1))
    if approved is not None:
        return APPROVED
    declared = list(session.scalars(sa.select(RecusalDeclaration).where(
        RecusalDeclaration.user_name == actor.name, RecusalDeclaration.withdrawn_at.is_(None))))
    if declared and _matches_parties(session, keyring, case_id, declared):
        return DECLARED
    return None


def conflict_for_other(session: Session, keyring: Keyring, case_id: int, other: Actor,
                       item: WorkItem | None = None) -> str | None:
    """The refusal shown to whoever hands the task to `other`: it names the person, never the relation."""
    return OTHER.format(label=other.label) if conflict(session, keyring, case_id, other, item) else None


def not_excluded(actor: Actor, work_item_id: Any) -> sa.ColumnElement[bool]:
    """For queues and counts: the item is not withheld from `actor` by separation of duties."""
    return ~sa.exists().where(WorkItemExclusion.work_item_id == work_item_id,
                              WorkItemExclusion.user_name == actor.name)


def _matches_parties(session: Session, keyring: Keyring, case_id: int,
                     declared: list[RecusalDeclaration]) -> bool:
    accused = session.execute(sa.select(PetitionAccused.name, PetitionAccused.unit)
                              .join(Petition, Petition.id == PetitionAccused.petition_id)
                              .where(Petition.case_id == case_id)).all()
    parties = [(name, unit) for name, unit in accused]
    data = session.scalar(sa.select(Case.data).where(Case.id == case_id)) or {}
    fields = (vault.SEARCHED_FIELD, REPORTER_UNIT)
    if any(data.get(field) for field in fields):
        # opened for the comparison only; the values never leave this function
        opened = vault.Revealer(session, keyring, case_id).data(data, fields)
        parties.append((opened.get(vault.SEARCHED_FIELD), opened.get(REPORTER_UNIT)))
    return any(_name_matches(d.person_name, name) or unit_matches(d.unit, unit)
               for d in declared for name, unit in parties)


# ---- declarations --------------------------------------------------------------------------------------

def declarations(session: Session, user_name: str) -> list[dict[str, Any]]:
    """The user's declarations, newest first, withdrawn ones included (the history stays)."""
    rows = session.scalars(sa.select(RecusalDeclaration).where(RecusalDeclaration.user_name == user_name)
                           .order_by(RecusalDeclaration.id.desc()))
    return [{"id": r.id, "kind": r.kind, "kind_label": KINDS.get(r.kind, r.kind), "person_name": r.person_name,
             "unit": r.unit, "note": r.note, "declared_at": r.declared_at, "withdrawn_at": r.withdrawn_at}
            for r in rows]


def declare(session: Session, actor: Actor, kind: str, person_name: str, unit: str, note: str,
            now: datetime) -> int:
    person_name, unit, note = person_name.strip(), unit.strip(), note.strip()
    if kind not in KINDS:
        raise RecusalInvalid("kind", "请选择关系类别")
    if not person_name and not unit:
        raise RecusalInvalid("person_name", "请填写相关人员姓名或单位（至少一项）")
    for field, value, limit in (("person_name", person_name, 100), ("unit", unit, 200), ("note", note, 500)):
        if len(value) > limit:
            raise RecusalInvalid(field, f"最多 {limit} 个字")
    row = RecusalDeclaration(user_name=actor.name, kind=kind, person_name=person_name or None, unit=unit or None,
                             note=note, declared_at=now)
    session.add(row)
    session.flush()
    audit.append(session, kind="recusal declared", actor=actor.name, at=now,
                 payload={"declaration": row.id, "kind": kind, "person_name": row.person_name, "unit": row.unit})
    return row.id


def withdraw(session: Session, actor: Actor, declaration_id: int, now: datetime) -> None:
    """Mark one of the actor's own active declarations withdrawn (kept, audited)."""
    row = session.get(RecusalDeclaration, declaration_id)
    if row is None or row.user_name != actor.name:
        raise NotFound("申报不存在")
    if row.withdrawn_at is not None:
        return
    row.withdrawn_at = now
    session.flush()
    audit.append(session, kind="recusal withdrawn", actor=actor.name, at=now, payload={"declaration": row.id})


# ---- requests ------------------------------------------------------------------------------------------

def file_request(session: Session, actor: Actor, case_id: int, staff_name: str, raised_by: str, reason: str,
                 now: datetime) -> int:
    """A recusal request on a case the caller already has in scope (the caller checks it)."""
    reason = reason.strip()
    if raised_by not in RAISERS:
        raise RecusalInvalid("raised_by", "请选择提出人")
    if raised_by == "self" and staff_name != actor.name:
        raise RecusalInvalid("staff_name", "以“本人”名义只能为自己申请回避")
    if raised_by != "self" and not actor.roles & ON_BEHALF:
        raise RecusalInvalid("raised_by", "只有信访室工作人员可以代反映人或被反映人提出回避申请")
    staff = session.get(User, staff_name) if staff_name else None
    if staff is None or not staff.active:
        raise RecusalInvalid("staff_name", "请选择应当回避的工作人员")
    if not reason:
        raise RecusalInvalid("reason", "请填写回避理由")
    if len(reason) > 2000:
        raise RecusalInvalid("reason", "回避理由最多 2000 个字")
    open_one = session.scalar(sa.select(RecusalRequest.id).where(
        RecusalRequest.case_id == case_id, RecusalRequest.staff_name == staff_name,
        RecusalRequest.status.in_(("pending", "approved"))).limit(1))
    if open_one is not None:
        raise RecusalInvalid("staff_name", "该工作人员对本件已有待决定或已批准的回避申请")
    row = RecusalRequest(case_id=case_id, staff_name=staff_name, raised_by=raised_by, reason=reason,
                         filed_by=actor.name, filed_at=now, status="pending")
    session.add(row)
    session.flush()
    # the reason stays in its row: recorded for the reporter it may say who the reporter is
    audit.append(session, kind="recusal requested", actor=actor.name, at=now, case_id=case_id,
                 deployment_id=_deployment(session, case_id),
                 payload={"request": row.id, "staff": staff_name, "raised_by": raised_by})
    return row.id


def pending_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).where(RecusalRequest.status == "pending")) or 0


def requests(session: Session, *, status: str | None = None, case_id: int | None = None) -> list[dict[str, Any]]:
    query = (sa.select(RecusalRequest, User.display_name, Petition.registration_number)
             .join(User, User.name == RecusalRequest.staff_name)
             .outerjoin(Petition, Petition.case_id == RecusalRequest.case_id).order_by(RecusalRequest.id))
    if status is not None:
        query = query.where(RecusalRequest.status == status)
    if case_id is not None:
        query = query.where(RecusalRequest.case_id == case_id)
    rows = session.execute(query).all()
    people = display_names(session, {name for r, _, _ in rows for name in (r.filed_by, r.decided_by)})
    return [{"id": r.id, "case_id": r.case_id, "registration_number": number, "staff_name": r.staff_name,
             "staff_label": label, "raised_by": r.raised_by, "raised_by_label": RAISERS[r.raised_by],
             "reason": r.reason, "filed_by": r.filed_by, "filed_by_name": people.get(r.filed_by, r.filed_by),
             "filed_at": r.filed_at, "status": r.status, "status_label": STATUSES[r.status],
             "decided_by": r.decided_by, "decided_by_name": people.get(r.decided_by, r.decided_by),
             "decided_at": r.decided_at, "decision_note": r.decision_note}
            for r, label, number in rows]


def decide(session: Session, head: Actor, request_id: int, approve: bool, note: str, now: datetime) -> None:
    """The head's decision. Approved: the person's claimed tasks of the item go back to the pool (each an
    `unclaim` event), and the scope and `conflict` keep them out from now on."""
    if not head.roles & DECIDERS:
        raise Forbidden("只有信访室主任可以决定回避申请")
    note = note.strip()
    if len(note) > 2000:
        raise RecusalInvalid("note", "决定意见最多 2000 个字")
    row = session.get(RecusalRequest, request_id, with_for_update=True)
    if row is None:
        raise NotFound("回避申请不存在")
    if row.status != "pending":
        raise RecusalInvalid("note", f"该申请已决定（{STATUSES[row.status]}）")
    row.status, row.decided_by, row.decided_at, row.decision_note = (
        "approved" if approve else "rejected", head.name, now, note)
    session.flush()
    audit.append(session, kind="recusal decided", actor=head.name, at=now, case_id=row.case_id,
                 deployment_id=_deployment(session, row.case_id),
                 payload={"request": row.id, "staff": row.staff_name, "decision": row.status})
    if approve:
        held = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == row.case_id,
                                                         WorkItem.assignee == row.staff_name))
        for item in list(held):
            assignment.release(session, item, head, now)


def _deployment(session: Session, case_id: int) -> int | None:
    return session.scalar(sa.select(Case.deployment_id).where(Case.id == case_id))
