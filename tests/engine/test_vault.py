"""The vault at the command boundary (engine/secrets): confidential fields given at the start or in a
completion never reach workflow state, case data, audit events or an incident's command, a retried
command gets its values back, and the data keys (key file, environment, blind index) behave."""

from __future__ import annotations

import base64
import json
import stat
from datetime import datetime

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from timers.support import STAFF, deploy, process

from engine import Engine, IncidentRaised
from engine.secrets import vault
from engine.secrets.keys import DataKeyError, key_id, load_keyring
from engine.store.models import Attachment, Case, Event, Incident, ReporterNameToken, ReporterRecord
from engine.timing.calendar import DayOverride

NAME, CONTACT = "司马砚秋", "18611223344"

FORM_THEN_DEADLINE = process("vaulted", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_a" />
    <bpmn:userTask id="Task_a" name="登记" camunda:candidateGroups="petition_staff">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="summary" label="摘要" type="string" />
        <camunda:formField id="reporter_name" label="反映人姓名" type="string">
          <camunda:properties><camunda:property id="confidential" value="true" /></camunda:properties>
        </camunda:formField>
        <camunda:formField id="reporter_contact" label="联系方式" type="string">
          <camunda:properties><camunda:property id="confidential" value="true" /></camunda:properties>
        </camunda:formField>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_a" targetRef="Task_b" />
    <bpmn:userTask id="Task_b" name="办理" camunda:candidateGroups="petition_staff" camunda:dueDate="${workdays(3)}" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_b" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />""")


def _stored_text(engine) -> str:
    """Every column where a command's input could end up, as text."""
    with engine.db.read() as session:
        texts = [*session.scalars(sa.select(Case.state)), *map(json.dumps, session.scalars(sa.select(Case.data))),
                 *session.scalars(sa.select(Event.payload)),
                 *map(json.dumps, session.scalars(sa.select(Incident.command)))]
    return "\n".join(texts)


def _found(engine, *values: str) -> list[str]:
    """The values stored anywhere, as they are or escaped to ASCII (JSON columns)."""
    stored = _stored_text(engine)
    return [value for value in values if value in stored or json.dumps(value)[1:-1] in stored]


def _clear(engine) -> list[str]:
    return _found(engine, NAME, CONTACT)


def test_a_failed_completion_keeps_no_clear_text_and_its_retry_gets_the_values_back(engine, clock):
    deploy(engine, FORM_THEN_DEADLINE)
    clock.set(datetime.fromisoformat("2027-03-01T09:00:00+08:00"))  # no 2027 calendar: Task_b's due date fails
    case_id = engine.start_case("vaulted", {}, STAFF)
    with pytest.raises(IncidentRaised) as raised:
        engine.complete(engine.find_task(case_id, "Task_a"), STAFF,
                        {"summary": "摘要文字", "reporter_name": NAME, "reporter_contact": CONTACT})
    with engine.db.read() as session:
        command = session.get(Incident, raised.value.incident_id).command
    assert vault.ref_of(command["data"]["reporter_name"]) and command["data"]["summary"] == "摘要文字"
    assert _clear(engine) == [] and _found(engine, "摘要文字")  # the check does see clear text

    engine.import_calendar([DayOverride(datetime(2027, 1, 1).date(), False, "元旦")])
    engine.retry(raised.value.incident_id, STAFF)
    data = engine.case(case_id)["data"]
    ref = vault.ref_of(data["reporter_name"])
    assert ref and data["reporter_contact"] == data["reporter_name"] and data["summary"] == "摘要文字"
    complete = [e for e in engine.history(case_id) if e["kind"] == "complete"][-1]
    assert complete["payload"]["sealed"] == {"ref": ref, "fields": ["reporter_contact", "reporter_name"]}
    with engine.db.read() as session:
        opened = vault.Revealer(session, engine.keyring, case_id).data(data, ["reporter_name", "reporter_contact"])
        other_case = vault.Revealer(session, engine.keyring, case_id + 1).value("reporter_name", data["reporter_name"])
    assert (opened["reporter_name"], opened["reporter_contact"], other_case) == (NAME, CONTACT, vault.DESTROYED)
    assert _clear(engine) == []


def test_confidential_data_given_at_the_start_is_sealed(engine):
    deploy(engine, FORM_THEN_DEADLINE)
    case_id = engine.start_case("vaulted", {"reporter_name": NAME, "summary": "起始"}, STAFF)
    start = engine.history(case_id)[0]
    assert start["payload"]["sealed"]["fields"] == ["reporter_name"]
    assert vault.ref_of(engine.case(case_id)["data"]["reporter_name"]) and _clear(engine) == []


