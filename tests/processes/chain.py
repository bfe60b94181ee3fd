"""Drives the real processes/ diagrams through the engine API on a fake clock, as the office's staff would.

`Chain` knows who does what (the demo organisation's users) and fills each task's form with plausible
answers that a scenario may override; `Coverage` records which flow nodes and sequence flows ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from lxml import etree
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine import Engine, FakeClock
from engine.bpmn.deployments import read_paths
from engine.org.organisation import load_organisation
from engine.store.models import Notice, Petition, User

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
ORGANISATION = ROOT / "config" / "demo-organisation.toml"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SHANGHAI = ZoneInfo("Asia/Shanghai")

REGISTRATION = {
    "received_on": "2026-03-02", "channel": "letter", "source": "direct", "urgency": "normal",
    "summary": "某街道城建办主任张某在工程招标中收受施工方礼金", "problem_type": "integrity",
    "accused": [{"name": "张某", "unit": "某街道城建办", "position": "主任", "party_member": "true"}],
    "real_name": "true", "real_name_verified": "true", "reporter_name": "李某", "reporter_contact": "13800000000",
}

TODAY = "today"  # an answer meaning the day the task is done: forms refuse dates later than that

# Who works on each user task by default (demo organisation); scenarios override where the path differs.
WORKER = {
    "Task_register": "xf_wang", "Task_confirm_duplicate": "xf_wang", "Task_classify": "xf_wang",
    "Task_out_of_scope": "xf_wang", "Task_redirect": "xf_wang", "Task_not_accepted": "xf_wang",
    "Task_report_principal": "leader_zhao", "Task_transfer_up": "xf_chen", "Task_transfer_down": "xf_wang",
    "Task_lower_result": "xf_wang", "Task_notify_acceptance": "xf_wang", "Task_propose": "xf_wang",
    "Task_leader_signoff": "leader_li", "Task_investigate": "s1_liu", "Task_request_extension": "s1_liu",
    "Task_approve_extension": "leader_li", "Task_collective_decision": "leader_zhao",
    "Task_department_sign": "s1_sun", "Task_review_petition_office": "xf_chen", "Task_review_supervision": "s1_he",
    "Task_review_case_review": "cr_zheng", "Task_read_in_charge": "leader_li", "Task_read_principal": "leader_zhao",
    "Task_result_feedback": "s1_liu", "Task_anonymous_feedback": "xf_wang", "Task_joint_feedback": "co_feng",
    "Task_public_feedback": "xf_chen", "Task_recheck": "s1_liu", "Task_propose_clarification": "s1_liu",
    "Task_refer_malicious": "xf_chen", "Task_approve_clarification": "leader_zhao",
    "Task_record_clarification": "s1_liu", "Task_close": "xf_chen",
}

ANSWERS: dict[str, dict[str, Any]] = {
    "Task_classify": {"category": "accusation", "classification_note": "反映党员干部违纪问题"},
    "Task_propose": {"handling_method": "assign", "handling_department": "supervision_1",
                     "proposed_handling": "交第一监督检查室初步核实，一个月内报结"},
    "Task_leader_signoff": {"signoff_decision": "approve", "signoff_opinion": "同意"},
    "Task_investigate": {"handling_action": "report", "disposal": "preliminary_verification",
                         "truthfulness": "partly_true", "handling_report": "经初步核实，反映问题部分属实"},
    "Task_department_sign": {"report_signoff": "sign", "report_signoff_opinion": "同意报结"},
    "Task_review_petition_office": {"joint_review_petition_office": "pass",
                                    "joint_review_petition_office_opinion": "同意"},
    "Task_review_supervision": {"joint_review_supervision": "pass", "joint_review_supervision_opinion": "同意"},
    "Task_review_case_review": {"joint_review_case_review": "pass", "joint_review_case_review_opinion": "同意"},
    "Task_read_in_charge": {"reading_in_charge": "read", "reading_in_charge_opinion": "阅"},
    "Task_read_principal": {"reading_principal": "read", "reading_principal_opinion": "阅"},
    "Task_notify_acceptance": {"acceptance_notice_method": "phone", "acceptance_notified_on": TODAY},
    "Task_result_feedback": {"feedback_form": "individual", "feedback_method": "in_person",
                             "feedback_on": TODAY, "reporter_reaction": "satisfied"},
    "Task_anonymous_feedback": {"anonymous_feedback": "none"},
    "Task_close": {"close_summary": "已按程序办结"},
    "Task_request_extension": {"extension_days": "10", "extension_reason": "需调取银行流水，耗时较长"},
    "Task_approve_extension": {"extension_decision": "approved", "extension_opinion": "同意延期"},
    "Task_propose_clarification": {"clarification_method": "letter_or_meeting", "clarification_reason": "经查失实"},
    "Task_approve_clarification": {"clarification_decision": "approve", "clarification_opinion": "同意澄清"},
    "Task_record_clarification": {"clarified_method": "letter_or_meeting", "clarified_on": TODAY,
                                  "clarification_record": "已向其所在单位党组织和本人当面澄清"},
}


def on_the_day(answers: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`answers` with each TODAY replaced by the (Shanghai) date of `now`."""
    day = now.astimezone(SHANGHAI).date().isoformat()
    return {key: day if value == TODAY else value for key, value in answers.items()}


