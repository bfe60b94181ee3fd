"""A large, realistic-looking dataset for the web-page benchmark (`xinfang bench`, web part).

Rows are bulk-inserted with Core statements in a few transactions: starting 100,000 cases through the
engine would take hours, and starting cases is not what the web benchmark measures. The cases point at
the real petition deployment (the case page reads its forms), their stored state is a placeholder no
page deserialises, and the audit events carry placeholder hashes — a scratch database only, whose chain
`xinfang audit verify` would rightly reject.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from engine.api import Engine
from engine.bpmn.deployments import read_paths
from engine.jsonutil import canonical
from engine.org.organisation import load_organisation
from engine.runtime import workitems
from engine.store.models import (
    AuditHead,
    Case,
    Event,
    Petition,
    PetitionAccused,
    User,
    UserRole,
    WorkItem,
    WorkItemCandidate,
)

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
DEMO_ORGANISATION = ROOT / "config" / "demo-organisation.toml"
HANDLING_DEPARTMENTS = ("supervision_1", "supervision_2", "township_group", "social_affairs")
CHUNK = 3_000  # cases per round of inserts

# The user tasks of processes/ a case waits on: (process, task, name, candidate group, bound to the
# item's handling department, weight). An item stays open as long as its stage takes, so the weights
# follow stage length: intake and classification take days, handling by a department takes months;
# about a seventh of the open items wait in petition-office queues, most of the rest in the departments.
TASKS = (
    ("intake", "Task_confirm_duplicate", "确认是否重复件", "petition_staff", False, 2),
    ("classification", "Task_classify", "分类处置", "petition_staff", False, 4),
    ("classification", "Task_transfer_up", "报上级转办", "petition_head", False, 1),
    ("classification", "Task_report_principal", "报主要负责同志", "principal_leader", False, 1),
    ("acceptance_notice", "Task_notify_acceptance", "告知受理情况", "petition_staff", False, 2),
    ("signoff", "Task_propose", "拟办意见", "petition_staff", False, 4),
    ("signoff", "Task_leader_signoff", "领导批办", "leader_in_charge", False, 4),
    ("handling", "Task_investigate", "承办核查", "handling_staff", True, 28),
    ("handling", "Task_department_sign", "部门审签", "handling_leader", True, 6),
    ("handling", "Task_collective_decision", "集体研究", "principal_leader", False, 2),
    ("extension_request", "Task_request_extension", "申请延期", "handling_staff", True, 2),
    ("extension_request", "Task_approve_extension", "审批延期", "leader_in_charge", False, 2),
    ("joint_review", "Task_review_petition_office", "信访室会审", "petition_head", False, 4),
    ("joint_review", "Task_review_supervision", "监督检查室会审", "supervision_office", True, 4),
    ("joint_review", "Task_review_case_review", "案件审理室会审", "case_review", False, 4),
    ("feedback", "Task_result_feedback", "结果反馈", "handling_staff", True, 8),
    ("feedback", "Task_joint_feedback", "联合反馈", "coordination_office", False, 2),
    ("archive", "Task_close", "办结归档", "petition_head", False, 4),
)
CHANNELS = ("letter", "visit", "phone", "web")
CATEGORIES = ("accusation", "appeal", "suggestion", "out_of_scope", "no_substance")
SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"
UNITS = ("某街道城建办", "某县交通局", "某镇人民政府", "某区教育局", "某国有企业", "某县自然资源局")


@dataclass(frozen=True)
class Dataset:
    cases: int
    work_items: int
    candidates: int
    petitions: int
    accused: int
    events: int
    measured_cases: tuple[int, ...]  # ~30 events each, handled by supervision_1, in every measured user's scope
    seconds: float


class _Rows:
    """Rows of one table, inserted in chunks in the caller's transaction."""

    def __init__(self, connection: sa.Connection, table: sa.Table) -> None:
        self.connection, self.table, self.pending, self.count = connection, table, [], 0

    def add(self, row: dict) -> None:
        self.pending.append(row)

    def flush(self) -> None:
        if self.pending:
            self.connection.execute(self.table.insert(), self.pending)
            self.count += len(self.pending)
            self.pending = []


