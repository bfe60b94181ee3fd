"""Close and archive (办结归档): the registry row is archived and kept until its retention date."""

from __future__ import annotations

from datetime import date

from engine.runtime.handlers_registry import HandlerContext, register
from handlers.common import int_property, local_date, petition_of


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February when the target year has none (a
    period in years ends on the corresponding day, or the month's last day if there is none)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@register("petition.archive")
def archive_petition(context: HandlerContext) -> dict:
    """Status `archived`, archived now, retained `retention_years` (default 30) from the archive day."""
    years = int_property(context.properties, "retention_years", 30)
    petition = petition_of(context.session, context.case_id)
    petition.status = "archived"
    petition.archived_at = context.now
    petition.retention_until = add_years(local_date(context.now), years)
    context.session.flush()  # constraint errors surface here, as this handler's incident
    return {"archived_at": context.now.isoformat(), "retention_until": petition.retention_until.isoformat()}
