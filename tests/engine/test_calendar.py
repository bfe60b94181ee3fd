"""Tests for engine.calendar. Expectations are worked out by hand from the published 2024/2026 schedules
and cross-checked against chinese_calendar where the package covers the year."""

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from engine.timing.calendar import (
    SHANGHAI,
    CalendarMissingError,
    DayOverride,
    WorkingCalendar,
    expression_helpers,
    parse_schedule,
)

CAL = WorkingCalendar()
# A 2027 schedule as the admin would import it (only the entries the tests need).
OVERRIDES_2027 = [
    DayOverride(date(2027, 1, 1), False, "元旦"),
    DayOverride(date(2027, 2, 6), True, "春节调休"),
]


def end_of(year: int, month: int, day: int) -> datetime:
    """24:00 Shanghai of the given day, as the aware instant."""
    return datetime(year, month, day, tzinfo=SHANGHAI) + timedelta(days=1)


def package_nth_workday_after(start: date, n: int) -> date:
    """Independent reference using the package's own day list (not its off-by-one find_workday)."""
    return chinese_calendar.get_workdays(start + timedelta(days=1), start + timedelta(days=60))[n - 1]


# --- is_workday ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 2, 13), True),  # Friday before Spring Festival
        (date(2026, 2, 14), True),  # Saturday, make-up working day
        (date(2026, 2, 15), False),  # Spring Festival holiday starts
        (date(2026, 2, 17), False),  # Tuesday inside the holiday
        (date(2026, 2, 23), False),  # Monday, last holiday day
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, make-up working day
        (date(2026, 3, 1), False),  # ordinary Sunday
        (date(2026, 9, 20), True),  # Sunday, make-up for National Day
        (date(2026, 9, 25), False),  # Mid-Autumn Festival (Friday)
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday, make-up for National Day
    ],
)
def test_is_workday_2026(day: date, expected: bool) -> None:
    assert CAL.is_workday(day) is expected
    assert chinese_calendar.is_workday(day) is expected


def test_is_workday_matches_package_for_every_day_of_2026() -> None:
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert CAL.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


# --- add_workdays ----------------------------------------------------------------------------------------


def test_three_workdays_spanning_spring_festival() -> None:
    # Thu 12 Feb: Fri 13 (1), make-up Sat 14 (2), holiday 15–23, Tue 24 (3).
    assert CAL.add_workdays(date(2026, 2, 12), 3) == end_of(2026, 2, 24)
    assert package_nth_workday_after(date(2026, 2, 12), 3) == date(2026, 2, 24)


def test_result_is_aware_shanghai_midnight_of_next_day() -> None:
    deadline = CAL.add_workdays(date(2026, 2, 12), 3)
    assert deadline.utcoffset() == timedelta(hours=8)
    assert deadline.isoformat() == "2026-02-25T00:00:00+08:00"
    assert deadline == datetime(2026, 2, 24, 16, 0, tzinfo=UTC)


def test_start_on_a_holiday() -> None:
    # Wed 18 Feb is inside the holiday: 24 (1), 25 (2), 26 (3).
    assert CAL.add_workdays(date(2026, 2, 18), 3) == end_of(2026, 2, 26)
    assert package_nth_workday_after(date(2026, 2, 18), 3) == date(2026, 2, 26)


def test_start_on_make_up_saturday() -> None:
    # Sat 14 Feb is not counted; the next working day is Tue 24 after the holiday.
    assert CAL.add_workdays(date(2026, 2, 14), 1) == end_of(2026, 2, 24)
    # Sat 28 Feb: Sun 1 Mar is rest, Mon 2 (1), Tue 3 (2), Wed 4 (3).
    assert CAL.add_workdays(date(2026, 2, 28), 3) == end_of(2026, 3, 4)
    assert package_nth_workday_after(date(2026, 2, 28), 3) == date(2026, 3, 4)


def test_fifteen_workdays_across_mid_autumn_and_national_day() -> None:
    # Mon 14 Sep: 15–18 (4), Sun 20 make-up (5), 21–24 (9), 25–27 holiday, 28–30 (12),
    # 1–7 Oct holiday, Thu 8 (13), Fri 9 (14), make-up Sat 10 (15).
    assert CAL.add_workdays(date(2026, 9, 14), 15) == end_of(2026, 10, 10)
    assert package_nth_workday_after(date(2026, 9, 14), 15) == date(2026, 10, 10)


