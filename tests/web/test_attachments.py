"""Attachments on any task and on the case page: typed by purpose, checked (type, size, count, purpose the
task offers) before anything is stored, kept encrypted with their SHA-256, listed on the case and task
pages, opened only by readers of the case — a purpose that may name the reporter only by readers of the
reporter — and every upload and download audited."""

from __future__ import annotations

import hashlib
import json
import re
from io import BytesIO

import pytest
import sqlalchemy as sa
from chain import PROCESSES, Chain
from support import SIGN_OFF, csrf_token, login, post, register, signed_in, work_through

from engine import IncidentRaised
from engine.bpmn.deployments import read_paths
from engine.reads import attachments
from engine.reads.attachments import AttachmentRejected
from engine.store.models import Attachment, Event

REPORT = b"%PDF-1.4 investigation report"
EVIDENCE = b"\x89PNG evidence photo"
REPORT_ANSWERS = {"handling_action": "report", "disposal": "preliminary_verification", "truthfulness": "partly_true",
                  "handling_report": "经初步核实，反映问题部分属实"}


@pytest.fixture
def case_id(app, engine, clock) -> int:
    """An item signed off to the first supervision office, waiting for its investigation report."""
    case_id = register(signed_in(app, "xf_wang"))
    work_through(engine, clock, case_id, *SIGN_OFF)
    return case_id


def submit_report(app, engine, case_id: int, **files) -> object:
    """s1_liu posts the investigation form with `files` (input name → (content, file name))."""
    client = signed_in(app, "s1_liu")
    task_id = engine.find_task(case_id, "Task_investigate")
    data = {**REPORT_ANSWERS, **{name: (BytesIO(content), filename) for name, (content, filename) in files.items()}}
    response = post(client, f"/tasks/{task_id}", data, token_from=f"/tasks/{task_id}",
                    content_type="multipart/form-data")
    return response


def rows(engine, case_id: int) -> list[Attachment]:
    with engine.db.read() as session:
        found = list(session.scalars(sa.select(Attachment).where(Attachment.case_id == case_id)
                                     .options(sa.orm.undefer(Attachment.content)).order_by(Attachment.id)))
        session.expunge_all()
        return found


def events(engine, case_id: int, kind: str) -> list[tuple[str, dict]]:
    with engine.db.read() as session:
        return [(actor, json.loads(payload)) for actor, payload in session.execute(
            sa.select(Event.actor, Event.payload).where(Event.case_id == case_id, Event.kind == kind)
            .order_by(Event.case_seq))]


def test_files_uploaded_with_the_task_form_are_kept_typed_encrypted_and_audited(app, engine, case_id):
    page = signed_in(app, "s1_liu").get(f"/tasks/{engine.find_task(case_id, 'Task_investigate')}")
    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'name="attachment.handling_report"' in html
    assert 'name="attachment.evidence"' in html and 'name="attachment.letter"' not in html
    response = submit_report(app, engine, case_id, **{"attachment.handling_report": (REPORT, "调查报告.pdf"),
                                                      "attachment.evidence": (EVIDENCE, "现场照片.png")})
    assert response.status_code == 302, response.get_data(as_text=True)
    stored = rows(engine, case_id)
    assert [(r.purpose, r.filename, r.task_name, r.uploaded_by, r.bpmn_id) for r in stored] == [
        ("handling_report", "调查报告.pdf", "调查核实并形成报告", "s1_liu", "Task_investigate"),
        ("evidence", "现场照片.png", "调查核实并形成报告", "s1_liu", "Task_investigate")]
    assert [r.sha256 for r in stored] == [hashlib.sha256(REPORT).hexdigest(), hashlib.sha256(EVIDENCE).hexdigest()]
    assert all(REPORT not in r.content and EVIDENCE not in r.content for r in stored)  # encrypted at rest
    added = events(engine, case_id, "attachment added")
    assert [(actor, payload["attachment_id"], payload["purpose"], payload["sha256"]) for actor, payload in added
            ] == [("s1_liu", r.id, r.purpose, r.sha256) for r in stored]
    assert all("调查报告.pdf" not in json.dumps(payload, ensure_ascii=False) for _, payload in added)
    case_page = signed_in(app, "xf_wang").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "调查报告</span>" in case_page and "调查报告.pdf" in case_page and "证据材料" in case_page
    assert "上传附件" in case_page  # the timeline


