"""Comments on a case: any reader of the case adds one on the case page; each is an audit event (never
edited or deleted), listed newest first with its author's display name and shown in the timeline;
nobody outside the case's scope may add or read one, and a refused comment keeps what was typed."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from chain import Chain
from support import SIGN_OFF, post, register, signed_in, work_through

from engine.reads.comments import MAX_LENGTH
from engine.store.models import Event


@pytest.fixture
def case_id(app, engine, clock) -> int:
    case_id = register(signed_in(app, "xf_wang"))
    work_through(engine, clock, case_id, *SIGN_OFF)
    return case_id


def comment(client, case_id: int, text: str):
    return post(client, f"/cases/{case_id}/comments", {"text": text}, token_from=f"/cases/{case_id}")


def comment_events(engine, case_id: int) -> list[tuple[str, str]]:
    with engine.db.read() as session:
        return [(actor, json.loads(payload)["text"]) for actor, payload in session.execute(
            sa.select(Event.actor, Event.payload).where(Event.case_id == case_id, Event.kind == "comment")
            .order_by(Event.case_seq))]


def comment_list(html: str) -> list[str]:
    match = re.search(r'<ol class="comments">(.*?)</ol>', html, re.S)
    assert match, "no comment list on the page"
    return re.findall(r'<div class="opinion">(.*?)</div>', match.group(1), re.S)


def test_readers_of_the_case_comment_and_see_each_other_newest_first(app, engine, clock, case_id):
    handler, leader = signed_in(app, "s1_liu"), signed_in(app, "leader_li")
    assert comment(handler, case_id, "已约谈被反映人，材料正在整理").status_code == 302
    clock.advance(minutes=5)
    assert comment(leader, case_id, "  请注意保护反映人  ").status_code == 302
    assert comment_events(engine, case_id) == [("s1_liu", "已约谈被反映人，材料正在整理"),
                                               ("leader_li", "请注意保护反映人")]
    page = handler.get(f"/cases/{case_id}").get_data(as_text=True)
    assert comment_list(page) == ["请注意保护反映人", "已约谈被反映人，材料正在整理"]
    assert "李副书记（分管领导）" in page and "刘敏（第一监督检查室）" in page
    timeline = re.search(r'<ol class="timeline case-timeline" id="timeline">(.*?)</ol>', page, re.S).group(1)
    assert "评论" in timeline and "已约谈被反映人，材料正在整理" in timeline
    assert engine.verify_audit().ok  # comments are links of the hash chain like every event


@pytest.mark.parametrize(("text", "message"), [("   ", "评论内容不能为空"),
                                               ("长" * (MAX_LENGTH + 1), f"评论不能超过 {MAX_LENGTH} 字")])
def test_a_refused_comment_says_why_and_keeps_the_text(app, engine, case_id, text, message):
    response = comment(signed_in(app, "s1_liu"), case_id, text)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    if text.strip():
        assert text in html  # given back in the text box
    assert comment_events(engine, case_id) == []


def test_no_comment_on_or_from_a_case_out_of_scope(app, engine, case_id):
    comment(signed_in(app, "s1_liu"), case_id, "内部意见")
    outsider = signed_in(app, "s2_zhou")
    assert comment(outsider, case_id, "越权评论").status_code == 404
    assert comment_events(engine, case_id) == [("s1_liu", "内部意见")]
    assert "内部意见" not in outsider.get(f"/cases/{case_id}").get_data(as_text=True)


def test_a_sealed_items_comments_stay_with_its_readers(app, engine, clock):
    chain = Chain(engine, clock)
    chain.start()
    chain.do("Task_classify", category="higher_level")
    assert comment(signed_in(app, "xf_chen"), chain.case_id, "已报主要负责同志").status_code == 302
    assert "已报主要负责同志" in signed_in(app, "leader_zhao").get(f"/cases/{chain.case_id}").get_data(as_text=True)
    staff = signed_in(app, "xf_wang")
    assert staff.get(f"/cases/{chain.case_id}").status_code == 404
    assert comment(staff, chain.case_id, "试图评论").status_code == 404
    assert comment_events(engine, chain.case_id) == [("xf_chen", "已报主要负责同志")]
