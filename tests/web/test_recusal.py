"""Recusal (回避): declarations block claim, completion and reassignment of items whose accused or
reporter they match (without telling whom), requests on an item are decided by the petition-office head
only, an approved one takes the item out of the person's scope and releases their task; all audited."""

import json
import re

import pytest
import sqlalchemy as sa
from support import SIGN_OFF, csrf_token, login, post, register, signed_in, work_through

from engine import Forbidden
from engine.org.organisation import apply_organisation
from engine.runtime.recusal import APPROVED, DECLARED, unit_matches
from engine.store.models import Event, RecusalDeclaration, User


def _colleague(engine) -> None:
    """A second handling staff member of the first supervision office (someone to hand tasks to)."""
    with engine.db.write() as session:
        apply_organisation(session, {"initial_password": "xinfang-demo", "users": [
            {"name": "s1_ma", "display_name": "马丽（第一监督检查室）", "department": "supervision_1",
             "roles": ["handling_staff"]}]})
        session.execute(sa.update(User).values(must_change_password=False))


def _handled_case(client, engine, clock, **changes) -> tuple[int, str]:
    """An item registered by xf_wang and signed off to supervision_1; its investigation task."""
    login(client, "xf_wang")
    case_id = register(client, **changes)
    work_through(engine, clock, case_id, *SIGN_OFF, Task_propose={"handling_department": "supervision_1"})
    return case_id, engine.find_task(case_id, "Task_investigate")


def _declare(app, name: str, **fields):
    browser = signed_in(app, name)
    response = post(browser, "/recusal/", {"kind": "interest", "person_name": "", "unit": "", "note": "", **fields},
                    token_from="/recusal/")
    return browser, response


def _events(engine, kind: str) -> list[tuple[str, int | None, dict]]:
    with engine.db.read() as session:
        rows = session.execute(sa.select(Event.actor, Event.case_id, Event.payload).where(Event.kind == kind)
                               .order_by(Event.id))
        return [(actor, case_id, json.loads(payload)) for actor, case_id, payload in rows]


def _assignee(engine, case_id: int, task_id: str) -> str | None:
    return next(item["assignee"] for item in engine.work_items(case_id) if item["task_id"] == task_id)


def _flashes(response) -> str:
    page = response.get_data(as_text=True)
    return " ".join(re.findall(r'<div class="flash [^"]*" role="status">([^<]*)</div>', page))


def test_unit_matching_is_normalised_and_fuzzy_within_the_threshold():
    assert unit_matches("青山镇政府", "青山镇人民政府")  # ratio 83
    assert unit_matches("县财政局", "县财政局 办公室")  # contained, after whitespace is removed
    assert unit_matches("ＡＢＣ公司", "abc公司")  # NFKC and casefold
    assert not unit_matches("县水利局", "县水务局")  # ratio 75
    assert not unit_matches("财政", "县财政局")  # too short to count as contained
    assert not unit_matches("", "县财政局")


def test_a_declared_unit_blocks_claim_and_reassignment_with_the_reason(client, app, engine, clock):
    _colleague(engine)
    case_id, task_id = _handled_case(client, engine, clock, **{"accused.0.unit": "青山镇人民政府"})
    ma, liu = engine.actor("s1_ma"), engine.actor("s1_liu")
    engine.claim(task_id, ma)
    assert "s1_liu" in {c["name"] for c in engine.staff.colleagues(task_id, ma)}

    browser, response = _declare(app, "s1_liu", unit="青山镇 政府", note="配偶在该单位工作")
    assert response.status_code == 302
    assert "青山镇 政府" in browser.get("/recusal/").get_data(as_text=True)
    assert _events(engine, "recusal declared")[-1][0] == "s1_liu"

    # the reassign list leaves him out, and handing it to him anyway is refused
    assert "s1_liu" not in {c["name"] for c in engine.staff.colleagues(task_id, ma)}
    with pytest.raises(Forbidden, match="对本件应当回避，不能转交"):
        engine.reassign(task_id, ma, liu, "出差")
    engine.unclaim(task_id, ma)
    with pytest.raises(Forbidden) as refused:
        engine.claim(task_id, liu)
    assert refused.value.message == DECLARED
    # through the page: the claim is refused with the same sentence, and the task stays in the pool
    answer = post(browser, f"/tasks/{task_id}/claim", token_from="/recusal/", follow_redirects=True)
    assert DECLARED in _flashes(answer)
    assert _assignee(engine, case_id, task_id) is None
    with pytest.raises(Forbidden, match=DECLARED):  # nor may he complete it
        engine.complete(task_id, liu, {})


def test_a_declared_reporter_blocks_without_naming_the_reporter(client, app, engine, clock):
    case_id, task_id = _handled_case(client, engine, clock)  # reporter 李某
    liu = engine.actor("s1_liu")
    browser, _ = _declare(app, "s1_liu", kind="relative", person_name="李 某")
    with pytest.raises(Forbidden) as refused:
        engine.claim(task_id, liu)
    assert refused.value.message == DECLARED  # the same sentence as for the accused: it names nobody
    assert "李某" not in refused.value.message and "反映人" not in refused.value.message.replace("被反映人", "")
    flashed = _flashes(post(browser, f"/tasks/{task_id}/claim", token_from="/recusal/", follow_redirects=True))
    assert DECLARED in flashed and "李某" not in flashed
    # no event of the check holds the reporter's name either
    assert all("李某" not in json.dumps(p, ensure_ascii=False) for _, c, p in _events(engine, "claim"))

    # withdrawn: kept in the history, audited, and the item is his to take again
    with engine.db.read() as session:
        declaration_id = session.scalar(sa.select(RecusalDeclaration.id))
    post(browser, f"/recusal/{declaration_id}/withdraw", token_from="/recusal/")
    assert "已撤回" in browser.get("/recusal/").get_data(as_text=True)
    assert [a for a, _, p in _events(engine, "recusal withdrawn")] == ["s1_liu"]
    engine.claim(task_id, liu)
    assert _assignee(engine, case_id, task_id) == "s1_liu"