class Chain:
    """One case of the petition chain, worked task by task."""

    def __init__(self, engine: Engine, clock: FakeClock) -> None:
        self.engine, self.clock = engine, clock
        self.case_id: int | None = None

    def start(self, **registration: Any) -> int:
        self.case_id = self.engine.start_case("petition", {}, self.engine.actor("xf_wang"))
        self.do("Task_register", **{**REGISTRATION, **registration})
        return self.case_id

    def do(self, bpmn_id: str, by: str | None = None, **answers: Any) -> None:
        """Complete the case's open task `bpmn_id` as `by` with the default answers updated by `answers`."""
        task_id = self.engine.find_task(self.case_id, bpmn_id)
        actor = self.engine.actor(by or WORKER[bpmn_id])
        self.engine.complete(task_id, actor, on_the_day({**ANSWERS.get(bpmn_id, {}), **answers}, self.clock.now()))

    def open_tasks(self) -> list[str]:
        return sorted(item["bpmn_id"] for item in self.engine.work_items(self.case_id))

    def work_item(self, bpmn_id: str) -> dict[str, Any]:
        return next(i for i in self.engine.work_items(self.case_id) if i["bpmn_id"] == bpmn_id)

    def due(self, bpmn_id: str) -> datetime:
        return datetime.fromisoformat(self.work_item(bpmn_id)["due_at"])

    @property
    def data(self) -> dict[str, Any]:
        return self.engine.case(self.case_id)["data"]

    @property
    def status(self) -> str:
        return self.engine.case(self.case_id)["status"]

    def timer_due(self, bpmn_id: str) -> datetime:
        timers = self.engine.case(self.case_id)["timers"]
        dues = [t["due_at"] for t in timers if t["bpmn_id"] == bpmn_id]
        assert len(dues) == 1, (bpmn_id, timers)
        return datetime.fromisoformat(dues[0])

    def pass_timer(self, bpmn_id: str) -> datetime:
        """Move the clock just past the timer's due time and let the scheduler fire what is due."""
        due = self.timer_due(bpmn_id)
        self.clock.set(due + timedelta(seconds=1))
        self.engine.scheduler(owner="path-test").drain()
        return due

    def petition(self) -> Petition:
        with self.engine.db.read() as session:
            row = session.scalars(sa.select(Petition).where(Petition.case_id == self.case_id)).one()
            session.expunge(row)
            return row

    def notices(self, kind: str | None = None) -> list[tuple[str, str]]:
        """(recipient, kind) of this case's notices, in order."""
        with self.engine.db.read() as session:
            query = sa.select(Notice).where(Notice.case_id == self.case_id).order_by(Notice.id)
            return [(n.username, n.kind) for n in session.scalars(query) if kind in (None, n.kind)]

    def notice_texts(self, kind: str) -> list[str]:
        """The texts of this case's notices of `kind`, in order, one per notice sent (not per recipient)."""
        with self.engine.db.read() as session:
            query = sa.select(Notice.text).where(Notice.case_id == self.case_id, Notice.kind == kind)
            return list(dict.fromkeys(session.scalars(query.order_by(Notice.id))))

    # ---- whole stages with the usual answers --------------------------------------------------------

    def accept(self, category: str = "accusation") -> None:
        self.do("Task_classify", category=category)

    def sign_off(self, **proposal: Any) -> None:
        self.do("Task_propose", **proposal)
        self.do("Task_leader_signoff")

    def handle(self, **report: Any) -> None:
        self.do("Task_investigate", **report)
        if self.data.get("disposal") == "transfer_investigation":
            self.do("Task_collective_decision", investigation_approved="true",
                    collective_opinion="经集体研究，同意立案审查")
        self.do("Task_department_sign")

    def review(self) -> None:
        for bpmn_id in ("Task_review_petition_office", "Task_review_supervision", "Task_review_case_review",
                        "Task_read_in_charge", "Task_read_principal"):
            self.do(bpmn_id)

    def close(self) -> None:
        self.do("Task_close")
        assert self.status == "completed", self.open_tasks()


