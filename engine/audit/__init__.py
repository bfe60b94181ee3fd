"""What did happen? The append-only, hash-chained event log: one event per external input and per
sensitive read, addressed by (process id, BPMN element id, ordinal). Uses `store`.

Others use it as `from engine import audit` and call `audit.append`, `audit.verify`, ...
"""

from engine.audit.anchor import (
    CheckpointRefused,
    load_audit_key,
    public_key_hex,
    read_checkpoint,
    take_checkpoint,
    verify_with_checkpoint,
)
from engine.audit.chain import GENESIS_HASH, Anchor, TaskAddress, VerifyReport, append, completed_by, verify

__all__ = ["GENESIS_HASH", "Anchor", "CheckpointRefused", "TaskAddress", "VerifyReport", "append", "completed_by",
           "load_audit_key", "public_key_hex", "read_checkpoint", "take_checkpoint", "verify",
           "verify_with_checkpoint"]