def test_a_declaration_needs_a_person_or_a_unit_and_keeps_the_input(app, engine):
    browser, response = _declare(app, "s1_liu", note="同学关系")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请填写相关人员姓名或单位（至少一项）" in page and "同学关系" in page
    _, response = _declare(app, "s1_liu", kind="", unit="县财政局")
    assert response.status_code == 422 and "请选择关系类别" in response.get_data(as_text=True)
    assert _events(engine, "recusal declared") == []


def _request(browser, case_id: int, **fields):
    return post(browser, f"/cases/{case_id}/recusal", {"raised_by": "self", "staff_name": "", "reason": "",
                                                       **fields}, token_from=f"/cases/{case_id}")


def _pending_id(app) -> int:
    page = signed_in(app, "xf_chen").get("/recusal/requests").get_data(as_text=True)
    return int(re.search(r'id="request-(\d+)"', page).group(1))


def test_an_approved_request_takes_the_item_out_of_scope_and_releases_the_task(client, app, engine, clock):
    case_id, task_id = _handled_case(client, engine, clock)
    engine.claim(task_id, engine.actor("s1_liu"))
    # recorded by the petition office for the reporter
    response = _request(client, case_id, raised_by="reporter", staff_name="s1_liu", reason="反映人称其与被反映人系同学")
    assert response.status_code == 302
    assert [(a, c, p["raised_by"]) for a, c, p in _events(engine, "recusal requested")] == [
        ("xf_wang", case_id, "reporter")]
    head = signed_in(app, "xf_chen")
    listing = head.get("/recusal/requests").get_data(as_text=True)
    assert 'id="pending-recusals">1<' in listing and "反映人称其与被反映人系同学" in listing
    request_id = _pending_id(app)

    # only the petition-office head decides
    for name in ("xf_wang", "s1_sun", "leader_zhao"):
        other = signed_in(app, name)
        assert other.get("/recusal/requests").status_code == 403, name
        assert post(other, f"/recusal/requests/{request_id}", {"decision": "approve", "note": ""},
                    token_from="/recusal/").status_code == 403, name
    assert _events(engine, "recusal decided") == []

    answer = post(head, f"/recusal/requests/{request_id}", {"decision": "approve", "note": "同意回避"},
                  token_from="/recusal/requests")
    assert answer.status_code == 302
    assert [(a, c, p["decision"]) for a, c, p in _events(engine, "recusal decided")] == [
        ("xf_chen", case_id, "approved")]
    assert _assignee(engine, case_id, task_id) is None  # back to the pool
    assert [(a, p["previous"]) for a, _, p in _events(engine, "unclaim")] == [("xf_chen", "s1_liu")]
    liu = signed_in(app, "s1_liu")
    assert liu.get(f"/cases/{case_id}").status_code == 404
    assert liu.get(f"/tasks/{task_id}").status_code == 404
    with pytest.raises(Forbidden, match=APPROVED):
        engine.claim(task_id, engine.actor("s1_liu"))
    assert signed_in(app, "s1_sun").get(f"/cases/{case_id}").status_code == 200  # his colleagues still read it
    assert 'id="pending-recusals">0<' in head.get("/recusal/requests").get_data(as_text=True)


def test_a_rejected_request_changes_nothing(client, app, engine, clock):
    case_id, task_id = _handled_case(client, engine, clock)
    liu = signed_in(app, "s1_liu")
    engine.claim(task_id, engine.actor("s1_liu"))
    assert _request(liu, case_id, staff_name="s1_liu", reason="曾与被反映人共事").status_code == 302
    request_id = _pending_id(app)
    head = signed_in(app, "xf_chen")
    answer = post(head, f"/recusal/requests/{request_id}", {"decision": "reject", "note": "共事已逾十年"},
                  token_from="/recusal/requests")
    assert answer.status_code == 302
    assert [p["decision"] for _, _, p in _events(engine, "recusal decided")] == ["rejected"]
    assert liu.get(f"/cases/{case_id}").status_code == 200
    assert _assignee(engine, case_id, task_id) == "s1_liu"
    assert _events(engine, "unclaim") == []
    assert "未批准" in client.get(f"/cases/{case_id}").get_data(as_text=True)  # the office sees the outcome


def test_a_request_form_error_is_shown_by_its_field_with_the_input_kept(client, app, engine, clock):
    case_id, _ = _handled_case(client, engine, clock)
    liu = signed_in(app, "s1_liu")
    # handling staff may ask only for themselves, not record a request for the reporter
    response = _request(liu, case_id, raised_by="reporter", staff_name="s1_liu", reason="理由甲乙丙")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "只有信访室工作人员可以代反映人或被反映人提出回避申请" in page and "理由甲乙丙" in page
    response = _request(client, case_id, raised_by="accused", staff_name="s1_liu", reason="")
    assert response.status_code == 422 and "请填写回避理由" in response.get_data(as_text=True)
    # someone out of scope cannot file on the item at all
    outsider = signed_in(app, "s2_zhou")
    token = csrf_token(outsider, "/recusal/")
    answer = outsider.post(f"/cases/{case_id}/recusal", data={"raised_by": "self", "staff_name": "s2_zhou",
                                                              "reason": "x", "csrf_token": token})
    assert answer.status_code == 404
    assert _events(engine, "recusal requested") == []
