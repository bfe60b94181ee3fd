"""Search (检索) of the registry: number, accused, summary text, channel, category, status, dates; reporter
name only for those who may see reporters."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, g, render_template, request

from engine.api import SearchQuery, may_search_reporters
from web.current import current_engine
from web.hardening import page_number
from web.labels import CATEGORIES, CHANNELS, STATUSES

bp = Blueprint("search", __name__, url_prefix="/search")
PAGE_SIZE = 50
SEARCH_FIELDS = ("number", "accused", "text", "channel", "category", "status", "from", "to", "reporter")


def _date(fields, name: str, errors: dict[str, str]) -> date | None:
    value = fields.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "日期格式应为 YYYY-MM-DD"
        return None


@bp.route("/", methods=["GET", "POST"])
def index():
    # The form posts: a reporter's name in a URL would stay in server logs and the browser's history.
    # Plain GET links (number, accused, text…) keep working, but never for a reporter.
    if request.method == "GET" and "reporter" in request.args:
        abort(400)
    fields = request.form if request.method == "POST" else request.args
    errors: dict[str, str] = {}
    reporter_allowed = may_search_reporters(g.actor)
    page = page_number(fields)
    query = SearchQuery(
        registration_number=fields.get("number", ""), accused=fields.get("accused", ""),
        text=fields.get("text", ""), channel=fields.get("channel", ""), category=fields.get("category", ""),
        status=fields.get("status", ""), received_from=_date(fields, "from", errors),
        received_to=_date(fields, "to", errors),
        reporter=fields.get("reporter", "") if reporter_allowed else "",
        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
    )
    found = None if query.is_empty() or errors else current_engine().staff.search(g.actor, query)
    kept = {key: value for key, value in fields.items() if key in SEARCH_FIELDS and value}
    return render_template("search/index.html", args=fields, kept=kept, errors=errors, found=found, page=page,
                           reporter_allowed=reporter_allowed, channels=CHANNELS, categories=CATEGORIES,
                           statuses=STATUSES, page_size=PAGE_SIZE), 400 if errors else 200
