"""What the petition handlers share: reading case data and task properties, the case's registry row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.org.access import normalise  # noqa: F401  (re-exported: the registry's comparison form)
from engine.store.models import Petition

SHANGHAI = ZoneInfo("Asia/Shanghai")
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否"}


def text(value: object) -> str | None:
    """A form value as stored text: blank becomes None."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def flag(value: object) -> bool | None:
    """A yes/no value as forms and imports deliver it (bool or text); unknown stays None."""
    if isinstance(value, bool) or value is None:
        return value
    lowered = str(value).strip().casefold()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def as_date(value: object, key: str) -> date | None:
    """Dates in case data are `date` objects or ISO strings (after a JSON round trip)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"案件数据 {key} 不是有效日期：{value!r}") from None


def local_date(now: datetime) -> date:
    """The office's calendar day (Asia/Shanghai) of an instant."""
    return now.astimezone(SHANGHAI).date()


def int_property(properties: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = properties.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"服务任务属性 {name} 应为整数，实际为 {raw!r}") from None
    if value < minimum:
        raise ValueError(f"服务任务属性 {name} 不能小于 {minimum}，实际为 {value}")
    return value


def petition_of(session: Session, case_id: int) -> Petition:
    """The case's registry row; a step that needs it before registration is a diagram error."""
    petition = session.scalars(sa.select(Petition).where(Petition.case_id == case_id)).one_or_none()
    if petition is None:
        raise ValueError("本案件尚未登记（流程中应先调用 petition.register）")
    return petition


def accused_entries(value: object) -> list[Mapping]:
    """The `accused` list of the registration form; entries naming neither a person nor a unit are skipped."""
    if value is None or value == "":
        return []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(entry, Mapping) for entry in value):
        raise ValueError("案件数据 accused 应为被反映人列表（每人一项）")
    return [entry for entry in value if text(entry.get("name")) or text(entry.get("unit"))]
