"""Query codes (查询码) for web reporters: the reporter keeps the code, the registry keeps only a password-style
hash of it (argon2), so neither case data, audit events, logs nor a copy of the database can tell it.

The code is handed over once (engine/secrets/handover.py) to the staff member whose command issued it: the
page after the registration shows it, nothing later does. A lookup narrows the candidates by a selector (the
first characters of the code's SHA-256, indexed) and verifies each candidate's argon2 hash; the 12-character
code keeps ~39 unknown bits beyond the selector, each guess costing an argon2 run.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import unicodedata

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from engine.runtime.handlers_registry import HandlerContext, register
from engine.secrets.handover import QUERY_CODE
from engine.store.models import Petition
from handlers.common import petition_of

# No 0/O, 1/I/L: a code read over the phone or copied by hand survives; 31^12 ≈ 2^59 codes.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 12
GROUP = 4
SELECTOR_LENGTH = 5  # hex digits: 2^20 buckets, so a lookup verifies about one hash
# OWASP's argon2id setting (19 MiB, 2 passes, 1 lane): each guess stays costly, while the registration that
# hashes holds the write transaction only briefly. The code is random, so nothing needs stretching further.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i:i + GROUP] for i in range(0, LENGTH, GROUP))


def _canonical(code: str) -> str:
    """What the reporter typed, without separators or spaces, upper case (k7qf m2xd 9pra = K7QF-M2XD-9PRA)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", code).upper() if ch.isalnum())


def selector(code: str) -> str:
    return hashlib.sha256(_canonical(code).encode("ascii", "replace")).hexdigest()[:SELECTOR_LENGTH]


def find_by_query_code(session: Session, code: str) -> Petition | None:
    """The petition a reporter's query code belongs to, or None (also for anything that cannot be a code)."""
    canonical = _canonical(code or "")
    if len(canonical) != LENGTH or not set(canonical) <= set(ALPHABET):
        return None
    for petition in session.scalars(sa.select(Petition).where(Petition.query_code_selector == selector(canonical))):
        with contextlib.suppress(VerificationError, InvalidHashError):
            if _hasher.verify(petition.query_code_hash or "", canonical):
                return petition
    return None


@register("petition.issue_query_code")
def issue_query_code(context: HandlerContext) -> dict:
    """Issues a new code for the case's petition and hands it to whoever runs the command; a code issued
    earlier stops working. The case data only learns that a code exists."""
    petition = petition_of(context.session, context.case_id)
    code = new_code()
    petition.query_code_selector, petition.query_code_hash = selector(code), _hasher.hash(_canonical(code))
    context.session.flush()  # constraint errors surface here, as this handler's incident
    context.hand_over(QUERY_CODE, code)
    return {"query_code_issued": True}
