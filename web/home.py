"""The start page: what is deployed. Grows into the task queues with the web UI issue."""

from __future__ import annotations

from flask import Blueprint, render_template

from web import current_engine

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("home/index.html", deployments=current_engine().deployments())
