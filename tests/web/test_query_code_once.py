"""The web reporter's query code (查询码) is shown once, to whoever registered the item, on the page right after
the registration; never again on reload, to other staff, on the case page or its timeline, and nowhere in
the stored rows, audit events or the log."""

import logging
import re

import sqlalchemy as sa
from support import login, register, signed_in

from engine.store.models import Base
from handlers.query_code import find_by_query_code

SHOWN = re.compile(r'<strong id="query-code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</strong>')


def _stored(engine) -> str:
    with engine.db.read() as session:
        return "\n".join(repr(tuple(row)) for table in Base.metadata.sorted_tables
                         for row in session.execute(sa.select(table)))


def test_the_code_is_shown_once_to_its_registrar_and_to_nobody_else(client, app, engine, caplog):
    caplog.set_level(logging.DEBUG)
    login(client, "xf_wang")
    case_id = register(client, channel="web", real_name="", reporter_name="", reporter_contact="")
    colleague = signed_in(app, "xf_chen")
    first_look = colleague.get(f"/intake/registered/{case_id}").get_data(as_text=True)
    assert not SHOWN.search(first_look) and "只在登记完成时向登记人显示一次" in first_look
    page = client.get(f"/intake/registered/{case_id}").get_data(as_text=True)
    code = SHOWN.search(page).group(1)
    with engine.db.read() as session:
        assert find_by_query_code(session, code).case_id == case_id
    again = client.get(f"/intake/registered/{case_id}").get_data(as_text=True)
    assert "XF-2026-000001" in again and not SHOWN.search(again) and "只在登记完成时向登记人显示一次" in again
    pages = [again, client.get(f"/cases/{case_id}").get_data(as_text=True),
             colleague.get(f"/cases/{case_id}").get_data(as_text=True)]
    assert "显示网络举报查询码" in pages[1]  # the timeline says it was shown, not what it was
    for text in (*pages, _stored(engine), repr(engine.history(case_id)), caplog.text):
        assert code not in text and code.replace("-", "") not in text


def test_items_from_other_channels_get_no_code(client, engine):
    login(client, "xf_wang")
    case_id = register(client)
    page = client.get(f"/intake/registered/{case_id}").get_data(as_text=True)
    assert "查询码" not in page
    assert "query_code_issued" not in engine.case(case_id)["data"]