def seed_organisation(engine: Engine) -> None:
    with engine.db.write() as session:
        load_organisation(session, ORGANISATION)
    engine.deploy(read_paths([PROCESSES]), by="setup")


def seed_staff(engine: Engine) -> None:
    """The demo organisation as the web and browser tests meet it: every user has already replaced the
    initial password (the first-login change is tested on its own)."""
    seed_organisation(engine)
    with engine.db.write() as session:
        session.execute(sa.update(User).values(must_change_password=False))


# ---- coverage --------------------------------------------------------------------------------------------

_REACHED = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.COMPLETED


class Coverage:
    """Flow nodes completed and sequence flows taken, recorded from SpiffWorkflow's task state changes."""

    def __init__(self) -> None:
        self.nodes: set[tuple[str, str]] = set()
        self.edges: set[tuple[str, str, str]] = set()

    @contextmanager
    def recording(self) -> Iterator[None]:
        original = Task._set_state

        def record(task: Task, value: int) -> None:
            before = task.state
            original(task, value)
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if bpmn_id is None:
                return
            process_id = task.workflow.spec.name
            if value == TaskState.COMPLETED:
                self.nodes.add((process_id, bpmn_id))
            source = _bpmn_parent(task)
            if source is not None and value & _REACHED and not before & _REACHED:
                self.edges.add((process_id, source, bpmn_id))

        Task._set_state = record
        try:
            yield
        finally:
            Task._set_state = original


def _bpmn_parent(task: Task) -> str | None:
    parent = task.parent
    while parent is not None and getattr(parent.task_spec, "bpmn_id", None) is None:
        parent = parent.parent
    return None if parent is None else parent.task_spec.bpmn_id


def diagram_elements() -> tuple[dict[tuple[str, str], str], dict[tuple[str, str, str], str]]:
    """Flow nodes (process, id) → name, and sequence flows (process, source, target) → flow id."""
    nodes, flows = {}, {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for path in sorted(PROCESSES.glob("*.bpmn")):
        for process in etree.parse(str(path), parser).getroot().iter(f"{BPMN}process"):
            process_id = process.get("id")
            for element in process:
                tag = etree.QName(element).localname
                if tag == "sequenceFlow":
                    flows[(process_id, element.get("sourceRef"), element.get("targetRef"))] = element.get("id")
                elif element.find(f"{BPMN}incoming") is not None or element.find(f"{BPMN}outgoing") is not None:
                    nodes[(process_id, element.get("id"))] = f"{tag} {element.get('name') or ''}".strip()
    return nodes, flows