def test_five_workdays_ordinary_week() -> None:
    # Mon 9 Mar → Mon 16 Mar (weekend skipped).
    assert CAL.add_workdays(datetime(2026, 3, 9, 15, 30, tzinfo=SHANGHAI), 5) == end_of(2026, 3, 16)


def test_zero_workdays() -> None:
    assert CAL.add_workdays(date(2026, 2, 28), 0) == end_of(2026, 2, 28)  # make-up Saturday works
    assert CAL.add_workdays(date(2026, 2, 18), 0) == end_of(2026, 2, 24)  # holiday → next working day


def test_negative_counts_rejected() -> None:
    with pytest.raises(ValueError):
        CAL.add_workdays(date(2026, 3, 9), -1)
    with pytest.raises(ValueError):
        CAL.add_months(date(2026, 3, 9), -1)
    with pytest.raises(ValueError):
        CAL.add_days(date(2026, 3, 9), -1)


def test_utc_input_is_converted_to_shanghai_before_taking_the_date() -> None:
    # 17:00Z on Fri 13 Feb is 01:00 on Sat 14 Feb in Shanghai; the next working day is then Tue 24,
    # not Sat 14 (which it would be if the UTC date were used).
    assert CAL.add_workdays(datetime(2026, 2, 13, 17, 0, tzinfo=UTC), 1) == end_of(2026, 2, 24)
    assert CAL.add_workdays(datetime(2026, 2, 13, 15, 59, tzinfo=UTC), 1) == end_of(2026, 2, 14)


def test_naive_datetime_is_shanghai() -> None:
    assert CAL.add_workdays(datetime(2026, 2, 13, 17, 0), 1) == end_of(2026, 2, 14)


def test_deadline_instant_as_start_counts_from_its_day() -> None:
    # A returned deadline (00:00 next day) means 24:00 of its last day, so chaining does not lose a day.
    deadline = CAL.add_days(date(2026, 3, 12), 0)
    assert deadline == end_of(2026, 3, 12)
    assert CAL.add_days(deadline, 15) == CAL.add_days(date(2026, 3, 12), 15) == end_of(2026, 3, 27)


# --- add_months ------------------------------------------------------------------------------------------


def test_month_end_2026_lands_on_make_up_saturday() -> None:
    # 31 Jan + 1 month → 28 Feb 2026 (no 29th/31st); that Saturday is a make-up working day.
    assert CAL.add_months(date(2026, 1, 31), 1) == end_of(2026, 2, 28)


def test_month_end_leap_year_2024() -> None:
    assert CAL.add_months(date(2024, 1, 31), 1) == end_of(2024, 2, 29)
    assert chinese_calendar.is_workday(date(2024, 2, 29))


def test_month_end_august_to_september() -> None:
    assert CAL.add_months(date(2026, 8, 31), 1) == end_of(2026, 9, 30)


def test_month_landing_on_weekend_moves_to_monday() -> None:
    # 16 Apr + 1 month → Sat 16 May → Mon 18 May.
    assert date(2026, 5, 16).weekday() == 5
    assert CAL.add_months(date(2026, 4, 16), 1) == end_of(2026, 5, 18)


def test_month_landing_on_national_day_moves_past_holiday() -> None:
    assert CAL.add_months(date(2026, 9, 1), 1) == end_of(2026, 10, 8)


def test_months_across_year_end() -> None:
    # 30 Nov 2025 + 3 months → 28 Feb 2026 (make-up Saturday); 15 Dec 2025 + 1 → Thu 15 Jan 2026.
    assert CAL.add_months(date(2025, 11, 30), 3) == end_of(2026, 2, 28)
    assert CAL.add_months(date(2025, 12, 15), 1) == end_of(2026, 1, 15)


# --- add_days --------------------------------------------------------------------------------------------


def test_calendar_days_landing_in_national_day_move_to_next_working_day() -> None:
    # 26 Sep + 10 days → 6 Oct (holiday) → Thu 8 Oct.
    assert CAL.add_days(date(2026, 9, 26), 10) == end_of(2026, 10, 8)


def test_calendar_days_landing_on_make_up_day_stay() -> None:
    # 30 Sep + 10 days → Sat 10 Oct, a make-up working day: no move.
    assert CAL.add_days(date(2026, 9, 30), 10) == end_of(2026, 10, 10)


