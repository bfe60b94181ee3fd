"""The read-scope matrix: every role of the demo organisation against every route that returns case data,
over a normal item, a sealed item for the higher level and a sealed item accusing this organ's principal
leader. The table below is the specification (docs/security.md, "read matrix"); the test reads each
cell off the running app.

Columns:
- page: status of the case page, its diagram JSON and the open task's page (the test requires the three
  to agree);
- slip: status of the assignment slip: refused (403) for a sealed item even to its readers;
- file: status of the attachment download (the scanned letter names the reporter);
- doc: status of the download of a file added on the case page for a purpose that does not name the
  reporter ("other"): the case's own scope;
- comment: status of adding a comment on the case page (302 back to the page, or 404);
- who: the reporter on the case and task pages, "shown" or "masked" ("-" when the page is not found);
- found: the item is among the results of a search by its registration number;
- by_reporter: the item is among the results of a search by its reporter's name (ignored for those who
  may not search by reporter);
- queue: the item is named in one of the user's queue views (mine, groups, overdue, due soon, department);
- notice: one of the user's notices names the item.

The items: `normal` is signed off to the first supervision office and under investigation; `higher` is
sealed for the higher level, `principal` sealed because it accuses the principal leader; both wait at
"report to the higher level", past its deadline, so the overdue notice has gone out.
"""

from __future__ import annotations

import json
from io import BytesIO

import pytest
import sqlalchemy as sa
from chain import Chain, seed_staff
from support import REGISTRATION_FORM, post, search_reporter, signed_in

from engine import Engine, FakeClock
from engine.store import schema
from engine.store.db import Database
from engine.store.models import Attachment, Base, Event, Petition
from web import create_app

MATRIX = """
item       user         page  slip  file  doc  comment  who     found  by_reporter  queue  notice
normal     xf_wang      200   200   200   200  302      shown   yes    yes          yes    no
normal     xf_chen      200   200   200   200  302      shown   yes    yes          yes    no
normal     leader_li    200   200   403   200  302      masked  yes    no           no     yes
normal     leader_zhao  200   200   403   200  302      masked  yes    no           no     no
normal     s1_liu       200   200   200   200  302      shown   yes    no           yes    yes
normal     s1_sun       200   200   200   200  302      shown   yes    no           yes    yes
normal     s2_zhou      404   404   404   404  404      -       no     no           no     no
normal     s2_qian      404   404   404   404  404      -       no     no           no     no
normal     cr_zheng     404   404   404   404  404      -       no     no           no     no
normal     audit_xu     200   200   403   200  302      masked  yes    no           no     no
normal     admin        404   404   404   404  404      -       no     no           no     no
higher     xf_wang      404   404   404   404  404      -       no     no           no     no
higher     xf_chen      200   403   200   200  302      shown   yes    yes          yes    yes
higher     leader_li    404   404   404   404  404      -       no     no           no     no
higher     leader_zhao  200   403   403   200  302      masked  yes    no           no     yes
higher     s1_liu       404   404   404   404  404      -       no     no           no     no
higher     s1_sun       404   404   404   404  404      -       no     no           no     no
higher     s2_zhou      404   404   404   404  404      -       no     no           no     no
higher     s2_qian      404   404   404   404  404      -       no     no           no     no
higher     cr_zheng     404   404   404   404  404      -       no     no           no     no
higher     audit_xu     404   404   404   404  404      -       no     no           no     no
higher     admin        404   404   404   404  404      -       no     no           no     no
principal  xf_wang      404   404   404   404  404      -       no     no           no     no
principal  xf_chen      200   403   200   200  302      shown   yes    yes          yes    yes
principal  leader_li    404   404   404   404  404      -       no     no           no     no
principal  leader_zhao  404   404   404   404  404      -       no     no           no     no
principal  s1_liu       404   404   404   404  404      -       no     no           no     no
principal  s1_sun       404   404   404   404  404      -       no     no           no     no
principal  s2_zhou      404   404   404   404  404      -       no     no           no     no
principal  s2_qian      404   404   404   404  404      -       no     no           no     no
principal  cr_zheng     404   404   404   404  404      -       no     no           no     no
principal  audit_xu     404   404   404   404  404      -       no     no           no     no
principal  admin        404   404   404   404  404      -       no     no           no     no
"""
COLUMNS = ("page", "slip", "file", "doc", "comment", "who", "found", "by_reporter", "queue", "notice")