def _organisation(engine: Engine) -> dict[tuple[str, str | None], list[str]]:
    """(role, department) -> its users, and (role, None) -> every holder of the role."""
    with engine.db.write() as session:
        load_organisation(session, DEMO_ORGANISATION)
    engine.deploy(read_paths([PROCESSES]), by="bench")
    holders: dict[tuple[str, str | None], list[str]] = {}
    with engine.db.read() as session:
        for role, user, department in session.execute(
                sa.select(UserRole.role_name, User.name, User.department).join(User, User.name == UserRole.user_name)
                .order_by(User.name)):
            holders.setdefault((role, department), []).append(user)
            holders.setdefault((role, None), []).append(user)
    return holders


def _deployment_and_last_event(engine: Engine) -> tuple[int, int]:
    """The petition deployment, and the newest event id (deploying wrote audit events)."""
    with engine.db.read() as session:
        deployment_id = session.scalar(sa.text("SELECT max(id) FROM deployments WHERE process_id = 'petition'"))
        return deployment_id, session.scalar(sa.select(sa.func.max(Event.id))) or 0


def build(engine: Engine, cases: int, items_per_case: int = 3, events_per_case: int = 3,
          measured: int = 20, measured_events: int = 30, seed: int = 20261123) -> Dataset:
    """`cases` petition cases with `items_per_case` open work items and `events_per_case` audit events
    each; the first `measured` cases get `measured_events` events."""
    started = datetime.now()
    holders = _organisation(engine)
    deployment_id, event_id = _deployment_and_last_event(engine)
    rng = random.Random(seed)
    now = engine.now()
    weights = [task[-1] for task in TASKS]
    item_id = accused_id = 0
    with engine.db.write_engine.begin() as connection:
        tables = {model: _Rows(connection, model.__table__)
                  for model in (Case, Petition, PetitionAccused, WorkItem, WorkItemCandidate, Event)}
        for case_id in range(1, cases + 1):
            is_measured = case_id <= measured
            department = "supervision_1" if is_measured else rng.choice(HANDLING_DEPARTMENTS + (None,))
            created = now - timedelta(days=rng.uniform(1, 120))
            channel, category = rng.choice(CHANNELS), rng.choice(CATEGORIES)
            number = f"XF{created.year}-{case_id:06d}"
            tables[Case].add({
                "id": case_id, "process_id": "petition", "deployment_id": deployment_id, "status": "running",
                "state": "{}", "format_version": 1, "version": 3, "created_by": "xf_wang", "created_at": created,
                "updated_at": created, "completed_at": None,
                "data": {"registration_number": number, "channel": channel, "category": category,
                         "handling_department": department, "reporter_name": "李某",
                         "reporter_contact": f"138{case_id:08d}"},
            })
            tables[Petition].add({
                "id": case_id, "case_id": case_id, "registration_number": number, "year": created.year,
                "received_on": created.date(), "registered_at": created, "channel": channel, "source": "direct",
                "summary": f"反映{rng.choice(UNITS)}干部在工程招标中收受礼金（第 {case_id} 件）",
                "problem_type": "integrity", "category": category, "route": "handling", "status": "handling",
                "sealed": not is_measured and rng.random() < 0.01, "real_name": rng.random() < 0.6,
                "handling_department": department, "handling_method": "assign", "repeat_count": 0,
                "overdue_count": 0,
            })
            for position in range(rng.choice((1, 1, 2))):
                accused_id += 1
                name = rng.choice(SURNAMES) + "某"
                unit = rng.choice(UNITS)
                tables[PetitionAccused].add({
                    "id": accused_id, "petition_id": case_id, "position": position, "name": name, "unit": unit,
                    "position_title": "主任", "rank": "科级", "region": "某县", "party_member": True,
                    "normalized_name": name, "normalized_unit": unit,
                })
            for task in _distinct(rng, weights, items_per_case):
                item_id += 1
                _work_item(tables, rng, holders, item_id, case_id, task, department or rng.choice(HANDLING_DEPARTMENTS),
                           now)
            for seq in range(1, (measured_events if is_measured else events_per_case) + 1):
                event_id += 1
                tables[Event].add(_event(event_id, case_id, seq, deployment_id, created + timedelta(hours=seq)))
            if case_id % CHUNK == 0 or case_id == cases:
                for rows in tables.values():  # in foreign-key order
                    rows.flush()
        connection.execute(sa.update(AuditHead).where(AuditHead.id == 1)
                           .values(last_event_id=event_id, last_hash=f"{event_id:064x}"))
    _after_load(engine)
    return Dataset(cases=cases, work_items=tables[WorkItem].count, candidates=tables[WorkItemCandidate].count,
                   petitions=tables[Petition].count, accused=tables[PetitionAccused].count, events=event_id,
                   measured_cases=tuple(range(1, measured + 1)),
                   seconds=round((datetime.now() - started).total_seconds(), 1))


