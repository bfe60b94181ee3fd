"""Who may see which case, and whose eyes may see the reporter (DOMAIN: confidentiality and roles).

The scope is a SQL clause, so every listing, search and single-case read applies the same rule in the
database: a row outside it is never loaded, let alone shown.
- Sealed items: only the principal leader and the petition-office head.
- Office-wide readers (petition office, commission leaders, auditors): every other item.
- Everyone else: items handled by their department, items with a task offered to them, items they
  created or acted on.
Reporter identity: the petition office, and the handling department's handlers of that item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.org.organisation import Actor
from engine.store.models import Case, Event, Petition, WorkItem, WorkItemCandidate

PETITION_OFFICE = frozenset({"petition_staff", "petition_head"})
SEALED_READERS = frozenset({"principal_leader", "petition_head"})
OFFICE_WIDE = PETITION_OFFICE | {"leader_in_charge", "principal_leader", "auditor"}
HANDLERS = frozenset({"handling_staff", "handling_leader"})
MASK = "（已屏蔽）"


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


def case_scope(actor: Actor):
    """WHERE clause over `cases` outer-joined with `petitions` (see `scoped_cases`)."""
    if actor.roles & SEALED_READERS:
        return sa.true()
    not_sealed = sa.func.coalesce(Petition.sealed, False).is_(False)
    if actor.roles & OFFICE_WIDE:
        return not_sealed
    involved = [
        Case.created_by == actor.name,
        _offered_to(actor),
        sa.exists().where(Event.actor == actor.name, Event.case_id == Case.id),
    ]
    if actor.department:
        involved.append(Petition.handling_department == actor.department)
    return sa.and_(not_sealed, sa.or_(*involved))


def scoped_cases(actor: Actor) -> sa.Select:
    """`SELECT cases.id` limited to the actor's scope; add columns and filters as needed."""
    return sa.select(Case.id).outerjoin(Petition, Petition.case_id == Case.id).where(case_scope(actor))


def may_see_reporter(actor: Actor, handling_department: str | None) -> bool:
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
