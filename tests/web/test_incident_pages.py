"""A business error during a submit is no HTTP 500: staff get a 202 page saying what was kept and what
happens next, the process owners and administrators a notice; the incident list (流程异常) is theirs
alone, with retry, skip and resolve-with-note, and `xinfang incidents list / resolve` beside it. The walk
a browser test repeats: the calendar lacks 2027, classification fails, the admin adds the year in
/admin/calendar, the staff member resubmits, the incident goes stale and is listed as closed."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from chain import PROCESSES, seed_staff
from click.testing import CliRunner
from support import REGISTRATION_FORM, login, post, register, signed_in

import cli.main
from engine import Engine, FakeClock, IncidentRaised
from engine.api import ReasonMissing
from engine.bpmn.deployments import read_paths
from engine.runtime.handlers_registry import HandlerRegistry, registry
from engine.store.models import UserRole
from engine.timing.calendar import DayOverride
from web import create_app

CLASSIFY = {"category": "accusation", "classification_note": "反映党员干部收受礼金，属检举控告"}


@pytest.fixture
def clock() -> FakeClock:
    """A year the chinesecalendar package does not cover, with no holidays entered for it yet."""
    return FakeClock("2027-03-02T09:00:00+08:00")


def _classify_task(engine: Engine, case_id: int) -> str:
    return engine.find_task(case_id, "Task_classify")


def _failed_classification(app, engine: Engine):
    """xf_wang registers an item and submits its classification, which fails on the calendar."""
    staff = signed_in(app, "xf_wang")
    case_id = register(staff, received_on="2027-03-02")
    task_id = _classify_task(engine, case_id)
    response = post(staff, f"/tasks/{task_id}", CLASSIFY, token_from=f"/tasks/{task_id}")
    return staff, case_id, task_id, response


def _row(page: str, incident_id: int) -> str:
    match = re.search(rf'<tr id="incident-{incident_id}">(.*?)</tr>', page, re.S)
    assert match, f"incident {incident_id} not listed"
    return match.group(1)


def test_a_deadline_that_cannot_be_computed_is_a_202_page_keeping_the_input(app, engine):
    staff, case_id, task_id, response = _failed_classification(app, engine)
    assert response.status_code == 202
    page = response.get_data(as_text=True)
    assert 'id="incident-raised"' in page
    assert "缺少 2027 年的节假日安排" in page  # what happened
    assert "流程管理员和系统管理员已收到通知" in page and "不会丢失" in page  # what happens next
    assert CLASSIFY["classification_note"] in page  # the form still holds what was typed
    assert "Traceback" not in page
    (incident,) = engine.case(case_id)["incidents"]
    assert incident["resolved_at"] is None
    case_page = staff.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "未处理的流程异常" in case_page
    task_page = staff.get(f"/tasks/{task_id}").get_data(as_text=True)  # opened again later: still said
    assert 'id="incident-open"' in task_page and f"异常 #{incident['id']}" in task_page


def test_the_fixers_get_a_notice_and_staff_do_not(app, engine):
    _, case_id, _, _ = _failed_classification(app, engine)
    for name in ("owner_he", "admin"):
        notices = signed_in(app, name).get("/notices/").get_data(as_text=True)
        assert "计算拟办期限" in notices and "缺少 2027 年的节假日安排" in notices, name
        assert "流程异常" in notices
    assert "缺少 2027 年" not in signed_in(app, "xf_chen").get("/notices/").get_data(as_text=True)


def test_the_incident_list_is_for_process_owners_and_administrators_only(app, engine):
    staff, case_id, _, _ = _failed_classification(app, engine)
    (incident,) = engine.case(case_id)["incidents"]
    for name in ("xf_wang", "xf_chen", "leader_li", "audit_xu"):
        client = staff if name == "xf_wang" else signed_in(app, name)
        assert client.get("/incidents/").status_code == 403, name
        assert 'href="/incidents/"' not in client.get("/tasks/").get_data(as_text=True), name
        assert post(client, f"/incidents/{incident['id']}/resolve", {"note": "已处理"}).status_code == 403
    for name in ("owner_he", "admin"):
        client = signed_in(app, name)
        assert 'href="/incidents/"' in client.get("/tasks/").get_data(as_text=True), name
        page = client.get("/incidents/").get_data(as_text=True)
        row = _row(page, incident["id"])
        assert "计算拟办期限" in row and "缺少 2027 年的节假日安排" in row and "王晓燕（信访室）" in row
        assert "2027-03-02 09:00" in row  # when, in Beijing time
        # neither may read the item: its id only, neither its registration number nor a link to it
        assert f"案件 {case_id}" in row and "不在您的查阅范围" in row and "/cases/" not in row
        assert engine.case(case_id)["data"]["registration_number"] not in row
        assert "没有已关闭的流程异常" in client.get("/incidents/?state=closed").get_data(as_text=True)
    assert signed_in(app, "admin").get("/incidents/?state=everything").status_code == 404


def test_a_fixer_who_may_read_the_item_sees_its_number_and_link(app, engine):
    with engine.db.write() as session:  # the office head also keeps the diagrams
        session.add(UserRole(user_name="xf_chen", role_name="process_owner"))
    _, case_id, _, _ = _failed_classification(app, engine)
    (incident,) = engine.case(case_id)["incidents"]
    number = engine.case(case_id)["data"]["registration_number"]
    head = signed_in(app, "xf_chen")
    row = _row(head.get("/incidents/").get_data(as_text=True), incident["id"])
    assert f'<a href="/cases/{case_id}">{number}</a>' in row
    notices = head.get("/notices/").get_data(as_text=True)
    assert f"信访件 {number} 在“计算拟办期限”处出错" in notices and f'href="/cases/{case_id}"' in notices


def test_resolve_needs_a_note_and_is_audited(app, engine):
    staff, case_id, _, _ = _failed_classification(app, engine)
    (incident,) = engine.case(case_id)["incidents"]
    owner = signed_in(app, "owner_he")
    refused = post(owner, f"/incidents/{incident['id']}/resolve", {"note": "   "}, token_from="/incidents/")
    assert refused.status_code == 422
    assert "请填写处理说明" in refused.get_data(as_text=True)
    assert engine.case(case_id)["incidents"][0]["resolved_at"] is None

    note = "已通知管理员补录 2027 年放假安排，由经办人重新提交"
    done = post(owner, f"/incidents/{incident['id']}/resolve", {"note": note}, token_from="/incidents/")
    assert done.status_code == 302
    assert "已关闭" in owner.get("/incidents/").get_data(as_text=True)
    row = _row(owner.get("/incidents/?state=closed").get_data(as_text=True), incident["id"])
    assert "人工处理" in row and note in row and "何工（流程管理员）" in row
    event = engine.history(case_id)[-1]
    assert (event["kind"], event["actor"], event["payload"]["note"]) == ("resolve", "owner_he", note)
    case_page = staff.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "异常人工关闭" in case_page and note in case_page and "未处理的流程异常" not in case_page


def test_retry_from_the_list_fails_again_clearly_then_succeeds_once_the_year_is_entered(app, engine):
    _, case_id, _, _ = _failed_classification(app, engine)
    (incident,) = engine.case(case_id)["incidents"]
    admin = signed_in(app, "admin")
    again = post(admin, f"/incidents/{incident['id']}/retry", token_from="/incidents/", follow_redirects=True)
    assert again.status_code == 200
    assert "仍未成功" in again.get_data(as_text=True)
    assert engine.case(case_id)["incidents"][0]["attempts"] == 2

    engine.import_calendar([DayOverride(date(2027, 1, 1), False, "元旦")])
    done = post(admin, f"/incidents/{incident['id']}/retry", token_from="/incidents/", follow_redirects=True)
    assert "已重试成功" in done.get_data(as_text=True)
    assert engine.find_task(case_id, "Task_propose")
    assert engine.case(case_id)["incidents"][0]["resolution"] == "retry"
    assert engine.history(case_id)[-1]["actor"] == "admin"


def test_skip_from_the_list_says_so_when_the_next_step_fails_in_turn(app, engine):
    """Skipping the deadline script leaves no deadline for the reminder timer after it: the owner is told
    at once, and the incident, still open, now names that step (skips accumulate, engine tests)."""
    _, case_id, _, _ = _failed_classification(app, engine)
    (incident,) = engine.case(case_id)["incidents"]
    owner = signed_in(app, "owner_he")
    done = post(owner, f"/incidents/{incident['id']}/skip", token_from="/incidents/", follow_redirects=True)
    assert done.status_code == 200
    flashed = done.get_data(as_text=True)
    assert "仍未成功" in flashed and "拟办到期前提醒" in flashed
    (incident,) = engine.case(case_id)["incidents"]
    assert (incident["resolved_at"], incident["task_name"], incident["attempts"]) == (None, "拟办到期前提醒", 2)


def test_the_admin_adds_the_year_and_the_resubmission_makes_the_incident_stale(app, engine):
    staff, case_id, task_id, _ = _failed_classification(app, engine)
    (incident,) = engine.case(case_id)["incidents"]
    admin = signed_in(app, "admin")
    saved = post(admin, "/admin/calendar?year=2027", {"day": "2027-01-01", "workday": "0", "note": "元旦"},
                 token_from="/admin/calendar?year=2027")
    assert saved.status_code == 302

    resubmitted = post(staff, f"/tasks/{task_id}", CLASSIFY, token_from=f"/tasks/{task_id}")
    assert resubmitted.status_code == 302
    assert engine.find_task(case_id, "Task_propose")
    case_page = staff.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "未处理的流程异常" not in case_page
    assert "异常失效关闭" in case_page and f"异常 #{incident['id']}：出错的任务已经办理" in case_page

    owner = signed_in(app, "owner_he")
    assert f'id="incident-{incident["id"]}"' not in owner.get("/incidents/").get_data(as_text=True)
    row = _row(owner.get("/incidents/?state=closed").get_data(as_text=True), incident["id"])
    assert "已失效，自动关闭" in row and "王晓燕（信访室）" in row and "已经办理" in row
    commands = [e["kind"] for e in engine.history(case_id) if e["kind"] != "reporter viewed"]
    assert commands[-2:] == ["complete", "stale"]


def test_a_failing_registration_is_a_202_page_and_keeps_form_and_files(database, clock):
    """A handler error while registering: the case and its attachments exist, the incident holds the form,
    and the page says not to register the item again."""
    def down(context):
        raise RuntimeError("编号服务不可用")

    handlers = HandlerRegistry()
    for name in registry.names():
        handlers.register(name)(down if name == "petition.register" else registry.get(name))
    engine = Engine(database, clock=clock, handlers=handlers)
    seed_staff(engine)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}, engine=engine)
    staff = app.test_client()
    login(staff, "xf_wang")
    letter = (io.BytesIO(b"%PDF-1.4 letter"), "来信.pdf")
    response = post(staff, "/intake/new", {**REGISTRATION_FORM, "attachments": letter}, token_from="/intake/new",
                    content_type="multipart/form-data")
    assert response.status_code == 202
    page = response.get_data(as_text=True)
    assert 'id="incident-raised"' in page and "编号服务不可用" in page and "无需重复提交" in page
    (row,) = engine.incidents("open")
    case = engine.case(row["case_id"])
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_register"]
    assert engine.staff.case_page(row["case_id"], engine.actor("xf_wang"))["context"].attachments


def test_an_intake_whose_start_fails_gives_the_form_back_filled_in(app, engine):
    """A diagram that fails before the registration task (here a broken script a process owner added):
    no incident holds the form, so the page gives it back filled in, and says so."""
    files = read_paths([PROCESSES])
    (name,) = [name for name in files if name.endswith("intake.bpmn")]
    text = files[name].decode() if isinstance(files[name], bytes) else files[name]
    flow = '<bpmn:sequenceFlow id="Flow_intake_to_register" sourceRef="StartEvent_intake" targetRef="Task_register" />'
    assert flow in text
    files[name] = text.replace(flow, flow.replace('"Task_register"', '"Script_broken"') + """
    <bpmn:scriptTask id="Script_broken" name="登记前检查" scriptFormat="python"><bpmn:script>x = 1 / 0</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_broken" sourceRef="Script_broken" targetRef="Task_register" />""")
    engine.deploy(files, by="owner_he")
    staff = signed_in(app, "xf_wang")
    response = post(staff, "/intake/new", {**REGISTRATION_FORM, "received_on": "2027-03-02"},
                    token_from="/intake/new", content_type="multipart/form-data")
    assert response.status_code == 202
    page = response.get_data(as_text=True)
    assert 'id="incident-raised"' in page and "登记前检查" in page and "仍在下方表单中" in page
    assert "已随异常" not in page
    assert REGISTRATION_FORM["summary"] in page and 'name="summary"' in page  # the form, filled in
    (row,) = engine.incidents("open")
    assert row["task_name"] == "登记前检查"