def _distinct(rng: random.Random, weights: list[int], count: int) -> list[tuple]:
    picked: dict[str, tuple] = {}
    while len(picked) < count:
        task = rng.choices(TASKS, weights)[0]
        picked[task[1]] = task
    return list(picked.values())


def _work_item(tables: dict, rng: random.Random, holders: dict, item_id: int, case_id: int, task: tuple,
               handling_department: str, now: datetime) -> None:
    process_id, bpmn_id, name, group, bound, _ = task
    department = handling_department if bound else None
    # Claimed items go to a holder of the role (of the bound department), as a claim would.
    people = holders.get((group, department), [])
    assignee = rng.choice(people) if people and rng.random() < 0.3 else None
    due = None if rng.random() < 0.15 else now + timedelta(hours=rng.uniform(-5 * 24, 25 * 24))
    tables[WorkItem].add({
        "id": item_id, "case_id": case_id, "task_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "process_id": process_id, "bpmn_id": bpmn_id, "ordinal": 0, "name": name, "lane": None,
        "candidate_groups": [group], "candidate_users": [], "department": department, "assignee": assignee,
        "priority": None, "created_at": now - timedelta(days=rng.uniform(0, 20)), "due_at": due,
        "remind_at": due - timedelta(days=1) if due else None,
    })
    keys = workitems.candidate_keys([group], [], department)
    for key in keys:
        tables[WorkItemCandidate].add({"work_item_id": item_id, "candidate": key, "shared": len(keys) > 1,
                                       "assignee": assignee, "due_at": due})


_ACTIONS = (("xf_wang", "Task_classify", {"category": "accusation", "classification_note": "反映党员干部违纪问题"}),
            ("leader_li", "Task_leader_signoff", {"signoff_decision": "approve", "signoff_opinion": "同意"}),
            ("s1_liu", "Task_investigate", {"handling_report": "经初步核实，反映问题部分属实"}),
            ("s1_sun", "Task_department_sign", {"report_signoff": "sign", "report_signoff_opinion": "同意报结"}))


def _event(event_id: int, case_id: int, seq: int, deployment_id: int, at: datetime) -> dict:
    actor, task, data = _ACTIONS[seq % len(_ACTIONS)]
    kind = "start" if seq == 1 else ("claim" if seq % 2 else "complete")
    payload = {"task": task, "data": data} if kind == "complete" else {"task": task}
    return {"id": event_id, "case_id": case_id, "case_seq": seq, "at": at, "actor": actor, "kind": kind,
            "deployment_id": deployment_id, "process_id": "petition", "bpmn_id": task, "ordinal": 0,
            "task_id": None, "payload": canonical(payload), "prev_hash": f"{event_id - 1:064x}",
            "hash": f"{event_id:064x}"}


def _after_load(engine: Engine) -> None:
    """PostgreSQL: move the id sequences past the explicit ids (pages append audit events), gather
    statistics and write the loaded pages out, as autovacuum and the checkpointer would shortly after
    such a load — so the pages are timed on a settled database, not against the load's aftermath."""
    if engine.db.dialect != "postgresql":
        return
    with engine.db.write_engine.connect() as connection:
        for table in ("cases", "petitions", "petition_accused", "work_items", "events"):
            connection.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                       f"(SELECT max(id) FROM {table}))"))
        connection.commit()
    with engine.db.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
        connection.execute(sa.text("CHECKPOINT"))
