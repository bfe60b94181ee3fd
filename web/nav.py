"""What every page's navigation shows: the signed-in user's queue counts and unread notices."""

from __future__ import annotations

from flask import Flask, g

from web import current_engine

VIEW_LABELS = {
    "mine": "我的待办", "groups": "本组任务", "unclaimed": "待领取", "overdue": "已超期", "due_soon": "即将到期",
    "department": "本部门",
}


def register(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict:
        actor = g.get("actor")
        if actor is None:
            return {}
        engine = current_engine()
        return {"nav_counts": engine.queue_counts(actor), "nav_unread": engine.staff.unread_notices(actor),
                "view_labels": VIEW_LABELS}
