"""Query codes (查询码) for web reporters: the reporter keeps the code, the registry keeps only its hash."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.runtime.handlers_registry import HandlerContext, register
from engine.store.models import Petition
from handlers.common import petition_of

# No 0/O, 1/I/L: a code read over the phone or copied by hand survives; 31^12 ≈ 2^59 codes.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 12
GROUP = 4


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + GROUP] for i in range(0, LENGTH, GROUP))


def _canonical(code: str) -> str:
    """What the reporter typed, without separators or spaces, upper case (k7qf m2xd 9pra = K7QF-M2XD-9PRA)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", code).upper() if ch.isalnum())


def code_hash(code: str) -> str:
    return hashlib.sha256(_canonical(code).encode("ascii", "replace")).hexdigest()


def find_by_query_code(session: Session, code: str) -> Petition | None:
    """The petition a reporter's query code belongs to, or None (also for anything that cannot be a code)."""
    canonical = _canonical(code or "")
    if len(canonical) != LENGTH or not set(canonical) <= set(ALPHABET):
        return None
    return session.scalars(sa.select(Petition).where(Petition.query_code_hash == code_hash(canonical))).one_or_none()


@register("petition.issue_query_code")
def issue_query_code(context: HandlerContext) -> dict:
    """Issues a new code for the case's petition; a code issued earlier stops working."""
    petition = petition_of(context.session, context.case_id)
    code = new_code()
    petition.query_code_hash = code_hash(code)
    context.session.flush()  # constraint errors surface here, as this handler's incident
    return {"query_code": code}
