"""Attachments of a case: what may be stored (type and size), storing them with their purpose and the task
they came with, listing them, and opening one — for readers of the case only, and for a purpose that may
name the reporter only for readers of the reporter. Every upload and download is an audit event
(`attachment added`, `attachment viewed`) naming the attachment, never its file name (a name may name
the writer).

Files are kept in the database, AES-GCM encrypted with the case as associated data
(engine/secrets/vault.py), with the SHA-256 of their content, so a file is backed up, access-checked and
verifiable with the case.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine import audit
from engine.bpmn.attachment_purposes import PURPOSES
from engine.errors import Forbidden
from engine.jsonutil import jsonable
from engine.org.organisation import Actor
from engine.secrets import vault
from engine.secrets.keys import Keyring
from engine.store.models import Attachment

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_FILES_PER_UPLOAD = 10
WITHHELD = "该附件可能含反映人信息，仅信访室和本件承办人员可以查看"
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".txt": "text/plain", ".mp3": "audio/mpeg", ".wav": "audio/wav",
}


class AttachmentRejected(ValueError):
    """A file that may not be stored; the message is for the user."""


@dataclass(frozen=True)
class Upload:
    """A file checked for storing: its cleaned name, content type, content and purpose."""

    filename: str
    content_type: str
    content: bytes
    purpose: str


@dataclass(frozen=True)
class TaskOrigin:
    """The task a file came with."""

    process_id: str
    bpmn_id: str
    name: str


def clean_filename(filename: str) -> str:
    """The name to store for an uploaded file: its last path part, without control or format characters
    (a name is shown on pages and sent back in a header), at most 200 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(char) == "Zs" else char for char in name
                   if unicodedata.category(char)[0] != "C" and unicodedata.category(char) not in ("Zl", "Zp"))
    name = name.strip(" .")
    if len(name) > 200:
        stem, dot, suffix = name.rpartition(".")
        name = stem[:200 - len(suffix) - 1] + dot + suffix if dot and len(suffix) <= 10 else name[:200]
    return name or "附件"


def check_attachment(filename: str, size: int) -> str:
    """The content type to store for an acceptable file; raises AttachmentRejected otherwise."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in ATTACHMENT_TYPES:
        allowed = "、".join(sorted(s.lstrip(".") for s in ATTACHMENT_TYPES))
        raise AttachmentRejected(f"附件“{filename}”的类型不允许，只接受：{allowed}")
    if size > MAX_ATTACHMENT_BYTES:
        raise AttachmentRejected(f"附件“{filename}”超过 {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB")
    if size == 0:
        raise AttachmentRejected(f"附件“{filename}”是空文件")
    return ATTACHMENT_TYPES[suffix]


def checked(files: list[tuple[str, bytes, str]], allowed: tuple[str, ...] | None = None) -> list[Upload]:
    """(name, content, purpose) files made ready to store, or AttachmentRejected for the first that may not
    be: unknown purpose (or one `allowed` does not offer), type, size, too many at once."""
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise AttachmentRejected(f"一次最多上传 {MAX_FILES_PER_UPLOAD} 个附件")
    uploads = []
    for name, content, purpose in files:
        if purpose not in PURPOSES or (allowed is not None and purpose not in allowed):
            raise AttachmentRejected("请选择附件用途" if not purpose else f"附件用途“{purpose}”不适用于此处")
        cleaned = clean_filename(name)
        uploads.append(Upload(cleaned, check_attachment(cleaned, len(content)), content, purpose))
    return uploads


def store(session: Session, keyring: Keyring, case_id: int, uploads: list[Upload], actor: Actor, now: datetime,
          origin: TaskOrigin | None = None) -> list[int]:
    """Keep the files, encrypted, each with an `attachment added` event; returns their ids."""
    ids = []
    for upload in uploads:
        key_id, nonce, ciphertext = vault.encrypt_attachment(keyring, case_id, upload.content)
        digest = hashlib.sha256(upload.content).hexdigest()
        row = Attachment(case_id=case_id, filename=upload.filename, content_type=upload.content_type,
                         size=len(upload.content), content=ciphertext, key_id=key_id, nonce=nonce,
                         uploaded_by=actor.name, uploaded_at=now, purpose=upload.purpose, sha256=digest,
                         process_id=origin.process_id if origin else None,
                         bpmn_id=origin.bpmn_id if origin else None, task_name=origin.name if origin else None)
        session.add(row)
        session.flush()
        audit.append(session, kind="attachment added", actor=actor.name, at=now, case_id=case_id,
                     payload={"attachment_id": row.id, "purpose": upload.purpose, "size": row.size,
                              "sha256": digest, "task": origin.bpmn_id if origin else None})
        ids.append(row.id)
    return ids


def listed(session: Session, case_id: int, reporter_visible: bool) -> tuple[list[dict[str, Any]], int]:
    """The case's attachments its reader may open, oldest first (uploaded_by the user name), and how many
    others are withheld."""
    rows = session.execute(
        sa.select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size, Attachment.purpose,
                  Attachment.task_name, Attachment.uploaded_by, Attachment.uploaded_at, Attachment.sha256)
        .where(Attachment.case_id == case_id).order_by(Attachment.id)).mappings().all()
    shown = [dict(row) for row in rows if may_open(row["purpose"], reporter_visible)]
    for row in shown:
        row["purpose_label"] = PURPOSES[row["purpose"]].label if row["purpose"] in PURPOSES else row["purpose"]
    return jsonable(shown), len(rows) - len(shown)


def may_open(purpose: str, reporter_visible: bool) -> bool:
    """Whether a reader of the case may open a file of this purpose; unknown purposes count as naming the
    reporter."""
    known = PURPOSES.get(purpose)
    return reporter_visible or (known is not None and not known.names_reporter)


def opened(session: Session, keyring: Keyring, row: Attachment, reporter_visible: bool, actor: Actor,
           now: datetime) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of an attachment of a case already in the actor's scope, with its
    `attachment viewed` event; Forbidden when its purpose keeps it from this reader."""
    if not may_open(row.purpose, reporter_visible):
        raise Forbidden(WITHHELD)
    found = row.filename, row.content_type, vault.attachment_content(keyring, row)
    audit.append(session, kind="attachment viewed", actor=actor.name, at=now, case_id=row.case_id,
                 payload={"attachment_id": row.id})
    return found
