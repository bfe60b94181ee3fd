"""The demo diagram end to end through the engine API, on both databases."""

from common import make_actor


def test_demo_case_runs_to_completion_with_audit(demo_engine, staff, leader):
    case_id = demo_engine.start_case("demo_petition", {"source": "direct"}, staff)
    register = demo_engine.find_task(case_id, "Task_register")
    demo_engine.complete(register, staff, {"summary": "侵占补偿款", "channel": "letter", "real_name": False})
    signoff = demo_engine.find_task(case_id, "Task_signoff")
    demo_engine.complete(signoff, leader, {"opinion": "同意"})
    case = demo_engine.case(case_id)
    assert case["status"] == "completed"
    assert case["data"]["archived"] is True
    assert [event["kind"] for event in case["events"]] == ["start", "complete", "complete"]
    assert demo_engine.verify_audit().ok
    assert make_actor("x").candidates == ["user:x"]