def _expected() -> dict[tuple[str, str], dict[str, str]]:
    lines = [line.split() for line in MATRIX.strip().splitlines()]
    assert tuple(lines[0]) == ("item", "user", *COLUMNS)
    return {(row[0], row[1]): dict(zip(COLUMNS, row[2:], strict=True)) for row in lines[1:]}


EXPECTED = _expected()
REPORTERS = {"normal": "陶某某", "higher": "韦某某", "principal": "蒋某某"}
ACCUSED = {"normal": ("张某", "某街道城建办"), "higher": ("周某", "某县人民政府"),
           "principal": ("赵某", "某县纪委监委")}


def _database(backend: str, tmp_path_factory, request) -> Database:
    if backend == "sqlite":
        database = Database(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'xinfang.db'}")
        schema.upgrade(database)
        return database
    database = Database(request.getfixturevalue("postgres_url"))
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.write() as session:  # this module's own data: the session database is shared
        session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        session.execute(sa.text("INSERT INTO audit_head (id, last_hash) VALUES (1, :h)"), {"h": "0" * 64})
    return database


class World:
    """One app and database per backend, with the three items in place."""

    def __init__(self, engine: Engine, clock: FakeClock, app) -> None:
        self.engine, self.clock, self.app = engine, clock, app
        self.cases: dict[str, int] = {}
        self.clients: dict[str, object] = {}

    def client(self, name: str):
        if name not in self.clients:
            self.clients[name] = signed_in(self.app, name)
        return self.clients[name]

    def register(self, item: str, **form) -> int:
        client = self.client("xf_wang")
        name, unit = ACCUSED[item]
        data = {**REGISTRATION_FORM, "reporter_name": REPORTERS[item], "accused.0.name": name,
                "accused.0.unit": unit, "attachments": (BytesIO(b"%PDF-1.4 letter"), f"{item}.pdf"), **form}
        response = post(client, "/intake/new", data, token_from="/intake/new", content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)
        self.cases[item] = int(response.headers["Location"].rsplit("/", 1)[1])
        return self.cases[item]

    def chain(self, item: str) -> Chain:
        chain = Chain(self.engine, self.clock)
        chain.case_id = self.cases[item]
        return chain

    def number(self, item: str) -> str:
        with self.engine.db.read() as session:
            return session.scalar(sa.select(Petition.registration_number)
                                  .where(Petition.case_id == self.cases[item]))

    def attachment(self, item: str) -> int:
        with self.engine.db.read() as session:
            return session.scalar(sa.select(Attachment.id).where(Attachment.case_id == self.cases[item],
                                                                 Attachment.purpose == "letter"))

    def doc(self, item: str) -> int:
        with self.engine.db.read() as session:
            return session.scalar(sa.select(Attachment.id).where(Attachment.case_id == self.cases[item],
                                                                 Attachment.purpose == "other"))

    def open_task(self, item: str) -> str:
        items = self.engine.work_items(self.cases[item])
        wanted = {"normal": "Task_investigate"}.get(item, "Task_transfer_up")
        return next(entry["task_id"] for entry in items if entry["bpmn_id"] == wanted)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, tmp_path_factory) -> World:
    database = _database(request.param, tmp_path_factory, request)
    clock = FakeClock("2026-03-02T09:00:00+08:00")
    engine = Engine(database, clock=clock)
    seed_staff(engine)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}, engine=engine)
    world = World(engine, clock, app)
    world.register("normal")
    normal = world.chain("normal")
    for bpmn_id in ("Task_classify", "Task_propose", "Task_leader_signoff"):
        normal.do(bpmn_id)
    world.register("higher")
    world.chain("higher").do("Task_classify", category="higher_level")
    world.chain("higher").do("Task_report_principal", report_principal_opinion="报上级纪委监委")
    world.register("principal")
    world.chain("principal").do("Task_classify", category="accuses_principal")
    world.chain("principal").pass_timer("Timer_transfer_up_overdue")  # the higher item's is due the same day
    world.clients.clear()  # the clock has moved on days: the sessions of the set-up have ended
    for item, case_id in world.cases.items():  # the office head, who reads all three, adds a document
        response = post(world.client("xf_chen"), f"/cases/{case_id}/attachments",
                        {"purpose": "other", "files": (BytesIO(b"%PDF-1.4 note"), f"{item}-note.pdf")},
                        token_from=f"/cases/{case_id}", content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)
    yield world
    database.dispose()


