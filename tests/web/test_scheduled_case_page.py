"""A case that a timer start event scheduled (issue 14) shows as waiting to start, and after its time as
running, on the case page of an office-wide reader."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from support import login

from engine.bpmn.deployments import read_paths
from engine.store.models import Case

DIAGRAM = Path(__file__).resolve().parents[1] / "engine" / "runtime_corpus" / "rt_timer_start_date.bpmn"


def _heading(client, case_id: int) -> str:
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    return html[html.index("<h1>"):html.index("</h1>")]


def test_a_scheduled_case_says_it_waits_for_its_time_then_runs(client, engine, clock):
    login(client, "xf_chen")
    engine.deploy(read_paths([DIAGRAM]), by="test")
    with engine.db.read() as session:
        case_id = session.scalar(sa.select(Case.id).where(Case.process_id == "rt_timer_start_date"))
    assert "等待按时启动" in _heading(client, case_id)
    clock.advance(timedelta(days=1, hours=1))
    assert engine.scheduler(owner="web-test").drain() == 1
    login(client, "xf_chen")  # a day later: the session has timed out
    assert "办理中" in _heading(client, case_id)