def test_fifteen_day_extension_on_ordinary_day() -> None:
    assert CAL.add_days(date(2026, 3, 2), 15) == end_of(2026, 3, 17)


# --- workdays_between ------------------------------------------------------------------------------------


def test_workdays_between() -> None:
    assert CAL.workdays_between(date(2026, 2, 12), date(2026, 2, 24)) == 3
    assert CAL.workdays_between(date(2026, 2, 24), date(2026, 2, 12)) == -3
    assert CAL.workdays_between(date(2026, 2, 12), date(2026, 2, 12)) == 0
    assert CAL.workdays_between(date(2026, 9, 14), date(2026, 10, 10)) == 15
    expected = len(chinese_calendar.get_workdays(date(2026, 9, 15), date(2026, 10, 10)))
    assert CAL.workdays_between(date(2026, 9, 14), date(2026, 10, 10)) == expected


def test_workdays_between_with_deadline_instants() -> None:
    deadline = CAL.add_workdays(date(2026, 2, 12), 3)  # end of Tue 24 Feb
    assert CAL.workdays_between(date(2026, 2, 12), deadline) == 3
    # On the last day there are no working days left; the next morning it is one day overdue.
    assert CAL.workdays_between(datetime(2026, 2, 24, 9, 0, tzinfo=SHANGHAI), deadline) == 0
    assert CAL.workdays_between(deadline, datetime(2026, 2, 25, 9, 0, tzinfo=SHANGHAI)) == 1


# --- years not covered by the package --------------------------------------------------------------------


def test_2027_without_overrides_raises() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    with pytest.raises(CalendarMissingError) as excinfo:
        CAL.is_workday(date(2027, 1, 4))
    assert excinfo.value.year == 2027
    assert "2027" in str(excinfo.value)
    assert "管理员" in str(excinfo.value)
    # Wed 30 Dec 2026: Thu 31 (1), then 2027 is unknown.
    with pytest.raises(CalendarMissingError):
        CAL.add_workdays(date(2026, 12, 30), 3)
    # Within 2026 it still works.
    assert CAL.add_workdays(date(2026, 12, 30), 1) == end_of(2026, 12, 31)


def test_2027_with_override_table() -> None:
    cal = WorkingCalendar(OVERRIDES_2027)
    assert cal.is_workday(date(2027, 1, 1)) is False  # listed holiday (a Friday)
    assert cal.is_workday(date(2027, 1, 2)) is False  # unlisted Saturday
    assert cal.is_workday(date(2027, 1, 4)) is True  # unlisted Monday
    assert cal.is_workday(date(2027, 2, 6)) is True  # listed make-up Saturday
    # Wed 30 Dec 2026: Thu 31 (1), 1 Jan holiday, weekend, Mon 4 (2), Tue 5 (3).
    assert cal.add_workdays(date(2026, 12, 30), 3) == end_of(2027, 1, 5)
    # 1 Dec 2026 + 1 month → 1 Jan 2027 (holiday) → Mon 4 Jan.
    assert cal.add_months(date(2026, 12, 1), 1) == end_of(2027, 1, 4)
    # Fri 5 Feb 2027 + 1 working day → make-up Sat 6 Feb.
    assert cal.add_workdays(date(2027, 2, 5), 1) == end_of(2027, 2, 6)


def test_overrides_win_in_covered_years() -> None:
    # Suppose the province gives 24 Feb 2026 off: Fri 13 (1), Sat 14 (2), Wed 25 (3).
    cal = WorkingCalendar([DayOverride(date(2026, 2, 24), False, "地方假日")])
    assert cal.is_workday(date(2026, 2, 24)) is False
    assert cal.add_workdays(date(2026, 2, 12), 3) == end_of(2026, 2, 25)
    assert CAL.add_workdays(date(2026, 2, 12), 3) == end_of(2026, 2, 24)  # default calendar unaffected


def test_covers() -> None:
    assert CAL.covers(2004)
    assert CAL.covers(2026)
    assert not CAL.covers(2003)
    assert not CAL.covers(2027)
    cal = WorkingCalendar(OVERRIDES_2027)
    assert cal.covers(2027)
    assert not cal.covers(2028)


