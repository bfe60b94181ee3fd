"""Who may see which case, and whose eyes may see the reporter (DOMAIN: confidentiality and roles).

The scope is a SQL clause, so every listing, count, search and single-case read applies the same rule in
the database: a row outside it is never loaded, let alone shown.
- Sealed items (rule Art. 15) by the reason they were sealed, which classification records as the
  item's category: an item for the higher level is read by the principal leader and the petition-office
  head; one accusing this organ's principal leader goes up without passing him, so only the head reads
  it, as any item sealed for another (or not yet recorded) reason.
- Office-wide readers (petition office, commission leaders, auditors): every other item.
- Everyone else: items handled by their department, and items with an open task assigned or offered to
  them now. Scope follows the current assignment, not history: a colleague who claimed and released a
  task, or a reviewer whose review is done, no longer reads the case; a handler who completed a task
  still does, through the department.
- Nobody reads an item that accuses them (`about_reader`), whatever their role, nor an item the
  petition-office head has approved their recusal from (`recused_from`, engine/runtime/recusal.py).
Reporter identity, and the attachments (the scanned letter names the reporter): the petition office,
and the handling department's handlers of that item.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.org.organisation import Actor
from engine.store.models import (
    Case,
    Department,
    Petition,
    PetitionAccused,
    RecusalRequest,
    WorkItem,
    WorkItemCandidate,
)

PETITION_OFFICE = frozenset({"petition_staff", "petition_head"})
OFFICE_WIDE = PETITION_OFFICE | {"leader_in_charge", "principal_leader", "auditor"}
# Who reads a sealed item, by the category that sealed it; any other sealed item: SEALED_ANY only.
SEALED_BY_REASON = {"higher_level": frozenset({"principal_leader"})}
SEALED_ANY = frozenset({"petition_head"})
HANDLERS = frozenset({"handling_staff", "handling_leader"})
MASK = "（已屏蔽）"
_NOTE = re.compile(r"[（(][^（）()]*[）)]\s*$")


def normalise(value: object) -> str:
    """Comparison form of a name or unit: NFKC (full-width → half-width), no whitespace at all, casefolded.
    The registry's `normalized_name` / `normalized_unit` columns hold this form."""
    if value is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()


def person_key(display_name: str) -> str:
    """A user's name as an accusation would give it: the display name without a trailing note in
    brackets ("王晓燕（信访室）" → "王晓燕"), in comparison form."""
    return normalise(_NOTE.sub("", display_name or ""))


def _offered_to(actor: Actor):
    # Correlated on the work item, so checking one case probes its few items' candidate rows; an
    # uncorrelated `id IN (candidates)` made SQLite list every item offered to the actor's roles first
    # (tens of thousands) on every case page.
    offered = sa.exists().where(WorkItemCandidate.work_item_id == WorkItem.id,
                                WorkItemCandidate.candidate.in_(actor.candidates))
    return sa.exists().where(
        WorkItem.case_id == Case.id,
        sa.or_(
            WorkItem.assignee == actor.name,
            offered,  # the candidate keys already carry the department (workitems.candidate_keys)
        ),
    )


def about_reader(actor: Actor):
    """The item names the reader among its accused: same name (comparison form), and a unit that is not
    another department of this organisation. Accusations give units loosely (the commission's full name,
    a former post, nothing), so any other unit still matches: a namesake losing sight of an item is
    corrected by the petition-office head, a missed match would show an accused his accuser."""
    key = person_key(actor.display_name)
    if not key:
        return sa.false()
    accused = PetitionAccused
    elsewhere = sa.exists().where(Department.code != (actor.department or ""), Department.name != "",
                                  accused.unit.contains(Department.name))
    return sa.exists().where(accused.petition_id == Petition.id, accused.normalized_name == key,
                             sa.or_(accused.unit.is_(None), ~elsewhere))


def recused_from(actor: Actor):
    """The head approved a recusal request naming the reader on this item."""
    return sa.exists().where(RecusalRequest.case_id == Case.id, RecusalRequest.staff_name == actor.name,
                             RecusalRequest.status == "approved")


def _sealed_readable(actor: Actor):
    if actor.roles & SEALED_ANY:
        return sa.true()
    reasons = sorted(reason for reason, roles in SEALED_BY_REASON.items() if actor.roles & roles)
    return Petition.category.in_(reasons) if reasons else sa.false()


def case_scope(actor: Actor):
    """WHERE clause over `cases` outer-joined with `petitions` (see `scoped_cases`)."""
    sealed = sa.func.coalesce(Petition.sealed, False).is_(True)
    if actor.roles & OFFICE_WIDE:
        open_items = sa.true()
    else:
        involved = [_offered_to(actor)]
        if actor.department:
            involved.append(Petition.handling_department == actor.department)
        open_items = sa.or_(*involved)
    readable = sa.or_(sa.and_(~sealed, open_items), sa.and_(sealed, _sealed_readable(actor)))
    return sa.and_(readable, ~about_reader(actor), ~recused_from(actor))


def scoped_cases(actor: Actor) -> sa.Select:
    """`SELECT cases.id` limited to the actor's scope; add columns and filters as needed."""
    return sa.select(Case.id).outerjoin(Petition, Petition.case_id == Case.id).where(case_scope(actor))


def may_see_reporter(actor: Actor, handling_department: str | None) -> bool:
    """For a case already in the actor's scope: may its reporter identity (fields and attachments) be shown."""
    if actor.roles & PETITION_OFFICE:
        return True
    return bool(actor.roles & HANDLERS) and handling_department is not None \
        and actor.department == handling_department


def mask(data: Mapping[str, Any], confidential: Iterable[str]) -> dict[str, Any]:
    """A copy of case data with every filled confidential field replaced by the mask."""
    masked = dict(data)
    for key in confidential:
        if masked.get(key) not in (None, ""):
            masked[key] = MASK
    return masked


def reveals(data: Mapping[str, Any], confidential: Iterable[str]) -> list[str]:
    """The confidential fields a reader would see filled in (what a `reporter viewed` event records)."""
    return [key for key in confidential if data.get(key) not in (None, "")]
