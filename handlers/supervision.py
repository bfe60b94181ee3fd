"""Supervision (督促催办): counting overdue items on the registry for the overdue statistics."""

from __future__ import annotations

from engine.runtime.handlers_registry import HandlerContext, register
from engine.store.models import Petition
from handlers.common import petition_of


@register("supervision.record_overdue")
def record_overdue(context: HandlerContext) -> None:
    petition = petition_of(context.session, context.case_id)
    petition.overdue_count = Petition.overdue_count + 1  # in SQL, so nothing else's count is overwritten
    petition.last_overdue_at = context.now
    context.session.flush()  # constraint errors surface here, as this handler's incident