def test_missing_year_warning() -> None:
    assert CAL.missing_year_warning(date(2026, 10, 31)) is None
    warning = CAL.missing_year_warning(date(2026, 11, 1))
    assert warning is not None and "2027" in warning
    assert CAL.missing_year_warning(date(2026, 12, 31)) is not None
    assert WorkingCalendar(OVERRIDES_2027).missing_year_warning(date(2026, 11, 1)) is None
    # Earlier covered years: next year is covered by the package.
    assert CAL.missing_year_warning(date(2025, 11, 1)) is None


def test_missing_year_warning_for_current_year() -> None:
    warning = CAL.missing_year_warning(date(2027, 3, 1))
    assert warning is not None and "2027" in warning


# --- parse_schedule --------------------------------------------------------------------------------------


def test_parse_schedule_csv() -> None:
    text = (
        "\ufeffdate,workday,note\n"
        "2027-01-01,否,元旦\n"
        "2027-02-06,上班,春节调休\n"
        "\n"
        "2027-02-10, 0 ,春节\n"
        "2027-02-20,TRUE,\n"
        "2027-02-11,休息,春节\n"
        "2027-02-21,是,春节调休\n"
        "2027-02-12,false,春节\n"
        "2027-02-27,1,\n"
    )
    result = parse_schedule(text, "csv")
    assert result[:3] == [
        DayOverride(date(2027, 1, 1), False, "元旦"),
        DayOverride(date(2027, 2, 6), True, "春节调休"),
        DayOverride(date(2027, 2, 10), False, "春节"),
    ]
    assert [o.workday for o in result] == [False, True, False, True, False, True, False, True]
    assert result[3].note == ""


def test_parse_schedule_csv_without_note_column() -> None:
    assert parse_schedule("date,workday\n2027-01-01,0\n", "csv") == [DayOverride(date(2027, 1, 1), False)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,workday,note\n2027-01-01,0,元旦\n2027/01/02,0,x\n", "第 3 行"),
        ("date,workday,note\n2027-02-30,0,x\n", "第 2 行"),
        ("date,workday,note\n2027-01-01,maybe,x\n", "第 2 行"),
        ("date,workday,note\n2027-01-01\n", "第 2 行"),
        ("date,workday,note\n2027-01-01,0,元旦\n\n2027-01-01,1,x\n", "第 4 行"),
        ("日期,上班,备注\n2027-01-01,0,元旦\n", "表头"),
        ("", "表头"),
    ],
)
def test_parse_schedule_csv_bad_rows(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text, "csv")


def test_parse_schedule_csv_messages_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="日期「2027/01/02」"):
        parse_schedule("date,workday,note\n2027/01/02,0,x\n", "csv")
    with pytest.raises(ValueError, match="workday「maybe」"):
        parse_schedule("date,workday,note\n2027-01-02,maybe,x\n", "csv")
    with pytest.raises(ValueError, match="重复"):
        parse_schedule("date,workday,note\n2027-01-01,0,a\n2027-01-01,1,b\n", "csv")


def test_parse_schedule_json() -> None:
    text = """[
        {"date": "2027-01-01", "workday": false, "note": "元旦"},
        {"date": "2027-02-06", "workday": true, "note": "春节调休"},
        {"date": "2027-02-10", "workday": "休息"},
        {"date": "2027-02-20", "workday": 1, "note": null}
    ]"""
    assert parse_schedule(text, "json") == [
        DayOverride(date(2027, 1, 1), False, "元旦"),
        DayOverride(date(2027, 2, 6), True, "春节调休"),
        DayOverride(date(2027, 2, 10), False, ""),
        DayOverride(date(2027, 2, 20), True, ""),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"date": "2027-01-01", "workday": false}, {"date": "01/02/2027", "workday": false}]', "第 2 条"),
        ('[{"date": "2027-01-01", "workday": "yes"}]', "第 1 条"),
        ('[{"date": "2027-01-01"}]', "第 1 条"),
        ('[{"date": 20270101, "workday": false}]', "第 1 条"),
        ('[{"date": "2027-01-01", "workday": false, "note": 3}]', "第 1 条"),
        ('[{"date": "2027-01-01", "workday": false}, "2027-01-02"]', "第 2 条"),
        ('[{"date": "2027-01-01", "workday": false}, {"date": "2027-01-01", "workday": true}]', "第 2 条"),
        ('{"date": "2027-01-01", "workday": false}', "列表"),
        ('[{"date": "2027-01-01", "workday": false,}]', "JSON 格式错误"),
    ],
)
def test_parse_schedule_json_bad_entries(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text, "json")


