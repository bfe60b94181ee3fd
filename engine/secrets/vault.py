"""The reporter vault: the one place reporter identity is kept, encrypted.

A command seals the confidential fields of what it is given before anything else sees them: the values go,
AES-GCM encrypted and bound to the case, into one `reporter_vault` row per submission, and the submission
carries a marker (`vault:<ref>`) in their place. So workflow state, case data, audit payloads and deltas,
incidents and work items hold only markers, and the audit chain never depends on the clear text: a row
destroyed after its retention date leaves every hash intact. Readers allowed to see the reporter get the
values back through `Revealer`; everyone else sees the mask applied to the markers.

Reporter names are searchable through a blind index (HMAC tokens of the normalised name and its prefixes,
engine/secrets/keys.py): exact or prefix match after normalisation, no substring search. Attachments are
encrypted with the same keys.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine import audit
from engine.jsonutil import canonical
from engine.secrets.keys import Keyring
from engine.store.db import Database
from engine.store.models import Attachment, Case, Petition, ReporterNameToken, ReporterRecord

MARKER_PREFIX = "vault:"
SEARCHED_FIELD = "reporter_name"  # the field the blind index covers (search by reporter name)
DESTROYED = "（已按保管期限销毁）"
ROTATION_BATCH = 200
ATTACHMENT_BATCH = 5  # files are up to 20 MB each


def marker(ref: str) -> str:
    return f"{MARKER_PREFIX}{ref}"


def ref_of(value: Any) -> str | None:
    """The vault reference a value stands for, or None for an ordinary value."""
    if isinstance(value, str) and value.startswith(MARKER_PREFIX):
        return value[len(MARKER_PREFIX):]
    return None


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _record_aad(case_id: int, ref: str) -> bytes:
    return f"xinfang reporter {case_id} {ref}".encode()


def _attachment_aad(case_id: int) -> bytes:
    return f"xinfang attachment {case_id}".encode()


@dataclass(frozen=True)
class Sealed:
    """What an audit event records of a sealed submission: which fields, and where they are kept."""

    ref: str
    fields: tuple[str, ...]

    def audit(self) -> dict[str, Any]:
        return {"ref": self.ref, "fields": list(self.fields)}


def seal(session: Session, keyring: Keyring, case_id: int, data: Mapping[str, Any], confidential: Iterable[str],
         now: datetime) -> tuple[dict[str, Any], Sealed | None]:
    """`data` with every filled confidential field replaced by the marker of a new vault row holding them."""
    values = {key: data[key] for key in sorted(set(confidential)) if key in data and not _blank(data[key])}
    if not values:
        return dict(data), None
    ref = uuid.uuid4().hex
    kid, nonce, ciphertext = keyring.encrypt(canonical(values).encode("utf-8"), _record_aad(case_id, ref))
    record = ReporterRecord(ref=ref, case_id=case_id, fields=sorted(values), key_id=kid, nonce=nonce,
                            ciphertext=ciphertext, created_at=now)
    session.add(record)
    session.flush()
    _index_name(session, keyring, record.id, values)
    return {**data, **dict.fromkeys(values, marker(ref))}, Sealed(ref, tuple(values))


def _index_name(session: Session, keyring: Keyring, record_id: int, values: Mapping[str, Any]) -> None:
    name = values.get(SEARCHED_FIELD)
    if isinstance(name, str):
        session.add_all(ReporterNameToken(record_id=record_id, token=token) for token in keyring.name_tokens(name))
        session.flush()


def _open(keyring: Keyring, record: ReporterRecord) -> dict[str, Any] | None:
    if record.ciphertext is None:
        return None
    plain = keyring.decrypt(record.key_id, record.nonce, record.ciphertext, _record_aad(record.case_id, record.ref))
    return json.loads(plain)


class Revealer:
    """Turns the markers of one case back into values, reading each vault row once. A marker of another
    case, or of a destroyed row, shows as destroyed: decryption is bound to the case (AES-GCM AAD)."""

    def __init__(self, session: Session, keyring: Keyring, case_id: int) -> None:
        self.session, self.keyring, self.case_id = session, keyring, case_id
        self._opened: dict[str, dict[str, Any] | None] = {}

    def value(self, field_id: str, value: Any) -> Any:
        ref = ref_of(value)
        if ref is None:
            return value
        if ref not in self._opened:
            record = self.session.scalars(sa.select(ReporterRecord).where(
                ReporterRecord.ref == ref, ReporterRecord.case_id == self.case_id)).first()
            self._opened[ref] = _open(self.keyring, record) if record is not None else None
        opened = self._opened[ref]
        return DESTROYED if opened is None else opened.get(field_id, DESTROYED)

    def data(self, data: Mapping[str, Any], fields: Iterable[str] | None = None) -> dict[str, Any]:
        """A copy of `data` with the markers of `fields` (all keys if None) revealed."""
        keys = set(data) if fields is None else set(fields) & set(data)
        return {**data, **{key: self.value(key, data[key]) for key in keys}}


# ---- search -----------------------------------------------------------------------------------------

def cases_with_reporter(keyring: Keyring, name: str) -> sa.Select:
    """`SELECT case_id` of the vault rows whose reporter name is `name` or starts with it (normalised)."""
    tokens = keyring.query_tokens(name)
    return (sa.select(ReporterRecord.case_id).join(ReporterNameToken, ReporterNameToken.record_id == ReporterRecord.id)
            .where(ReporterNameToken.token.in_(tokens)))


def search_digest(keyring: Keyring, name: str) -> str:
    """What a `reporter searched` event records instead of the name: its blind-index token under the
    current key (whoever holds the key can check whether a given name was searched; nobody can read it)."""
    return keyring.name_digest(name)


# ---- attachments --------------------------------------------------------------------------------------

def encrypt_attachment(keyring: Keyring, case_id: int, content: bytes) -> tuple[str, bytes, bytes]:
    """(key id, nonce, ciphertext) of a file of the case."""
    return keyring.encrypt(content, _attachment_aad(case_id))


def attachment_content(keyring: Keyring, row: Attachment) -> bytes:
    if row.key_id is None:  # stored before encryption (migration 0007), until `keys rotate` encrypts it
        return row.content
    return keyring.decrypt(row.key_id, row.nonce, row.content, _attachment_aad(row.case_id))


# ---- retention ----------------------------------------------------------------------------------------

def purge(session: Session, before: date, now: datetime, actor: str) -> list[int]:
    """Destroy the reporter records of archived items whose retention ended before `before`; one
    `reporter destroyed` event per case. Returns the cases."""
    due = (sa.select(ReporterRecord).join(Petition, Petition.case_id == ReporterRecord.case_id)
           .where(Petition.archived_at.is_not(None), Petition.retention_until < before,
                  ReporterRecord.destroyed_at.is_(None))
           .order_by(ReporterRecord.case_id, ReporterRecord.id))
    by_case: dict[int, list[ReporterRecord]] = {}
    for record in session.scalars(due):
        by_case.setdefault(record.case_id, []).append(record)
    for case_id, records in by_case.items():
        ids = [record.id for record in records]
        session.execute(sa.delete(ReporterNameToken).where(ReporterNameToken.record_id.in_(ids)))
        session.execute(sa.update(ReporterRecord).where(ReporterRecord.id.in_(ids))
                        .values(key_id=None, nonce=None, ciphertext=None, destroyed_at=now))
        deployment_id = session.scalar(sa.select(Case.deployment_id).where(Case.id == case_id))
        audit.append(session, kind="reporter destroyed", actor=actor, at=now, case_id=case_id,
                     deployment_id=deployment_id, payload={"refs": [r.ref for r in records],
                                                           "fields": sorted({f for r in records for f in r.fields}),
                                                           "before": before.isoformat()})
    return list(by_case)


# ---- rotation -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rotation:
    key_id: str
    records: int
    attachments: int
    retired: tuple[str, ...]  # keys no longer needed (from the environment: the operator removes them)


def rotate(db: Database, keyring: Keyring, now: datetime, actor: str) -> Rotation:
    """A new current key (key file; from the environment the new key is already current), every vault row,
    name token and attachment re-encrypted under it in batches, an audit event, then the old keys retired.
    The old keys stay readable until the very end, so an interrupted rotation can simply be run again."""
    if keyring.path is not None:
        keyring.add_current()
    records = _reencrypt_records(db, keyring)
    attachments = _reencrypt_attachments(db, keyring)
    retired = keyring.retire_old_keys()
    with db.write() as session:
        audit.append(session, kind="keys rotated", actor=actor, at=now,
                     payload={"key_id": keyring.current, "records": records, "attachments": attachments,
                              "retired": retired})
    return Rotation(keyring.current, records, attachments, tuple(retired))


def _reencrypt_records(db: Database, keyring: Keyring) -> int:
    done = 0
    while True:
        with db.write() as session:
            rows = list(session.scalars(sa.select(ReporterRecord).where(
                ReporterRecord.ciphertext.is_not(None), ReporterRecord.key_id != keyring.current)
                .order_by(ReporterRecord.id).limit(ROTATION_BATCH)))
            for record in rows:
                values = _open(keyring, record)
                record.key_id, record.nonce, record.ciphertext = keyring.encrypt(
                    canonical(values).encode("utf-8"), _record_aad(record.case_id, record.ref))
                # the index key changes with the data key: the tokens are recomputed from the names
                session.execute(sa.delete(ReporterNameToken).where(ReporterNameToken.record_id == record.id))
                _index_name(session, keyring, record.id, values)
        done += len(rows)
        if len(rows) < ROTATION_BATCH:
            return done


def _reencrypt_attachments(db: Database, keyring: Keyring) -> int:
    done = 0
    while True:
        with db.write() as session:
            pending = sa.or_(Attachment.key_id.is_(None), Attachment.key_id != keyring.current)
            rows = list(session.scalars(sa.select(Attachment).where(pending).order_by(Attachment.id)
                                        .limit(ATTACHMENT_BATCH)))
            for row in rows:
                content = attachment_content(keyring, row)
                row.key_id, row.nonce, row.content = encrypt_attachment(keyring, row.case_id, content)
        done += len(rows)
        if len(rows) < ATTACHMENT_BATCH:
            return done
