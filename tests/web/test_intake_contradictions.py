"""Contradictions refused where they are typed: a receipt date in the future, real-name without name or
contact, a notice dated before the receipt. Each error is shown at its field, in Chinese, with the input kept
and nothing registered or completed."""

from datetime import datetime

import sqlalchemy as sa
from support import REGISTRATION_FORM, login, post, register, work_through

from engine.store.models import Case


def _cases(engine) -> int:
    with engine.db.read() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Case))


def _field(page: str, field_id: str) -> str:
    """The HTML of one field's block on a rendered form."""
    start = page.index(f'data-field="{field_id}"')
    return page[start:page.index('<div class="field ', start)]


def _intake(client, **changes):
    return post(client, "/intake/new", {**REGISTRATION_FORM, **changes}, token_from="/intake/new",
                content_type="multipart/form-data")


def test_a_receipt_date_after_today_is_refused_at_the_field(client, engine):
    login(client, "xf_wang")
    response = _intake(client, received_on="2026-03-03", summary="次日才会收到的来信，反映某局科长收受礼金")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "不能晚于今天（2026-03-02）" in _field(page, "received_on")
    assert 'value="2026-03-03"' in _field(page, "received_on")
    assert "次日才会收到的来信" in page
    assert _cases(engine) == 0


def test_a_receipt_on_the_offices_today_is_accepted_after_utc_midnight(client, engine, clock):
    clock.set(datetime.fromisoformat("2026-03-03T00:30:00+08:00"))  # still 2 March in UTC
    login(client, "xf_wang")
    case_id = register(client, received_on="2026-03-03")
    assert engine.case(case_id)["data"]["received_on"] == "2026-03-03"


def test_real_name_needs_the_reporters_name_and_contact(client, engine):
    login(client, "xf_wang")
    response = _intake(client, reporter_name="", reporter_contact="", reporter_unit="某街道社区")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field_id in ("reporter_name", "reporter_contact"):
        block = _field(page, field_id)
        assert "此项为必填项" in block and "实名举报为“是”时必填" in block, field_id
    assert 'value="某街道社区"' in page and "某街道城建办主任张某" in page
    assert _cases(engine) == 0


def test_an_anonymous_item_needs_no_name(client, engine):
    login(client, "xf_wang")
    case_id = register(client, real_name="", real_name_verified="", reporter_name="", reporter_contact="")
    assert engine.case(case_id)["data"]["real_name"] is False


def test_an_acceptance_notice_dated_before_the_receipt_is_refused_at_the_field(client, engine, clock):
    login(client, "xf_wang")
    case_id = register(client, received_on="2026-02-27")
    work_through(engine, clock, case_id, "Task_classify")
    task_id = engine.find_task(case_id, "Task_notify_acceptance")
    form = {"acceptance_notice_method": "phone", "acceptance_notified_on": "2026-02-26"}
    response = post(client, f"/tasks/{task_id}", form, token_from=f"/tasks/{task_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    block = _field(page, "acceptance_notified_on")
    assert "不能早于收件日期（2026-02-27）" in block and 'value="2026-02-26"' in block
    assert '<option value="phone" selected>' in page
    assert engine.find_task(case_id, "Task_notify_acceptance") == task_id
    form["acceptance_notified_on"] = "2026-02-27"
    assert post(client, f"/tasks/{task_id}", form, token_from=f"/tasks/{task_id}").status_code == 302
