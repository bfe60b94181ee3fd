"""Text search shared by the registry search and the queues: a LIKE pattern of the words as typed, and
the items whose registration number, summary or accused (name or unit) contain them."""

from __future__ import annotations

import sqlalchemy as sa

from engine.store.models import Petition, PetitionAccused


def like_pattern(value: str) -> str:
    escaped = value.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column, value: str):
    return column.ilike(like_pattern(value), escape="\\")


def accused_match(value: str):
    """Petitions naming an accused whose name or unit contains `value`."""
    return Petition.id.in_(sa.select(PetitionAccused.petition_id).where(
        sa.or_(contains(PetitionAccused.name, value), contains(PetitionAccused.unit, value))))


def petition_text(value: str, scope: sa.Select) -> sa.Select:
    """The case ids, among `scope`'s, of items whose number, summary or accused contain `value`: an item
    out of the reader's scope is never matched, so a search reveals nothing of it."""
    return sa.select(Petition.case_id).where(
        Petition.case_id.in_(scope),
        sa.or_(contains(Petition.registration_number, value), contains(Petition.summary, value),
               accused_match(value)))
