"""Administration: departments, users and their roles, the working-day calendar table."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@require_role("admin")
def only_admins() -> None:
    return None


@bp.get("/")
def index():
    return render_template("admin/index.html")
