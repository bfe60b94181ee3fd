"""Reporter identity is encrypted at rest (engine/secrets): after a whole case, the SQLite file and a
PostgreSQL dump hold no reporter value and no attachment text in clear, yet the petition office and the
item's handlers see the reporter, others see the mask, reporter search finds the item, key rotation keeps
it all readable, and destroying the record after its
retention date leaves the audit chain intact."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

import sqlalchemy as sa
from chain import seed_staff
from click.testing import CliRunner
from support import REGISTRATION_FORM, SIGN_OFF, login, post, search_reporter, signed_in, work_through

import cli.main
from engine import Engine
from engine.secrets.keys import load_keyring
from engine.secrets.vault import DESTROYED, MARKER_PREFIX
from engine.store.models import Attachment, Base, Event, ReporterRecord
from web import create_app

NAME, UNIT, CONTACT, ID_NUMBER = "欧阳靖霖", "青石镇农机推广站", "15577889900", "53012119880614372X"
LETTER = "举报信原文：SECRET-LETTER-7f3a9c".encode()
SUMMARY = "某镇农机站站长在农机补贴发放中虚报冒领补贴资金"  # not confidential: the dumps' control
SECRETS = {"name": NAME, "unit": UNIT, "contact": CONTACT, "id number": ID_NUMBER, "letter": LETTER.decode()}
REPORTER = {"reporter_name": NAME, "reporter_unit": UNIT, "reporter_contact": CONTACT, "reporter_id_number": ID_NUMBER}


def _register(client) -> int:
    login(client, "xf_wang")
    form = {**REGISTRATION_FORM, **REPORTER, "summary": SUMMARY, "attachments": (BytesIO(LETTER), "举报信.pdf")}
    response = post(client, "/intake/new", form, token_from="/intake/new", content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _forms(text: str) -> list[bytes]:
    """How a text can sit in the database: UTF-8, JSON with \\u escapes (SQLAlchemy's JSON columns), hex
    (PostgreSQL's bytea in a dump)."""
    return [text.encode(), json.dumps(text)[1:-1].encode(), text.encode().hex().encode()]


def _at_rest(engine: Engine) -> bytes:
    """Every byte the database keeps: the SQLite file and its WAL, or pg_dump's dump (when the binary is
    there) and every row of every table as text."""
    url = sa.engine.make_url(engine.db.url)
    if engine.db.is_sqlite:
        return b"".join(Path(path).read_bytes() for path in (url.database, f"{url.database}-wal")
                        if os.path.exists(path))
    dumped = b""
    pg_dump = shutil.which("pg_dump") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))), None)
    if pg_dump:
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        dumped = subprocess.run([pg_dump, "--dbname", libpq], check=True, capture_output=True).stdout
    with engine.db.read() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(sa.text(f'SELECT t::text FROM "{table.name}" t')).scalars()
            dumped += "\n".join(rows).encode()
    return dumped


def _assert_no_clear_text(engine: Engine, control: str = SUMMARY) -> None:
    """No secret in any form, while `control`, a text stored alongside, is found: the check can fail."""
    stored = _at_rest(engine)
    assert any(form in stored for form in _forms(control)), "the dump does not show stored text at all"
    leaks = [what for what, text in SECRETS.items() if any(form in stored for form in _forms(text))]
    assert leaks == []


def _cli(engine: Engine, *args: str):
    return CliRunner().invoke(cli.main.main, ["--database-url", engine.db.url, *args])


def _number(engine: Engine, case_id: int) -> str:
    return engine.case(case_id)["data"]["registration_number"]