def test_no_view_turns_an_engine_refusal_into_a_500(app, engine):
    """The class behind defect 3: whichever view runs a command (claim, intake, an admin action), an
    incident it does not catch is the 202 page, and any other refusal the engine words is shown as is."""
    @app.get("/probe/incident")
    def probe_incident():
        raise IncidentRaised("流程在“测试环节”处出错，案件保持原状，已记录异常 #7：测试", 7, 1)

    @app.get("/probe/refusal")
    def probe_refusal():
        raise ReasonMissing("转交需要填写理由")

    client = signed_in(app, "xf_wang")
    incident = client.get("/probe/incident")
    assert incident.status_code == 202
    page = incident.get_data(as_text=True)
    assert 'id="incident-raised"' in page and "测试环节" in page and "无需重复提交" in page
    refusal = client.get("/probe/refusal")
    assert refusal.status_code == 422 and "转交需要填写理由" in refusal.get_data(as_text=True)


def test_cli_lists_and_resolves_incidents(app, engine):
    _, case_id, _, _ = _failed_classification(app, engine)
    (incident,) = engine.case(case_id)["incidents"]
    listed = _cli(engine, "incidents", "list")
    assert listed.exit_code == 0, listed.output
    assert f"#{incident['id']}" in listed.output and "计算拟办期限" in listed.output
    assert "缺少 2027 年的节假日安排" in listed.output

    refused = _cli(engine, "incidents", "resolve", str(incident["id"]), "--note", "补录", "--user", "xf_wang")
    assert refused.exit_code == 1 and "只有流程管理员或系统管理员" in refused.output
    assert "Traceback" not in refused.output
    done = _cli(engine, "incidents", "resolve", str(incident["id"]), "--note", "已线下处理")
    assert done.exit_code == 0, done.output
    assert engine.history(case_id)[-1]["actor"] == "admin"  # the default resolver
    assert "没有未处理的流程异常" in _cli(engine, "incidents", "list").output
    closed = _cli(engine, "incidents", "list", "--state", "closed").output
    assert f"#{incident['id']}" in closed and "人工处理，系统管理员" in closed and "已线下处理" in closed


def _cli(engine: Engine, *args: str):
    return CliRunner().invoke(cli.main.main, ["--database-url", engine.db.url, *args])

