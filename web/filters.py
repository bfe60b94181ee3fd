"""Template filters: dates shown in Asia/Shanghai, as staff read them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from web import labels

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: str | datetime | None) -> str:
    if not value:
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def deadline(value: str | datetime | None) -> str:
    """A deadline as the rules word it: one ending at midnight is "24:00" of its last day, not "00:00" of
    the next (DOMAIN: N working days end at 24:00 of the Nth day)."""
    if not value:
        return ""
    instant = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(SHANGHAI)
    if (instant.hour, instant.minute, instant.second) == (0, 0, 0):
        return (instant - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return instant.strftime("%Y-%m-%d %H:%M")


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


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
    app.add_template_filter(deadline, "deadline")
    app.add_template_filter(file_size, "file_size")
    app.jinja_env.globals.update(CHANNELS=labels.CHANNELS, CATEGORIES=labels.CATEGORIES, STATUSES=labels.STATUSES)
