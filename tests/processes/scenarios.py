"""Every path of DOMAIN.md's chain, as a function of a `Chain`; test_paths runs each, test_coverage all."""

from __future__ import annotations

from datetime import datetime

import pytest
from chain import TODAY, Chain

from engine import FormErrors

SCENARIOS = {}


def scenario(function):
    SCENARIOS[function.__name__] = function
    return function


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---- in scope ------------------------------------------------------------------------------------------

@scenario
def accusation_real_name_full_chain(chain: Chain) -> None:
    chain.start()
    assert chain.data["registration_number"] == "XF-2026-000001"
    chain.accept("accusation")
    assert chain.open_tasks() == ["Task_notify_acceptance", "Task_propose"]
    # 15 working days from receipt (Mon 2 Mar) end on Mon 23 Mar at 24:00.
    assert chain.due("Task_notify_acceptance") == at("2026-03-24T00:00:00+08:00")
    # 3 working days from registration: Tue, Wed, Thu.
    assert chain.due("Task_propose") == at("2026-03-06T00:00:00+08:00")
    chain.do("Task_notify_acceptance")
    chain.sign_off()
    assert chain.petition().status == "assigned"
    assert ("s1_liu", "new_task") in chain.notices() and ("s1_sun", "new_task") in chain.notices()
    assert chain.open_tasks() == ["Task_investigate"]
    assert chain.work_item("Task_investigate")["department"] == "supervision_1"
    # One month from Mon 2 Mar is Thu 2 Apr.
    assert chain.due("Task_investigate") == at("2026-04-03T00:00:00+08:00")
    chain.handle(disposal="talk_inquiry")
    chain.review()
    chain.do("Task_result_feedback")
    chain.close()
    data = chain.data
    assert data["acceptance_notice_method"] == "phone" and data["disposal"] == "talk_inquiry"
    assert data["signoff_opinion"] and data["report_signoff_opinion"] and data["reading_principal_opinion"] == "阅"
    assert chain.petition().status == "archived" and chain.petition().retention_until.year == 2056


@scenario
def appeal_anonymous_preliminary_verification(chain: Chain) -> None:
    chain.start(real_name="false", reporter_name="")
    chain.accept("appeal")
    assert chain.open_tasks() == ["Task_propose"]  # anonymous: no acceptance notice
    chain.sign_off(handling_department="supervision_2")
    chain.do("Task_investigate", by="s2_zhou", disposal="preliminary_verification")
    chain.do("Task_department_sign", by="s2_qian")
    chain.review()
    assert chain.open_tasks() == ["Task_anonymous_feedback"]
    chain.do("Task_anonymous_feedback", anonymous_feedback="none", feedback_note="匿名件，无法反馈")
    chain.close()
    assert chain.petition().category == "appeal"


@scenario
def suggestion_file_pending_public_feedback(chain: Chain) -> None:
    chain.start(real_name="false", channel="web")
    # the code waits, encrypted, for the registrar's next page; the case knows only that one exists
    assert chain.data["query_code_issued"] is True and "query_code" not in chain.data
    assert chain.petition().query_code_hash.startswith("$argon2id$")
    chain.accept("suggestion")
    chain.sign_off(handling_department="township_group")
    chain.do("Task_investigate", by="tg_wu", disposal="file_pending")
    chain.do("Task_department_sign", by="tg_ma")
    chain.review()
    chain.do("Task_anonymous_feedback", anonymous_feedback="public")
    chain.do("Task_public_feedback", public_feedback_scope="某街道机关干部大会", public_feedback_on=TODAY)
    chain.close()
    assert chain.data["disposal"] == "file_pending"


