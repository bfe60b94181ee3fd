"""The later handlers through one diagram: petition.update after assignment, notices.send to the handling
department, supervision.record_overdue, petition.update after handling, petition.archive."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from organisation_support import HANDLER, load_office
from petition_support import STAFF, call, deploy, diagram, item, petition

from engine import Engine, IncidentRaised
from engine.store.models import Notice
from handlers.archive import add_years


@pytest.fixture
def eng(engine: Engine) -> Engine:
    load_office(engine)
    deploy(engine, "handling.bpmn", "register.bpmn")
    return engine


def _notices(engine: Engine, case_id: int) -> list[Notice]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(Notice).where(Notice.case_id == case_id).order_by(Notice.username)))


def test_assign_notify_handle_overdue_archive(eng, clock):
    case_id = eng.start_case("handling", item(), STAFF)
    clock.advance(hours=2)
    eng.complete(eng.find_task(case_id, "Task_assign"), STAFF, {
        "category": "accusation", "route": "assign", "handling_department": "supervision_1",
        "handling_method": "交办", "sealed": False})
    row = petition(eng, case_id)
    assert (row.status, row.category, row.route, row.handling_department, row.handling_method, row.sealed) == (
        "assigned", "accusation", "assign", "supervision_1", "交办", False)
    assert row.disposal is None and row.truthfulness is None

    notices = _notices(eng, case_id)
    # handling staff of that department (not the inactive one), the leader in charge (office-wide), the
    # named petition office head; not the other department's staff nor staff without a department
    assert [n.username for n in notices] == ["leader_li", "s1_liu", "xf_chen"]
    assert {n.text for n in notices} == {"信访件 XF-2026-000001 已交办，请于  前报送调查报告"}
    assert {(n.kind, n.created_at, n.read_at) for n in notices} == {("new_task", clock.now(), None)}

    clock.advance(days=40)
    eng.complete(eng.find_task(case_id, "Task_handle"), HANDLER,
                 {"disposal": "preliminary_verification", "truthfulness": "partly_true"})
    row = petition(eng, case_id)
    assert (row.overdue_count, row.last_overdue_at) == (1, clock.now())
    assert (row.disposal, row.truthfulness) == ("preliminary_verification", "partly_true")
    assert (row.status, row.archived_at, row.retention_until) == ("archived", clock.now(), date(2056, 4, 11))
    case = eng.case(case_id)
    assert case["status"] == "completed"
    assert case["data"]["archived_at"] == clock.now().isoformat()
    assert case["data"]["retention_until"] == "2056-04-11"


def test_update_copies_only_what_is_present_and_sets_the_status(eng):
    case_id = eng.start_case("register", item(category="accusation"), STAFF)
    call(eng, "petition.update", case_id, {"handling_department": "supervision_2", "sealed": "true"})
    row = petition(eng, case_id)
    assert (row.category, row.handling_department, row.sealed, row.status) == (
        "accusation", "supervision_2", True, "registered")
    call(eng, "petition.update", case_id, {"category": " "}, {"status": "closed"})
    assert (petition(eng, case_id).category, petition(eng, case_id).status) == (None, "closed")
    with pytest.raises(ValueError, match="status 过长"):
        call(eng, "petition.update", case_id, {}, {"status": "x" * 21})


def test_overdue_counts_add_up(eng, clock):
    case_id = eng.start_case("register", item(), STAFF)
    for _ in range(3):
        clock.advance(days=1)
        call(eng, "supervision.record_overdue", case_id, {})
    assert (petition(eng, case_id).overdue_count, petition(eng, case_id).last_overdue_at) == (3, clock.now())


@pytest.mark.parametrize(("now", "years", "until"), [
    ("2028-02-29T10:00:00+08:00", "30", date(2058, 2, 28)),  # no 29 February in 2058
    ("2028-02-29T10:00:00+08:00", "4", date(2032, 2, 29)),
    ("2028-02-29T01:00:00+08:00", None, date(2058, 2, 28)),  # 28 February in UTC: the Shanghai day counts
    ("2026-12-31T23:30:00+08:00", "0", date(2026, 12, 31)),
])
def test_archive_retention(eng, now, years, until):
    case_id = eng.start_case("register", item(), STAFF)
    instant = datetime.fromisoformat(now)
    result = call(eng, "petition.archive", case_id, {}, {"retention_years": years} if years else {}, now=instant)
    assert result == {"archived_at": instant.isoformat(), "retention_until": until.isoformat()}
    row = petition(eng, case_id)
    assert (row.status, row.archived_at, row.retention_until) == ("archived", instant, until)


def test_bad_retention_is_refused(eng):
    bad = diagram("handling.bpmn", {'id="handling"': 'id="handling_bad"', 'value="30"': 'value="三十年"'})
    eng.deploy({"bad.bpmn": bad}, by="test")
    case_id = eng.start_case("handling_bad", item(), STAFF)
    eng.complete(eng.find_task(case_id, "Task_assign"), STAFF, {"handling_department": "supervision_1"})
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(eng.find_task(case_id, "Task_handle"), HANDLER, {})
    assert "retention_years 应为整数" in raised.value.message
    assert petition(eng, case_id).overdue_count == 0  # the whole command rolled back


def test_steps_before_registration_are_refused(eng):
    for name in ("petition.update", "supervision.record_overdue", "petition.archive", "duplicates.link"):
        with pytest.raises(ValueError, match="尚未登记"):
            call(eng, name, 12345, {})


def test_add_years():
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2026, 3, 2), 30) == date(2056, 3, 2)
