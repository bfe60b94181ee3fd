"""petition.issue_query_code: a random grouped code for the reporter, only its SHA-256 in the registry, and
the lookup the web portal will use (tolerant of case, spaces and missing dashes)."""

from __future__ import annotations

import hashlib
import re

import pytest
from petition_support import STAFF, call, deploy, item, petition

from engine import Engine
from handlers.query_code import ALPHABET, find_by_query_code, new_code

CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}){2}$")


@pytest.fixture
def eng(engine: Engine) -> Engine:
    deploy(engine, "query_code.bpmn", "register.bpmn")
    return engine


def test_the_code_is_returned_once_and_only_its_hash_is_stored(eng):
    case_id = eng.start_case("query_code", item(channel="web", real_name=False), STAFF)
    code = eng.case(case_id)["data"]["query_code"]
    assert CODE.match(code), code
    row = petition(eng, case_id)
    assert row.query_code_hash == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    assert code not in {str(value) for value in vars(row).values()}


def test_lookup_by_code(eng):
    first = eng.start_case("query_code", item(channel="web"), STAFF)
    second = eng.start_case("query_code", item(channel="web"), STAFF)
    code = eng.case(second)["data"]["query_code"]
    typed = f"  {code.replace('-', ' ').lower()} "
    with eng.db.read() as session:
        assert find_by_query_code(session, code).case_id == second
        assert find_by_query_code(session, typed).registration_number == "XF-2026-000002"
        assert find_by_query_code(session, eng.case(first)["data"]["query_code"]).case_id == first
        assert find_by_query_code(session, "AAAA-AAAA-AAAA") is None
        assert find_by_query_code(session, "0000-1111-OOOO") is None  # not from the alphabet
        assert find_by_query_code(session, "") is None


def test_issuing_again_replaces_the_code(eng):
    case_id = eng.start_case("query_code", item(channel="web"), STAFF)
    old = eng.case(case_id)["data"]["query_code"]
    new = call(eng, "petition.issue_query_code", case_id, {})["query_code"]
    with eng.db.read() as session:
        assert find_by_query_code(session, old) is None
        assert find_by_query_code(session, new).case_id == case_id


def test_a_code_before_registration_is_a_diagram_error(eng):
    with pytest.raises(ValueError, match="尚未登记"):
        call(eng, "petition.issue_query_code", 999, {})


def test_codes_are_random_and_well_formed():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE.match(code) for code in codes)
    assert set("".join(codes).replace("-", "")) == set(ALPHABET)
