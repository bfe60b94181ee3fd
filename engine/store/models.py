"""Tables of the engine. Schema changes go through Alembic (engine/store/migrations)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class Deployment(Base):
    """One version of one executable process, with every file its call activities need."""

    __tablename__ = "deployments"
    __table_args__ = (sa.UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(sa.String(200), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    files: Mapped[dict] = mapped_column(sa.JSON)  # file name -> BPMN XML text
    deployed_by: Mapped[str] = mapped_column(sa.String(100))
    deployed_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(sa.String(200), index=True)
    deployment_id: Mapped[int] = mapped_column(sa.ForeignKey("deployments.id"))
    status: Mapped[str] = mapped_column(sa.String(20), index=True)  # running | completed
    # SpiffWorkflow state without the spec (see serialization); deferred: a cached workflow skips reading it
    state: Mapped[str] = mapped_column(sa.Text, deferred=True)
    format_version: Mapped[int]
    data: Mapped[dict] = mapped_column(sa.JSON)  # snapshot of the case data, for display and search
    version: Mapped[int]  # optimistic concurrency
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # Camunda's business key: what a message is correlated by besides the case's variables
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)


class WorkItem(Base):
    """A READY user task of a case: what the queues read, never the workflow state."""

    __tablename__ = "work_items"
    __table_args__ = (
        # (due_at, id) is the queues' order, so a queue's first page is read off an index (engine/reads/queues.py)
        sa.Index("ix_work_items_assignee_due", "assignee", "due_at", "id"),
        sa.Index("ix_work_items_department_due", "department", "due_at", "id"),
        sa.Index("ix_work_items_department_assignee", "department", "assignee"),
        sa.Index("ix_work_items_due", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    process_id: Mapped[str] = mapped_column(sa.String(200))
    bpmn_id: Mapped[str] = mapped_column(sa.String(200))
    ordinal: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(300))
    lane: Mapped[str | None] = mapped_column(sa.String(200))
    candidate_groups: Mapped[list] = mapped_column(sa.JSON)
    candidate_users: Mapped[list] = mapped_column(sa.JSON)
    department: Mapped[str | None] = mapped_column(sa.String(100))
    assignee: Mapped[str | None] = mapped_column(sa.String(100))
    priority: Mapped[int | None]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]


class WorkItemCandidate(Base):
    """One row per candidate key of a work item, so queues and counts are index scans of this table alone:
    "role:X" (or "role:X@DEPT" when the item is bound to a department) or "user:Y", with copies of the
    item's assignee and due time, kept in step by workitems.copy_assignee / copy_due.

    `shared` marks the rows of an item offered under more than one key: only those can be met twice when
    counting an actor's keys, so only those need a DISTINCT (engine/reads/queues.py)."""

    __tablename__ = "work_item_candidates"
    __table_args__ = (
        sa.Index("ix_work_item_candidates_queue", "candidate", "shared", "assignee", "due_at", "work_item_id"),
        sa.Index("ix_work_item_candidates_due", "candidate", "due_at", "work_item_id"),
    )

    work_item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    candidate: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    shared: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    assignee: Mapped[str | None] = mapped_column(sa.String(100))
    due_at: Mapped[datetime | None]


