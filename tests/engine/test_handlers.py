"""Service tasks call the handler registered under their camunda:topic with the case data; what it returns
is merged into the case; the context carries the case id, the command's clock and actor."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import files

from engine import Engine, IncidentRaised
from engine.runtime.handlers_registry import HandlerContext, HandlerRegistry
from engine.store.models import CalendarDay

WANG = make_actor("wang", "petition_staff")
ZHAO = make_actor("zhao", "petition_staff")


@pytest.fixture
def calls() -> list[HandlerContext]:
    return []


@pytest.fixture
def registry(calls) -> HandlerRegistry:
    handlers = HandlerRegistry()

    @handlers.register("test.receipt")
    def receipt(context: HandlerContext) -> dict:
        calls.append(context)
        context.data["sneaky"] = True  # a copy: never reaches the case
        return {"receipt_no": f"R-{context.case_id}-{context.data['title']}", "issued_by": context.actor}

    @handlers.register("test.other")
    def other(context: HandlerContext) -> dict:  # pragma: no cover - must not be called
        raise AssertionError("the wrong handler was called")

    return handlers


@pytest.fixture
def eng(database, clock, registry) -> Engine:
    engine = Engine(database, clock, handlers=registry)
    engine.deploy(files("service.bpmn"), by="owner")
    return engine


def test_handler_is_called_by_topic_and_its_result_merged(eng, clock, calls):
    case_id = eng.start_case("service", {"source": "letter"}, WANG)
    assert calls == []  # not before the service task is reached
    clock.advance(hours=3, minutes=15)
    eng.complete(eng.find_task(case_id, "Task_a"), ZHAO, {"title": "线索"})
    (context,) = calls
    assert context.case_id == case_id
    assert context.now == clock.now() == datetime.fromisoformat("2026-03-02T12:15:00+08:00")
    assert context.actor == "zhao"
    assert context.data["source"] == "letter" and context.data["title"] == "线索"
    case = eng.case(case_id)
    assert case["data"] == {"source": "letter", "title": "线索", "receipt_no": f"R-{case_id}-线索",
                            "issued_by": "zhao"}
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    complete = case["events"][-1]
    assert complete["payload"]["delta"]["changed"]["receipt_no"] == f"R-{case_id}-线索"


def test_handler_returning_nothing_changes_no_data(database, clock):
    registry = HandlerRegistry()
    seen = []
    registry.register("test.receipt")(lambda context: seen.append(context.case_id))
    eng = Engine(database, clock, handlers=registry)
    eng.deploy(files("service.bpmn"), by="owner")
    case_id = eng.start_case("service", {}, WANG)
    eng.complete(eng.find_task(case_id, "Task_a"), WANG, {"title": "线索"})
    assert seen == [case_id]
    assert eng.case(case_id)["data"] == {"title": "线索"}


def test_what_a_handler_writes_rolls_back_with_the_case(database, clock):
    registry = HandlerRegistry()

    @registry.register("test.receipt")
    def writes_then_fails(context: HandlerContext) -> dict:
        context.session.add(CalendarDay(day=date(2026, 3, 7), workday=True, note="由处理函数写入"))
        context.session.flush()
        raise RuntimeError("写入之后失败")

    eng = Engine(database, clock, handlers=registry)
    eng.deploy(files("service.bpmn"), by="owner")
    case_id = eng.start_case("service", {}, WANG)
    with pytest.raises(IncidentRaised):
        eng.complete(eng.find_task(case_id, "Task_a"), WANG, {"title": "线索"})
    with database.read() as session:
        assert session.scalars(sa.select(CalendarDay)).all() == []


def test_the_demo_handler_uses_the_injected_clock(demo_engine, clock, staff):
    clock.advance(days=1, hours=2)
    case_id = demo_engine.start_case("demo_petition", {}, staff)
    demo_engine.complete(demo_engine.find_task(case_id, "Task_register"), staff,
                         {"summary": "线索", "channel": "visit"})
    assert demo_engine.case(case_id)["data"]["acknowledged_at"] == clock.now().isoformat()


def test_registering_a_name_twice_is_refused():
    registry = HandlerRegistry()
    registry.register("x")(lambda context: None)
    with pytest.raises(ValueError):
        registry.register("x")(lambda context: {})
    assert registry.names() == {"x"}
