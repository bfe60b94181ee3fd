"""Access scope is data, not menus: other departments' cases by URL, masked reporters, audited reporter
views, sealed items, scoped search and attachments."""

from io import BytesIO

import pytest
import sqlalchemy as sa
from support import REGISTRATION_FORM, SIGN_OFF, login, post, register, signed_in, work_through

from engine import Forbidden
from engine.org.organisation import apply_organisation
from engine.store.models import Attachment, Event, Petition, User


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


def _user(engine, name: str, display_name: str, department: str, *roles: str) -> None:
    with engine.db.write() as session:
        apply_organisation(session, {"initial_password": "xinfang-demo", "users": [
            {"name": name, "display_name": display_name, "department": department, "roles": list(roles)}]})
        session.execute(sa.update(User).where(User.name == name).values(must_change_password=False))


def test_nobody_reads_an_item_that_accuses_them_whatever_their_role(client, app, engine, clock):
    login(client, "xf_wang")
    # 孙主任 leads the handling department, so the department, the task and the search would all reach him
    about_him = register(client, **{"accused.0.name": "孙 主任", "accused.0.unit": "县纪委第一监督检查室"})
    work_through(engine, clock, about_him, *SIGN_OFF)
    # a namesake in another department of this organisation is another person
    namesake = register(client, **{"accused.0.name": "孙主任", "accused.0.unit": "第二监督检查室"})
    work_through(engine, clock, namesake, *SIGN_OFF)
    work_through(engine, clock, about_him, "Task_investigate")
    task_id = engine.find_task(about_him, "Task_department_sign")
    leader = signed_in(app, "s1_sun")
    for path in (f"/cases/{about_him}", f"/cases/{about_him}/slip", f"/tasks/{task_id}"):
        assert leader.get(path).status_code == 404, path
    assert f'href="/cases/{about_him}"' not in leader.get("/search/?accused=孙").get_data(as_text=True)
    assert f'href="/cases/{namesake}"' in leader.get("/search/?accused=孙").get_data(as_text=True)
    groups = leader.get("/tasks/?view=groups").get_data(as_text=True)  # his task, without its item
    assert f"案件 {about_him}" in groups and "XF-2026-000001" not in groups
    department = leader.get("/tasks/?view=department").get_data(as_text=True)
    assert "XF-2026-000001" not in department and "XF-2026-000002" in department
    with pytest.raises(Forbidden, match="回避"):  # offered to his role, but he may not take it up
        engine.claim(task_id, engine.actor("s1_sun"))
    with pytest.raises(Forbidden, match="回避"):
        engine.complete(task_id, engine.actor("s1_sun"),
                        {"report_signoff": "sign", "report_signoff_opinion": "同意报结"})
    assert signed_in(app, "s1_liu").get(f"/cases/{about_him}").status_code == 200
    assert client.get(f"/cases/{about_him}").status_code == 200


def test_joint_review_reaches_one_supervision_office_and_scope_ends_with_the_task(client, app, engine, clock):
    _user(engine, "cr_hu", "胡审理（案件审理室）", "case_review", "case_review")
    login(client, "xf_wang")
    case_id = register(client)
    chain = work_through(engine, clock, case_id, *SIGN_OFF, Task_propose={"handling_department": "township_group"})
    chain.do("Task_investigate", by="tg_wu")
    chain.do("Task_department_sign", by="tg_ma")
    review = engine.find_task(case_id, "Task_review_case_review")
    engine.claim(review, engine.actor("cr_hu"))
    engine.unclaim(review, engine.actor("cr_hu"))
    assert signed_in(app, "s1_liu").get(f"/cases/{case_id}").status_code == 200  # the designated office
    assert signed_in(app, "s2_zhou").get(f"/cases/{case_id}").status_code == 404  # every other office: nothing
    assert "XF-2026-000001" not in signed_in(app, "s2_qian").get("/tasks/?view=department").get_data(as_text=True)
    assert signed_in(app, "cr_hu").get(f"/cases/{case_id}").status_code == 200  # still offered to him
    for bpmn_id in ("Task_review_petition_office", "Task_review_supervision", "Task_review_case_review"):
        chain.do(bpmn_id)
    # claimed and released, or even completed: the review is over, and so is the reviewers' sight of it
    for name in ("cr_hu", "cr_zheng", "s1_liu"):
        assert signed_in(app, name).get(f"/cases/{case_id}").status_code == 404, name
    assert signed_in(app, "tg_wu").get(f"/cases/{case_id}").status_code == 200  # the handler, by department


def test_the_petition_offices_notes_to_the_reporter_are_reporter_data(client, app, engine, clock):
    login(client, "xf_wang")
    case_id = register(client, channel="visit")
    work_through(engine, clock, case_id, "Task_classify", "Task_out_of_scope", "Task_redirect",
                 Task_classify={"category": "out_of_scope"},
                 Task_out_of_scope={"out_of_scope_action": "redirect", "receiving_body": "区人力社保局"},
                 Task_redirect={"redirect_method": "in_person", "redirect_note": "已当面告知李某向区人力社保局反映"})
    task_id = engine.find_task(case_id, "Task_close")
    leader = signed_in(app, "leader_li")
    for path in (f"/cases/{case_id}", f"/tasks/{task_id}"):
        assert "已当面告知李某" not in leader.get(path).get_data(as_text=True), path
    assert "区人力社保局" in leader.get(f"/cases/{case_id}").get_data(as_text=True)  # the decision is not masked
    assert "已当面告知李某" in client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "redirect_note" in _reporter_views(engine, case_id)[-1][1]  # and the view of it audited


def test_a_sealed_repeat_is_not_named_on_the_original_to_others(client, app, engine, clock):
    login(client, "xf_wang")
    original = register(client)
    repeat = register(client, summary="反映王某收受礼金", **{"accused.0.name": "王某"})  # no duplicate check stop
    work_through(engine, clock, repeat, "Task_classify", Task_classify={"category": "higher_level"})
    with engine.db.write() as session:  # linked before it was sealed
        rows = {p.case_id: p for p in session.scalars(sa.select(Petition))}
        rows[repeat].duplicate_of_id = rows[original].id
    assert "XF-2026-000002" not in client.get(f"/cases/{original}").get_data(as_text=True)
    assert "XF-2026-000002" in signed_in(app, "xf_chen").get(f"/cases/{original}").get_data(as_text=True)
