"""Working-day calendar and deadline arithmetic for Asia/Shanghai.

Pure logic: no database and no clock reads (callers pass "now"). Counting follows 民法典 Art. 201–203:
the start day is not counted, a period ends at 24:00 of its last day, and a period whose last day is a
rest day runs to the end of the next working day. Deadlines are returned as aware instants; 24:00 of a
day is represented as 00:00 +08:00 of the following day.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DayOverride:
    """One admin-maintained entry: `day` is a working day (workday=True) or a rest day (False)."""

    day: date
    workday: bool
    note: str = ""


class CalendarMissingError(Exception):
    """Raised when a deadline needs a year that neither the package nor the override table covers."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(f"缺少 {year} 年的节假日安排，请管理员导入该年的放假调休安排")


@cache
def _package_covers(year: int) -> bool:
    # Probe instead of reading the package's internal tables: it raises for years it has no data for.
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _aware(moment: datetime) -> datetime:
    """The instant in Shanghai time; naive datetimes are taken to be Shanghai wall-clock time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(SHANGHAI)


def _as_instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return _aware(value)
    return datetime.combine(value, time(), tzinfo=SHANGHAI)


def _day_of(value: datetime | date) -> date:
    """The Shanghai calendar day of `value`.

    An instant at exactly 00:00 is read as 24:00 of the previous day, so a deadline returned by this
    module maps back to the day it ends on: chaining (an extension counted from the old deadline) and
    "days left" displays would otherwise be off by one. Plain dates are taken as they are.
    """
    if not isinstance(value, datetime):
        return value
    return (_aware(value) - timedelta(microseconds=1)).date()


def _end_of(day: date) -> datetime:
    return datetime.combine(day + _ONE_DAY, time(), tzinfo=SHANGHAI)


def _month_length(year: int, month: int) -> int:
    return (date(year + month // 12, month % 12 + 1, 1) - _ONE_DAY).day


def _check_non_negative(n: int) -> None:
    # Deadlines only run forward; a negative count is a caller bug, not a request to go back in time.
    if n < 0:
        raise ValueError(f"期限数不能为负数：{n}")


class WorkingCalendar:
    """Chinese working days (Mon–Fri minus holidays, plus make-up weekend days), with admin overrides."""

    def __init__(self, overrides: Iterable[DayOverride] = ()) -> None:
        self._overrides = {o.day: o.workday for o in overrides}
        # Any entry for a year means the admin imported that year's schedule.
        self._override_years = {day.year for day in self._overrides}

    def covers(self, year: int) -> bool:
        return _package_covers(year) or year in self._override_years

    def is_workday(self, day: date) -> bool:
        day = _day_of(day)
        if day in self._overrides:  # overrides win, also in years the package covers
            return self._overrides[day]
        if _package_covers(day.year):
            return chinese_calendar.is_workday(day)
        if day.year in self._override_years:
            return day.weekday() < 5
        raise CalendarMissingError(day.year)

    def _next_workday(self, day: date) -> date:
        """`day` itself if it is a working day, else the first working day after it."""
        while not self.is_workday(day):
            day += _ONE_DAY
        return day

    def add_workdays(self, start: datetime | date, n: int) -> datetime:
        _check_non_negative(n)
        day = _day_of(start)
        if n == 0 and self.is_workday(day):
            return _end_of(day)
        # n == 0 on a rest day behaves like n == 1: the end of the next working day.
        for _ in range(max(n, 1)):
            day = self._next_workday(day + _ONE_DAY)
        return _end_of(day)

    def workdays_before(self, deadline: datetime | date, n: int) -> datetime:
        """The end of the working day n working days before `deadline`'s day: when "n days left" begins."""
        _check_non_negative(n)
        day = _day_of(deadline)
        for _ in range(n):
            day -= _ONE_DAY
            while not self.is_workday(day):
                day -= _ONE_DAY
        return _end_of(day)

    def add_months(self, start: datetime | date, n: int) -> datetime:
        _check_non_negative(n)
        day = _day_of(start)
        index = day.month - 1 + n
        year, month = day.year + index // 12, index % 12 + 1
        # No corresponding day (31 Jan + 1 month) → the month's last day.
        last = date(year, month, min(day.day, _month_length(year, month)))
        return _end_of(self._next_workday(last))

    def add_days(self, start: datetime | date, n: int) -> datetime:
        _check_non_negative(n)
        return _end_of(self._next_workday(_day_of(start) + timedelta(days=n)))

    def workdays_between(self, start: datetime | date, end: datetime | date) -> int:
        """Working days after start's day up to and including end's day; negative when end is earlier."""
        first, last = _day_of(start), _day_of(end)
        if last < first:
            return -self.workdays_between(last, first)
        return sum(self.is_workday(first + timedelta(days=i)) for i in range(1, (last - first).days + 1))

    def missing_year_warning(self, today: date) -> str | None:
        today = _day_of(today)
        # The current year missing is worse than next year missing: deadlines are failing already.
        if not self.covers(today.year):
            year = today.year
        elif today.month >= 11 and not self.covers(today.year + 1):  # schedule is published ~November
            year = today.year + 1
        else:
            return None
        return (
            f"尚未导入 {year} 年的节假日安排，涉及 {year} 年的期限将无法计算。"
            f"请管理员尽快导入国务院公布的 {year} 年放假调休安排。"
        )


