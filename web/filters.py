"""Template filters: dates shown in Asia/Shanghai, as staff read them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from web import labels

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: str | datetime | None) -> str:
    if not value:
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def display(value: object) -> str:
    """A case-data value as staff read it: 是/否 for flags, lists joined, nothing for empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(display(item) for item in value)
    return str(value)


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(display, "display")
    app.jinja_env.globals.update(CHANNELS=labels.CHANNELS, CATEGORIES=labels.CATEGORIES, STATUSES=labels.STATUSES)
