"""Intake page: every registration field, several accused, attachments, duplicates; bad input kept."""

from datetime import datetime
from io import BytesIO

import sqlalchemy as sa
from support import REGISTRATION_FORM, login, post, register

from engine.reads import attachments
from engine.store.models import Attachment, Case


def _cases(engine) -> int:
    with engine.db.read() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Case))


def test_intake_form_shows_every_registration_field(client):
    login(client, "xf_wang")
    page = client.get("/intake/new").get_data(as_text=True)
    for label in ("收件日期", "来源渠道", "问题摘要", "被反映人姓名", "中共党员", "监察对象", "反映人姓名", "身份证号",
                  "实名已核实", "紧急程度", "集体访", "附件"):
        assert label in page, label
    assert 'name="accused.0.name"' in page and "再添加一条" in page
    assert "保密" in page


def test_registering_starts_the_case_with_two_accused_and_an_attachment(client, engine):
    login(client, "xf_wang")
    form = {**REGISTRATION_FORM, "accused.1.name": "王某", "accused.1.unit": "某区住建局",
            "attachments": (BytesIO(b"%PDF-1.4 letter"), "来信原件.pdf")}
    response = post(client, "/intake/new", form, token_from="/intake/new", content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "XF-2026-000001" in page
    case_id = int(response.headers["Location"].rsplit("/", 1)[1])
    data = engine.case(case_id)["data"]
    assert [a["name"] for a in data["accused"]] == ["张某", "王某"]
    with engine.db.read() as session:
        attachment = session.scalars(sa.select(Attachment)).one()
    assert (attachment.purpose, attachment.task_name, attachment.bpmn_id) == ("letter", "登记信访件", "Task_register")
    download = client.get(f"/cases/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 letter"
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_bad_input_is_kept_with_messages_and_nothing_is_started(client, engine):
    login(client, "xf_wang")
    form = {**REGISTRATION_FORM, "summary": "", "received_on": "2026-13-45", "accused.0.name": "",
            "accused.0.unit": "某局", "reporter_contact": "13900000000"}
    response = post(client, "/intake/new", form, token_from="/intake/new", content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "此项为必填项" in page and "应为日期" in page
    assert 'value="某局"' in page and 'value="13900000000"' in page and 'value="2026-13-45"' in page
    assert _cases(engine) == 0


def test_attachment_type_and_size_are_limited(client, engine, monkeypatch):
    login(client, "xf_wang")
    form = {**REGISTRATION_FORM, "attachments": (BytesIO(b"MZ..."), "run.exe")}
    response = post(client, "/intake/new", form, token_from="/intake/new", content_type="multipart/form-data")
    assert response.status_code == 422 and "类型不允许" in response.get_data(as_text=True)
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 10)
    form = {**REGISTRATION_FORM, "attachments": (BytesIO(b"x" * 11), "scan.png")}
    response = post(client, "/intake/new", form, token_from="/intake/new", content_type="multipart/form-data")
    assert response.status_code == 422 and "超过" in response.get_data(as_text=True)
    assert 'value="某街道城建办"' in response.get_data(as_text=True)
    assert _cases(engine) == 0


def test_only_petition_staff_register(client):
    login(client, "s1_liu")
    assert client.get("/intake/new").status_code == 403
    assert 'href="/intake/new"' not in client.get("/tasks/").get_data(as_text=True)


def test_possible_duplicates_are_shown_after_registering(client, clock):
    login(client, "xf_wang")
    register(client)
    clock.set(datetime.fromisoformat("2026-03-03T09:00:00+08:00"))  # the second letter arrives the next day
    login(client, "xf_wang")  # a new working day, a new session
    case_id = register(client, received_on="2026-03-03")
    page = client.get(f"/intake/registered/{case_id}").get_data(as_text=True)
    assert "XF-2026-000002" in page
    assert "疑似重复件" in page and "XF-2026-000001" in page


def test_several_keywords_one_per_line_are_registered(client, engine):
    """A list field's value is a list: the submit-time checks (option gates) must take it as it is."""
    login(client, "xf_wang")
    case_id = register(client, keywords="工程招标\n礼金")
    assert engine.case(case_id)["data"]["keywords"] == ["工程招标", "礼金"]
    assert engine.case(case_id)["incidents"] == []
