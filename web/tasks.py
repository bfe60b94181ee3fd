"""Task queues (待办) and the task page: claim, release, reassign, fill in and complete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine import Conflict, Forbidden, FormErrors, IncidentRaised, NotFound
from engine.api import FILTER_PARAMETERS, AttachmentRejected, DoneQuery, FilterRefused, QueueQuery, ReasonMissing
from web import nav, queue_args
from web.auth import safe_next
from web.current import current_engine
from web.formdata import initial_values, row_errors, submission, upload_limits
from web.hardening import page_number
from web.labels import CATEGORIES, CHANNELS
from web.nav import VIEW_LABELS

bp = Blueprint("tasks", __name__, url_prefix="/tasks")
PAGE_SIZE = 50


def _query(view: str) -> QueueQuery:
    args = request.args
    sort, direction = queue_args.sort()
    return QueueQuery(view=view, limit=PAGE_SIZE, offset=(page_number() - 1) * PAGE_SIZE,
                      sort=sort, direction=direction, text=queue_args.text(),
                      stage=args.get("stage") or None, channel=args.get("channel") or None,
                      category=args.get("category") or None, department=args.get("department") or None)


def _pages(total: int) -> int:
    return max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)


@bp.get("/")
def queue():
    engine = current_engine()
    views = engine.staff.views_of(g.actor)
    view = request.args.get("view", "mine")
    if view not in views:
        abort(404)
    query = _query(view)
    page = engine.staff.queue_page(g.actor, query, total=nav.counts()[view] if query.unfiltered else None)
    return render_template(
        "tasks/queue.html", view=view, views=views, labels=VIEW_LABELS, rows=page["rows"], total=page["total"],
        page=query.offset // PAGE_SIZE + 1, pages=_pages(page["total"]),
        stages=page["stages"], channels=CHANNELS, categories=CATEGORIES, ordering=queue_args.ordering(),
        departments=engine.staff.departments(), handling_departments=engine.staff.handling_departments(),
        args=request.args, saved=engine.staff.saved_filters(g.actor),
    )


@bp.get("/done")
def done():
    """已办: the tasks I completed, newest first, within what I may read now."""
    engine = current_engine()
    sort, direction = queue_args.sort(done=True)
    query = DoneQuery(text=queue_args.text(), stage=request.args.get("stage") or None, sort=sort,
                      direction=direction, limit=PAGE_SIZE, offset=(page_number() - 1) * PAGE_SIZE)
    page = engine.staff.done_page(g.actor, query)
    return render_template(
        "tasks/done.html", view="done", views=engine.staff.views_of(g.actor), labels=VIEW_LABELS,
        rows=page["rows"], total=page["total"], page=query.offset // PAGE_SIZE + 1, pages=_pages(page["total"]),
        stages=page["stages"], ordering=queue_args.ordering(done=True), args=request.args,
        saved=engine.staff.saved_filters(g.actor),
    )


def _back_to(view: str, query: dict[str, str]):
    if view == "done":
        return redirect(url_for("tasks.done", **query))
    return redirect(url_for("tasks.queue", view=view, **query))


@bp.post("/filters")
def save_filter():
    """Keep the queue's current filters under a name; back to the queue as it was."""
    form = request.form
    view = form.get("view", "mine")
    query = {key: form[key] for key in FILTER_PARAMETERS if form.get(key)}
    try:
        current_engine().staff.save_filter(g.actor, form.get("name", ""), view, query)
    except (FilterRefused, NotFound) as refused:
        flash(f"未能保存筛选条件：{refused.message}", "error")
    else:
        flash("已保存筛选条件", "info")
    return _back_to(view if view in (*current_engine().staff.views_of(g.actor), "done") else "mine", query)


@bp.post("/filters/<int:filter_id>/delete")
def delete_filter(filter_id: int):
    try:
        name = current_engine().staff.delete_filter(g.actor, filter_id)
    except NotFound as missing:
        flash(missing.message, "error")
    else:
        flash(f"已删除筛选条件“{name}”", "info")
    return redirect(safe_next(request.form.get("next"), url_for("tasks.queue")))