class Timer(Base):
    """A waiting timer event of a case; the scheduler leases due rows (Camunda job-executor shape)."""

    __tablename__ = "timers"
    __table_args__ = (sa.Index("ix_timers_due", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    process_id: Mapped[str] = mapped_column(sa.String(200))
    bpmn_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str | None] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(20))  # date | duration | cycle
    due_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class EventSubscription(Base):
    """A message or signal event a case waits for (catch event, receive task, boundary, event subprocess
    start): correlation and broadcast find their cases here, without deserialising any workflow."""

    __tablename__ = "event_subscriptions"
    __table_args__ = (sa.UniqueConstraint("task_id", "kind", "name", name="uq_event_subscriptions_task"),
                      sa.Index("ix_event_subscriptions_name", "kind", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    kind: Mapped[str] = mapped_column(sa.String(20))  # message | signal
    name: Mapped[str] = mapped_column(sa.String(300))
    process_id: Mapped[str] = mapped_column(sa.String(200))
    bpmn_id: Mapped[str] = mapped_column(sa.String(200))


class Incident(Base):
    """A script/handler failure; the case stays as before the failed command until retry or skip, or until
    a process owner or administrator resolves it with a note, or it goes stale (the work moved on)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    process_id: Mapped[str | None] = mapped_column(sa.String(200))
    bpmn_id: Mapped[str | None] = mapped_column(sa.String(200))
    task_name: Mapped[str | None] = mapped_column(sa.String(300))
    error_type: Mapped[str] = mapped_column(sa.String(200))
    message: Mapped[str] = mapped_column(sa.Text)
    line: Mapped[int | None]
    source_line: Mapped[str | None] = mapped_column(sa.Text)
    command: Mapped[dict] = mapped_column(sa.JSON)  # what to run again on retry
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolution: Mapped[str | None] = mapped_column(sa.String(20))  # retry | skip | resolve | stale
    resolved_by: Mapped[str | None] = mapped_column(sa.String(100))
    note: Mapped[str | None] = mapped_column(sa.Text)  # the resolver's note, or why it went stale


class WorkItemExclusion(Base):
    """Who must not take a work item by the diagram's separation of duties (`not_by`, `not_by_leaders`),
    worked out as the item arrives (engine/runtime/arrivals.py)."""

    __tablename__ = "work_item_exclusions"

    work_item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    user_name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)


class Event(Base):
    """Append-only, hash-chained audit log; rows are never updated or deleted."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_case_seq", "case_id", "case_seq"),
        sa.Index("ix_events_actor_case", "actor", "case_id"),  # "cases I have worked on" (access scope)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.Integer)
    case_seq: Mapped[int | None]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(40))
    deployment_id: Mapped[int | None]
    process_id: Mapped[str | None] = mapped_column(sa.String(200))
    bpmn_id: Mapped[str | None] = mapped_column(sa.String(200))
    ordinal: Mapped[int | None]
    task_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)  # this run's id, for lookups only
    payload: Mapped[str] = mapped_column(sa.Text)  # canonical JSON, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
    # How `hash` was made (engine/audit/chain.py): 1 = plain sha256 (rows before keying), 2 = keyed HMAC.
    scheme: Mapped[int] = mapped_column(sa.SmallInteger, default=1, server_default="1")


class AuditHead(Base):
    """The chain's newest row: serialises appends and reveals deleted tail rows."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int | None]
    last_hash: Mapped[str] = mapped_column(sa.String(64))


class Role(Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(100))
    # its holders get a notice when a task arrives for them (engine/runtime/arrivals.py)
    notify_on_arrival: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str | None] = mapped_column(sa.String(40))


class User(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    department: Mapped[str | None] = mapped_column(sa.ForeignKey("departments.code"))
    password_hash: Mapped[str | None] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(default=True)
    # Random, rotated on password change, "log out everywhere" and deactivation: a login session is valid
    # only while it carries the current value (engine/org/sessions.py).
    session_token: Mapped[str] = mapped_column(sa.String(64), default=lambda: secrets.token_urlsafe(32))
    # Set for initial passwords (organisation file, created or reset by an administrator).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random id, the table its hash, so logout ends it on the
    server and a copy of the database does not hand out live cookies."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.ForeignKey("users.name", ondelete="CASCADE"), index=True)
    user_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]


class UserRole(Base):
    __tablename__ = "user_roles"

    user_name: Mapped[str] = mapped_column(sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True)
    role_name: Mapped[str] = mapped_column(sa.ForeignKey("roles.name"), primary_key=True)


class CalendarDay(Base):
    """Admin-kept holidays and make-up working days, overriding the chinesecalendar package."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    workday: Mapped[bool]
    note: Mapped[str] = mapped_column(sa.String(200), default="")


class RegistrationCounter(Base):
    """Last registration number issued per year; incremented inside the registering command's transaction,
    so a rolled-back command gives its number back and numbers have no gaps."""

    __tablename__ = "registration_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int]


