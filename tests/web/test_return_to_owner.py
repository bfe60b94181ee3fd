"""Work returns to its owner: every return path of the chain (extension, returned proposal, report
returned by sign-off, joint review or leader reading) lands in 我的待办 of the person who worked on the
earlier round, not in the pool; one who is no longer fit for it leaves it in the pool and the timeline
says why. Hand-over needs a reason (audited, in the timeline, sent to the new assignee); the task and
case pages say who holds or may take each open task."""

import json

import pytest
import sqlalchemy as sa
from support import SIGN_OFF, login, post, register, signed_in, work_through

from engine.api import administration
from engine.org.organisation import apply_organisation
from engine.store.models import Event, Notice, User

MA = {"name": "s1_ma", "display_name": "马丽（第一监督检查室）", "department": "supervision_1",
      "roles": ["handling_staff"]}
REVIEW = ("Task_review_petition_office", "Task_review_supervision", "Task_review_case_review")


def _set_user(engine, **entry) -> None:
    with engine.db.write() as session:
        apply_organisation(session, {"initial_password": "xinfang-demo", "users": [entry]})
        session.execute(sa.update(User).values(must_change_password=False))


def _case_at_handling(client, engine, clock) -> int:
    """Signed off to supervision_1; the investigation is taken up and worked by s1_ma, not the usual s1_liu."""
    _set_user(engine, **MA)
    login(client, "xf_wang")
    case_id = register(client)
    work_through(engine, clock, case_id, *SIGN_OFF)
    return case_id


def _investigate(engine, case_id: int, **answers) -> None:
    task_id = engine.find_task(case_id, "Task_investigate")
    ma = engine.actor("s1_ma")
    engine.claim(task_id, ma)
    engine.complete(task_id, ma, {"handling_action": "report", "disposal": "preliminary_verification",
                                  "truthfulness": "partly_true", "handling_report": "经核实，部分属实", **answers})


def _extension(engine, clock, case_id):
    _investigate(engine, case_id, handling_action="extension")
    _assert_mine(engine, case_id, "Task_request_extension", "s1_ma")
    chain = work_through(engine, clock, case_id)
    chain.do("Task_request_extension", by="s1_ma")
    chain.do("Task_approve_extension")
    return "Task_investigate", "s1_ma"


def _report_returned_at_sign_off(engine, clock, case_id):
    _investigate(engine, case_id)
    work_through(engine, clock, case_id, "Task_department_sign",
                 Task_department_sign={"report_signoff": "return", "report_signoff_opinion": "证据不足"})
    return "Task_investigate", "s1_ma"


def _report_returned_at_joint_review(engine, clock, case_id):
    _investigate(engine, case_id)
    work_through(engine, clock, case_id, "Task_department_sign", *REVIEW[:2], "Task_review_case_review",
                 Task_review_case_review={"joint_review_case_review": "return",
                                          "joint_review_case_review_opinion": "定性依据不足"})
    return "Task_investigate", "s1_ma"


def _report_returned_at_reading(engine, clock, case_id):
    _investigate(engine, case_id)
    work_through(engine, clock, case_id, "Task_department_sign", *REVIEW, "Task_read_in_charge",
                 Task_read_in_charge={"reading_in_charge": "return", "reading_in_charge_opinion": "请补充"})
    return "Task_investigate", "s1_ma"


def _collective_decision_not_approved(engine, clock, case_id):
    _investigate(engine, case_id, disposal="transfer_investigation")
    work_through(engine, clock, case_id, "Task_collective_decision",
                 Task_collective_decision={"investigation_approved": "false", "collective_opinion": "先初步核实"})
    return "Task_investigate", "s1_ma"


def _assert_mine(engine, case_id: int, bpmn_id: str, owner: str) -> None:
    item = next(i for i in engine.work_items(case_id) if i["bpmn_id"] == bpmn_id)
    assert item["assignee"] == owner


