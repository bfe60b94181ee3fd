"""Handlers used by the demo diagram."""

from __future__ import annotations

from engine.handlers_registry import HandlerContext, register


@register("demo.acknowledge")
def acknowledge(context: HandlerContext) -> dict:
    """Records when the item was acknowledged, so the demo shows a handler's result in the case data."""
    return {"acknowledged_at": context.now.isoformat()}
