"""Access scope is data, not menus: other departments' cases by URL, masked reporters, audited reporter
views, sealed items, scoped search and attachments."""

from io import BytesIO

import sqlalchemy as sa
from support import REGISTRATION_FORM, SIGN_OFF, login, post, register, signed_in, work_through

from engine.store.models import Attachment, Event


def _assigned_case(client, engine, clock, department="supervision_1") -> int:
    """An item registered with an attachment and signed off to `department`."""
    login(client, "xf_wang")
    form = {**REGISTRATION_FORM, "attachments": (BytesIO(b"%PDF-1.4"), "原件.pdf")}
    response = post(client, "/intake/new", form, token_from="/intake/new", content_type="multipart/form-data")
    case_id = int(response.headers["Location"].rsplit("/", 1)[1])
    work_through(engine, clock, case_id, *SIGN_OFF, Task_propose={"handling_department": department})
    return case_id


def _reporter_views(engine, case_id) -> list[tuple[str, str]]:
    with engine.db.read() as session:
        rows = session.execute(sa.select(Event.actor, Event.payload).where(
            Event.case_id == case_id, Event.kind == "reporter viewed"))
        return list(rows)


def test_another_departments_case_task_and_attachment_answer_404(client, app, engine, clock):
    case_id = _assigned_case(client, engine, clock)
    task_id = engine.find_task(case_id, "Task_investigate")
    with engine.db.read() as session:
        attachment_id = session.scalar(sa.select(Attachment.id))
    outsider = signed_in(app, "s2_zhou")
    for path in (f"/cases/{case_id}", f"/tasks/{task_id}", f"/cases/attachments/{attachment_id}"):
        response = outsider.get(path)
        assert response.status_code == 404, path
        assert "李某" not in response.get_data(as_text=True) and "张某" not in response.get_data(as_text=True)
    insider = signed_in(app, "s1_liu")
    assert insider.get(f"/cases/{case_id}").status_code == 200
    assert insider.get(f"/cases/attachments/{attachment_id}").status_code == 200


def test_reporter_masked_for_leaders_and_every_view_audited(client, app, engine, clock):
    case_id = _assigned_case(client, engine, clock)
    leader_page = signed_in(app, "leader_li").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "李某" not in leader_page and "13800000000" not in leader_page
    assert "反映人信息已屏蔽" in leader_page
    assert _reporter_views(engine, case_id) == []
    handler_page = signed_in(app, "s1_liu").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "李某" in handler_page and "已记入审计日志" in handler_page
    client.get(f"/cases/{case_id}")
    viewers = [actor for actor, _ in _reporter_views(engine, case_id)]
    assert viewers == ["s1_liu", "xf_wang"]
    assert "reporter_name" in _reporter_views(engine, case_id)[0][1]


def test_reporter_masked_in_a_task_form_of_a_non_reader(client, app, engine, clock):
    case_id = _assigned_case(client, engine, clock)
    task_id = engine.find_task(case_id, "Task_investigate")
    page = signed_in(app, "s1_sun").get(f"/tasks/{task_id}").get_data(as_text=True)  # handling leader: a handler
    assert "李某" in page
    page = signed_in(app, "cr_zheng").get(f"/tasks/{task_id}")
    assert page.status_code == 404  # case review has no part in this item yet


def test_sealed_item_only_for_principal_leader_and_petition_head(client, app, engine, clock):
    login(client, "xf_wang")
    case_id = register(client, summary="反映本级领导班子成员问题")
    work_through(engine, clock, case_id, "Task_classify", Task_classify={"category": "higher_level"})
    assert client.get(f"/cases/{case_id}").status_code == 404
    assert "XF-2026-000001" not in client.get("/search/?number=XF-2026").get_data(as_text=True)
    for name in ("leader_zhao", "xf_chen"):
        page = signed_in(app, name).get(f"/cases/{case_id}")
        assert page.status_code == 200 and "密封件" in page.get_data(as_text=True), name
    assert signed_in(app, "leader_li").get(f"/cases/{case_id}").status_code == 404


def test_search_is_scoped_and_reporter_search_is_restricted_and_audited(client, app, engine, clock):
    case_id = _assigned_case(client, engine, clock)
    assert "XF-2026-000001" in client.get("/search/?accused=张").get_data(as_text=True)
    found = post(client, "/search/", {"reporter": "李"}, token_from="/search/")
    assert "XF-2026-000001" in found.get_data(as_text=True)
    with engine.db.read() as session:
        searched = session.scalars(sa.select(Event.actor).where(Event.kind == "reporter searched")).all()
    assert searched == ["xf_wang"]
    outsider = signed_in(app, "s2_zhou")
    page = outsider.get("/search/?accused=张").get_data(as_text=True)
    assert "共找到 0 件" in page
    leader = post(signed_in(app, "leader_li"), "/search/", {"reporter": "李", "text": "礼金"},
                  token_from="/search/").get_data(as_text=True)
    assert 'name="reporter"' not in leader and "XF-2026-000001" in leader
    assert signed_in(app, "s1_liu").get("/search/?accused=张").get_data(as_text=True).count("XF-2026-000001") == 1
    assert case_id


def test_free_text_is_escaped_everywhere(client, engine):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    short = "<script>alert(1)</script>"  # names are limited to 50 characters
    login(client, "xf_wang")
    case_id = register(client, summary=payload, **{"accused.0.name": short, "reporter_name": short})
    for path in ("/tasks/?view=groups", f"/cases/{case_id}", "/search/?text=script"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;" in page, path