@pytest.mark.parametrize("path", [_extension, _collective_decision_not_approved, _report_returned_at_sign_off,
                                  _report_returned_at_joint_review, _report_returned_at_reading])
def test_returned_work_lands_in_its_owners_queue(client, app, engine, clock, path):
    case_id = _case_at_handling(client, engine, clock)
    bpmn_id, owner = path(engine, clock, case_id)
    _assert_mine(engine, case_id, bpmn_id, owner)
    assert "XF-2026-000001" in signed_in(app, owner).get("/tasks/?view=mine").get_data(as_text=True)
    # offered to nobody else: the usual investigator does not see it among his groups' tasks
    assert "XF-2026-000001" not in signed_in(app, "s1_liu").get("/tasks/?view=groups").get_data(as_text=True)
    timeline = signed_in(app, "xf_chen").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "交回原办理人 马丽（第一监督检查室）" in timeline


def test_a_returned_proposal_goes_back_to_who_proposed_it(client, app, engine, clock):
    login(client, "xf_wang")
    case_id = register(client)
    chain = work_through(engine, clock, case_id, "Task_classify")
    chain.do("Task_propose", by="xf_chen")
    chain.do("Task_leader_signoff", signoff_decision="return", signoff_opinion="请改由第二监督检查室办理")
    _assert_mine(engine, case_id, "Task_propose", "xf_chen")
    task_id = engine.find_task(case_id, "Task_propose")
    assert task_id in signed_in(app, "xf_chen").get("/tasks/?view=mine").get_data(as_text=True)
    assert task_id not in signed_in(app, "xf_wang").get("/tasks/?view=groups").get_data(as_text=True)


@pytest.mark.parametrize(("change", "why"), [
    ({"active": False}, "办理人不存在或已停用"),
    ({"department": "supervision_2"}, "原办理人已不具备该任务的角色或部门"),
])
def test_an_owner_no_longer_fit_leaves_it_in_the_pool_and_the_timeline_says_why(client, app, engine, clock,
                                                                               change, why):
    case_id = _case_at_handling(client, engine, clock)
    _investigate(engine, case_id)
    _set_user(engine, **{**MA, **change})
    work_through(engine, clock, case_id, "Task_department_sign",
                 Task_department_sign={"report_signoff": "return", "report_signoff_opinion": "证据不足"})
    _assert_mine(engine, case_id, "Task_investigate", None)
    assert "XF-2026-000001" in signed_in(app, "s1_liu").get("/tasks/?view=groups").get_data(as_text=True)
    timeline = signed_in(app, "xf_chen").get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"“调查核实并形成报告”未交回 马丽（第一监督检查室）（{why}），转入待领取" in timeline


def test_a_recused_owner_does_not_get_it_back(client, app, engine, clock):
    case_id = _case_at_handling(client, engine, clock)
    _investigate(engine, case_id)
    head = engine.actor("xf_chen")
    request_id = engine.staff.request_recusal(case_id, head, "s1_ma", "reporter", "反映人称与其有亲属关系")
    engine.staff.decide_recusal(request_id, head, True, "")
    work_through(engine, clock, case_id, "Task_department_sign",
                 Task_department_sign={"report_signoff": "return", "report_signoff_opinion": "证据不足"})
    _assert_mine(engine, case_id, "Task_investigate", None)
    timeline = signed_in(app, "xf_chen").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "原办理人对该任务应当回避" in timeline


