"""petition.register: XF-{year}-{seq:06d} numbers from a per-year counter in the command's transaction —
consecutive, per Shanghai year, no gap after a rolled-back command, no duplicate under concurrency — and
the registry row with its accused, without reporter identity."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from common import ROOT
from petition_support import STAFF, accused_rows, call, deploy, item, petition, petitions

from engine import Engine, IncidentRaised
from engine.store.models import Petition, RegistrationCounter


@pytest.fixture
def eng(engine: Engine) -> Engine:
    deploy(engine, "register.bpmn", "register_then_fail.bpmn")
    return engine


def _counters(engine: Engine) -> dict[int, int]:
    with engine.db.read() as session:
        return dict(session.execute(sa.select(RegistrationCounter.year, RegistrationCounter.last_number)).all())


def test_numbers_are_consecutive_and_the_registry_row_is_written(eng, clock):
    case_ids = [eng.start_case("register", item(), STAFF) for _ in range(3)]
    numbers = [eng.case(case_id)["data"]["registration_number"] for case_id in case_ids]
    assert numbers == ["XF-2026-000001", "XF-2026-000002", "XF-2026-000003"]
    # the diagram registers twice: the second call returns the number the case already has
    assert _counters(eng) == {2026: 3}
    assert [row.case_id for row in petitions(eng)] == case_ids

    data = eng.case(case_ids[0])["data"]
    assert data["registered_at"] == clock.now().isoformat()
    row = petition(eng, case_ids[0])
    assert (row.registration_number, row.year, row.received_on, row.registered_at) == (
        "XF-2026-000001", 2026, date(2026, 3, 1), clock.now())
    assert (row.channel, row.source, row.problem_type, row.status, row.real_name, row.sealed) == (
        "letter", "direct", "integrity", "registered", True, False)
    assert row.summary == item()["summary"]
    assert (row.repeat_count, row.overdue_count, row.duplicate_of_id, row.query_code_hash) == (0, 0, None, None)
    (accused,) = accused_rows(eng, case_ids[0])
    assert (accused.position, accused.name, accused.unit, accused.position_title, accused.rank) == (
        1, "张三", "某镇人民政府", "副镇长", "科级")
    assert (accused.party_member, accused.supervised_person) == (True, True)
    assert (accused.normalized_name, accused.normalized_unit) == ("张三", "某镇人民政府")


def test_the_registry_never_holds_reporter_identity(eng):
    case_id = eng.start_case("register", item(), STAFF)
    values = [getattr(row, column.key) for row in [petition(eng, case_id), *accused_rows(eng, case_id)]
              for column in sa.inspect(type(row)).columns]
    assert not {"李四", "13800000000"} & {str(value) for value in values}


def test_the_year_is_the_shanghai_year_and_rolls_over(eng, clock):
    eng.start_case("register", item(), STAFF)
    clock.set(datetime.fromisoformat("2026-12-31T23:59:00+08:00"))
    last = eng.start_case("register", item(received_on="2026-12-31"), STAFF)
    clock.advance(minutes=1)  # 2027-01-01 00:00 in Shanghai, still 2026 in UTC
    first = eng.start_case("register", item(received_on="2026-12-31"), STAFF)
    second = eng.start_case("register", item(), STAFF)
    assert [eng.case(case_id)["data"]["registration_number"] for case_id in (last, first, second)] == [
        "XF-2026-000002", "XF-2027-000001", "XF-2027-000002"]
    assert (petition(eng, first).year, petition(eng, first).received_on) == (2027, date(2026, 12, 31))
    assert _counters(eng) == {2026: 2, 2027: 2}


def test_a_failing_later_step_gives_the_number_back(eng):
    assert eng.case(eng.start_case("register", item(), STAFF))["data"]["registration_number"] == "XF-2026-000001"
    with pytest.raises(IncidentRaised) as raised:
        eng.start_case("register_then_fail", item(), STAFF)
    failed = raised.value.case_id
    assert "registration_number" not in eng.case(failed)["data"]
    assert _counters(eng) == {2026: 1}
    assert failed not in [row.case_id for row in petitions(eng)]

    after = eng.start_case("register", item(), STAFF)
    assert eng.case(after)["data"]["registration_number"] == "XF-2026-000002"  # reused, no gap
    eng.skip(raised.value.incident_id, STAFF)  # skipping the broken script registers the case at last
    assert eng.case(failed)["data"]["registration_number"] == "XF-2026-000003"


def test_received_on_may_be_an_iso_string_or_missing(eng, clock):
    clock.set(datetime.fromisoformat("2026-03-03T07:30:00+08:00"))  # still 2 March in UTC
    from_string = eng.start_case("register", item(received_on="2026-02-27"), STAFF)
    missing = eng.start_case("register", item(received_on=None), STAFF)
    assert petition(eng, from_string).received_on == date(2026, 2, 27)
    assert petition(eng, missing).received_on == date(2026, 3, 3)


def test_malformed_accused_is_an_incident_and_takes_no_number(eng):
    with pytest.raises(IncidentRaised) as raised:
        eng.start_case("register", item(accused="张三"), STAFF)
    assert "被反映人列表" in raised.value.message
    assert _counters(eng) == {}


def test_accused_entries_without_name_or_unit_are_skipped(eng):
    case_id = eng.start_case("register", item(accused=[{"name": " "}, {"name": "王 五", "unit": "ＸＸ局"}]), STAFF)
    (row,) = accused_rows(eng, case_id)
    assert (row.position, row.name, row.normalized_name, row.normalized_unit) == (1, "王 五", "王五", "xx局")
    assert row.position_title is None and row.party_member is None


def test_register_called_directly_is_idempotent(eng):
    case_id = eng.start_case("register", item(), STAFF)
    again = call(eng, "petition.register", case_id, item())
    assert again["registration_number"] == "XF-2026-000001"
    assert _counters(eng) == {2026: 1}


def _race(engine: Engine, count: int) -> list[object]:
    barrier = threading.Barrier(count)
    outcomes: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            outcome: object = engine.start_case("register", item(), STAFF)
        except Exception as exc:  # reported below with the others
            outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _assert_numbers_are_exactly(engine: Engine, count: int) -> None:
    numbers = sorted(row.registration_number for row in petitions(engine))
    assert numbers == [f"XF-2026-{n:06d}" for n in range(1, count + 1)]
    assert _counters(engine) == {2026: count}


def test_concurrent_registrations_get_numbers_one_to_n(eng, database, clock):
    # several engines (as in several web processes), all starting cases on the same empty year at once
    engines = [eng, *(Engine(database, clock) for _ in range(3))]
    outcomes = []
    for other in engines:
        outcomes += _race(other, 4)
    outcomes += _race(eng, 8)
    assert all(isinstance(outcome, int) for outcome in outcomes), outcomes
    _assert_numbers_are_exactly(eng, 24)


WORKER = textwrap.dedent("""
    import sys, time
    from datetime import date
    from engine import Engine, FakeClock
    from engine.org.organisation import Actor
    url, go, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    engine = Engine(url, FakeClock("2026-03-02T09:00:00+08:00"))
    actor = Actor("xf_wang", "", "petition_office", frozenset({"petition_staff"}))
    data = {"received_on": date(2026, 3, 1), "summary": "并发登记", "accused": []}
    while time.time() < go:
        time.sleep(0.005)
    for _ in range(count):
        engine.start_case("register", data, actor)
    print("ok")
""")


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_processes_registering_at_once_get_numbers_one_to_n(eng, database):
    go = time.time() + 3  # all processes loaded and connected before the first start
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, database.url, str(go), "10"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        assert worker.returncode == 0 and out.strip() == "ok", err
    _assert_numbers_are_exactly(eng, 40)
    with eng.db.read() as session:
        assert session.scalar(sa.select(sa.func.count(sa.distinct(Petition.case_id)))) == 40
