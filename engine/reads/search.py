"""Searching the petition registry within the reader's scope. Reporter names are searched only for
those who may see reporters, and each such search is audited. They are found through the vault's blind
index: the whole name or its beginning (a surname), after normalisation; not any part of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.errors import Forbidden
from engine.org import access
from engine.org.organisation import Actor
from engine.reads import matching, views
from engine.secrets import vault
from engine.secrets.keys import Keyring
from engine.store.models import Case, Petition


@dataclass(frozen=True)
class SearchQuery:
    registration_number: str = ""
    accused: str = ""  # name or unit
    text: str = ""  # summary
    channel: str = ""
    category: str = ""
    status: str = ""
    received_from: date | None = None
    received_to: date | None = None
    reporter: str = ""  # only for readers of reporter identity
    limit: int = 50
    offset: int = 0

    def is_empty(self) -> bool:
        return not any((self.registration_number, self.accused, self.text, self.channel, self.category, self.status,
                        self.received_from, self.received_to, self.reporter))


def may_search_reporters(actor: Actor) -> bool:
    return bool(actor.roles & access.PETITION_OFFICE)


def _number(session: Session, value: str):
    """A whole registration number is one index lookup; a part of one (a year, a sequence number) is
    looked for anywhere in the numbers, which reads them all."""
    whole = value.strip().upper()
    if session.scalar(sa.select(Petition.id).where(Petition.registration_number == whole)) is not None:
        return Petition.registration_number == whole
    return matching.contains(Petition.registration_number, value)


def _conditions(session: Session, keyring: Keyring, query: SearchQuery) -> list:
    found = []
    if query.registration_number.strip():
        found.append(_number(session, query.registration_number))
    if query.accused.strip():
        found.append(matching.accused_match(query.accused))
    if query.text.strip():
        found.append(matching.contains(Petition.summary, query.text))
    for column, value in ((Petition.channel, query.channel), (Petition.category, query.category),
                          (Petition.status, query.status)):
        if value:
            found.append(column == value)
    if query.received_from:
        found.append(Petition.received_on >= query.received_from)
    if query.received_to:
        found.append(Petition.received_on <= query.received_to)
    if query.reporter.strip():
        found.append(Case.id.in_(vault.cases_with_reporter(keyring, query.reporter)))
    return found


def search(session: Session, keyring: Keyring, actor: Actor, query: SearchQuery) -> dict[str, Any]:
    if query.reporter.strip() and not may_search_reporters(actor):
        raise Forbidden("您无权按反映人检索")
    statement = (
        sa.select(Petition).join(Case, Case.id == Petition.case_id)
        .where(access.case_scope(actor), *_conditions(session, keyring, query))
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(statement.subquery())) or 0
    rows = list(session.scalars(statement.order_by(Petition.received_on.desc(), Petition.id.desc())
                                .limit(query.limit).offset(query.offset)))
    accused = views.accused_of(session, [row.id for row in rows])
    return {"total": total, "rows": [{**views.petition_row(row), "accused": accused[row.id]} for row in rows]}
