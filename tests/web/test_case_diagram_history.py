"""The case diagram keeps a finished stage's whole history (issue 13, defect 12): every element that ran —
user and service tasks, scripts, gateways, events, ends, inside call activities that finished long ago —
is marked done from the command that ran it on (open again, it shows as open, not done), and nothing that
did not run is. Checked against what SpiffWorkflow itself completed (`Coverage`), after every step of a
whole chain with an extension."""

from __future__ import annotations

import json

import sqlalchemy as sa
from chain import Chain, Coverage
from support import login

from engine.store.models import Event

STEPS = (
    ("register", lambda chain: chain.start()),
    ("classify", lambda chain: chain.accept()),
    ("notify acceptance", lambda chain: chain.do("Task_notify_acceptance")),
    ("propose", lambda chain: chain.do("Task_propose")),
    ("sign off", lambda chain: chain.do("Task_leader_signoff")),
    ("ask for more time", lambda chain: chain.do("Task_investigate", handling_action="extension")),
    ("request extension", lambda chain: chain.do("Task_request_extension")),
    ("approve extension", lambda chain: chain.do("Task_approve_extension")),
    ("report", lambda chain: chain.do("Task_investigate")),
    ("department signs", lambda chain: chain.do("Task_department_sign")),
    ("joint review and reading", lambda chain: chain.review()),
    ("result feedback", lambda chain: chain.do("Task_result_feedback")),
    ("close", lambda chain: chain.close()),
)


def marked(client, case_id: int) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(done, open or waiting) elements of the case diagram as its JSON gives them."""
    login(client, "xf_chen")  # the office head, who reads every stage of the item
    processes = client.get(f"/cases/{case_id}/diagram.json").get_json()["processes"]
    done = {(process_id, element) for process_id, state in processes.items() for element in state["completed"]}
    live = {(process_id, element) for process_id, state in processes.items()
            for element in state["active"] + state["timers"]}
    return done, live


def test_the_diagram_marks_exactly_what_ran_and_never_unmarks_it(client, engine, clock):
    chain, coverage = Chain(engine, clock), Coverage()
    before: set[tuple[str, str]] = set()
    with coverage.recording():
        for step, act in STEPS:
            act(chain)
            done, live = marked(client, chain.case_id)
            assert done & live == set(), f"shown done and open at once after {step}"
            assert coverage.nodes - live - done == set(), f"ran but not shown done after {step}"
            assert done - coverage.nodes == set(), f"shown done but never ran after {step}"
            assert before - done - live == set(), f"no longer shown as reached after {step}"
            before = done
    assert live == set() and chain.status == "completed"


def test_a_finished_stage_keeps_its_script_gateways_and_end(client, engine, clock):
    chain = Chain(engine, clock)
    for _step, act in STEPS[:8]:  # back at the investigation after the extension: two rounds of handling
        act(chain)
    done, live = marked(client, chain.case_id)
    assert ("handling", "Script_report_due") in done  # 计算办理期限, which ran at the first round's start
    assert ("handling", "Task_investigate") in live and ("handling", "Task_investigate") not in done  # round 2
    finished = {element for process_id, element in done if process_id == "extension_request"}
    assert {"StartEvent_extension_request", "Task_request_extension", "Task_approve_extension",
            "Gateway_extension_approved", "Script_extend", "Service_notify_approved", "EndEvent_extended"} <= finished
    signoff = {element for process_id, element in done if process_id == "signoff"}
    assert any(element.startswith("EndEvent") for element in signoff)


def test_each_command_names_what_it_ran_in_its_event(engine, clock):
    chain = Chain(engine, clock)
    chain.start()
    chain.accept()
    chain.sign_off()
    with engine.db.read() as session:
        payload = session.scalars(sa.select(Event.payload).where(
            Event.case_id == chain.case_id, Event.bpmn_id == "Task_leader_signoff")).one()
    ran = {tuple(element) for element in json.loads(payload)["ran"]}
    assert ("signoff", "Task_leader_signoff") in ran and ("handling", "Script_report_due") in ran
    assert ("handling", "Task_investigate") not in ran  # open, not done