def _observe(world: World, item: str, name: str) -> dict[str, str]:
    client = world.client(name)
    case_id, number, reporter = world.cases[item], world.number(item), REPORTERS[item]
    pages = {path: client.get(path) for path in (f"/cases/{case_id}", f"/cases/{case_id}/diagram.json",
                                                 f"/tasks/{world.open_task(item)}")}
    statuses = {response.status_code for response in pages.values()}
    assert len(statuses) == 1, (item, name, {path: r.status_code for path, r in pages.items()})
    page = statuses.pop()
    shown = {reporter in pages[path].get_data(as_text=True) for path in (f"/cases/{case_id}",
                                                                        f"/tasks/{world.open_task(item)}")}
    who = "-" if page == 404 else {frozenset({True}): "shown", frozenset({False}): "masked"}.get(
        frozenset(shown), "mixed")
    with world.app.app_context():
        views = world.engine.staff.views_of(world.engine.actor(name))

    def listed(path: str, mark: str = f'href="/cases/{case_id}"') -> str:  # a result row, not the query echoed
        return row(client.get(path), mark)

    def row(response, mark: str = f'href="/cases/{case_id}"') -> str:
        return "yes" if mark in response.get_data(as_text=True) else "no"

    return {
        "page": str(page), "slip": str(client.get(f"/cases/{case_id}/slip").status_code),
        "file": str(client.get(f"/cases/attachments/{world.attachment(item)}").status_code),
        "doc": str(client.get(f"/cases/attachments/{world.doc(item)}").status_code),
        "comment": str(post(client, f"/cases/{case_id}/comments", {"text": f"{name} 的评论"}).status_code),
        "who": who, "found": listed(f"/search/?number={number}"),
        "by_reporter": row(search_reporter(client, reporter)),
        "queue": "yes" if any(listed(f"/tasks/?view={view}") == "yes" for view in views) else "no",
        "notice": listed("/notices/", number),
    }


@pytest.mark.parametrize("item", ["normal", "higher", "principal"])
def test_read_matrix(world, item):
    observed = {name: _observe(world, item, name) for (row_item, name) in EXPECTED if row_item == item}
    expected = {name: cells for (row_item, name), cells in EXPECTED.items() if row_item == item}
    assert observed == expected


def test_every_download_is_audited_with_the_attachment(world):
    letter, doc = world.attachment("normal"), world.doc("normal")
    for attachment_id in (letter, doc):
        assert world.client("s1_liu").get(f"/cases/attachments/{attachment_id}").status_code == 200
    with world.engine.db.read() as session:
        viewed = [json.loads(payload)["attachment_id"] for payload in session.scalars(sa.select(Event.payload).where(
            Event.kind == "attachment viewed", Event.actor == "s1_liu"))]
    assert set(viewed) == {letter, doc}
    with world.engine.db.read() as session:  # refused downloads read nothing, so they record nothing
        refused = [json.loads(payload)["attachment_id"] for payload in session.scalars(sa.select(Event.payload).where(
            Event.kind == "attachment viewed", Event.actor.in_(["leader_li", "s2_zhou", "leader_zhao"])))]
    assert letter not in refused and doc in refused  # the leaders opened the document, never the letter


def test_the_case_page_counts_withheld_attachments(world):
    page = world.client("leader_li").get(f"/cases/{world.cases['normal']}").get_data(as_text=True)
    assert "另有 1 件附件" in page and "normal.pdf" not in page and "normal-note.pdf" in page
    assert "normal.pdf" in world.client("s1_liu").get(f"/cases/{world.cases['normal']}").get_data(as_text=True)


def test_a_comment_reaches_only_the_cases_readers(world):
    case_id = world.cases["higher"]
    reader = world.client("leader_zhao")
    assert post(reader, f"/cases/{case_id}/comments", {"text": "已阅，按规定报送"}).status_code == 302
    assert post(world.client("xf_wang"), f"/cases/{case_id}/comments", {"text": "越权评论"}).status_code == 404
    page = world.client("xf_chen").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已阅，按规定报送" in page and "越权评论" not in page
