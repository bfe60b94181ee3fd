"""The start page is the signed-in user's task queue; the deployed processes are listed for owners."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from web.auth import require_role
from web.current import current_engine

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return redirect(url_for("tasks.queue"))


@bp.get("/processes")
@require_role("process_owner", "admin", "auditor")
def processes():
    return render_template("home/index.html", deployments=current_engine().deployments())
