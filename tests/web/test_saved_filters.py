"""Saved filters: a user saves the current queue filters under a name, lists, applies and deletes them;
each user's own, CSRF-protected, bad input refused in Chinese with nothing lost."""

from __future__ import annotations

import re

import sqlalchemy as sa
from support import csrf_token, login, post, register, signed_in

from engine.org.saved_filters import MAX_NAME, PARAMETERS
from engine.store.models import SavedFilter


def _saved(engine, user: str) -> list[SavedFilter]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(SavedFilter).where(SavedFilter.user_name == user)
                                    .order_by(SavedFilter.name)))


def _flashes(response) -> list[str]:
    return re.findall(r'<div class="flash [a-z]+" role="status">([^<]*)</div>', response.get_data(as_text=True))


def test_save_list_apply_and_delete(client, engine):
    login(client, "xf_wang")
    register(client, channel="visit", summary="某村支书侵占集体土地补偿款", **{"accused.0.name": "赵某"})
    register(client)
    page = client.get("/tasks/?view=groups&channel=visit&q=赵某&sort=received&dir=asc").get_data(as_text=True)
    # the save form carries the queue's filters as they are
    for name, value in (("channel", "visit"), ("q", "赵某"), ("sort", "received"), ("dir", "asc")):
        assert f'name="{name}" value="{value}"' in page, name
    saved = post(client, "/tasks/filters", {"name": "来访 赵某", "view": "groups", "channel": "visit", "q": "赵某",
                                             "sort": "received", "dir": "asc", "page": "3", "password": "x"},
                 follow_redirects=True)
    assert "已保存筛选条件" in _flashes(saved)
    [row] = _saved(engine, "xf_wang")
    assert (row.name, row.view, row.query) == ("来访 赵某", "groups",
                                               {"channel": "visit", "q": "赵某", "sort": "received", "dir": "asc"})
    assert set(row.query) <= set(PARAMETERS)
    listing = client.get("/tasks/?view=mine").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)">来访 赵某</a>', listing)
    assert link is not None
    applied = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "赵某" in applied and "张某（某街道城建办）" not in applied and "共 1 件" in applied
    # saving under the same name replaces the filter
    post(client, "/tasks/filters", {"name": "来访 赵某", "view": "groups", "channel": "letter"})
    assert [r.query for r in _saved(engine, "xf_wang")] == [{"channel": "letter"}]
    deleted = post(client, f"/tasks/filters/{row.id}/delete", {"next": "/tasks/?view=groups"})
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/tasks/?view=groups")
    assert _saved(engine, "xf_wang") == []
    assert "尚未保存筛选条件" in client.get("/tasks/?view=mine").get_data(as_text=True)


def test_a_filter_of_done_opens_done(client, engine):
    login(client, "xf_wang")
    register(client)
    post(client, "/tasks/filters", {"name": "已办礼金", "view": "done", "q": "礼金"})
    listing = client.get("/tasks/done").get_data(as_text=True)
    assert re.search(r'<a href="/tasks/done\?q=[^"]+">已办礼金</a>', listing)


def test_bad_input_is_refused_in_chinese_and_nothing_is_lost(client, engine):
    login(client, "xf_wang")
    for data, message in (({"name": " ", "view": "groups", "q": "礼金"}, "请为筛选条件起一个名称"),
                          ({"name": "x" * (MAX_NAME + 1), "view": "groups", "q": "礼金"}, f"至多 {MAX_NAME} 个字符"),
                          ({"name": "空的", "view": "groups"}, "当前没有任何筛选条件"),
                          ({"name": "无此视图", "view": "nonsense", "q": "礼金"}, "没有这个待办视图")):
        response = post(client, "/tasks/filters", data, follow_redirects=True)
        assert response.status_code == 200
        assert any(message in flash for flash in _flashes(response)), (data, _flashes(response))
    assert _saved(engine, "xf_wang") == []
    # the queue the user came from keeps its filters after a refusal
    refused = post(client, "/tasks/filters", {"name": "", "view": "groups", "q": "礼金"})
    assert refused.headers["Location"].endswith("/tasks/?view=groups&q=%E7%A4%BC%E9%87%91")


def test_filters_are_per_user_and_need_the_csrf_token(client, app, engine):
    login(client, "xf_wang")
    post(client, "/tasks/filters", {"name": "王的礼金", "view": "groups", "q": "礼金"})
    [mine] = _saved(engine, "xf_wang")
    other = signed_in(app, "xf_chen")
    assert "王的礼金" not in other.get("/tasks/?view=mine").get_data(as_text=True)
    refused = post(other, f"/tasks/filters/{mine.id}/delete", follow_redirects=True)
    assert "筛选条件不存在" in _flashes(refused)
    assert len(_saved(engine, "xf_wang")) == 1
    assert client.post("/tasks/filters", data={"name": "无令牌", "view": "groups", "q": "礼金"}).status_code == 400
    assert client.post(f"/tasks/filters/{mine.id}/delete").status_code == 400
    assert [r.name for r in _saved(engine, "xf_wang")] == ["王的礼金"]
    assert csrf_token(client, "/tasks/")
