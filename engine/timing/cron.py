"""Cron cycles as Camunda 7 writes them (Quartz: `sec min hour day-of-month month day-of-week [year]`,
e.g. `0 0 9 * * ?`, `0 30 8 ? * MON-FRI`), evaluated by APScheduler's CronTrigger in Shanghai time.

Quartz counts weekdays 1 = Sunday … 7 = Saturday and wants `?` in exactly one of the two day fields;
`L` (last), `nL` (last weekday n) and `n#k` (k-th weekday n) are translated; `W` (nearest workday) has no
equivalent here and is refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger

_SHANGHAI = timezone(timedelta(hours=8))
_FIELD = r"[0-9A-Za-z*?/,#\-]+"
_SHAPE = re.compile(rf"{_FIELD}(?:\s+{_FIELD}){{5,6}}")
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_ORDINALS = {"1": "1st", "2": "2nd", "3": "3rd", "4": "4th", "5": "5th"}


class CronRefused(ValueError):
    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"无效的 cron 表达式“{expression}”：{reason}")
        self.message = str(self)


def looks_like_cron(text: str) -> bool:
    return bool(_SHAPE.fullmatch(text.strip())) and not text.strip().upper().startswith(("R", "P"))


def _weekday(token: str, expression: str) -> str:
    if token.isdigit():
        if not 1 <= int(token) <= 7:
            raise CronRefused(expression, f"星期字段的取值应为 1–7（1 为星期日）或 SUN–SAT，而不是 {token}")
        return _WEEKDAYS[int(token) - 1]
    if token.lower()[:3] in _WEEKDAYS and len(token) == 3:
        return token.lower()
    raise CronRefused(expression, f"无法识别的星期：{token}")


def _day_of_week(field: str, expression: str) -> tuple[str | None, str | None]:
    """(APScheduler day_of_week, APScheduler day) for Quartz's day-of-week field."""
    if field in ("?", "*"):
        return None, None
    last = re.fullmatch(r"(\w+)L", field)
    if last:
        return None, f"last {_weekday(last.group(1), expression)}"
    nth = re.fullmatch(r"(\w+)#([1-5])", field)
    if nth:
        return None, f"{_ORDINALS[nth.group(2)]} {_weekday(nth.group(1), expression)}"
    parts = []
    for item in field.split(","):
        step = ""
        if "/" in item:
            item, step = item.split("/", 1)
            step = f"/{step}"
        bounds = item.split("-")
        if len(bounds) > 2:
            raise CronRefused(expression, f"无法识别的星期范围：{item}")
        parts.append("-".join(_weekday(bound, expression) for bound in bounds) + step)
    return ",".join(parts), None


def trigger(expression: str) -> CronTrigger:
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise CronRefused(expression, "Camunda 的 cron 需要 6 或 7 个字段（秒 分 时 日 月 星期 [年]）")
    second, minute, hour, day, month, weekday = fields[:6]
    year = fields[6] if len(fields) == 7 else None
    if "W" in day.upper():
        raise CronRefused(expression, "不支持“W”（最近工作日），请改用工作日期限函数")
    if (day == "?") == (weekday == "?"):
        raise CronRefused(expression, "“日”和“星期”两个字段中必须恰有一个写“?”")
    day_of_week, weekday_day = _day_of_week(weekday, expression)
    day = "last" if day.upper() == "L" else day
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, month=month, year=year,
                           day=weekday_day or (None if day == "?" else day), day_of_week=day_of_week,
                           timezone=_SHANGHAI)
    except ValueError as error:
        raise CronRefused(expression, "某个字段的取值超出范围或格式不对（秒、分 0–59，时 0–23，日 1–31，月 1–12）") \
            from error


def next_after(expression: str, instant: datetime) -> datetime | None:
    """The first occurrence strictly after `instant` (aware), or None when the cycle has ended."""
    fired = trigger(expression).get_next_fire_time(None, instant + timedelta(microseconds=1))
    return fired.astimezone(UTC) if fired else None