@scenario
def disposal_close_with_joint_feedback(chain: Chain) -> None:
    chain.start()
    chain.accept()
    chain.do("Task_notify_acceptance")
    chain.sign_off()
    chain.handle(disposal="close", truthfulness="untrue")
    chain.review()
    chain.do("Task_result_feedback", feedback_form="joint")
    chain.do("Task_joint_feedback", joint_departments="第一监督检查室、社会事务办", joint_feedback_on=TODAY)
    assert chain.open_tasks() == ["Task_close"]  # untrue but no clarification proposed
    chain.close()


@scenario
def real_name_public_feedback(chain: Chain) -> None:
    chain.start()
    chain.accept()
    chain.do("Task_notify_acceptance")
    chain.sign_off()
    chain.handle()
    chain.review()
    chain.do("Task_result_feedback", feedback_form="public")
    chain.do("Task_public_feedback", public_feedback_scope="某街道机关干部大会", public_feedback_on="2026-03-02")
    chain.close()


def _investigation_proposed(chain: Chain) -> None:
    """Accepted and handed over; the handler's report proposes opening an investigation."""
    chain.start()
    chain.accept()
    chain.do("Task_notify_acceptance")
    chain.sign_off()
    chain.do("Task_investigate", disposal="transfer_investigation", truthfulness="true")


@scenario
def disposal_transfer_for_investigation(chain: Chain) -> None:
    _investigation_proposed(chain)
    assert chain.open_tasks() == ["Task_collective_decision"]
    chain.do("Task_collective_decision", investigation_approved="true", collective_opinion="经集体研究，同意立案审查")
    chain.do("Task_department_sign")
    chain.review()
    chain.do("Task_result_feedback")
    chain.close()
    assert chain.petition().disposal == "transfer_investigation"


@scenario
def investigation_not_approved_goes_back_to_the_handler(chain: Chain) -> None:
    _investigation_proposed(chain)
    chain.do("Task_collective_decision", investigation_approved="false",
             collective_opinion="证据尚不足以立案，先初步核实")
    assert chain.open_tasks() == ["Task_investigate"]
    assert ("s1_liu", "returned") in chain.notices("returned")
    chain.handle(disposal="preliminary_verification", truthfulness="partly_true")
    assert "Task_review_petition_office" in chain.open_tasks()  # on to joint review
    assert chain.petition().disposal == "preliminary_verification"


# ---- out of scope, not accepted, duplicates, other levels ------------------------------------------------

@scenario
def out_of_scope_handed_over_through_coordination_office(chain: Chain) -> None:
    chain.start(summary="小区物业长期不维修电梯，要求有关部门处理")
    chain.do("Task_classify", category="out_of_scope")
    chain.do("Task_out_of_scope", out_of_scope_action="handover", receiving_body="社会事务办")
    # The coordination office writes the slip and the principal leader signs it; no acceptance notice.
    assert chain.open_tasks() == ["Task_propose"]
    chain.do("Task_propose", by="co_feng", handling_method="transfer", handling_department="social_affairs")
    chain.do("Task_leader_signoff", by="leader_zhao")
    chain.do("Task_investigate", by="sa_lin", disposal="not_applicable", truthfulness="not_applicable")
    chain.do("Task_department_sign", by="sa_gao")
    assert chain.open_tasks() == ["Task_result_feedback"]  # no joint review for handed-over items
    chain.do("Task_result_feedback", by="sa_lin")
    chain.close()
    assert chain.petition().route == "handover"


@scenario
def out_of_scope_redirected(chain: Chain) -> None:
    chain.start(channel="visit")
    chain.do("Task_classify", category="out_of_scope")
    chain.do("Task_out_of_scope", out_of_scope_action="redirect", receiving_body="区人力社保局")
    chain.do("Task_redirect", redirect_method="in_person", redirect_note="已告知向区人力社保局反映欠薪问题")
    assert chain.open_tasks() == ["Task_close"]
    chain.close()


@scenario
def no_substance_not_accepted(chain: Chain) -> None:
    chain.start(summary="某某是贪官，请查处")
    chain.do("Task_classify", category="no_substance")
    chain.do("Task_not_accepted", not_accepted_reason="未反映具体违纪事实", reporter_told="true")
    chain.close()
    assert chain.data["not_accepted_reason"] == "未反映具体违纪事实"
    assert chain.petition().route == "closed"


