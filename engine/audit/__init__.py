"""What did happen? The append-only, hash-chained event log: one event per external input and per
sensitive read, addressed by (process id, BPMN element id, ordinal). Uses `store`.

Others use it as `from engine import audit` and call `audit.append`, `audit.verify`, ...
"""

from engine.audit.chain import GENESIS_HASH, TaskAddress, VerifyReport, append, completed_by, verify

__all__ = ["GENESIS_HASH", "TaskAddress", "VerifyReport", "append", "completed_by", "verify"]
