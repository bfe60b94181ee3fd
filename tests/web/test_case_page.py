"""The case page: the diagram with the case's state (and drilling into called processes), the timeline
with masked reporter identity, current deadlines, linked duplicates, and the reader's scope on all of them
(the assignment slip: test_assignment_slip.py)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from chain import Chain
from support import login, register

REPORTER_NAME = "李某"  # chain.REGISTRATION's reporter
REPORTER_CONTACT = "13800000000"
PROPOSAL = "交第一监督检查室初步核实，一个月内报结"
INSTRUCTION = "同意交第一监督检查室办理，注意保护反映人"


@pytest.fixture
def chain(engine, clock) -> Chain:
    """A real-name accusation signed off to the first supervision office: handling has begun."""
    chain = Chain(engine, clock)
    chain.start()
    chain.accept()
    chain.do("Task_propose", proposed_handling=PROPOSAL)
    chain.do("Task_leader_signoff", signoff_opinion=INSTRUCTION)
    return chain


def page(client, path: str, user: str) -> str:
    login(client, user)
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def timeline(html: str) -> str:
    match = re.search(r'<ol class="timeline case-timeline" id="timeline">(.*?)</ol>', html, re.S)
    assert match, "no timeline on the page"
    return match.group(1)


def test_diagram_json_marks_completed_active_and_waiting_timers(client, chain):
    login(client, "xf_wang")
    data = client.get(f"/cases/{chain.case_id}/diagram.json").get_json()
    assert data["root"] == "petition"
    petition = data["processes"]["petition"]
    assert {"Call_intake", "Call_classification", "Call_signoff"} <= set(petition["completed"])
    assert {"Call_handling", "Call_acceptance_notice"} <= set(petition["active"])
    assert petition["calls"]["Call_handling"] == "handling"
    # intake and classification finished long ago: compaction dropped them from the workflow state,
    # so their tasks come from the audit log
    assert "Task_register" in data["processes"]["intake"]["completed"]
    assert "Task_classify" in data["processes"]["classification"]["completed"]
    assert {"Task_propose", "Task_leader_signoff"} <= set(data["processes"]["signoff"]["completed"])


def test_drilling_into_handling_shows_its_open_task_and_timers(client, chain):
    login(client, "xf_wang")
    handling = client.get(f"/cases/{chain.case_id}/diagram.json").get_json()["processes"]["handling"]
    assert handling["active"] == ["Task_investigate"]
    assert handling["timers"] == ["Timer_investigate_overdue", "Timer_investigate_progress",
                                  "Timer_investigate_reminder"]
    assert "StartEvent_handling" in handling["completed"] and "Task_investigate" not in handling["completed"]
    assert handling["name"] == "承办" and 'id="handling"' in handling["xml"]
    assert handling["calls"]["Call_extension_request"] == "extension_request"


def test_a_fired_timer_is_completed_on_the_diagram_and_in_the_timeline(client, chain):
    chain.pass_timer("Timer_investigate_reminder")
    login(client, "xf_wang")
    handling = client.get(f"/cases/{chain.case_id}/diagram.json").get_json()["processes"]["handling"]
    assert "Timer_investigate_reminder" in handling["completed"]
    assert "Timer_investigate_reminder" not in handling["timers"]
    events = timeline(client.get(f"/cases/{chain.case_id}").get_data(as_text=True))
    assert "系统定时器" in events and "定时器触发 · 承办到期前提醒" in events


def test_case_page_loads_the_viewer_without_inline_data(client, chain):
    html = page(client, f"/cases/{chain.case_id}", "xf_wang")
    assert f'data-src="/cases/{chain.case_id}/diagram.json"' in html
    for asset in ("/assets/bpmn-navigated-viewer.js", "/static/case-diagram.js", "/assets/diagram-js.css",
                  "/assets/bpmn-js.css", "/assets/bpmn-font/css/bpmn.css"):
        assert asset in html
        assert client.get(asset).status_code == 200, asset
    assert "已完成" in html and "办理中" in html and "等待定时器" in html  # the legend


def test_timeline_names_people_tasks_and_opinions_in_chinese(client, chain):
    events = timeline(page(client, f"/cases/{chain.case_id}", "xf_wang"))
    assert "王晓燕（信访室）" in events and "启动案件" in events
    assert "办理 · 拟办并填写交办单" in events and PROPOSAL in events
    assert "李副书记（分管领导） · 办理 · 领导批办" in events.replace("</strong>", "")
    assert INSTRUCTION in events
    assert "2026-03-02 09:00" in events  # Asia/Shanghai, as the fake clock reads


def test_reporter_masked_in_timeline_for_a_leader(client, chain, engine):
    html = page(client, f"/cases/{chain.case_id}", "leader_li")
    assert REPORTER_NAME not in html and REPORTER_CONTACT not in html
    assert "（已屏蔽）" in timeline(html)
    viewed = [e for e in engine.history(chain.case_id) if e["kind"] == "reporter viewed"]
    assert not viewed


def test_reporter_visible_in_timeline_to_petition_office_and_the_view_audited(client, chain, engine):
    events = timeline(page(client, f"/cases/{chain.case_id}", "xf_wang"))
    assert REPORTER_NAME in events and REPORTER_CONTACT in events
    viewed = [e for e in engine.history(chain.case_id) if e["kind"] == "reporter viewed"]
    assert viewed[-1]["actor"] == "xf_wang" and "reporter_name" in viewed[-1]["payload"]["fields"]


def test_one_readers_repeated_views_are_one_timeline_line(client, chain, engine, clock):
    for _ in range(3):
        page(client, f"/cases/{chain.case_id}", "xf_wang")
        clock.advance(minutes=5)
    page(client, f"/cases/{chain.case_id}", "xf_chen")
    events = timeline(page(client, f"/cases/{chain.case_id}?timeline=all", "xf_wang"))
    lines = re.findall(r"<li class=\"event-reporter-viewed\">(.*?)</li>", events, re.S)
    # newest first: xf_chen's one view, then xf_wang's three (the page is built before its own view is logged)
    assert len(lines) == 2
    assert "连续 3 次，最近一次 2026-03-02 09:10" in lines[1] and "连续" not in lines[0]
    viewed = [e for e in engine.history(chain.case_id) if e["kind"] == "reporter viewed"]
    assert len(viewed) == 5  # the audit log keeps every view


def test_deadlines_list_work_items_and_timers_with_overdue_marked(client, chain, clock):
    clock.set(datetime.fromisoformat("2026-03-25T10:00:00+08:00"))  # the acceptance notice is late
    html = page(client, f"/cases/{chain.case_id}", "xf_wang")
    deadlines = re.search(r'<table class="deadlines">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr(.*?)</tr>", deadlines, re.S)
    overdue = [row for row in rows if 'class="overdue"' in row]
    assert any("告知反映人已受理" in row for row in overdue) and any("受理告知超期" in row for row in overdue)
    assert any("承办超期" in row and "已超期" not in row for row in rows)
    assert any("调查核实并形成报告" in row and "2026-04-02 24:00" in row for row in rows)


def test_duplicates_are_linked_both_ways(client, engine, clock):
    first = Chain(engine, clock)
    first.start()
    original = first.data["registration_number"]
    second = Chain(engine, clock)
    clock.set(datetime.fromisoformat("2026-03-03T09:00:00+08:00"))  # the second letter arrives the next day
    second.start(summary="某街道城建办主任张某在工程招标中收受施工方的礼金", received_on="2026-03-03")
    second.do("Task_confirm_duplicate", is_duplicate="true", duplicate_of=original)
    repeat = second.data["registration_number"]
    html = page(client, f"/cases/{first.case_id}", "xf_wang")
    assert "重复 1 次" in html and f'href="/cases/{second.case_id}">{repeat}</a>' in html
    html = client.get(f"/cases/{second.case_id}").get_data(as_text=True)
    assert "本件为以下信访件的重复件" in html and f'href="/cases/{first.case_id}">{original}</a>' in html


@pytest.mark.parametrize("path", ["", "/diagram.json", "/slip"])
def test_a_case_of_another_department_is_not_found(client, chain, path):
    login(client, "s2_zhou")
    assert client.get(f"/cases/{chain.case_id}{path}").status_code == 404


@pytest.mark.parametrize("path", ["", "/diagram.json", "/slip"])
def test_the_handling_department_sees_the_case(client, chain, path):
    login(client, "s1_liu")
    assert client.get(f"/cases/{chain.case_id}{path}").status_code == 200


def test_the_accused_rank_is_shown_by_its_chinese_name(client, engine):
    """Ranks are stored as the diagram's codes (township …); pages show 级别 as the form names it."""
    login(client, "xf_wang")
    case_id = register(client, **{"accused.0.rank": "township"})
    for page in (f"/cases/{case_id}", f"/tasks/{engine.find_task(case_id, 'Task_classify')}"):
        text = client.get(page).get_data(as_text=True)
        assert "（乡科级）" in text and "township" not in text, page