def test_a_sealed_record_is_bound_to_its_case(engine):
    deploy(engine, FORM_THEN_DEADLINE)
    case_id = engine.start_case("vaulted", {"reporter_name": NAME}, STAFF)
    with engine.db.read() as session:
        record = session.scalars(sa.select(ReporterRecord)).one()
        with pytest.raises(InvalidTag):  # moved to another case, the ciphertext no longer opens
            engine.keyring.decrypt(record.key_id, record.nonce, record.ciphertext,
                                   f"xinfang reporter {case_id + 1} {record.ref}".encode())
        tokens = set(session.scalars(sa.select(ReporterNameToken.token)))
    assert tokens == engine.keyring.name_tokens(NAME) and len(tokens) == len(NAME)


def test_the_key_file_is_generated_once_with_mode_0600(tmp_path):
    path = tmp_path / "instance" / "keys.json"
    first = load_keyring(path, environ={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_keyring(path, environ={})
    assert again.current == first.current
    key, nonce, sealed = first.encrypt(b"secret", b"aad")
    assert again.decrypt(key, nonce, sealed, b"aad") == b"secret"


def test_the_environment_key_overrides_the_file_and_names_the_previous_ones(tmp_path):
    old, new = bytes(32), bytes(range(1, 33))
    encode = base64.b64encode
    environ = {"XINFANG_DATA_KEY": encode(new).decode(), "XINFANG_PREVIOUS_DATA_KEYS": encode(old).decode()}
    keyring = load_keyring(tmp_path / "keys.json", environ=environ)
    assert keyring.current == key_id(new) and set(keyring.ids) == {key_id(old), key_id(new)}
    assert keyring.path is None and not (tmp_path / "keys.json").exists()
    with pytest.raises(DataKeyError):
        load_keyring(tmp_path / "keys.json", environ={"XINFANG_DATA_KEY": encode(b"short").decode()})
    with pytest.raises(DataKeyError):
        load_keyring(tmp_path / "keys.json", environ={"XINFANG_DATA_KEY": "not base64!"})


def test_names_are_indexed_normalised_whole_and_by_prefix(tmp_path):
    keyring = load_keyring(tmp_path / "keys.json", environ={})
    assert keyring.name_tokens(" 欧阳 靖霖 ") == keyring.name_tokens("欧阳靖霖")
    assert keyring.query_tokens("ＡＢＣ") == keyring.query_tokens("abc")  # full-width and case fold
    assert keyring.query_tokens("欧阳") <= keyring.name_tokens("欧阳靖霖")
    assert not keyring.query_tokens("靖霖") & keyring.name_tokens("欧阳靖霖")
    other = load_keyring(tmp_path / "other.json", environ={})
    assert not other.name_tokens("欧阳靖霖") & keyring.name_tokens("欧阳靖霖")  # keyed: no dictionary across keys


def test_rotating_to_a_new_environment_key_re_encrypts_everything(database, clock, tmp_path):
    old, new = (base64.b64encode(bytes([seed]) * 32).decode() for seed in (7, 9))
    before = Engine(database, clock, keyring=load_keyring(tmp_path / "unused.json", environ={"XINFANG_DATA_KEY": old}))
    deploy(before, FORM_THEN_DEADLINE)
    case_id = before.start_case("vaulted", {"reporter_name": NAME}, STAFF)
    environ = {"XINFANG_DATA_KEY": new, "XINFANG_PREVIOUS_DATA_KEYS": old}
    rotating = Engine(database, clock, keyring=load_keyring(tmp_path / "unused.json", environ=environ))
    rotation = rotating.rotate_keys("admin")
    assert (rotation.records, rotation.attachments) == (1, 0)
    assert rotation.retired == (key_id(base64.b64decode(old)),)  # for the operator to remove
    after = Engine(database, clock, keyring=load_keyring(tmp_path / "unused.json", environ={"XINFANG_DATA_KEY": new}))
    data = after.case(case_id)["data"]
    with after.db.read() as session:
        assert vault.Revealer(session, after.keyring, case_id).value("reporter_name", data["reporter_name"]) == NAME
        found = set(session.scalars(vault.cases_with_reporter(after.keyring, NAME)))
    assert found == {case_id} and after.verify_audit().ok
    assert not (tmp_path / "unused.json").exists()


def test_an_attachment_stored_before_encryption_is_read_as_is_until_rotation_encrypts_it(engine):
    deploy(engine, FORM_THEN_DEADLINE)
    case_id = engine.start_case("vaulted", {}, STAFF)
    letter = b"%PDF-1.4 legacy letter"
    with engine.db.write() as session:
        session.add(Attachment(case_id=case_id, filename="a.pdf", content_type="application/pdf", size=len(letter),
                               content=letter, uploaded_by="wang", uploaded_at=engine.now()))
    rotation = engine.rotate_keys("admin")
    assert (rotation.records, rotation.attachments) == (0, 1)
    with engine.db.read() as session:
        row = session.scalars(sa.select(Attachment)).one()
        assert row.key_id == engine.keyring.current and letter not in row.content
        assert vault.attachment_content(engine.keyring, row) == letter
