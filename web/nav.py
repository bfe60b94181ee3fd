"""What every page's navigation shows: the signed-in user's queue counts, unread notices and (process owners,
administrators) open incidents."""

from __future__ import annotations

from flask import Flask, g

from web.current import current_engine

VIEW_LABELS = {
    "mine": "我的待办", "groups": "本组待领取", "overdue": "已超期", "due_soon": "即将到期",
    "department": "本部门", "done": "已办",
}


def _figures() -> dict:
    """The signed-in user's queue counts and unread notices, read once per request."""
    if "navigation" not in g:
        g.navigation = current_engine().staff.navigation(g.actor)
    return g.navigation


def counts() -> dict[str, int]:
    """The signed-in user's queue counts (the queue page reuses them for its total)."""
    return _figures()["counts"]


def register(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict:
        if g.get("actor") is None:
            return {}
        return {"nav_counts": counts(), "nav_unread": _figures()["unread"], "nav_incidents": _figures()["incidents"],
                "nav_recusals": current_engine().staff.pending_recusals(g.actor), "view_labels": VIEW_LABELS}
