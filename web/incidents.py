"""The incident list (流程异常) for process owners and administrators: open and closed incidents, and the
three ways to close one — retry, skip the failed step, or resolve with a note. Every action is audited by
the engine."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from engine import Conflict, Forbidden, IncidentRaised, NotFound
from engine.api import INCIDENT_FIXERS, INCIDENT_STATES, NoteMissing
from web.auth import require_role
from web.current import current_engine

bp = Blueprint("incidents", __name__, url_prefix="/incidents")
STALE = "该异常已不再适用（任务已另行办理或案件已推进），已自动关闭"


def _page(state: str, notes: dict | None = None, status: int = 200):
    rows = current_engine().staff.incidents(g.actor, state)
    return render_template("incidents/index.html", rows=rows, state=state, states=INCIDENT_STATES,
                           notes=notes or {}), status


@bp.get("/")
@require_role(*INCIDENT_FIXERS)
def index():
    state = request.args.get("state", "open")
    if state not in INCIDENT_STATES:
        abort(404)
    return _page(state)


def _rerun(action, done: str):
    try:
        outcome = action()
    except IncidentRaised as again:
        flash(f"仍未成功，异常保持未处理：{again.message}", "error")
    except (Conflict, Forbidden, NotFound) as refused:
        flash(refused.message, "error")
    else:
        flash(STALE if outcome == "stale" else done, "info")
    return redirect(url_for("incidents.index"))


@bp.post("/<int:incident_id>/retry")
@require_role(*INCIDENT_FIXERS)
def retry(incident_id: int):
    return _rerun(lambda: current_engine().retry(incident_id, g.actor), f"异常 #{incident_id} 已重试成功，案件继续办理")


@bp.post("/<int:incident_id>/skip")
@require_role(*INCIDENT_FIXERS)
def skip(incident_id: int):
    return _rerun(lambda: current_engine().skip(incident_id, g.actor),
                  f"已跳过异常 #{incident_id} 的出错环节，案件继续办理")


@bp.post("/<int:incident_id>/resolve")
@require_role(*INCIDENT_FIXERS)
def resolve(incident_id: int):
    note = request.form.get("note", "")
    try:
        current_engine().resolve_incident(incident_id, g.actor, note)
    except NoteMissing as missing:
        flash(missing.message, "error")
        return _page("open", {incident_id: {"note": note, "error": missing.message}}, 422)
    except (Forbidden, NotFound) as refused:
        flash(refused.message, "error")
    else:
        flash(f"异常 #{incident_id} 已关闭，处理说明已记录", "info")
    return redirect(url_for("incidents.index"))
