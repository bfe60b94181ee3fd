"""Every diagram in processes/ opens in bpmn-js (Camunda Modeler, web UI) without warnings and saves back
with its Camunda attributes, Camunda extension elements, element ids and diagram layout intact.

A process owner edits our files in those editors: anything their reader drops (an unknown attribute, an
element our dialect adds) is silently gone after the next save. bpmn-js reads and writes through
bpmn-moddle, so modeler_roundtrip.mjs runs exactly that, with the Camunda 7 extension, from node_modules
(`npm ci`, part of `make setup`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "modeler_roundtrip.mjs"
BROKEN = HERE / "fixtures" / "broken.bpmn"
DIAGRAMS = sorted((ROOT / "processes").glob("*.bpmn"))

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
PREFIXES = {
    BPMN: "bpmn",
    BPMNDI: "bpmndi",
    CAMUNDA: "camunda",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _node() -> str:
    """node, with node_modules in place: a skip on a developer's machine, a failure under CI=true."""
    node = shutil.which("node")
    if node is None:
        missing = "node is not installed"
    elif not (ROOT / "node_modules" / "bpmn-moddle").is_dir():
        missing = "node_modules is missing: run `npm ci` (or `make setup`)"
    else:
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing} (required under CI=true)")
    pytest.skip(missing)


def _round_trip(*paths: Path) -> dict[str, dict]:
    """The script's entry per file, keyed by str(path); one node run for all files (start-up is the cost)."""
    files = [str(path) for path in paths]
    run = subprocess.run([_node(), str(SCRIPT), *files], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    entries = {entry["file"]: entry for entry in map(json.loads, run.stdout.splitlines())}
    assert sorted(entries) == sorted(files), run.stderr
    return entries


@pytest.fixture(scope="module")
def saved() -> dict[str, dict]:
    return _round_trip(*DIAGRAMS, BROKEN)


def _owner(element: etree._Element) -> str:
    """Nearest id plus the tags below it: stable when the writer reorders siblings, unlike an XPath."""
    names = []
    while element is not None and not element.get("id"):
        names.append(etree.QName(element).localname)
        element = element.getparent()
    return "/".join([element.get("id") if element is not None else "", *reversed(names)])


def _name(name: str) -> str:
    qname = etree.QName(name)
    return f"{PREFIXES[qname.namespace]}:{qname.localname}" if qname.namespace in PREFIXES else name


def _canonical(element: etree._Element) -> str:
    """Tags, sorted attributes, stripped text; whatever prefixes or indentation the file used.

    Children are sorted by tag, stably: bpmn-moddle writes each kind of child in its schema's order (a
    formField's validation before its values) without changing the meaning, while the order among
    children of one kind (an enum's values) does matter.
    """
    attributes = "".join(f' {_name(name)}="{value}"' for name, value in sorted(element.attrib.items()))
    children = sorted(element.iterchildren(etree.Element), key=lambda child: child.tag)
    text = (element.text or "").strip()
    return f"<{_name(element.tag)}{attributes}>{text}{''.join(map(_canonical, children))}</>"


def facts(xml: bytes) -> dict[str, Counter]:
    """What must survive a save, as multisets (so a duplicate dropped on save is noticed too)."""
    found = {aspect: Counter() for aspect in ("ids", "diagram", "camunda attributes", "camunda elements")}
    for element in etree.fromstring(xml, PARSER).iter(etree.Element):
        tag = etree.QName(element)
        if tag.namespace in (BPMN, BPMNDI) and element.get("id"):
            found["ids"][(tag.localname, element.get("id"))] += 1
        if tag.namespace == BPMNDI and tag.localname in ("BPMNShape", "BPMNEdge"):
            found["diagram"][_canonical(element)] += 1
        if tag.namespace == CAMUNDA:
            found["camunda elements"][(_owner(element.getparent()), _canonical(element))] += 1
        for name, value in element.attrib.items():
            if etree.QName(name).namespace == CAMUNDA:
                found["camunda attributes"][(_owner(element), etree.QName(name).localname, value)] += 1
    return found


def differences(path: Path, entry: dict) -> dict[str, dict[str, list]]:
    before, after = facts(path.read_bytes()), facts(entry["xml"].encode())
    return {
        aspect: {
            "lost": sorted((before[aspect] - after[aspect]).elements()),
            "added": sorted((after[aspect] - before[aspect]).elements()),
        }
        for aspect in before
        if before[aspect] != after[aspect]
    }


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda path: path.name)
def test_diagram_opens_in_the_modeler_without_warnings(saved, path):
    entry = saved[str(path)]
    assert "error" not in entry, entry["error"]
    assert entry["warnings"] == []


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda path: path.name)
def test_saving_in_the_modeler_keeps_camunda_settings_ids_and_layout(saved, path):
    entry = saved[str(path)]
    assert "error" not in entry, entry["error"]
    assert differences(path, entry) == {}


def test_the_round_trip_catches_a_broken_diagram(saved):
    # Without this a script that reports nothing, or a comparison that sees nothing, would pass every file.
    entry = saved[str(BROKEN)]
    warnings = "\n".join(entry["warnings"])
    assert "unknown attribute <camunda:candidateGroup>" in warnings
    assert "unknown type <camunda:FormFeld>" in warnings
    assert "unresolved reference <Task_missing>" in warnings
    lost = differences(BROKEN, entry)
    assert lost["camunda elements"]["lost"] == [
        ("Task_typo/extensionElements", '<camunda:formFeld id="summary" type="string"></>')
    ]
    assert "ids" not in lost


def test_a_file_that_is_not_xml_is_an_error_entry(tmp_path):
    path = tmp_path / "not.bpmn"
    path.write_text("<bpmn:definitions")
    assert "unclosed tag" in _round_trip(path)[str(path)]["error"]
