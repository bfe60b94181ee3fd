"""Template filters: dates shown in Asia/Shanghai, as staff read them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: str | datetime | None) -> str:
    if not value:
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