def test_the_timeline_names_the_task_a_file_came_with(app, engine, case_id):
    submit_report(app, engine, case_id, **{"attachment.handling_report": (REPORT, "调查报告.pdf")})
    case_page = signed_in(app, "xf_wang").get(f"/cases/{case_id}").get_data(as_text=True)
    (uploaded,) = re.findall(r'<li class="event-attachment-added">(.*?)</li>', case_page, re.S)
    assert "调查核实并形成报告" in uploaded and "Task_investigate" not in uploaded


def test_a_reader_of_the_case_opens_the_report_but_not_what_may_name_the_reporter(app, engine, case_id):
    submit_report(app, engine, case_id, **{"attachment.handling_report": (REPORT, "调查报告.pdf"),
                                           "attachment.evidence": (EVIDENCE, "现场照片.png")})
    report, evidence = rows(engine, case_id)
    leader = signed_in(app, "leader_li")  # reads the case, not the reporter
    download = leader.get(f"/cases/attachments/{report.id}")
    assert download.status_code == 200 and download.data == REPORT
    assert "attachment" in download.headers["Content-Disposition"]
    refused = leader.get(f"/cases/attachments/{evidence.id}")
    assert refused.status_code == 403 and "反映人" in refused.get_data(as_text=True)
    page = leader.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "调查报告.pdf" in page and "现场照片.png" not in page
    assert "另有 1 件附件可能含反映人信息" in page
    handler = signed_in(app, "s1_liu")
    assert handler.get(f"/cases/attachments/{evidence.id}").data == EVIDENCE
    assert signed_in(app, "s2_zhou").get(f"/cases/attachments/{report.id}").status_code == 404
    viewed = [(actor, payload["attachment_id"]) for actor, payload in events(engine, case_id, "attachment viewed")]
    assert viewed == [("leader_li", report.id), ("s1_liu", evidence.id)]  # refused reads record nothing


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("报告.exe", b"MZ", "类型不允许"),
    ("空白.pdf", b"", "是空文件"),
])
def test_a_refused_file_leaves_the_task_open_and_the_answers_in_the_form(app, engine, case_id, filename, content,
                                                                          message):
    response = submit_report(app, engine, case_id, **{"attachment.handling_report": (content, filename)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and "任务尚未提交" in html
    assert REPORT_ANSWERS["handling_report"] in html  # what was typed is given back
    assert engine.find_task(case_id, "Task_investigate")
    assert rows(engine, case_id) == []


def test_a_file_over_the_size_limit_is_refused(app, engine, case_id, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", len(REPORT) - 1)
    response = submit_report(app, engine, case_id, **{"attachment.handling_report": (REPORT, "调查报告.pdf")})
    assert response.status_code == 422 and "超过" in response.get_data(as_text=True)
    assert rows(engine, case_id) == []


def test_a_form_error_stores_no_file(app, engine, case_id):
    client = signed_in(app, "s1_liu")
    task_id = engine.find_task(case_id, "Task_investigate")
    response = post(client, f"/tasks/{task_id}", {"handling_action": "report",
                                                  "attachment.handling_report": (BytesIO(REPORT), "调查报告.pdf")},
                    token_from=f"/tasks/{task_id}", content_type="multipart/form-data")
    assert response.status_code == 422 and "附件需重新选择" in response.get_data(as_text=True)
    assert rows(engine, case_id) == []


def test_a_task_takes_only_the_purposes_its_diagram_offers(engine, case_id):
    task_id = engine.find_task(case_id, "Task_investigate")
    with pytest.raises(AttachmentRejected, match="不适用于此处"):
        engine.staff.complete_task(task_id, engine.actor("s1_liu"), REPORT_ANSWERS, [("信.pdf", REPORT, "letter")])
    assert engine.find_task(case_id, "Task_investigate")  # not completed


def test_files_added_on_the_case_page_by_any_reader_of_the_case(app, engine, case_id):
    leader = signed_in(app, "leader_li")
    response = post(leader, f"/cases/{case_id}/attachments", {"purpose": "other",
                                                               "files": [(BytesIO(REPORT), "情况说明.pdf"),
                                                                         (BytesIO(EVIDENCE), "附图.png")]},
                    token_from=f"/cases/{case_id}", content_type="multipart/form-data")
    assert response.status_code == 302
    added = [row for row in rows(engine, case_id) if row.purpose == "other"]
    assert [(r.filename, r.task_name, r.uploaded_by) for r in added] == [("情况说明.pdf", None, "leader_li"),
                                                                         ("附图.png", None, "leader_li")]
    page = leader.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "情况说明.pdf" in page and "案件页上传" in page and "其他材料" in page


@pytest.mark.parametrize(("purpose", "count", "message"), [
    ("", 1, "请选择附件用途"),
    ("photos", 1, "不适用于此处"),
    ("other", 0, "请选择要上传的文件"),
    ("other", 11, "一次最多上传 10 个附件"),
])
def test_a_refused_upload_on_the_case_page_says_why_and_stores_nothing(app, engine, case_id, purpose, count, message):
    client = signed_in(app, "xf_wang")
    files = [(BytesIO(REPORT), f"{n}.pdf") for n in range(count)]
    response = post(client, f"/cases/{case_id}/attachments", {"purpose": purpose, "files": files},
                    token_from=f"/cases/{case_id}", content_type="multipart/form-data")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert rows(engine, case_id) == []


def test_no_upload_to_a_case_out_of_scope(app, engine, case_id):
    client = signed_in(app, "s2_zhou")
    token = csrf_token(client, "/tasks/")
    response = client.post(f"/cases/{case_id}/attachments", data={
        "purpose": "other", "files": (BytesIO(REPORT), "a.pdf"), "csrf_token": token},
        content_type="multipart/form-data")
    assert response.status_code == 404
    assert rows(engine, case_id) == []


def test_a_sealed_items_files_stay_with_its_few_readers(app, engine, clock):
    chain = Chain(engine, clock)
    chain.start()
    chain.do("Task_classify", category="higher_level")
    head = signed_in(app, "xf_chen")
    response = post(head, f"/cases/{chain.case_id}/attachments", {"purpose": "other",
                                                                   "files": (BytesIO(REPORT), "上报材料.pdf")},
                    token_from=f"/cases/{chain.case_id}", content_type="multipart/form-data")
    assert response.status_code == 302
    (added,) = [row for row in rows(engine, chain.case_id) if row.purpose == "other"]
    assert head.get(f"/cases/attachments/{added.id}").status_code == 200
    assert signed_in(app, "leader_zhao").get(f"/cases/attachments/{added.id}").status_code == 200
    for outsider in ("xf_wang", "leader_li", "s1_liu"):
        login(client := app.test_client(), outsider)
        assert client.get(f"/cases/attachments/{added.id}").status_code == 404, outsider


def test_a_diagram_naming_an_unknown_purpose_is_refused_at_validate(engine):
    files = read_paths([PROCESSES])
    name = next(name for name in files if name.endswith("handling.bpmn"))
    text = files[name].decode() if isinstance(files[name], bytes) else files[name]
    files[name] = text.replace('value="handling_report,evidence"', 'value="handling_report,photos"')
    problems = [str(problem) for problem in engine.validate(files)]
    assert any("附件用途“photos”不存在" in problem and "Task_investigate" in problem for problem in problems), problems


def test_the_department_leader_attaches_the_signed_report_with_the_sign_off(app, engine, clock, case_id):
    work_through(engine, clock, case_id, "Task_investigate")
    client = signed_in(app, "s1_sun")
    task_id = engine.find_task(case_id, "Task_department_sign")
    html = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'name="attachment.handling_report"' in html and "上传调查报告" in html
    response = post(client, f"/tasks/{task_id}", {"report_signoff": "sign", "report_signoff_opinion": "同意报结",
                                                  "attachment.handling_report": (BytesIO(REPORT), "签字件.pdf")},
                    token_from=f"/tasks/{task_id}", content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert [(r.purpose, r.task_name, r.uploaded_by) for r in rows(engine, case_id)] == [
        ("handling_report", "分管领导审核签字", "s1_sun")]


def test_files_of_a_submission_that_becomes_an_incident_are_kept_with_it(app, engine, case_id, monkeypatch):
    """The submission is kept with its incident (the retry completes the task), and so are its files,
    stored with the task they came with; a submission refused outright stores none (above)."""
    def failing(task_id, actor, data):
        raise IncidentRaised("流程在“调查核实并形成报告”处出错，案件保持原状，已记录异常 #1：测试", 1, case_id)

    monkeypatch.setattr(engine, "complete", failing)
    response = submit_report(app, engine, case_id, **{"attachment.handling_report": (REPORT, "调查报告.pdf")})
    assert response.status_code == 202, response.get_data(as_text=True)
    assert [(r.purpose, r.bpmn_id) for r in rows(engine, case_id)] == [("handling_report", "Task_investigate")]
