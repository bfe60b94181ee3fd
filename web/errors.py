"""Error pages in Chinese; engine errors become the matching HTTP answer with their own message. A command
that became an incident is no error of the user's: 202, a page saying what was kept and what comes next."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from engine import Conflict, EngineError, Forbidden, IncidentRaised, NotFound

MESSAGES = {
    400: "请求有误", 403: "您无权执行此操作", 404: "页面不存在，或不在您的查阅范围内",
    405: "不支持此操作", 413: "上传的文件过大", 429: "操作过于频繁，请稍后再试", 500: "系统出错，请联系管理员",
}
CSRF_MESSAGE = "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重新提交"


def _page(status: int, message: str | None = None):
    return render_template("error.html", status=status, message=message or MESSAGES.get(status, "出错了")), status


def register(app: Flask) -> None:
    for status in MESSAGES:
        app.register_error_handler(status, lambda error, status=status: _page(
            status, getattr(error, "description", None) if status == 429 else None))
    app.register_error_handler(CSRFError, lambda error: _page(400, CSRF_MESSAGE))
    app.register_error_handler(NotFound, lambda error: _page(404, error.message))
    app.register_error_handler(Forbidden, lambda error: _page(403, error.message))
    app.register_error_handler(Conflict, lambda error: _page(409, error.message))
    app.register_error_handler(IncidentRaised, lambda error: (
        render_template("incident_raised.html", incident=error, resubmit=False), 202))
    # any other refusal the engine words for people (e.g. a missing reason) is the request's fault, not ours
    app.register_error_handler(EngineError, lambda error: _page(422, error.message))
