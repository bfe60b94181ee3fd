"""Engine.correlate: a message reaches exactly one waiting case (by business key and variables) or starts
the one process it starts; everything else is refused in Chinese. Audited, exactly once, and found through
the subscription table."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from common import make_actor

import cli.main
from engine import Engine
from engine.api import Conflict, NotFound
from engine.bpmn.deployments import read_paths
from engine.runtime.events import Trigger
from engine.store.models import Case, EventSubscription, User

CORPUS = Path(__file__).parent / "corpus_events"
STAFF = make_actor("wang", "petition_staff")


@pytest.fixture
def catching(engine) -> Engine:
    engine.deploy(read_paths([CORPUS / "ev_message_catch.bpmn", CORPUS / "ev_receive_task.bpmn",
                              CORPUS / "ev_message_start.bpmn"]), by="test")
    return engine


def _subscriptions(engine, case_id: int) -> list[tuple[str, str, str]]:
    with engine.db.read() as session:
        rows = session.execute(sa.select(EventSubscription.kind, EventSubscription.name, EventSubscription.bpmn_id)
                               .where(EventSubscription.case_id == case_id))
        return [tuple(row) for row in rows]


def test_waiting_case_is_listed_in_the_subscription_table_until_the_message_arrives(catching):
    case_id = catching.start_case("ev_message_catch", {}, STAFF, business_key="K-1")
    assert _subscriptions(catching, case_id) == [("message", "reporter_reaction", "wait_reaction")]
    assert catching.correlate("reporter_reaction", {"businessKey": "K-1"}, {"satisfied": False}, STAFF) == case_id
    assert _subscriptions(catching, case_id) == []
    assert catching.case(case_id)["status"] == "completed"


def test_message_goes_only_to_the_case_its_business_key_names(catching):
    first = catching.start_case("ev_message_catch", {}, STAFF, business_key="K-1")
    second = catching.start_case("ev_message_catch", {}, STAFF, business_key="K-2")
    assert catching.correlate("reporter_reaction", {"businessKey": "K-2"}, {}, STAFF) == second
    assert catching.case(first)["status"] == "running"
    assert catching.case(second)["status"] == "completed"


def test_message_is_correlated_by_case_variables(catching):
    wanted = catching.start_case("ev_receive_task", {"item": "A-1"}, STAFF)
    other = catching.start_case("ev_receive_task", {"item": "A-2"}, STAFF)
    assert catching.correlate("reaction_received", {"item": "A-1"}, {"reaction": "不认可"}, STAFF) == wanted
    assert catching.case(wanted)["data"]["reaction"] == "不认可"
    assert catching.case(other)["status"] == "running"


def test_message_matching_several_cases_is_refused_and_changes_nothing(catching):
    cases = [catching.start_case("ev_message_catch", {}, STAFF, business_key=f"K-{n}") for n in (1, 2)]
    with pytest.raises(Conflict, match="匹配到 2 个等待中的事件"):
        catching.correlate("reporter_reaction", {}, {}, STAFF)
    assert [catching.case(case_id)["status"] for case_id in cases] == ["running", "running"]


def test_message_no_case_waits_for_is_refused_in_chinese(catching):
    catching.start_case("ev_message_catch", {}, STAFF, business_key="K-1")
    with pytest.raises(NotFound, match="没有等待消息“reporter_reaction”的案件（businessKey=K-9）"):
        catching.correlate("reporter_reaction", {"businessKey": "K-9"}, {}, STAFF)
    with pytest.raises(NotFound, match="没有等待消息“no_such_message”"):
        catching.correlate("no_such_message", {}, {}, STAFF)


def test_the_same_message_is_delivered_once(catching):
    case_id = catching.start_case("ev_message_catch", {}, STAFF, business_key="K-1")
    catching.correlate("reporter_reaction", {"businessKey": "K-1"}, {}, STAFF)
    with pytest.raises(NotFound):
        catching.correlate("reporter_reaction", {"businessKey": "K-1"}, {}, STAFF)
    kinds = [event["kind"] for event in catching.history(case_id)]
    assert kinds.count("message_received") == 1


def test_concurrent_delivery_from_another_process_is_refused(catching, database, clock):
    """Both processes found the subscription before either delivered: the version-guarded case command lets
    exactly one through."""
    case_id = catching.start_case("ev_message_catch", {}, STAFF, business_key="K-1")
    with catching.db.read() as session:
        task_id = session.scalar(sa.select(EventSubscription.task_id).where(EventSubscription.case_id == case_id))
    other = Engine(database, clock)
    trigger = Trigger("message", "reporter_reaction", {"n": 1}, task_id)
    other.commands.deliver(case_id, trigger, STAFF)
    with pytest.raises(Conflict, match="已不在等待消息“reporter_reaction”"):
        catching.commands.deliver(case_id, trigger, STAFF)
    assert [e["kind"] for e in catching.history(case_id)].count("message_received") == 1


def test_delivery_is_audited_with_the_message_and_its_data(catching):
    case_id = catching.start_case("ev_message_catch", {}, STAFF, business_key="K-1")
    catching.correlate("reporter_reaction", {"businessKey": "K-1"}, {"satisfied": True}, STAFF)
    event = catching.history(case_id)[-1]
    assert (event["kind"], event["actor"], event["bpmn_id"]) == ("message_received", "wang", "wait_reaction")
    assert event["payload"]["name"] == "reporter_reaction"
    assert event["payload"]["data"] == {"satisfied": True}


def test_message_start_event_starts_a_case_with_the_business_key(catching):
    case_id = catching.correlate("web_report", {"businessKey": "W-1"}, {"summary": "举报"}, STAFF)
    case = catching.case(case_id)
    assert [item["bpmn_id"] for item in case["work_items"]] == ["register"]
    assert case["events"][0]["payload"]["name"] == "web_report"
    with catching.db.read() as session:  # stored: later messages of the case are correlated by it
        assert session.scalar(sa.select(Case.business_key).where(Case.id == case_id)) == "W-1"


def test_message_starting_two_processes_is_refused(catching):
    copy = (CORPUS / "ev_message_start.bpmn").read_text().replace('id="ev_message_start"', 'id="ev_message_start_2"')
    catching.deploy({"copy.bpmn": copy.replace("ev_message_start\"", "ev_message_start_2\"")}, by="test")
    with pytest.raises(Conflict, match="可启动多个流程"):
        catching.correlate("web_report", {}, {}, STAFF)


def test_cli_message_command(catching):
    with catching.db.write() as session:
        session.add(User(name="admin", display_name="管理员"))
    case_id = catching.start_case("ev_message_catch", {}, STAFF, business_key="K-1")
    run = CliRunner().invoke(cli.main.main, ["--database-url", catching.db.url, "message", "reporter_reaction",
                                             "--keys", '{"businessKey": "K-1"}', "--data", '{"ok": true}'])
    assert run.exit_code == 0, run.output
    assert run.output.strip() == str(case_id)
    assert catching.case(case_id)["data"]["ok"] is True
    refused = CliRunner().invoke(cli.main.main, ["--database-url", catching.db.url, "message", "reporter_reaction",
                                                 "--keys", "[1]"])
    assert refused.exit_code == 1
    assert "--keys 必须是 JSON 对象" in refused.output
