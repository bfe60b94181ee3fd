"""BPMN diagrams for the engine tests (no diagram interchange: the engine does not need it)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="Definitions_test" targetNamespace="http://xinfang.test/bpmn">
"""
TAIL = "</bpmn:definitions>\n"


def read(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def files(*names: str) -> dict[str, str]:
    return {name: read(name) for name in names}


def process(process_id: str, body: str, name: str = "测试流程") -> str:
    """A one-process file around `body` (flow elements as XML text)."""
    opening = f'<bpmn:process id="{process_id}" name="{name}" isExecutable="true">'
    return f"{HEAD}  {opening}\n{body}\n  </bpmn:process>\n{TAIL}"


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line of `text` containing `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the diagram")
