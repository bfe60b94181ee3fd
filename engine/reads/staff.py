"""What the staff web UI asks of the engine, with the reader's scope applied: logins, queues, task and
case pages, intake, attachments, comments, notices. `Engine.staff` is one of these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from engine import audit
from engine.bpmn.attachment_purposes import PURPOSES, offered
from engine.bpmn.deployments import SpecCache
from engine.bpmn.forms import Circumstances, Form, validate_submission
from engine.errors import Conflict, Forbidden, IncidentRaised, NotFound
from engine.org import access, accounts, saved_filters, sessions
from engine.org.organisation import Actor, load_actor
from engine.org.sessions import SignedIn
from engine.reads import (
    attachments,
    casediagram,
    casepage,
    comments,
    decisions,
    done,
    incident_list,
    notices,
    queues,
    search,
    slip,
    views,
)
from engine.reads.attachments import AttachmentRejected, TaskOrigin
from engine.runtime import recusal, workitems
from engine.runtime.assignment import REASSIGNERS
from engine.runtime.serialization import CaseSerializer
from engine.secrets import handover, vault
from engine.secrets.keys import Keyring
from engine.store.db import Database
from engine.store.models import Attachment, Department, Deployment, Event, Petition, User, WorkItem

INTAKE = ("petition", "intake", "Task_register")  # (case process, stage process, registration task)
INTAKE_PURPOSE = "letter"  # what comes with an item at registration
DONE_VIEW = "done"  # 已办, beside the open queues' views
HANDLING_KIND = "handling"  # the department kind that handles items (config/demo-organisation.toml)


class EngineDoor(Protocol):
    """What StaffViews uses of `engine.api.Engine`, which builds it: declared here, so neither module
    imports the other."""

    db: Database
    specs: SpecCache
    serializer: CaseSerializer
    keyring: Keyring

    def now(self) -> datetime: ...
    def case(self, case_id: int) -> dict[str, Any]: ...
    def start_case(self, process_id: str, data: dict[str, Any] | None, actor: Actor) -> int: ...
    def complete(self, task_id: str, actor: Actor, data: dict[str, Any] | None = None) -> None: ...
    def find_task(self, case_id: int, bpmn_id: str) -> str: ...


class StaffViews:
    def __init__(self, engine: EngineDoor) -> None:
        self.engine = engine
        self.db = engine.db

    # ---- accounts ---------------------------------------------------------------------------------

    def login(self, name: str, password: str) -> tuple[SignedIn, str] | None:
        """The signed-in actor and the new session's id for a correct login; None otherwise."""
        with self.db.write() as session:
            if not accounts.authenticate(session, name, password):
                return None
            user = session.get(User, name)
            return (SignedIn(load_actor(session, name), user.must_change_password),
                    sessions.open_session(session, user, self.engine.now()))

    def session_actor(self, session_id: str) -> SignedIn | None:
        """Who is signed in under a session id, if the session is still alive (engine/org/sessions.py)."""
        now = self.engine.now()
        with self.db.read() as session:
            found = sessions.live_session(session, session_id, now)
        if found is None:
            return None
        signed_in, stale = found
        if stale:
            with self.db.write() as session:
                sessions.touch(session, session_id, now)
        return signed_in

    def logout(self, session_id: str) -> None:
        with self.db.write() as session:
            sessions.end_session(session, session_id)

    def logout_everywhere(self, actor: Actor) -> None:
        with self.db.write() as session:
            accounts.end_all_sessions(session, session.get(User, actor.name))

    def change_password(self, actor: Actor, current: str, new: str) -> str:
        """Ends all the user's sessions; returns the id of a new one for the browser that changed it."""
        with self.db.write() as session:
            accounts.change_password(session, actor.name, current, new)
            return sessions.open_session(session, session.get(User, actor.name), self.engine.now())

    # ---- queues ------------------------------------------------------------------------------------

    def queue_page(self, actor: Actor, query: queues.QueueQuery, total: int | None = None) -> dict[str, Any]:
        """A page of a queue with the stages its filter offers; `total` when the caller already counted it
        (the navigation does)."""
        with self.db.read() as session:
            return {**views.queue_page(session, actor, query, self.engine.now(), total=total),
                    "stages": views.task_stages(session, self.engine.specs)}

    def done_page(self, actor: Actor, query: done.DoneQuery) -> dict[str, Any]:
        """A page of the tasks the actor completed (已办), within the actor's present scope."""
        with self.db.read() as session:
            return {**views.done_page(session, actor, query), "stages": views.task_stages(session, self.engine.specs)}

    def views_of(self, actor: Actor) -> tuple[str, ...]:
        return queues.views_of(actor)

    def departments(self) -> dict[str, str]:
        with self.db.read() as session:
            return dict(session.execute(sa.select(Department.code, Department.name).order_by(Department.code)).all())

    def handling_departments(self) -> dict[str, str]:
        """The departments a queue filter offers: those that handle items (kind "handling"), and any other
        an item has been handed to."""
        handling = sa.or_(Department.kind == HANDLING_KIND,
                          Department.code.in_(sa.select(Petition.handling_department).distinct()))
        with self.db.read() as session:
            return dict(session.execute(sa.select(Department.code, Department.name).where(handling)
                                        .order_by(Department.code)).all())

    # ---- saved queue filters (engine/org/saved_filters.py) -------------------------------------------

    def saved_filters(self, actor: Actor) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return saved_filters.listed(session, actor.name)

    def save_filter(self, actor: Actor, name: str, view: str, query: dict[str, str]) -> int:
        if view not in (*queues.views_of(actor), DONE_VIEW):
            raise NotFound("没有这个待办视图")
        with self.db.write() as session:
            return saved_filters.save(session, actor.name, name, view, query, self.engine.now())

    def delete_filter(self, actor: Actor, filter_id: int) -> str:
        with self.db.write() as session:
            return saved_filters.delete(session, actor.name, filter_id)

    def colleagues(self, task_id: str, actor: Actor) -> list[dict[str, str]]:
        """Active users who could take the task over (same role and department), the actor and anyone who
        must recuse from the item excepted."""
        with self.db.read() as session:
            item = self._item(session, task_id)
            unassigned = WorkItem(candidate_groups=item.candidate_groups, candidate_users=item.candidate_users,
                                  department=item.department, assignee=None)
            users = session.scalars(sa.select(User).where(User.active.is_(True), User.name != actor.name)
                                    .order_by(User.name))
            found = []
            for user in users:
                other = load_actor(session, user.name)
                if workitems.may_work_on(other, unassigned) and \
                        not recusal.conflict(session, self.engine.keyring, item.case_id, other, item):
                    found.append({"name": user.name, "display_name": user.display_name})
            return found

    # ---- task and case pages ---------------------------------------------------------------------

    def task_page(self, task_id: str, actor: Actor) -> dict[str, Any]:
        with self.db.read() as session:
            item = self._item(session, task_id)
            # even the task's own worker: the scope also keeps an item from those it accuses
            case = views.scoped_case(session, actor, item.case_id)
            loaded = self.engine.specs.for_id(session, case.deployment_id)
            form, instructions = views.form_of(loaded, item.process_id, item.bpmn_id)
            uploads = attachment_choices(views.task_spec(loaded, item.process_id, item.bpmn_id))
            context = views.case_context(session, self.engine.specs, self.engine.keyring, actor, case)
            # a candidate who must recuse or is excluded by separation of duties sees why, not the form
            refusal = recusal.conflict(session, self.engine.keyring, item.case_id, actor, item) \
                if workitems.may_work_on(actor, item) else None
            page = {"item": workitems.as_dict(item), "form": form, "instructions": instructions, "context": context,
                    "attachment_purposes": uploads,
                    "decision_context": decisions.decision_context(
                        views.task_spec(loaded, item.process_id, item.bpmn_id), decisions.deployed_fields(loaded),
                        context.data),
                    "may_work": workitems.may_work_on(actor, item) and refusal is None, "refusal": refusal,
                    # the assignee hands a claimed task on; the head may redistribute any claimed task
                    "may_reassign": item.assignee is not None and (
                        item.assignee == actor.name or bool(actor.roles & REASSIGNERS)),
                    "stage": views.process_names(session).get(item.process_id, item.process_id),
                    "holder": workitems.holders(session, [item])[item.id],
                    "urgency": views.urgency(item.due_at, context.petition, item.priority, self.engine.now()),
                    "assignee_name": views.display_names(session, {item.assignee} if item.assignee else set())
                    .get(item.assignee, item.assignee),
                    "incident": incident_list.open_on_task(session, item.case_id, task_id)}
        self._audit_reporter_view(case.id, actor, context.revealed, f"task:{item.bpmn_id}")
        return page

    def case_page(self, case_id: int, actor: Actor) -> dict[str, Any]:
        with self.db.read() as session:
            case = views.scoped_case(session, actor, case_id)
            context = views.case_context(session, self.engine.specs, self.engine.keyring, actor, case)
            loaded = self.engine.specs.for_id(session, case.deployment_id)
            revealer = vault.Revealer(session, self.engine.keyring, case_id) if context.reporter_visible else None
            timeline = casepage.case_timeline(session, loaded, case_id, revealer, context.confidential)
            items = list(session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id)
                                         .order_by(WorkItem.id)))
            holders = workitems.holders(session, items)
            petition = session.scalars(sa.select(Petition).where(Petition.case_id == case_id)).first()
            work = [{**workitems.as_dict(item), "holder": holders[item.id]} for item in items]
            refused = slip.refusal(session, case)
            page = {"context": context, "work_items": work, "comments": comments.listed(session, case_id),
                    "attachment_purposes": [{"id": key, "label": p.label} for key, p in PURPOSES.items()],
                    "slip": {"printable": refused is None, "why_not": refused.message if refused else None},
                    "stages": views.process_names(session), "timeline": timeline.entries,
                    "deadlines": casepage.case_deadlines(session, case_id, self.engine.now()),
                    "linked": casepage.linked_petitions(session, actor, petition) if petition else None}
        # not the raw events: their payloads hold submitted reporter fields; the timeline masks them
        page.update({key: value for key, value in self.engine.case(case_id).items()
                     if key in ("timers", "incidents", "deployment")})
        revealed = tuple(sorted(set(context.revealed) | set(timeline.revealed)))
        self._audit_reporter_view(case_id, actor, revealed, "case")
        return page

    def case_diagram(self, case_id: int, actor: Actor) -> dict[str, Any]:
        """The case's diagrams with element states, for the viewer (same scope as the case page)."""
        with self.db.read() as session:
            views.scoped_case(session, actor, case_id)
            return casediagram.case_diagram(session, self.engine.specs, self.engine.serializer,
                                            case_id).as_dict()

    def assignment_slip(self, case_id: int, actor: Actor) -> dict[str, Any]:
        """The printable assignment slip (交办单); it never carries the reporter, so nothing to audit. Refused
        (Forbidden, Conflict) for a sealed item and before the leader approved the proposal."""
        with self.db.read() as session:
            case = views.scoped_case(session, actor, case_id)
            loaded = self.engine.specs.for_id(session, case.deployment_id)
            return slip.assignment_slip(session, loaded, case)

    def _audit_reporter_view(self, case_id: int, actor: Actor, revealed: tuple[str, ...], where: str) -> None:
        if not revealed:
            return
        with self.db.write() as session:
            audit.append(session, kind="reporter viewed", actor=actor.name, at=self.engine.now(), case_id=case_id,
                         payload={"fields": list(revealed), "where": where})

    # ---- intake ------------------------------------------------------------------------------------

    def intake_form(self) -> Form:
        return self._intake_task().xinfang_form

    def _intake_task(self) -> Any:
        """The registration task's spec in the newest deployment of the petition process."""
        with self.db.read() as session:
            loaded = self.engine.specs.for_id(session, self._latest_deployment(session, INTAKE[0]))
            return views.task_spec(loaded, INTAKE[1], INTAKE[2])

    def register(self, data: dict[str, Any], files: list[tuple[str, bytes]], actor: Actor) -> int:
        """Start a petition case and complete its registration in one go; the form and the files (the
        letter and its enclosures) are checked before the case exists, so bad input leaves nothing behind.
        Returns the case id."""
        if "petition_staff" not in actor.roles:
            raise Forbidden("只有信访室工作人员可以受理登记")
        task = self._intake_task()
        validate_submission(task.xinfang_form, data, Circumstances.at(self.engine.now()))
        uploads = attachments.checked([(name, content, INTAKE_PURPOSE) for name, content in files])
        try:
            case_id = self.engine.start_case(INTAKE[0], {}, actor)
        except IncidentRaised as failed:  # before the registration task: the form is in no incident
            raise IncidentRaised(failed.message, failed.incident_id, failed.case_id, input_kept=False) from failed
        # stored before the registration runs: should it fail, the incident keeps the form and the case the files
        with self.db.write() as session:
            attachments.store(session, self.engine.keyring, case_id, uploads, actor, self.engine.now(),
                              TaskOrigin(INTAKE[1], INTAKE[2], task.bpmn_name or INTAKE[2]))
        self.engine.complete(self.engine.find_task(case_id, INTAKE[2]), actor, data)
        return case_id

    def take_query_code(self, case_id: int, actor: Actor) -> str | None:
        """The web reporter's query code the actor's registration of the case issued, once: a reload, another
        tab or another staff member gets None. Audited as shown, never recorded."""
        with self.db.write() as session:
            views.scoped_case(session, actor, case_id)
            now = self.engine.now()
            code = handover.take(session, self.engine.keyring, case_id, actor.name, handover.QUERY_CODE, now)
            if code is not None:
                audit.append(session, kind="query code shown", actor=actor.name, at=now, case_id=case_id, payload={})
        return code

    def complete_task(self, task_id: str, actor: Actor, data: dict[str, Any], files: list[tuple[str, bytes, str]]
                      ) -> None:
        """Complete a task with the files uploaded in its form, each for one of the purposes the task offers
        (its camunda:property `attachments`); files are checked before the task is completed and stored
        after, so a refused file or form leaves both as they were. A submission that becomes an incident is
        kept with it, so are its files: the retry completes the task they came with."""
        with self.db.read() as session:
            item = self._item(session, task_id)
            case = views.scoped_case(session, actor, item.case_id)
            spec = views.task_spec(self.engine.specs.for_id(session, case.deployment_id), item.process_id,
                                   item.bpmn_id)
        uploads = attachments.checked(files, _offered(spec))
        try:
            self.engine.complete(task_id, actor, data)
        except IncidentRaised as incident:
            if incident.input_kept:
                self._store_uploads(item, uploads, actor)
            raise
        self._store_uploads(item, uploads, actor)

    def _store_uploads(self, item: WorkItem, uploads: list[attachments.Upload], actor: Actor) -> None:
        if uploads:
            with self.db.write() as session:
                attachments.store(session, self.engine.keyring, item.case_id, uploads, actor, self.engine.now(),
                                  TaskOrigin(item.process_id, item.bpmn_id, item.name))

    def upload_attachments(self, case_id: int, actor: Actor, files: list[tuple[str, bytes, str]]) -> list[int]:
        """Files added on the case page by anyone who may read the case; at least one is needed."""
        if not files:
            raise AttachmentRejected("请选择要上传的文件")
        uploads = attachments.checked(files)
        with self.db.write() as session:
            views.scoped_case(session, actor, case_id)
            return attachments.store(session, self.engine.keyring, case_id, uploads, actor, self.engine.now())

    def attachment(self, attachment_id: int, actor: Actor) -> tuple[str, str, bytes]:
        """(file name, content type, bytes) of an attachment of a case in the actor's scope; a purpose that
        may name the reporter for readers of the reporter only. Every download is audited."""
        with self.db.write() as session:
            row = session.get(Attachment, attachment_id)
            if row is None:
                raise NotFound(views.OUT_OF_SCOPE)  # as for an attachment of a case out of scope
            case = views.scoped_case(session, actor, row.case_id)
            department = session.scalar(sa.select(Petition.handling_department).where(Petition.case_id == case.id))
            visible = access.may_see_reporter(actor, department or case.data.get("handling_department"))
            return attachments.opened(session, self.engine.keyring, row, visible, actor, self.engine.now())

    # ---- comments (engine/reads/comments.py) ----------------------------------------------------------

    def add_comment(self, case_id: int, actor: Actor, text: str) -> None:
        with self.db.write() as session:
            views.scoped_case(session, actor, case_id)
            comments.add(session, case_id, actor, text, self.engine.now())

    # ---- search -------------------------------------------------------------------------------------

    def search(self, actor: Actor, query: search.SearchQuery) -> dict[str, Any]:
        with self.db.read() as session:
            found = search.search(session, self.engine.keyring, actor, query)
        if query.reporter.strip():
            with self.db.write() as session:
                # the name's blind-index token, never the name: the log must not hold reporter identity
                audit.append(session, kind="reporter searched", actor=actor.name, at=self.engine.now(),
                             payload={"reporter_token": vault.search_digest(self.engine.keyring, query.reporter),
                                      "key_id": self.engine.keyring.current, "results": found["total"]})
        return found

    # ---- recusal (engine/runtime/recusal.py) ---------------------------------------------------------

    def recusal_declarations(self, actor: Actor) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return recusal.declarations(session, actor.name)

    def declare_recusal(self, actor: Actor, kind: str, person_name: str, unit: str, note: str) -> int:
        with self.db.write() as session:
            return recusal.declare(session, actor, kind, person_name, unit, note, self.engine.now())

    def withdraw_recusal(self, actor: Actor, declaration_id: int) -> None:
        with self.db.write() as session:
            recusal.withdraw(session, actor, declaration_id, self.engine.now())

    def recusal_form(self, case_id: int, actor: Actor) -> dict[str, Any]:
        """What the case page's request form offers: the staff to name (only oneself unless the reader
        may record requests for the reporter or the accused), and this case's requests for the office."""
        with self.db.read() as session:
            views.scoped_case(session, actor, case_id)
            on_behalf = bool(actor.roles & recusal.ON_BEHALF)
            users = session.execute(sa.select(User.name, User.display_name).where(User.active.is_(True))
                                    .order_by(User.name)).all()
            staff = [{"name": n, "display_name": d} for n, d in users if on_behalf or n == actor.name]
            raisers = recusal.RAISERS if on_behalf else {"self": recusal.RAISERS["self"]}
            # who asked for whose recusal may point at the reporter: the petition office only
            filed = recusal.requests(session, case_id=case_id) if on_behalf else []
            return {"staff": staff, "raisers": raisers, "requests": filed}

    def request_recusal(self, case_id: int, actor: Actor, staff_name: str, raised_by: str, reason: str) -> int:
        with self.db.write() as session:
            views.scoped_case(session, actor, case_id)
            return recusal.file_request(session, actor, case_id, staff_name, raised_by, reason, self.engine.now())

    def recusal_requests(self, actor: Actor, pending_only: bool = True) -> list[dict[str, Any]]:
        self._only_deciders(actor)
        with self.db.read() as session:
            return recusal.requests(session, status="pending" if pending_only else None)

    def pending_recusals(self, actor: Actor) -> int | None:
        """The count for the navigation: the head's pending decisions; None for everyone else."""
        if not actor.roles & recusal.DECIDERS:
            return None
        with self.db.read() as session:
            return recusal.pending_count(session)

    def decide_recusal(self, request_id: int, actor: Actor, approve: bool, note: str) -> None:
        self._only_deciders(actor)
        with self.db.write() as session:
            recusal.decide(session, actor, request_id, approve, note, self.engine.now())

    @staticmethod
    def _only_deciders(actor: Actor) -> None:
        if not actor.roles & recusal.DECIDERS:
            raise Forbidden("只有信访室主任可以决定回避申请")

    # ---- notices -----------------------------------------------------------------------------------

    def navigation(self, actor: Actor) -> dict[str, Any]:
        """What every page's navigation shows, in one statement: the queue counts, unread notices and, for
        process owners and administrators, the open incidents (None for everyone else)."""
        also = {"unread": notices.unread(actor.name)}
        if incident_list.may_see(actor):
            also["incidents"] = incident_list.open_count()
        with self.db.read() as session:
            counts = queues.counts(session, actor, self.engine.now(), also=also)
        return {"unread": counts.pop("unread"), "incidents": counts.pop("incidents", None), "counts": counts}

    def incidents(self, actor: Actor, state: str) -> list[dict[str, Any]]:
        """The incident list (process owners and administrators only)."""
        with self.db.read() as session:
            return incident_list.scoped(session, actor, state)

    def notices(self, actor: Actor, unread_only: bool = False) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return notices.list_notices(session, actor.name, unread_only)

    def mark_notices_read(self, actor: Actor, ids: list[int]) -> int:
        with self.db.write() as session:
            return notices.mark_read(session, actor.name, ids, self.engine.now())

    # ---- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _item(session, task_id: str) -> WorkItem:
        """The open work item of a task; Conflict when it was completed, NotFound when there is none."""
        item = session.scalars(sa.select(WorkItem).where(WorkItem.task_id == task_id)).first()
        if item is None:
            done = audit.completed_by(session, Event.task_id == task_id)
            if done is not None:
                raise Conflict(done)  # "already completed by X at T" tells a late colleague what happened
            raise NotFound("任务不存在或已办结")
        return item

    @staticmethod
    def _latest_deployment(session, process_id: str) -> int:
        deployment_id = session.scalar(sa.select(Deployment.id).where(Deployment.process_id == process_id)
                                       .order_by(Deployment.version.desc()).limit(1))
        if deployment_id is None:
            raise NotFound(f"流程 {process_id} 尚未部署")
        return deployment_id


def _offered(spec: Any) -> tuple[str, ...]:
    """The attachment purposes a user task's form offers (none for a task without routing properties)."""
    routing = getattr(spec, "routing", None)
    return offered(routing.properties) if routing is not None else ()


def attachment_choices(spec: Any) -> list[dict[str, str]]:
    """The purposes a task's upload field offers, with their labels, for its page."""
    return [{"id": purpose, "label": PURPOSES[purpose].label} for purpose in _offered(spec)]
