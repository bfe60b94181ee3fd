"""Repeat items (重复件): find earlier items about the same accused and matter, and link one to its original."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from engine.runtime.handlers_registry import HandlerContext, register
from engine.store.models import Petition, PetitionAccused
from handlers.common import accused_entries, as_date, flag, int_property, local_date, normalise, petition_of, text

MAX_CANDIDATES = 10
SUMMARY_EXCERPT = 100


def _comparable(summary: str | None) -> str:
    """Letters and digits only (NFKC, casefolded): punctuation and spacing differ between restatements."""
    return "".join(ch for ch in normalise(summary) if ch.isalnum())


def similarity(first: str | None, second: str | None) -> int:
    """0–100 similarity of two summaries.

    Chinese summaries have no spaces, so token-based scorers see one token and fall back to a whole-string
    comparison; what matters is the character level. WRatio compares characters (Indel ratio) when the
    two are of similar length and otherwise takes the best-matching substring (partial_ratio) scaled down
    by 0.9 (0.6 beyond 8× the length): a repeat letter often restates the earlier matter more briefly,
    which plain ratio would miss, while a very short text inside a long one does not count as a match.
    """
    a, b = _comparable(first), _comparable(second)
    if not a or not b:
        return 0
    return round(fuzz.WRatio(a, b))


def _keys(accused: list) -> set[tuple[str, str]]:
    """(name, unit) pairs that identify a person: both are needed, a bare common name identifies no one."""
    pairs = {(normalise(entry.get("name")), normalise(entry.get("unit"))) for entry in accused}
    return {(name, unit) for name, unit in pairs if name and unit}


def _label(row: PetitionAccused) -> str:
    return f"{row.name or ''}（{row.unit or ''}）"


@register("duplicates.find")
def find_duplicates(context: HandlerContext) -> dict:
    """Earlier items within `window_days` (default 365) of this item's received date that share an accused
    (same normalised name and unit), scored by summary similarity; those scoring at least `min_score`
    (default 60), best first, at most 10."""
    window_days = int_property(context.properties, "window_days", 365)
    min_score = int_property(context.properties, "min_score", 60)
    if min_score > 100:
        raise ValueError(f"服务任务属性 min_score 应在 0–100 之间，实际为 {min_score}")
    keys = _keys(accused_entries(context.data.get("accused")))
    result: dict = {"duplicate_candidates": [], "is_duplicate": False}
    if not keys:
        return result
    received_on = as_date(context.data.get("received_on"), "received_on") or local_date(context.now)
    matches = context.session.execute(
        sa.select(Petition, PetitionAccused)
        .join(PetitionAccused, PetitionAccused.petition_id == Petition.id)
        .where(Petition.case_id != context.case_id,
               Petition.received_on.between(received_on - timedelta(days=window_days), received_on),
               # A sealed item is no candidate: the list is stored in the new case for everyone who reads
               # it, and even a number with a score would tell them that a sealed matter exists.
               sa.func.coalesce(Petition.sealed, False).is_(False),
               sa.tuple_(PetitionAccused.normalized_name, PetitionAccused.normalized_unit).in_(sorted(keys)))
        .order_by(Petition.id, PetitionAccused.position)
    ).all()
    accused_by_petition: dict[int, tuple[Petition, list[str]]] = {}
    for petition, accused in matches:
        accused_by_petition.setdefault(petition.id, (petition, []))[1].append(_label(accused))
    summary = text(context.data.get("summary"))
    scored = []
    for petition, labels in accused_by_petition.values():
        score = similarity(summary, petition.summary)
        if score >= min_score:
            scored.append((score, petition, labels))
    scored.sort(key=lambda item: (-item[0], -item[1].received_on.toordinal(), item[1].id))
    result["duplicate_candidates"] = [
        {
            "case_id": petition.case_id,
            "registration_number": petition.registration_number,
            "received_on": petition.received_on.isoformat(),
            "summary": (petition.summary or "")[:SUMMARY_EXCERPT],
            "accused": "、".join(labels),
            "score": score,
        }
        for score, petition, labels in scored[:MAX_CANDIDATES]
    ]
    return result


def _original(session: Session, petition: Petition) -> Petition:
    """Follow earlier links to the item the matter was first registered as, so repeats count once there."""
    seen = {petition.id}
    while petition.duplicate_of_id is not None and petition.duplicate_of_id not in seen:
        seen.add(petition.duplicate_of_id)
        petition = session.get(Petition, petition.duplicate_of_id)
    return petition


def _link_problem(session: Session, petition: Petition, number: str) -> tuple[Petition | None, str | None]:
    """The original a registration number links this item to, or why it cannot be linked."""
    if not number:
        return None, "未填写原件的登记编号"
    target = session.scalars(sa.select(Petition).where(Petition.registration_number == number)).one_or_none()
    # a sealed item answers as a missing one: the officer may not learn that it exists
    if target is None or target.sealed or _original(session, target).sealed:
        return None, f"登记编号 {number} 不存在或不可关联，请核对疑似重复件列表中的编号"
    if target.id == petition.id:
        return None, f"登记编号 {number} 是本件自身，不能关联为重复件"
    original = _original(session, target)
    if original.id == petition.id:
        return None, f"登记编号 {number} 已被关联为本件的重复件，不能互相关联"
    return original, None


def _number(context: HandlerContext) -> str:
    return (text(context.data.get("duplicate_of")) or "").upper()


@register("duplicates.check_link")
def check_link(context: HandlerContext) -> dict:
    """At submit (form property check_with): the number typed in `duplicate_of` must name an item this one
    can be linked to, while the officer says it is a duplicate; the form shows the error."""
    if flag(context.data.get("is_duplicate")) is not True:
        return {}
    _, problem = _link_problem(context.session, petition_of(context.session, context.case_id), _number(context))
    return {"error": problem} if problem else {}


@register("duplicates.link")
def link_duplicate(context: HandlerContext) -> dict:
    """Links this item to the one whose registration number the officer typed in `duplicate_of`, checked
    at submit by `duplicates.check_link` in the same transaction: a refusal here is an incident."""
    session = context.session
    petition = petition_of(session, context.case_id)
    original, problem = _link_problem(session, petition, _number(context))
    if problem:
        raise ValueError(problem)
    if petition.duplicate_of_id != original.id:
        if petition.duplicate_of_id is not None:  # the officer corrected an earlier link
            previous = session.get(Petition, petition.duplicate_of_id)
            previous.repeat_count = Petition.repeat_count - 1
        petition.duplicate_of_id = original.id
        original.repeat_count = Petition.repeat_count + 1  # in SQL: concurrent links to one original add up
        session.flush()  # constraint errors surface here, as this handler's incident
    return {"duplicate_of_case_id": original.case_id,
            "duplicate_of_registration_number": original.registration_number}
