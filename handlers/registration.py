"""Registering an item (登记编号) into the petitions registry, and keeping the registry row up to date."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.runtime.handlers_registry import HandlerContext, register
from engine.store.models import Petition, PetitionAccused, RegistrationCounter
from handlers.common import accused_entries, as_date, flag, local_date, normalise, petition_of, text

_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# Registry fields a later step may set or correct (classification, sign-off, handling).
UPDATABLE = ("category", "route", "handling_department", "handling_method", "disposal", "truthfulness")
STATUS_LENGTH = 20


def next_number(session: Session, year: int) -> int:
    """The year's next sequence number. One upsert both creates the year's row and increments it: the row
    stays locked until the command commits, so concurrent registrations queue on it, and a rolled-back
    command gives its number back (no gaps, no duplicates)."""
    dialect = session.get_bind().dialect.name
    if dialect not in _UPSERTS:
        raise ValueError(f"登记编号计数不支持该数据库：{dialect}")
    statement = (
        _UPSERTS[dialect](RegistrationCounter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(index_elements=[RegistrationCounter.year],
                               set_={"last_number": RegistrationCounter.last_number + 1})
        .returning(RegistrationCounter.last_number)
    )
    return session.execute(statement).scalar_one()


def _accused_row(petition_id: int, position: int, entry: Mapping) -> PetitionAccused:
    name, unit = text(entry.get("name")), text(entry.get("unit"))
    return PetitionAccused(
        petition_id=petition_id, position=position, name=name, unit=unit, position_title=text(entry.get("position")),
        rank=text(entry.get("rank")), region=text(entry.get("region")),
        party_member=flag(entry.get("party_member")), supervised_person=flag(entry.get("supervised_person")),
        normalized_name=normalise(name) or None, normalized_unit=normalise(unit) or None,
    )


@register("petition.register")
def register_petition(context: HandlerContext) -> dict:
    """Numbers the item XF-{year}-{seq:06d} (Shanghai year of registration) and writes its registry row.
    Running it again for the same case returns the number it already has."""
    session, data = context.session, context.data
    existing = session.scalars(sa.select(Petition).where(Petition.case_id == context.case_id)).one_or_none()
    if existing is not None:
        return {"registration_number": existing.registration_number,
                "registered_at": existing.registered_at.isoformat()}
    accused = accused_entries(data.get("accused"))  # refuse malformed input before taking a number
    year = local_date(context.now).year
    petition = Petition(
        case_id=context.case_id,
        registration_number=f"XF-{year}-{next_number(session, year):06d}",
        year=year,
        received_on=as_date(data.get("received_on"), "received_on") or local_date(context.now),
        registered_at=context.now,
        channel=text(data.get("channel")),
        source=text(data.get("source")),
        urgency=text(data.get("urgency")),
        summary=text(data.get("summary")),
        problem_type=text(data.get("problem_type")),
        category=text(data.get("category")),
        route=text(data.get("route")),
        status="registered",
        sealed=bool(flag(data.get("sealed"))),
        real_name=bool(flag(data.get("real_name"))),
    )
    session.add(petition)
    session.flush()
    session.add_all(_accused_row(petition.id, position, entry) for position, entry in enumerate(accused, start=1))
    session.flush()  # constraint errors surface here, as this handler's incident
    return {"registration_number": petition.registration_number, "registered_at": context.now.isoformat()}


@register("petition.update")
def update_petition(context: HandlerContext) -> None:
    """Copies the classification and handling fields present in the case data into the registry row;
    property `status` (optional) sets the registry status."""
    petition = petition_of(context.session, context.case_id)
    for key in UPDATABLE:
        if key in context.data:
            setattr(petition, key, text(context.data[key]))
    if "sealed" in context.data:
        petition.sealed = bool(flag(context.data["sealed"]))
    status = text(context.properties.get("status"))
    if status is not None:
        if len(status) > STATUS_LENGTH:
            raise ValueError(f"服务任务属性 status 过长（至多 {STATUS_LENGTH} 个字符）：{status!r}")
        petition.status = status
    context.session.flush()  # constraint errors surface here, as this handler's incident
