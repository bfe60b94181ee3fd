"""In-app notices: a new assignment reaches the handling department with an unread count; reading
marks them; one cannot mark another user's notices."""

import re

from support import SIGN_OFF, login, post, register, signed_in, work_through


def _unread(page: str) -> int:
    return int(re.search(r'id="unread-notices">(\d+)<', page).group(1))


def test_new_task_notice_unread_count_and_marking_read(client, app, engine, clock):
    login(client, "xf_wang")
    work_through(engine, clock, register(client), *SIGN_OFF)
    handler = signed_in(app, "s1_liu")
    page = handler.get("/notices/").get_data(as_text=True)
    assert _unread(page) >= 1 and "新任务" in page and "XF-2026-000001" in page
    ids = re.findall(r'name="id" value="(\d+)"', page)
    stranger = signed_in(app, "s2_zhou")
    post(stranger, "/notices/read", {"id": ids}, token_from="/notices/")
    assert _unread(handler.get("/notices/").get_data(as_text=True)) == len(ids)
    post(handler, "/notices/read", {"id": ids}, token_from="/notices/")
    page = handler.get("/notices/").get_data(as_text=True)
    assert _unread(page) == 0 and "没有通知" not in page
    assert "没有通知" in handler.get("/notices/?unread=1").get_data(as_text=True)
