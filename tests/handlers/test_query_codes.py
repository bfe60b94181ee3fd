"""petition.issue_query_code: a random grouped code handed over once to whoever registered the item, only an
argon2 hash (and a lookup selector) in the registry, nothing of it in case data, workflow state, audit events,
any other stored row or the log; the lookup the reporter's status check uses (tolerant of case, spaces and
missing dashes)."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from common import make_actor
from petition_support import STAFF, call, deploy, item, petition

from engine import Engine
from engine.secrets import handover
from engine.store.models import Base
from handlers.query_code import ALPHABET, SELECTOR_LENGTH, find_by_query_code, new_code

CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}){2}$")
OTHER_STAFF = make_actor("xf_chen", "petition_staff", department="petition_office")


@pytest.fixture
def eng(engine: Engine) -> Engine:
    deploy(engine, "query_code.bpmn", "register.bpmn")
    return engine


def take(engine: Engine, case_id: int, name: str = STAFF.name) -> str | None:
    with engine.db.write() as session:
        return handover.take(session, engine.keyring, case_id, name, handover.QUERY_CODE, engine.clock.now())


def web_item(engine: Engine) -> tuple[int, str]:
    case_id = engine.start_case("query_code", item(channel="web", real_name=False), STAFF)
    return case_id, take(engine, case_id)


def everything_stored(engine: Engine) -> str:
    """Every row of every table, as text: what a copy of the database would tell."""
    with engine.db.read() as session:
        return "\n".join(repr(tuple(row)) for table in Base.metadata.sorted_tables
                         for row in session.execute(sa.select(table)))


def test_the_code_is_handed_over_once_to_whoever_registered(eng):
    case_id = eng.start_case("query_code", item(channel="web", real_name=False), STAFF)
    assert take(eng, case_id, OTHER_STAFF.name) is None  # another staff member finds nothing
    code = take(eng, case_id)
    assert CODE.match(code), code
    assert take(eng, case_id) is None  # a reload finds nothing either
    assert eng.case(case_id)["data"]["query_code_issued"] is True


def test_only_an_argon2_hash_and_a_selector_are_kept(eng):
    case_id, code = web_item(eng)
    row = petition(eng, case_id)
    canonical = code.replace("-", "")
    assert row.query_code_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(row.query_code_hash, canonical)
    assert row.query_code_selector == hashlib.sha256(canonical.encode()).hexdigest()[:SELECTOR_LENGTH]


def test_no_row_event_or_log_line_keeps_the_code(eng, caplog):
    caplog.set_level(logging.DEBUG)
    case_id = eng.start_case("query_code", item(channel="web", real_name=False), STAFF)
    waiting = everything_stored(eng)  # while the code waits for its reader: encrypted only
    code = take(eng, case_id)
    eng.complete(eng.find_task(case_id, "Task_wait"), STAFF, {})
    stored = everything_stored(eng)
    events = eng.history(case_id)
    start = next(event for event in events if event["kind"] == "start")
    assert start["payload"]["delta"]["changed"]["query_code_issued"] is True  # the delta says only that
    for text in (waiting, stored, repr(eng.case(case_id)), repr(events), caplog.text):
        for form in (code, code.replace("-", ""), code.lower()):
            assert form not in text


def test_lookup_by_code(eng):
    first, first_code = web_item(eng)
    second, code = web_item(eng)
    typed = f"  {code.replace('-', ' ').lower()} "
    with eng.db.read() as session:
        assert find_by_query_code(session, code).case_id == second
        assert find_by_query_code(session, typed).registration_number == "XF-2026-000002"
        assert find_by_query_code(session, first_code).case_id == first
        assert find_by_query_code(session, "AAAA-AAAA-AAAA") is None
        assert find_by_query_code(session, "0000-1111-OOOO") is None  # not from the alphabet
        assert find_by_query_code(session, "") is None


def test_issuing_again_replaces_the_code(eng):
    case_id, old = web_item(eng)
    handed: dict[str, str] = {}
    result = call(eng, "petition.issue_query_code", case_id, {}, hand_over=handed.__setitem__)
    assert result == {"query_code_issued": True}
    new = handed[handover.QUERY_CODE]
    assert CODE.match(new) and new != old
    with eng.db.read() as session:
        assert find_by_query_code(session, old) is None
        assert find_by_query_code(session, new).case_id == case_id


def test_a_code_not_taken_in_time_is_dropped(eng, clock):
    case_id = eng.start_case("query_code", item(channel="web", real_name=False), STAFF)
    clock.set(clock.now() + handover.TTL + timedelta(seconds=1))
    assert take(eng, case_id) is None
    with eng.db.read() as session:
        assert find_by_query_code(session, "AAAA-AAAA-AAAA") is None


def test_a_code_with_nobody_to_hand_it_to_is_an_error(eng):
    case_id, _ = web_item(eng)
    with pytest.raises(RuntimeError, match="没有接收人"):
        call(eng, "petition.issue_query_code", case_id, {})


def test_a_code_before_registration_is_a_diagram_error(eng):
    with pytest.raises(ValueError, match="尚未登记"):
        call(eng, "petition.issue_query_code", 999, {}, hand_over=lambda purpose, value: None)


def test_codes_are_random_and_well_formed():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE.match(code) for code in codes)
    assert set("".join(codes).replace("-", "")) == set(ALPHABET)
