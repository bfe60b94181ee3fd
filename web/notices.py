"""In-app notices: new tasks, reminders, overdue items, returns; marked read when opened."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from web.current import current_engine
from web.hardening import ids

bp = Blueprint("notices", __name__, url_prefix="/notices")
KIND_LABELS = {"new_task": "新任务", "reminder": "期限提醒", "overdue": "超期", "returned": "退回",
               "supervision": "督办", "extension": "延期", "incident": "流程异常"}


@bp.get("/")
def index():
    unread_only = request.args.get("unread") == "1"
    return render_template("notices/index.html", notices=current_engine().staff.notices(g.actor, unread_only),
                           unread_only=unread_only, kinds=KIND_LABELS)


@bp.post("/read")
def mark_read():
    marked = current_engine().staff.mark_notices_read(g.actor, ids(request.form.getlist("id")))
    flash(f"已将 {marked} 条通知标为已读", "info")
    return redirect(url_for("notices.index"))
