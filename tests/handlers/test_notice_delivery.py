"""notices.send recipients (roles narrowed to a department, office-wide roles, named users), the template
filling, and the engine's read side (unread count, list, mark read)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from organisation_support import load_office
from petition_support import STAFF, call, deploy, item

from engine import Engine
from engine.reads.notices import list_notices, mark_read, unread_count
from engine.store.models import Notice
from handlers.notices import fill


@pytest.fixture
def eng(engine: Engine) -> Engine:
    load_office(engine)
    deploy(engine, "register.bpmn")
    return engine


@pytest.fixture
def case_id(eng: Engine) -> int:
    return eng.start_case("register", item(), STAFF)


def _send(eng: Engine, case_id: int, data: dict | None = None, **properties: str) -> list[str]:
    """Sends and returns the recipients of this send, in name order."""
    with eng.db.read() as session:
        before = session.scalar(sa.select(sa.func.max(Notice.id))) or 0
    call(eng, "notices.send", case_id, data or {}, {"kind": "reminder", "text": "请办理", **properties})
    with eng.db.read() as session:
        return list(session.scalars(sa.select(Notice.username).where(Notice.id > before).order_by(Notice.username)))


@pytest.mark.parametrize(("properties", "data", "recipients"), [
    ({"roles": "handling_staff", "department": "supervision_2"}, {}, ["s2_zhou"]),
    ({"roles": "handling_staff", "department": "{handling_department}"}, {"handling_department": "supervision_1"},
     ["s1_liu"]),
    ({"roles": "handling_staff"}, {}, ["loose_he", "s1_liu", "s2_zhou"]),  # no department: all of the role
    ({"roles": "handling_staff,handling_leader", "department": "supervision_1"}, {}, ["s1_liu", "s1_sun"]),
    # leaders and the petition office are office-wide: a department does not narrow them
    ({"roles": "handling_leader, leader_in_charge，principal_leader", "department": "supervision_2"}, {},
     ["leader_li", "leader_zhao", "s2_zhou"]),
    ({"roles": "petition_staff", "department": "supervision_1"}, {}, ["xf_chen", "xf_wang"]),
    # a department that resolves to nothing reaches no one of the department roles (not everyone)
    ({"roles": "handling_staff,leader_in_charge", "department": "{handling_department}"}, {}, ["leader_li"]),
    ({"users": "s1_sun, s1_ma"}, {}, ["s1_sun"]),  # a user who has left is skipped
    ({"roles": "petition_head", "users": "xf_chen,s2_zhou"}, {}, ["s2_zhou", "xf_chen"]),  # once each
    ({"roles": "auditor"}, {}, []),  # a known role nobody holds
    # roles and users may come from the case data
    ({"roles": "{proposer_group}", "users": "{assignee}"}, {"proposer_group": "petition_head", "assignee": "s1_liu"},
     ["s1_liu", "xf_chen"]),
])
def test_recipients(eng, case_id, properties, data, recipients):
    assert _send(eng, case_id, data, **properties) == recipients


@pytest.mark.parametrize(("category", "recipients"), [
    ("higher_level", ["leader_zhao", "xf_chen"]),  # reported up through the principal leader
    ("accuses_principal", ["xf_chen"]),  # goes up without passing him (rule Art. 15)
    (None, ["xf_chen"]),  # sealed at registration, reason not yet recorded: the head only
])
def test_a_sealed_item_is_announced_only_to_its_readers(eng, category, recipients):
    sealed = eng.start_case("register", item(sealed=True, category=category), STAFF)
    roles = "leader_in_charge,principal_leader,petition_head,handling_staff"
    assert _send(eng, sealed, roles=roles, department="supervision_1") == recipients


def test_nobody_is_told_of_an_item_accusing_them(eng):
    about = eng.start_case("register", item(accused=[{"name": "s1_sun", "unit": "某镇人民政府"}]), STAFF)
    assert _send(eng, about, roles="handling_staff,handling_leader", department="supervision_1") == ["s1_liu"]


def test_one_row_per_recipient_with_the_filled_text(eng, case_id, clock):
    call(eng, "notices.send", case_id, {"registration_number": "XF-2026-000001", "due_on": date(2026, 3, 5)},
         {"kind": "overdue", "users": "s1_liu,s1_sun", "text": "{registration_number} 已于 {due_on} 逾期"})
    with eng.db.read() as session:
        rows = session.scalars(sa.select(Notice).order_by(Notice.username)).all()
    assert [(r.username, r.case_id, r.kind, r.text, r.created_at, r.read_at) for r in rows] == [
        (name, case_id, "overdue", "XF-2026-000001 已于 2026-03-05 逾期", clock.now(), None)
        for name in ("s1_liu", "s1_sun")]


@pytest.mark.parametrize(("properties", "message"), [
    ({"roles": "handling_staf"}, "未知角色：handling_staf"),
    ({"users": "nobody"}, "不存在的用户：nobody"),
    ({}, "roles 或 users"),
    ({"users": "s1_liu", "kind": ""}, "kind 必填"),
    ({"users": "s1_liu", "text": " "}, "text"),
    ({"users": "s1_liu", "text": "举报人：{reporter_name}"}, "举报人信息"),
    ({"roles": "handling_staff", "department": "{reporter_unit}"}, "举报人信息"),
])
def test_bad_configuration_is_refused(eng, case_id, properties, message):
    with pytest.raises(ValueError, match=message):
        call(eng, "notices.send", case_id, item(), {"kind": "reminder", "text": "请办理", **properties})
    with eng.db.read() as session:
        assert session.scalars(sa.select(Notice)).all() == []


def test_fill_puts_plain_keys_only():
    data = {"registration_number": "XF-2026-000001", "sealed": True, "received_on": date(2026, 3, 1),
            "due_at": datetime.fromisoformat("2026-03-05T16:00:00+00:00"), "tags": ["急", "重"],
            "accused": [{"name": "张三"}], "count": 3}
    assert fill("{registration_number}：{missing}{{原样}}", data) == "XF-2026-000001：{原样}"
    # a deadline ending at midnight is 24:00 of its last day, also when kept as ISO text in case data
    assert fill("{sealed} {received_on} {due_at} {tags} {count}", data) == "是 2026-03-01 2026-03-05 24:00 急、重 3"
    assert fill("{report_due} {noon}", {"report_due": "2026-04-14T00:00:00+08:00",
                                        "noon": "2026-04-14T12:30:00+08:00"}) == "2026-04-13 24:00 2026-04-14 12:30"
    assert fill("{accused}", data) == ""  # structured values are not dumped into a notice
    for template in ("{registration_number.__class__}", "{tags[0]}", "{0}", "{}", "{count!r}", "{count:>10}",
                     "{registration_number", "}"):
        with pytest.raises(ValueError):
            fill(template, data)


def test_reading_notices(eng, case_id, clock):
    for index in range(3):
        clock.advance(minutes=1)
        call(eng, "notices.send", case_id, {"n": index}, {"kind": "reminder", "users": "s1_liu,s1_sun",
                                                          "text": "第{n}次催办"})
    with eng.db.write() as session:
        assert unread_count(session, "s1_liu") == 3
        listed = list_notices(session, "s1_liu")
        assert [n["text"] for n in listed] == ["第2次催办", "第1次催办", "第0次催办"]  # newest first
        assert set(listed[0]) == {"id", "case_id", "kind", "text", "created_at", "read_at"}
        assert [n["text"] for n in list_notices(session, "s1_liu", limit=2)] == ["第2次催办", "第1次催办"]
        others = [n["id"] for n in list_notices(session, "s1_sun")]
        read_at = clock.now() + timedelta(hours=1)
        # only one's own notices can be marked read, and only once
        assert mark_read(session, "s1_liu", [listed[0]["id"], *others], now=read_at) == 1
        assert mark_read(session, "s1_liu", [listed[0]["id"]], now=read_at) == 0
        assert mark_read(session, "s1_liu", []) == 0
    with eng.db.read() as session:
        assert unread_count(session, "s1_liu") == 2 and unread_count(session, "s1_sun") == 3
        assert [n["text"] for n in list_notices(session, "s1_liu", unread_only=True)] == ["第1次催办", "第0次催办"]
        assert list_notices(session, "s1_liu")[0]["read_at"] == read_at
        assert unread_count(session, "nobody") == 0