@scenario
def duplicate_linked_and_filed(chain: Chain) -> None:
    chain.start()
    original = chain.data["registration_number"]
    chain.clock.set(at("2026-03-03T09:00:00+08:00"))  # the second letter arrives the next day
    chain.start(summary="某街道城建办主任张某在工程招标中收受施工方的礼金", received_on="2026-03-03")
    candidates = chain.data["duplicate_candidates"]
    assert [c["registration_number"] for c in candidates] == [original] and candidates[0]["score"] >= 60
    # an unknown number is refused in the form: the task stays open, nothing linked
    with pytest.raises(FormErrors) as refused:
        chain.do("Task_confirm_duplicate", is_duplicate="true", duplicate_of="XF-2026-999999")
    assert "XF-2026-999999 不存在" in refused.value.errors["duplicate_of"]
    assert chain.open_tasks() == ["Task_confirm_duplicate"] and chain.petition().duplicate_of_id is None
    chain.do("Task_confirm_duplicate", is_duplicate="true", duplicate_of=original)
    assert chain.open_tasks() == ["Task_close"]
    chain.close()
    assert chain.petition().duplicate_of_id is not None


@scenario
def similar_item_confirmed_not_duplicate(chain: Chain) -> None:
    chain.start()
    chain.clock.set(at("2026-03-04T09:00:00+08:00"))
    chain.start(received_on="2026-03-04")
    chain.do("Task_confirm_duplicate", is_duplicate="false", duplicate_note="同一人，另一事项")
    assert chain.open_tasks() == ["Task_classify"]


@scenario
def higher_level_sealed_and_reported_upward(chain: Chain) -> None:
    chain.start(accused=[{"name": "王某", "unit": "某区区委", "rank": "county"}])
    chain.do("Task_classify", category="higher_level")
    assert chain.data["sealed"] is True and chain.petition().sealed
    chain.do("Task_report_principal", report_principal_opinion="报送上级纪委监委")
    # 5 working days from receipt (Mon 2 Mar): Tue … Mon 9 Mar.
    assert chain.due("Task_transfer_up") == at("2026-03-10T00:00:00+08:00")
    chain.do("Task_transfer_up", transfer_document="区纪信〔2026〕1号", transferred_up_on=TODAY)
    chain.close()


@scenario
def accusing_the_principal_leader_goes_straight_up(chain: Chain) -> None:
    chain.start(accused=[{"name": "赵书记", "unit": "本机关"}])
    chain.do("Task_classify", category="accuses_principal")
    assert chain.data["sealed"] is True
    assert chain.open_tasks() == ["Task_transfer_up"]  # the principal leader never sees it
    chain.do("Task_transfer_up", transfer_document="区纪信〔2026〕2号", transferred_up_on=TODAY)
    chain.close()


@scenario
def lower_level_transferred_and_followed_up(chain: Chain) -> None:
    chain.start()
    chain.do("Task_classify", category="lower_level")
    assert chain.data["sealed"] is False
    chain.do("Task_transfer_down", lower_organ="某镇纪委", transferred_down_on=TODAY)
    chain.do("Task_lower_result", lower_level_result="accepted")
    chain.close()


# ---- returns and rework --------------------------------------------------------------------------------

@scenario
def leader_returns_the_proposal(chain: Chain) -> None:
    chain.start()
    chain.accept()
    chain.do("Task_propose")
    chain.do("Task_leader_signoff", signoff_decision="return", signoff_opinion="请改由第二监督检查室办理")
    assert "Task_propose" in chain.open_tasks()
    assert ("xf_wang", "returned") in chain.notices("returned")
    chain.do("Task_propose", handling_department="supervision_2")
    chain.do("Task_leader_signoff", handling_department="supervision_1", signoff_opinion="改由第一监督检查室办理")
    assert chain.data["handling_department"] == "supervision_1"  # the leader's change wins