def test_hand_over_needs_a_reason_keeps_the_choice_and_tells_the_new_assignee(client, app, engine, clock):
    case_id = _case_at_handling(client, engine, clock)
    task_id = engine.find_task(case_id, "Task_investigate")
    liu = signed_in(app, "s1_liu")
    post(liu, f"/tasks/{task_id}/claim", token_from=f"/tasks/{task_id}")
    refused = post(liu, f"/tasks/{task_id}/reassign", {"to": "s1_ma", "reason": "  "}, token_from=f"/tasks/{task_id}")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请填写转交理由" in page
    assert '<option value="s1_ma" selected>' in page
    _assert_mine(engine, case_id, "Task_investigate", "s1_liu")

    done = post(liu, f"/tasks/{task_id}/reassign", {"to": "s1_ma", "reason": "本人下周出差"},
                token_from=f"/tasks/{task_id}")
    assert done.status_code == 302
    _assert_mine(engine, case_id, "Task_investigate", "s1_ma")
    with engine.db.read() as session:
        event = session.scalars(sa.select(Event).where(Event.kind == "reassign")).one()
        notice = session.scalars(sa.select(Notice).where(Notice.kind == "reassigned")).one()
    assert json.loads(event.payload)["reason"] == "本人下周出差"
    assert notice.username == "s1_ma" and "本人下周出差" in notice.text and "刘敏" in notice.text
    timeline = signed_in(app, "xf_chen").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "刘敏（第一监督检查室） → 马丽（第一监督检查室）；理由：本人下周出差" in timeline


def test_task_and_case_pages_say_who_holds_each_open_task(client, app, engine, clock):
    case_id = _case_at_handling(client, engine, clock)
    task_id = engine.find_task(case_id, "Task_investigate")
    liu = signed_in(app, "s1_liu")
    page = liu.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "谁可办理：待领取：承办部门工作人员（第一监督检查室）" in page
    case_page = liu.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "待领取：承办部门工作人员（第一监督检查室）" in case_page
    assert "handling_staff" not in case_page and "supervision_1）" not in case_page
    post(liu, f"/tasks/{task_id}/claim", token_from=f"/tasks/{task_id}")
    assert "已由 刘敏（第一监督检查室） 办理" in liu.get(f"/cases/{case_id}").get_data(as_text=True)


def _arrived(engine, name: str) -> list[str]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(Notice.text).where(Notice.username == name, Notice.kind == "arrived")))


def test_leaders_get_a_notice_when_work_arrives_as_their_role_setting_says(client, app, engine, clock):
    login(client, "xf_wang")
    first = register(client)
    work_through(engine, clock, first, "Task_classify", "Task_propose")
    assert _arrived(engine, "leader_li") == ["信访件 XF-2026-000001 的“领导批办”已到达您的待办，请及时办理。"]
    assert _arrived(engine, "xf_wang") == []  # petition staff: not a role set to be notified
    # the admin turns the setting off on the role page; the next arrival sends nothing
    admin = signed_in(app, "admin")
    page = admin.get("/admin/roles/leader_in_charge").get_data(as_text=True)
    assert 'name="notify_on_arrival"' in page and "checked" in page
    saved = post(admin, "/admin/roles/leader_in_charge", {"label": "分管领导"},
                 token_from="/admin/roles/leader_in_charge")
    assert saved.status_code == 302
    assert "—" in admin.get("/admin/roles").get_data(as_text=True)
    second = register(client, **{"accused.0.name": "钱某", "accused.0.unit": "某县水利局",
                                 "summary": "某县水利局钱某违规发放津贴"})
    work_through(engine, clock, second, "Task_classify", "Task_propose")
    assert len(_arrived(engine, "leader_li")) == 1


def test_the_organisation_file_sets_which_roles_are_notified(engine):
    assert {r["name"] for r in administration.roles(engine) if r["notify_on_arrival"]} >= {"leader_in_charge"}
    with engine.db.write() as session:
        apply_organisation(session, {"notify_on_arrival": ["petition_staff"]})
    assert {r["name"] for r in administration.roles(engine) if r["notify_on_arrival"]} == {"petition_staff"}
    with engine.db.write() as session:
        apply_organisation(session, {})  # no line: the settings stay
    assert {r["name"] for r in administration.roles(engine) if r["notify_on_arrival"]} == {"petition_staff"}
    with pytest.raises(ValueError, match="notify_on_arrival 中的角色不存在：chief"), engine.db.write() as session:
        apply_organisation(session, {"notify_on_arrival": ["chief"]})
