"""The handler of the small demo diagram (tests/engine/diagrams/demo_petition.bpmn) the engine tests use."""

from __future__ import annotations

from engine.runtime.handlers_registry import HandlerContext, register


@register("demo.acknowledge")
def acknowledge(context: HandlerContext) -> dict:
    """Records when the item was acknowledged, so the demo shows a handler's result in the case data."""
    return {"acknowledged_at": context.now.isoformat()}
