"""The assignment slip (交办单): what it carries (never the reporter), the deadline first assigned and each
extension apart from it, and when it may be printed — only after the leader approved the proposal, never
for a sealed item, refused by the route itself and not only by a missing button."""

from __future__ import annotations

import re

import pytest
from chain import Chain
from support import login

from engine.reads.slip import NOT_SIGNED_OFF, SEALED

REPORTER_NAME = "李某"  # chain.REGISTRATION's reporter
REPORTER_CONTACT = "13800000000"
PROPOSAL = "交第一监督检查室初步核实，一个月内报结"
INSTRUCTION = "同意交第一监督检查室办理，注意保护反映人"
SLIP_LINK = "打印交办单</a>"


@pytest.fixture
def chain(engine, clock) -> Chain:
    """A real-name accusation signed off to the first supervision office: handling has begun."""
    chain = Chain(engine, clock)
    chain.start()
    chain.accept()
    chain.do("Task_propose", proposed_handling=PROPOSAL)
    chain.do("Task_leader_signoff", signoff_opinion=INSTRUCTION)
    return chain


def get(client, path: str, user: str, status: int = 200) -> str:
    login(client, user)
    response = client.get(path)
    assert response.status_code == status, response.status_code
    return response.get_data(as_text=True)


def test_slip_carries_the_assignment_but_not_the_reporter(client, chain):
    number = chain.data["registration_number"]
    slip = get(client, f"/cases/{chain.case_id}/slip", "xf_wang")
    for text in (number, "2026-03-02", "来信", "张某", "某街道城建办", "主任", PROPOSAL, INSTRUCTION,
                 "李副书记（分管领导）", "王晓燕（信访室）", "第一监督检查室", "交办", "信访室（盖章）"):
        assert text in slip, text
    assert "2026-04-02 24 时前报结" in slip  # one month from the assignment (Mon 2 March)
    assert REPORTER_NAME not in slip and REPORTER_CONTACT not in slip
    assert "@media print" in get(client, "/static/app.css", "xf_wang")
    assert SLIP_LINK in get(client, f"/cases/{chain.case_id}", "xf_wang")


def test_extensions_are_listed_apart_from_the_deadline_first_assigned(client, chain):
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="10")
    chain.do("Task_approve_extension")  # leader_li
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="3", extension_reason="仍需调取材料")
    chain.do("Task_approve_extension", extension_decision="refused", extension_opinion="应按期办结")
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="4", extension_reason="证人外出")
    chain.do("Task_approve_extension")
    slip = get(client, f"/cases/{chain.case_id}/slip", "xf_wang")
    # first assigned: one month from Mon 2 March; Thu 2 Apr + 10 days is Sun 12 Apr → Mon 13 Apr; + 4 → Fri 17 Apr
    assert "交办期限</th><td>2026-04-02 24 时前报结" in slip
    assert "延期 10 天：由 2026-04-02 改为 2026-04-13 24 时前报结（李副书记（分管领导）" in slip
    assert "延期 4 天：由 2026-04-13 改为 2026-04-17 24 时前报结" in slip
    assert "延期 3 天" not in slip  # refused: the deadline did not move
    assert "现办理期限：2026-04-17 24 时前报结" in slip
    assert chain.data["extension_days_used"] == 14


def test_a_slip_without_extensions_says_so(client, chain):
    slip = get(client, f"/cases/{chain.case_id}/slip", "xf_wang")
    cell = re.search(r'class="slip-extensions">(.*?)</td>', slip, re.S)
    assert cell and cell.group(1).strip() == "无"
    assert "现办理期限" not in slip


def test_no_slip_before_the_leader_approves_the_proposal(client, engine, clock):
    chain = Chain(engine, clock)
    chain.start()
    chain.accept()
    chain.do("Task_propose", proposed_handling=PROPOSAL)
    assert NOT_SIGNED_OFF in get(client, f"/cases/{chain.case_id}/slip", "xf_wang", status=409)
    case_page = get(client, f"/cases/{chain.case_id}", "xf_wang")
    assert SLIP_LINK not in case_page and NOT_SIGNED_OFF in case_page
    chain.do("Task_leader_signoff", signoff_decision="return", signoff_opinion="请补充交办要求")
    get(client, f"/cases/{chain.case_id}/slip", "xf_wang", status=409)  # returned is not approved
    chain.do("Task_propose", proposed_handling=PROPOSAL)
    get(client, f"/cases/{chain.case_id}/slip", "xf_wang", status=409)  # the new version is not signed yet
    chain.do("Task_leader_signoff", signoff_opinion=INSTRUCTION)
    assert INSTRUCTION in get(client, f"/cases/{chain.case_id}/slip", "xf_wang")
    assert "请补充交办要求" not in get(client, f"/cases/{chain.case_id}/slip", "xf_wang")


@pytest.mark.parametrize(("category", "readers"), [("higher_level", ("xf_chen", "leader_zhao")),
                                                   ("accuses_principal", ("xf_chen",))])
def test_no_slip_for_a_sealed_item_even_for_those_who_read_it(client, engine, clock, category, readers):
    chain = Chain(engine, clock)
    chain.start()
    chain.do("Task_classify", category=category)
    for reader in readers:
        assert SEALED in get(client, f"/cases/{chain.case_id}/slip", reader, status=403)
        case_page = get(client, f"/cases/{chain.case_id}", reader)
        assert SLIP_LINK not in case_page and SEALED in case_page


@pytest.mark.parametrize("path", ["", "/slip"])
def test_a_case_of_another_department_is_not_found(client, chain, path):
    get(client, f"/cases/{chain.case_id}{path}", "s2_zhou", status=404)