def test_parse_schedule_unknown_format() -> None:
    with pytest.raises(ValueError, match="格式"):
        parse_schedule("date,workday\n", "xlsx")


def test_parsed_schedule_feeds_calendar() -> None:
    overrides = parse_schedule("date,workday,note\n2027-01-01,休息,元旦\n", "csv")
    cal = WorkingCalendar(overrides)
    assert cal.covers(2027)
    assert cal.add_workdays(date(2026, 12, 31), 1) == end_of(2027, 1, 4)


# --- expression_helpers ----------------------------------------------------------------------------------


@pytest.fixture
def helpers() -> dict:
    # Thu 12 Feb 2026, 10:00 Shanghai, just before the Spring Festival holiday.
    return expression_helpers(CAL, lambda: datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI))


def test_helpers_default_to_now(helpers: dict) -> None:
    assert set(helpers) == {"workdays", "months", "days", "hours", "workdays_before"}
    assert helpers["workdays"](3) == "2026-02-25T00:00:00+08:00"
    assert helpers["months"](1) == "2026-03-13T00:00:00+08:00"  # Thu 12 Mar
    assert helpers["days"](15) == "2026-02-28T00:00:00+08:00"  # Fri 27 Feb
    assert helpers["days"](5) == "2026-02-25T00:00:00+08:00"  # Tue 17 Feb is a holiday → Tue 24
    assert helpers["hours"](48) == "2026-02-14T10:00:00+08:00"


def test_workdays_before_counts_back_over_holidays_and_make_up_days(helpers: dict) -> None:
    deadline = "2026-02-26T00:00:00+08:00"  # end of Wed 25 Feb, just after the Spring Festival holiday
    assert helpers["workdays_before"](0, deadline) == deadline
    assert helpers["workdays_before"](1, deadline) == "2026-02-25T00:00:00+08:00"  # end of Tue 24
    assert helpers["workdays_before"](2, deadline) == "2026-02-15T00:00:00+08:00"  # make-up Sat 14 Feb
    assert helpers["workdays_before"](3, deadline) == "2026-02-14T00:00:00+08:00"  # Fri 13 Feb
    with pytest.raises(ValueError, match="负数"):
        helpers["workdays_before"](-1, deadline)


def test_helpers_from_iso_strings(helpers: dict) -> None:
    # UTC string converted to Shanghai (Sat 14 Feb 01:00) before taking the date.
    assert helpers["workdays"](1, from_="2026-02-13T17:00:00Z") == "2026-02-25T00:00:00+08:00"
    assert helpers["hours"](1, from_="2026-02-13T17:00:00+00:00") == "2026-02-14T02:00:00+08:00"
    # Naive string is Shanghai time: 30 Sep + 1 day → 1 Oct holiday → Thu 8 Oct.
    assert helpers["days"](1, from_="2026-09-30T23:30") == "2026-10-09T00:00:00+08:00"
    assert helpers["hours"](1, from_="2026-02-13T23:30") == "2026-02-14T00:30:00+08:00"
    # Date-only string is that day (not 24:00 of the day before).
    assert helpers["workdays"](1, from_="2026-02-13") == "2026-02-15T00:00:00+08:00"
    assert helpers["hours"](2, from_="2026-02-13") == "2026-02-13T02:00:00+08:00"


def test_helpers_from_date_and_datetime(helpers: dict) -> None:
    assert helpers["months"](1, from_=date(2026, 1, 31)) == "2026-03-01T00:00:00+08:00"
    assert (
        helpers["workdays"](1, from_=datetime(2026, 2, 13, 17, 0, tzinfo=UTC)) == "2026-02-25T00:00:00+08:00"
    )
    assert helpers["hours"](8, from_=datetime(2026, 2, 13, 17, 0, tzinfo=UTC)) == "2026-02-14T09:00:00+08:00"


def test_helpers_reject_bad_origin(helpers: dict) -> None:
    with pytest.raises(ValueError, match="起算时间"):
        helpers["days"](1, from_="next tuesday")


def test_helpers_raise_for_missing_year() -> None:
    late = expression_helpers(CAL, lambda: datetime(2026, 12, 30, 9, 0, tzinfo=SHANGHAI))
    with pytest.raises(CalendarMissingError):
        late["workdays"](3)
    assert late["hours"](72) == "2027-01-02T09:00:00+08:00"  # clock hours need no calendar