_WORKDAY_WORDS = {
    "1": True, "true": True, "是": True, "上班": True,
    "0": False, "false": False, "否": False, "休息": False,
}  # fmt: skip


def _parse_workday(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _WORKDAY_WORDS.get(value.strip().lower())
    return None


def _parse_entry(where: str, raw: dict) -> DayOverride:
    text = raw.get("date")
    try:
        day = date.fromisoformat(text.strip()) if isinstance(text, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"{where}：日期「{text or ''}」无效，应为 YYYY-MM-DD")
    workday = _parse_workday(raw.get("workday"))
    if workday is None:
        raise ValueError(
            f"{where}：workday「{raw.get('workday') or ''}」无效，应为 1/0、true/false、是/否 或 上班/休息"
        )
    note = raw.get("note") or ""
    if not isinstance(note, str):
        raise ValueError(f"{where}：note 应为文本")
    return DayOverride(day, workday, note.strip())


def _csv_entries(text: str) -> list[tuple[str, dict]]:
    # Excel saves UTF-8 CSV with a byte-order mark; it would otherwise stick to the first column name.
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "date" not in header or "workday" not in header:
        raise ValueError("第 1 行：表头应为 date,workday,note")
    reader.fieldnames = header
    return [(f"第 {reader.line_num} 行", row) for row in reader]


def _json_entries(text: str) -> list[tuple[str, dict]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}") from exc
    if not isinstance(data, list):
        raise ValueError('JSON 应为列表，每条形如 {"date": "2027-01-01", "workday": false, "note": "元旦"}')
    entries = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ValueError(f"第 {number} 条：应为含 date、workday、note 的对象")
        entries.append((f"第 {number} 条", item))
    return entries


def parse_schedule(text: str, fmt: str) -> list[DayOverride]:
    """Parse an imported holiday / make-up-day schedule ("csv" or "json") into overrides."""
    if fmt == "csv":
        entries = _csv_entries(text)
    elif fmt == "json":
        entries = _json_entries(text)
    else:
        raise ValueError(f"不支持的格式「{fmt}」，应为 csv 或 json")
    result: list[DayOverride] = []
    seen: dict[date, str] = {}
    for where, raw in entries:
        override = _parse_entry(where, raw)
        # A date listed twice is ambiguous (possibly contradictory); make the admin fix the file.
        if override.day in seen:
            raise ValueError(f"{where}：日期 {override.day} 与{seen[override.day]}重复")
        seen[override.day] = where
        result.append(override)
    return result


def _parse_origin(value: object) -> datetime | date:
    if isinstance(value, date):  # datetimes included; naive ones are read as Shanghai downstream
        return value
    if isinstance(value, str):
        # A date-only string must stay a date: as a midnight instant it would read as 24:00 of the day before.
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                return parse(value.strip())
            except ValueError:
                pass
    raise ValueError(f"无法识别的起算时间「{value}」，应为 ISO 8601 日期或时间")


def _add_hours(start: datetime | date, n: float) -> datetime:
    return _as_instant(start) + timedelta(hours=n)


def expression_helpers(
    calendar: WorkingCalendar, now: Callable[[], datetime]
) -> dict[str, Callable[..., str]]:
    """Deadline functions for BPMN expressions; each returns an ISO 8601 instant in Asia/Shanghai."""

    def helper(add: Callable[[datetime | date, int], datetime]) -> Callable[..., str]:
        def compute(n: int, from_: object = None) -> str:
            start = _aware(now()) if from_ is None else _parse_origin(from_)
            return add(start, n).astimezone(SHANGHAI).isoformat()

        return compute

    def before(n: int, deadline: object) -> str:
        """For reminders: `${workdays_before(3, report_due)}`."""
        return calendar.workdays_before(_parse_origin(deadline), n).astimezone(SHANGHAI).isoformat()

    return {
        "workdays": helper(calendar.add_workdays),
        "months": helper(calendar.add_months),
        "days": helper(calendar.add_days),
        "hours": helper(_add_hours),  # plain clock hours, no calendar
        "workdays_before": before,
    }