@scenario
def report_returned_by_department_leader(chain: Chain) -> None:
    chain.start(real_name="false")
    chain.accept()
    chain.sign_off()
    chain.do("Task_investigate")
    chain.do("Task_department_sign", report_signoff="return", report_signoff_opinion="证据不足，补充调查")
    assert chain.open_tasks() == ["Task_investigate"]
    assert ("s1_liu", "returned") in chain.notices("returned")
    chain.handle(handling_report="补充调查后的报告")
    assert chain.open_tasks()[0] == "Task_review_case_review"


@scenario
def report_sent_back_at_joint_review_and_reworked(chain: Chain) -> None:
    chain.start(real_name="false")
    chain.accept()
    chain.sign_off()
    chain.handle()
    chain.do("Task_review_petition_office")
    chain.do("Task_review_supervision")
    chain.do("Task_review_case_review", joint_review_case_review="return",
             joint_review_case_review_opinion="定性依据不足")
    assert chain.open_tasks() == ["Task_investigate"]
    chain.handle(handling_report="补充定性依据")
    chain.review()
    assert chain.open_tasks() == ["Task_anonymous_feedback"]


@scenario
def report_sent_back_at_leader_reading(chain: Chain) -> None:
    chain.start(real_name="false")
    chain.accept()
    chain.sign_off()
    chain.handle()
    for bpmn_id in ("Task_review_petition_office", "Task_review_supervision", "Task_review_case_review"):
        chain.do(bpmn_id)
    chain.do("Task_read_in_charge", reading_in_charge="return", reading_in_charge_opinion="请补充谈话记录")
    chain.handle()
    for bpmn_id in ("Task_review_petition_office", "Task_review_supervision", "Task_review_case_review",
                    "Task_read_in_charge"):
        chain.do(bpmn_id)
    chain.do("Task_read_principal", reading_principal="return", reading_principal_opinion="再核实一次")
    assert chain.open_tasks() == ["Task_investigate"]
    chain.handle()
    chain.review()
    assert chain.open_tasks() == ["Task_anonymous_feedback"]


# ---- extensions ----------------------------------------------------------------------------------------

def _at_handling(chain: Chain) -> None:
    chain.start(real_name="false")
    chain.accept()
    chain.sign_off()


@scenario
def extension_approved_moves_the_deadline(chain: Chain) -> None:
    _at_handling(chain)
    assert chain.timer_due("Timer_investigate_overdue") == at("2026-04-03T00:00:00+08:00")
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="10")
    chain.do("Task_approve_extension")
    # Thu 2 Apr + 10 days = Sun 12 Apr, a rest day → Mon 13 Apr.
    assert chain.due("Task_investigate") == at("2026-04-14T00:00:00+08:00")
    assert chain.timer_due("Timer_investigate_overdue") == at("2026-04-14T00:00:00+08:00")
    assert chain.data["extension_days_used"] == 10
    assert ("s1_liu", "extension") in chain.notices("extension")
    assert "同意延期 10 天，办理期限顺延至 2026-04-13 24:00" in chain.notice_texts("extension")[-1]


@scenario
def extension_refused(chain: Chain) -> None:
    _at_handling(chain)
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="5")
    chain.do("Task_approve_extension", extension_decision="refused", extension_opinion="应按期办结")
    assert chain.due("Task_investigate") == at("2026-04-03T00:00:00+08:00")
    assert chain.data["extension_days_used"] == 0
    assert chain.notice_texts("extension")[-1].endswith(
        "不予延期，办理期限仍为 2026-04-02 24:00。申请延长 5 天；审批意见：应按期办结")


