"""Search (检索) of the registry: number, accused, summary text, channel, category, status, dates; reporter
name only for those who may see reporters."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, g, render_template, request

from engine.api import SearchQuery, may_search_reporters
from web.current import current_engine
from web.labels import CATEGORIES, CHANNELS, STATUSES

bp = Blueprint("search", __name__, url_prefix="/search")
PAGE_SIZE = 50


def _date(name: str, errors: dict[str, str]) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "日期格式应为 YYYY-MM-DD"
        return None


@bp.get("/")
def index():
    args, errors = request.args, {}
    reporter_allowed = may_search_reporters(g.actor)
    page = max(args.get("page", 1, type=int) or 1, 1)
    query = SearchQuery(
        registration_number=args.get("number", ""), accused=args.get("accused", ""), text=args.get("text", ""),
        channel=args.get("channel", ""), category=args.get("category", ""), status=args.get("status", ""),
        received_from=_date("from", errors), received_to=_date("to", errors),
        reporter=args.get("reporter", "") if reporter_allowed else "",
        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
    )
    found = None if query.is_empty() or errors else current_engine().staff.search(g.actor, query)
    return render_template("search/index.html", args=args, errors=errors, found=found, page=page,
                           reporter_allowed=reporter_allowed, channels=CHANNELS, categories=CATEGORIES,
                           statuses=STATUSES, page_size=PAGE_SIZE), 400 if errors else 200
