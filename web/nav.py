"""What every page's navigation shows: the signed-in user's queue counts and unread notices."""

from __future__ import annotations

from flask import Flask, g

from web import current_engine

VIEW_LABELS = {
    "mine": "我的待办", "groups": "本组待领取", "overdue": "已超期", "due_soon": "即将到期",
    "department": "本部门",
}


def counts() -> dict[str, int]:
    """The signed-in user's queue counts, computed once per request (the queue page reuses them)."""
    if "queue_counts" not in g:
        g.queue_counts = current_engine().queue_counts(g.actor)
    return g.queue_counts


def register(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict:
        if g.get("actor") is None:
            return {}
        return {"nav_counts": counts(), "nav_unread": current_engine().staff.unread_notices(g.actor),
                "view_labels": VIEW_LABELS}