def _task_page(task_id: str, values=None, errors=None, status: int = 200, handover=None, attachment_error=None,
               incident=None):
    page = current_engine().staff.task_page(task_id, g.actor)
    context = page["context"]
    if values is None:
        values = initial_values(page["form"], context.data, not context.reporter_visible)
    errors = errors or {}
    groups = {group: row_errors(errors, group) for group in page["form"].groups()}
    colleagues = current_engine().staff.colleagues(task_id, g.actor) if page["may_reassign"] else []
    return render_template("tasks/task.html", page=page, item=page["item"], form=page["form"], ctx=context,
                           values=values, errors=errors, row_errors=groups, colleagues=colleagues,
                           handover=handover or {}, attachment_error=attachment_error, incident=incident,
                           **upload_limits(),
                           channels=CHANNELS, categories=CATEGORIES), status


@bp.get("/<task_id>")
def task(task_id: str):
    return _task_page(task_id)


@bp.post("/<task_id>")
def complete(task_id: str):
    engine = current_engine()
    data: dict = {}
    try:
        page = engine.staff.task_page(task_id, g.actor)
        data = submission(page["form"], request.form)
        files = [(upload.filename, upload.read(), purpose["id"]) for purpose in page["attachment_purposes"]
                 for upload in request.files.getlist(f"attachment.{purpose['id']}") if upload.filename]
        engine.staff.complete_task(task_id, g.actor, data, files)
    except FormErrors as invalid:
        again = "（附件需重新选择）" if request.files else ""
        flash(f"表单有 {len(invalid.errors)} 处需要修改，请查看标红的项目{again}", "error")
        return _task_page(task_id, values=data, errors=invalid.errors, status=422)
    except AttachmentRejected as rejected:
        flash("附件未通过检查，任务尚未提交", "error")
        return _task_page(task_id, values=data, status=422, attachment_error=str(rejected))
    except IncidentRaised as incident:
        return _task_page(task_id, values=data, status=202, incident=incident)
    except (Conflict, Forbidden) as refused:
        flash(refused.message, "error")
        return redirect(url_for("tasks.queue"))
    flash("已提交", "info")
    return redirect(url_for("tasks.queue"))


def _act(task_id: str, action, done: str):
    try:
        action()
    except (Conflict, Forbidden) as refused:
        flash(refused.message, "error")
    else:
        flash(done, "info")
    return redirect(safe_next(request.form.get("next"), url_for("tasks.task", task_id=task_id)))


@bp.post("/<task_id>/claim")
def claim(task_id: str):
    return _act(task_id, lambda: current_engine().claim(task_id, g.actor), "已领取，任务已进入“我的待办”")


@bp.post("/<task_id>/release")
def release(task_id: str):
    return _act(task_id, lambda: current_engine().unclaim(task_id, g.actor), "已退回到候选人队列")


@bp.post("/<task_id>/reassign")
def reassign(task_id: str):
    engine = current_engine()
    handover = {"to": request.form.get("to", ""), "reason": request.form.get("reason", "")}
    if handover["to"] not in {c["name"] for c in engine.staff.colleagues(task_id, g.actor)}:
        flash("请选择同一角色、同一部门的同事", "error")
        return _task_page(task_id, status=422, handover=handover)
    try:
        engine.reassign(task_id, g.actor, engine.actor(handover["to"]), handover["reason"])
    except ReasonMissing as missing:
        flash(missing.message, "error")
        return _task_page(task_id, status=422, handover={**handover, "error": missing.message})
    except (Conflict, Forbidden) as refused:
        flash(refused.message, "error")
        return redirect(url_for("tasks.task", task_id=task_id))
    flash("已转交，并已通知新的办理人", "info")
    return redirect(safe_next(request.form.get("next"), url_for("tasks.task", task_id=task_id)))