def test_reporter_identity_never_rests_in_clear_text_and_is_destroyed_after_retention(client, app, engine, clock):
    case_id = _register(client)
    chain = work_through(engine, clock, case_id, "Task_classify", "Task_notify_acceptance", *SIGN_OFF[1:])
    chain.handle()
    chain.review()
    chain.do("Task_result_feedback")
    chain.close()
    number = _number(engine, case_id)
    assert engine.case(case_id)["data"]["reporter_name"].startswith(MARKER_PREFIX)

    # the office finds the item by the reporter's whole name or surname (blind index), not by a middle part
    for query, found in ((NAME, True), ("欧阳", True), (" 欧阳靖霖 ", True), ("靖霖", False)):
        assert (number in search_reporter(client, query).get_data(as_text=True)) is found, query
    office = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert all(value in office for value in REPORTER.values())
    assert NAME in signed_in(app, "s1_liu").get(f"/cases/{case_id}").get_data(as_text=True)  # the handler
    leader = signed_in(app, "leader_li").get(f"/cases/{case_id}").get_data(as_text=True)
    assert number in leader and "反映人信息已屏蔽" in leader
    assert not any(value in leader for value in REPORTER.values())
    assert signed_in(app, "s2_zhou").get(f"/cases/{case_id}").status_code == 404  # another department
    with engine.db.read() as session:
        attachment_id = session.scalar(sa.select(Attachment.id).where(Attachment.case_id == case_id))
    assert client.get(f"/cases/attachments/{attachment_id}").data == LETTER

    _assert_no_clear_text(engine)  # after registration, a search, every stage and the archive
    assert _cli(engine, "audit", "verify").exit_code == 0

    # retention: the record stays until its date has passed (archived today + 30 years)
    assert engine.purge_reporters(clock.now().date(), by="admin") == []
    clock.set(datetime.fromisoformat("2056-03-04T09:00:00+08:00"))
    assert engine.purge_reporters(date(2056, 3, 4), by="admin") == [case_id]
    assert engine.purge_reporters(date(2056, 3, 4), by="admin") == []  # destroyed once
    result = _cli(engine, "audit", "verify")
    assert result.exit_code == 0, result.output
    with engine.db.read() as session:
        assert session.scalars(sa.select(ReporterRecord.ciphertext)).all() == [None]
    destroyed = [e for e in engine.history(case_id) if e["kind"] == "reporter destroyed"]
    assert destroyed[0]["payload"]["fields"] == sorted(["real_name_verified", *REPORTER])
    client = signed_in(app, "xf_wang")  # thirty years on, the old session has long ended
    office = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert DESTROYED in office and NAME not in office
    assert number not in search_reporter(client, NAME).get_data(as_text=True)


def test_a_future_purge_date_is_refused(engine):
    result = _cli(engine, "reporter", "purge", "--before", "2999-01-01")
    assert result.exit_code == 1 and "不能晚于今天" in result.output


def test_keys_rotate_keeps_everything_readable_and_the_chain_verifies(database, clock, tmp_path):
    key_file = tmp_path / "keys" / "xinfang-data-keys.json"
    engine = Engine(database, clock=clock, keyring=load_keyring(key_file, environ={}))
    seed_staff(engine)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}, engine=engine)
    client = app.test_client()
    case_id = _register(client)
    work_through(engine, clock, case_id, *SIGN_OFF)
    old = engine.keyring.current

    rotation = engine.rotate_keys("admin")
    assert (rotation.records, rotation.attachments, rotation.retired) == (1, 1, (old,))
    assert rotation.key_id != old and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert list(json.loads(key_file.read_text())["keys"]) == [rotation.key_id]
    with engine.db.read() as session:
        assert set(session.scalars(sa.select(ReporterRecord.key_id))) == {rotation.key_id}
        assert set(session.scalars(sa.select(Attachment.key_id))) == {rotation.key_id}

    # another process, starting from the rewritten key file, reads what was re-encrypted
    other = Engine(database, clock=clock, keyring=load_keyring(key_file, environ={}))
    client = create_app({"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False},
                        engine=other).test_client()
    login(client, "xf_wang")
    assert all(value in client.get(f"/cases/{case_id}").get_data(as_text=True) for value in REPORTER.values())
    assert _number(engine, case_id) in search_reporter(client, NAME).get_data(as_text=True)
    with engine.db.read() as session:
        attachment_id = session.scalar(sa.select(Attachment.id))
    assert client.get(f"/cases/attachments/{attachment_id}").data == LETTER
    result = _cli(engine, "audit", "verify")
    assert result.exit_code == 0, result.output
    with engine.db.read() as session:
        assert session.scalars(sa.select(Event.payload).where(Event.kind == "keys rotated")).all() == [
            json.dumps({"attachments": 1, "key_id": rotation.key_id, "records": 1, "retired": [old]},
                       separators=(",", ":"))]