@scenario
def extension_over_the_allowance_refused_in_the_form(chain: Chain) -> None:
    _at_handling(chain)
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="10")
    chain.do("Task_approve_extension")
    assert chain.data["extension_days_remaining"] == 5
    chain.do("Task_investigate", handling_action="extension")
    # 10 + 6 > 15: refused in the form, before the leader sees it; the request stays open
    with pytest.raises(FormErrors) as refused:
        chain.do("Task_request_extension", extension_days="6", extension_reason="仍需时间")
    assert refused.value.errors == {"extension_days": "不能超过剩余可延期天数（5）"}
    assert chain.open_tasks() == ["Task_request_extension"]
    chain.do("Task_request_extension", extension_days="5", extension_reason="仍需时间")
    chain.do("Task_approve_extension")
    assert (chain.data["extension_days_used"], chain.data["extension_days_remaining"]) == (15, 0)


@scenario
def extension_with_no_allowance_left_refused_in_the_form(chain: Chain) -> None:
    _at_handling(chain)
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="15")
    chain.do("Task_approve_extension")
    # all 15 days used: the investigator cannot ask again; a report is still accepted
    with pytest.raises(FormErrors) as refused:
        chain.do("Task_investigate", handling_action="extension")
    assert refused.value.errors == {"handling_action": "剩余可延期天数为 0，不能选择“申请延期”"}
    assert chain.open_tasks() == ["Task_investigate"]
    chain.do("Task_investigate")
    assert chain.open_tasks() == ["Task_department_sign"]


@scenario
def a_new_round_of_handling_has_the_whole_allowance_again(chain: Chain) -> None:
    _at_handling(chain)
    chain.do("Task_investigate", handling_action="extension")
    chain.do("Task_request_extension", extension_days="15")
    chain.do("Task_approve_extension")
    chain.handle()
    chain.do("Task_review_petition_office", joint_review_petition_office="return",
             joint_review_petition_office_opinion="证据不足，退回重办")
    chain.do("Task_review_supervision")
    chain.do("Task_review_case_review")
    assert chain.open_tasks() == ["Task_investigate"]
    assert (chain.data["extension_days_used"], chain.data["extension_days_remaining"]) == (0, 15)
    chain.do("Task_investigate", handling_action="extension")
    assert chain.open_tasks() == ["Task_request_extension"]


# ---- feedback and clarification ------------------------------------------------------------------------

def _at_feedback(chain: Chain, **report) -> None:
    chain.start()
    chain.accept()
    chain.do("Task_notify_acceptance")
    chain.sign_off()
    chain.handle(**report)
    chain.review()


@scenario
def reporter_objects_and_the_item_is_rechecked(chain: Chain) -> None:
    _at_feedback(chain)
    chain.do("Task_result_feedback", reporter_reaction="objection", objection_new_facts="true",
             reaction_note="提供了新的转账记录")
    assert chain.open_tasks() == ["Task_recheck"]
    chain.do("Task_recheck", recheck_finding="changed", recheck_result="根据新证据，认定属实")
    chain.do("Task_result_feedback", reporter_reaction="accepted")
    chain.close()


@scenario
def objection_without_new_facts_closes(chain: Chain) -> None:
    _at_feedback(chain)
    chain.do("Task_result_feedback", reporter_reaction="objection")
    assert chain.open_tasks() == ["Task_close"]


@scenario
def clarification_approved_and_method_recorded(chain: Chain) -> None:
    _at_feedback(chain, disposal="close", truthfulness="untrue", clarification_proposed="true")
    chain.do("Task_result_feedback")
    assert chain.open_tasks() == ["Task_propose_clarification"]
    chain.do("Task_propose_clarification", clarification_method="unit_notice")
    chain.do("Task_approve_clarification")
    chain.do("Task_record_clarification", clarified_method="unit_notice")
    chain.close()
    assert chain.data["clarified_method"] == "unit_notice"


