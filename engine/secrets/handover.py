"""Secrets handed over once: a value a command produces for the person running it and for nobody else (a
web reporter's query code, which only its hash may outlive).

A handler leaves the value through its context (`HandlerContext.hand_over`); it is kept AES-GCM encrypted,
bound to case, purpose and recipient, and the recipient's next page takes it: read and deleted in one
statement, so a reload, a second tab or another staff member finds nothing. It never enters case data,
workflow state, audit events or logs. A value not taken within `TTL` is dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from sqlalchemy.orm import Session

from engine.secrets.keys import DataKeyError, Keyring
from engine.store.models import Handover

TTL = timedelta(hours=1)
QUERY_CODE = "query_code"  # a web reporter's query code (handlers/query_code.py)


def _aad(case_id: int, purpose: str, recipient: str) -> bytes:
    return f"xinfang handover {case_id} {purpose} {recipient}".encode()


def _drop_expired(session: Session, now: datetime) -> None:
    session.execute(sa.delete(Handover).where(Handover.created_at < now - TTL))


def leave(session: Session, keyring: Keyring, case_id: int, recipient: str, purpose: str, value: str,
          now: datetime) -> None:
    """Keep `value` for `recipient`; a value of the same purpose still waiting on the case is replaced."""
    _drop_expired(session, now)
    session.execute(sa.delete(Handover).where(Handover.case_id == case_id, Handover.purpose == purpose))
    key_id, nonce, ciphertext = keyring.encrypt(value.encode("utf-8"), _aad(case_id, purpose, recipient))
    session.add(Handover(case_id=case_id, purpose=purpose, recipient=recipient, key_id=key_id, nonce=nonce,
                         ciphertext=ciphertext, created_at=now))
    session.flush()


def take(session: Session, keyring: Keyring, case_id: int, recipient: str, purpose: str,
         now: datetime) -> str | None:
    """The value left for `recipient`, once; None when there is none (taken, expired, or someone else's)."""
    _drop_expired(session, now)
    row = session.execute(
        sa.delete(Handover)
        .where(Handover.case_id == case_id, Handover.purpose == purpose, Handover.recipient == recipient)
        .returning(Handover.key_id, Handover.nonce, Handover.ciphertext)
    ).first()
    if row is None:
        return None
    try:
        return keyring.decrypt(row.key_id, row.nonce, row.ciphertext, _aad(case_id, purpose, recipient)).decode()
    except (DataKeyError, InvalidTag):  # its key was retired meanwhile: as good as expired
        return None