class Petition(Base):
    """The searchable registry of items, one row per case. Never holds reporter identity."""

    __tablename__ = "petitions"
    # Only repeats have an original: an index of just those keeps the planner's statistics honest (a full
    # index, nearly all NULL, looks useless to SQLite once analysed, and the case page would scan).
    __table_args__ = (
        sa.Index("ix_petitions_duplicate_of_id", "duplicate_of_id",
                 sqlite_where=sa.text("duplicate_of_id IS NOT NULL"),
                 postgresql_where=sa.text("duplicate_of_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    registration_number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    year: Mapped[int]
    received_on: Mapped[date] = mapped_column(sa.Date, index=True)
    registered_at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(sa.String(40))
    source: Mapped[str | None] = mapped_column(sa.String(60))
    urgency: Mapped[str | None] = mapped_column(sa.String(20))  # normal | urgent: the queues' badge and order
    summary: Mapped[str | None] = mapped_column(sa.Text)
    problem_type: Mapped[str | None] = mapped_column(sa.String(60))
    category: Mapped[str | None] = mapped_column(sa.String(60))
    route: Mapped[str | None] = mapped_column(sa.String(60))
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    sealed: Mapped[bool] = mapped_column(default=False)
    real_name: Mapped[bool] = mapped_column(default=False)
    handling_department: Mapped[str | None] = mapped_column(sa.String(60), index=True)
    handling_method: Mapped[str | None] = mapped_column(sa.String(60))
    disposal: Mapped[str | None] = mapped_column(sa.String(60))
    truthfulness: Mapped[str | None] = mapped_column(sa.String(40))
    # The web reporter's query code: an argon2 hash, and a few characters of its SHA-256 that narrow a lookup
    # to a handful of rows to verify (handlers/query_code.py).
    query_code_hash: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    query_code_selector: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("petitions.id"))
    repeat_count: Mapped[int] = mapped_column(default=0)
    overdue_count: Mapped[int] = mapped_column(default=0)
    last_overdue_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    retention_until: Mapped[date | None] = mapped_column(sa.Date)


class PetitionAccused(Base):
    """One accused person of a petition; the normalised name and unit drive the duplicate check."""

    __tablename__ = "petition_accused"
    __table_args__ = (sa.Index("ix_petition_accused_normalized", "normalized_name", "normalized_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(sa.ForeignKey("petitions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]  # order in the registration form
    name: Mapped[str | None] = mapped_column(sa.String(100))
    unit: Mapped[str | None] = mapped_column(sa.String(200))
    position_title: Mapped[str | None] = mapped_column(sa.String(100))
    rank: Mapped[str | None] = mapped_column(sa.String(40))  # the statistics count by rank and region
    region: Mapped[str | None] = mapped_column(sa.String(100))
    party_member: Mapped[bool | None]
    supervised_person: Mapped[bool | None]
    normalized_name: Mapped[str | None] = mapped_column(sa.String(100))
    normalized_unit: Mapped[str | None] = mapped_column(sa.String(200))


class Notice(Base):
    """An in-app notice to one user (reminder, overdue, returned, supervision, new task...)."""

    __tablename__ = "notices"
    __table_args__ = (sa.Index("ix_notices_username_read_at", "username", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    username: Mapped[str] = mapped_column(sa.ForeignKey("users.name"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class Attachment(Base):
    """A file of a case: received with the item (scanned letter, photo, recording) or added to a task or
    the case later (report, evidence, feedback or clarification record); kept in the database so it is
    backed up and access-checked with the case. `purpose` says which, and who may open it
    (engine/reads/attachments.py)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    # AES-GCM ciphertext under `key_id` (engine/secrets/vault.py); a NULL key id marks a file stored
    # before encryption, which `xinfang keys rotate` encrypts
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    key_id: Mapped[str | None] = mapped_column(sa.String(40))
    nonce: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(sa.String(100))
    uploaded_at: Mapped[datetime]
    purpose: Mapped[str] = mapped_column(sa.String(40), server_default="letter")
    # the task it was uploaded with (None: on the case page); the name as the task was called then
    process_id: Mapped[str | None] = mapped_column(sa.String(200))
    bpmn_id: Mapped[str | None] = mapped_column(sa.String(200))
    task_name: Mapped[str | None] = mapped_column(sa.String(200))
    sha256: Mapped[str | None] = mapped_column(sa.String(64))  # of the plain content; None before 0022


class Handover(Base):
    """A secret a command produced for the person running it (a web reporter's query code), AES-GCM
    encrypted and bound to case, purpose and recipient, until their next page takes it (engine/secrets/handover.py)."""

    __tablename__ = "handovers"
    __table_args__ = (sa.UniqueConstraint("case_id", "purpose", name="uq_handovers_case_purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    purpose: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(sa.String(100))  # user name
    key_id: Mapped[str] = mapped_column(sa.String(40))
    nonce: Mapped[bytes] = mapped_column(sa.LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)


class ReporterRecord(Base):
    """The confidential fields of one submission (reporter identity), AES-GCM encrypted and bound to its
    case; case data, workflow state and audit events hold only the marker naming `ref`. Destroyed after
    retention by clearing the ciphertext: the audit chain never depended on it."""

    __tablename__ = "reporter_vault"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(sa.String(32), unique=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    fields: Mapped[list] = mapped_column(sa.JSON)  # the field ids sealed, never their values
    key_id: Mapped[str | None] = mapped_column(sa.String(40))
    nonce: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    ciphertext: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime]
    destroyed_at: Mapped[datetime | None]


class ReporterNameToken(Base):
    """Blind index of reporter names: HMAC-SHA256 tokens of the normalised name and its prefixes."""

    __tablename__ = "reporter_name_tokens"

    record_id: Mapped[int] = mapped_column(sa.ForeignKey("reporter_vault.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)


class RecusalDeclaration(Base):
    """A relation or interest a staff member declared (回避申报): a person and/or a unit. Withdrawing
    keeps the row (marked withdrawn) so the history of what was declared stays readable."""

    __tablename__ = "recusal_declarations"
    __table_args__ = (sa.Index("ix_recusal_declarations_user_active", "user_name", "withdrawn_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.ForeignKey("users.name"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    person_name: Mapped[str | None] = mapped_column(sa.String(100))
    unit: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    declared_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class RecusalRequest(Base):
    """A request that a staff member recuse themselves from one item, filed by the staff member or
    recorded for the reporter or the accused; the petition-office head decides. An approved one takes
    the item out of that person's scope (engine/org/access.py)."""

    __tablename__ = "recusal_requests"
    __table_args__ = (sa.Index("ix_recusal_requests_case_staff", "case_id", "staff_name", "status"),
                      sa.Index("ix_recusal_requests_status", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    staff_name: Mapped[str] = mapped_column(sa.ForeignKey("users.name"))
    raised_by: Mapped[str] = mapped_column(sa.String(20))  # self | reporter | accused
    reason: Mapped[str] = mapped_column(sa.Text)
    filed_by: Mapped[str] = mapped_column(sa.String(100))
    filed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending | approved | rejected
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(sa.Text)


class CompletedTask(Base):
    """A user task as its worker completed it: what 已办 lists, written by the completing command, so the
    list is an index range by worker and time (DESIGN decision 4), like the open queues."""

    __tablename__ = "completed_tasks"
    __table_args__ = (sa.Index("ix_completed_tasks_worker", "completed_by", "completed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    process_id: Mapped[str] = mapped_column(sa.String(200))
    bpmn_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(300))
    completed_by: Mapped[str] = mapped_column(sa.String(100))
    completed_at: Mapped[datetime]
    arrived_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]


class SavedFilter(Base):
    """A user's named queue filter: the view and its query string (search, filters, order)."""

    __tablename__ = "saved_filters"
    __table_args__ = (sa.UniqueConstraint("user_name", "name", name="uq_saved_filters_user_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.ForeignKey("users.name", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(60))
    view: Mapped[str] = mapped_column(sa.String(20))
    query: Mapped[dict] = mapped_column(sa.JSON)  # parameter -> value, whitelisted (engine/org/saved_filters.py)
    created_at: Mapped[datetime]