@scenario
def malicious_accusation_referred_upward_clarification_refused(chain: Chain) -> None:
    _at_feedback(chain, disposal="close", truthfulness="untrue", clarification_proposed="true")
    chain.do("Task_result_feedback")
    chain.do("Task_propose_clarification", malicious_suspected="true")
    chain.do("Task_refer_malicious", referral_to="市纪委监委", referral_on=TODAY)
    chain.do("Task_approve_clarification", clarification_decision="refuse", clarification_opinion="待上级认定后再议")
    chain.close()
    assert chain.data["referral_to"] == "市纪委监委"


# ---- deadlines: reminder before, escalation when overdue, the task stays with its worker ------------------

def _reminded_then_escalated(chain: Chain, task: str, reminder_roles: set[str],
                             overdue_roles: frozenset[str] = frozenset({"leader_li", "xf_chen"})) -> None:
    key = task.removeprefix("Task_")
    reminder = chain.pass_timer(f"Timer_{key}_reminder")
    assert {user for user, _ in chain.notices("reminder")} == reminder_roles
    overdue = chain.pass_timer(f"Timer_{key}_overdue")
    assert reminder < overdue
    assert {user for user, _ in chain.notices("overdue")} == overdue_roles
    assert chain.petition().overdue_count == 1
    assert task in chain.open_tasks()  # never stuck: still the same people's task


@scenario
def proposal_reminded_and_escalated(chain: Chain) -> None:
    chain.start(real_name="false")
    chain.accept()
    assert chain.timer_due("Timer_propose_reminder") == at("2026-03-05T00:00:00+08:00")
    _reminded_then_escalated(chain, "Task_propose", {"xf_wang", "xf_chen"})
    chain.sign_off()


@scenario
def transfer_up_reminded_and_escalated(chain: Chain) -> None:
    chain.start()
    chain.do("Task_classify", category="accuses_principal")
    # sealed: the leader in charge may not read it, so is not told of it either
    _reminded_then_escalated(chain, "Task_transfer_up", {"xf_chen"}, frozenset({"xf_chen"}))


@scenario
def transfers_down_reminded_and_escalated(chain: Chain) -> None:
    chain.start()
    chain.do("Task_classify", category="lower_level")
    _reminded_then_escalated(chain, "Task_transfer_down", {"xf_wang", "xf_chen"})
    chain.do("Task_transfer_down", lower_organ="某镇纪委", transferred_down_on="2026-03-10")
    due = chain.timer_due("Timer_lower_result_overdue")
    chain.pass_timer("Timer_lower_result_reminder")
    chain.pass_timer("Timer_lower_result_overdue")
    assert due > at("2026-03-10T00:00:00+08:00") and chain.petition().overdue_count == 2
    assert chain.open_tasks() == ["Task_lower_result"]


@scenario
def acceptance_notice_reminded_and_escalated(chain: Chain) -> None:
    chain.start()
    chain.accept()
    chain.sign_off()
    _reminded_then_escalated(chain, "Task_notify_acceptance", {"xf_wang", "xf_chen"})


@scenario
def handling_reminded_escalated_and_listed_supervision_checked(chain: Chain) -> None:
    chain.start(real_name="false")
    chain.accept()
    chain.do("Task_propose", listed_supervision="true")
    chain.do("Task_leader_signoff", listed_supervision="true")
    _reminded_then_escalated(chain, "Task_investigate", {"s1_liu"})
    chain.pass_timer("Timer_investigate_progress")
    assert ("leader_li", "supervision") in chain.notices("supervision")


@scenario
def unlisted_item_gets_no_monthly_check(chain: Chain) -> None:
    _at_handling(chain)
    chain.pass_timer("Timer_investigate_progress")
    assert chain.notices("supervision") == []
    assert "Task_investigate" in chain.open_tasks()


@scenario
def result_feedback_reminded_and_escalated(chain: Chain) -> None:
    _at_feedback(chain)
    _reminded_then_escalated(chain, "Task_result_feedback", {"s1_liu"})
