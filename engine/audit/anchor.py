"""Anchors of the audit chain outside the database: the key of its HMAC, and signed checkpoints.

Whoever can write the database could otherwise delete rows and recompute every hash after them. The key
comes from `XINFANG_AUDIT_KEY` or a file generated once into the instance folder (mode 0600), never from
the database. A checkpoint — head event, its hash, the number of events, the time — is signed with an
Ed25519 key derived from the audit key and kept (printed, filed) elsewhere; verifying against it later
shows that the database still holds exactly that history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session

from engine.audit.chain import GENESIS_HASH, Anchor, VerifyReport, verify
from engine.errors import EngineError
from engine.jsonutil import canonical
from engine.store.db import DEFAULT_SQLITE_PATH
from engine.store.models import AuditHead, Event

KEY_ENV = "XINFANG_AUDIT_KEY"
KEY_FILE = "audit.key"
CHECKPOINT_KIND = "xinfang-audit-checkpoint"
_MIN_KEY_BYTES = 32


class CheckpointRefused(EngineError):
    """A checkpoint that is not to be taken (the chain is broken) or not to be trusted (bad signature)."""


def load_audit_key(instance: Path | None = None) -> bytes:
    """The audit key: `XINFANG_AUDIT_KEY` (hex, or any text of at least 32 bytes), else the instance
    folder's audit.key, created with 32 random bytes on first use."""
    text = os.environ.get(KEY_ENV)
    if text:
        return _decode(text, KEY_ENV)
    path = (instance or DEFAULT_SQLITE_PATH.parent) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode(path.read_text(encoding="ascii"), str(path))
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(_MIN_KEY_BYTES) + "\n")
    return _decode(path.read_text(encoding="ascii"), str(path))


def _decode(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = text.encode("utf-8")
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"{source} 中的审计密钥太短：至少需要 {_MIN_KEY_BYTES} 字节")
    return key


def _signing_key(key: bytes) -> Ed25519PrivateKey:
    # Derived, so there is one secret to keep; the HMAC key itself is never used to sign.
    return Ed25519PrivateKey.from_private_bytes(hmac.new(key, b"xinfang audit checkpoint", hashlib.sha256).digest())


def public_key_hex(key: bytes) -> str:
    """The checkpoints' verification key, to print beside them."""
    return _signing_key(key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _signed_part(checkpoint: dict[str, Any]) -> bytes:
    fields = ("kind", "event_id", "hash", "count", "at", "public_key")
    return canonical({name: checkpoint.get(name) for name in fields}).encode("utf-8")


def take_checkpoint(session: Session, key: bytes, at: datetime) -> dict[str, Any]:
    """A signed checkpoint of the chain as it is now; refused when the chain does not verify."""
    head = session.get(AuditHead, 1)
    event_id = head.last_event_id if head else None
    count = session.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.id <= event_id)) \
        if event_id is not None else 0
    anchor = Anchor(event_id, head.last_hash if head else GENESIS_HASH, count)
    report = verify(session, key, anchor)
    if not report.ok:
        raise CheckpointRefused(f"审计链校验未通过，不能生成检查点：{report.message}")
    checkpoint = {"kind": CHECKPOINT_KIND, "event_id": anchor.event_id, "hash": anchor.hash, "count": anchor.count,
                  "at": at.isoformat(), "public_key": public_key_hex(key)}
    checkpoint["signature"] = _signing_key(key).sign(_signed_part(checkpoint)).hex()
    return checkpoint


def read_checkpoint(text: str, key: bytes) -> Anchor:
    """The anchor a checkpoint file names, once its signature is checked against this system's key."""
    try:
        checkpoint = json.loads(text)
        if checkpoint.get("kind") != CHECKPOINT_KIND:
            raise ValueError
        signature = bytes.fromhex(checkpoint["signature"])
        anchor = Anchor(checkpoint["event_id"], checkpoint["hash"], int(checkpoint["count"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CheckpointRefused("检查点文件格式不正确") from None
    if checkpoint.get("public_key") != public_key_hex(key):
        raise CheckpointRefused("检查点不是用本系统的审计密钥签发的")
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint["public_key"]))
    try:
        public.verify(signature, _signed_part(checkpoint))
    except InvalidSignature:
        raise CheckpointRefused("检查点签名无效：文件被改动过") from None
    return anchor


def verify_with_checkpoint(session: Session, key: bytes | None, checkpoint: str | None) -> VerifyReport:
    if checkpoint is None:
        return verify(session, key)
    if key is None:
        raise CheckpointRefused("校验检查点需要审计密钥（XINFANG_AUDIT_KEY 或实例目录中的 audit.key）")
    return verify(session, key, read_checkpoint(checkpoint, key))
