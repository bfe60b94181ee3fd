"""The query string every queue page shares (我的待办, the pool, 已办): words to search, filters, the
column to sort by and its direction. Unknown values fall back to the default order instead of failing,
so an old bookmark still opens its queue."""

from __future__ import annotations

from flask import request

from engine.api import DONE_SORTS, QUEUE_SORTS

MAX_TEXT = 100
# Column headers a queue can be sorted by, in Chinese; the engine's whitelist (engine/reads/queues.py,
# engine/reads/done.py) decides which are valid, these only name them.
QUEUE_SORT_LABELS = {"due": "办理期限", "arrived": "到达时间", "case": "案件", "name": "任务",
                     "number": "登记编号", "received": "收件日期", "urgency": "紧急程度"}
DONE_SORT_LABELS = {"completed": "办结时间", "due": "办理期限", "case": "案件", "name": "任务",
                    "number": "登记编号", "received": "收件日期"}
DIRECTION_LABELS = {"asc": "升序", "desc": "降序"}


def text() -> str:
    return " ".join(request.args.get("q", "").split())[:MAX_TEXT]


def sort(done: bool = False) -> tuple[str, str | None]:
    """(sort, direction) of the query string, each whitelisted; None: the column's natural direction."""
    sorts, default = (DONE_SORTS, "completed") if done else (QUEUE_SORTS, "due")
    chosen = request.args.get("sort", default)
    direction = request.args.get("dir")
    return (chosen if chosen in sorts else default), (direction if direction in DIRECTION_LABELS else None)


def ordering(done: bool = False) -> dict:
    """What the sortable column headers need: each column's label and natural direction, and the order
    in force."""
    sorts, labels = (DONE_SORTS, DONE_SORT_LABELS) if done else (QUEUE_SORTS, QUEUE_SORT_LABELS)
    key, direction = sort(done)
    return {"labels": labels, "natural": {name: value.natural for name, value in sorts.items()},
            "key": key, "direction": direction or sorts[key].natural}
