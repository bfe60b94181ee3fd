"""Dependency direction (DESIGN.md): web → engine → (SpiffWorkflow, SQLAlchemy); engine → handlers only
through the registry. engine/ never imports Flask, web/ never imports SpiffWorkflow, handlers/ never
import web/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from common import ROOT


def _python_files(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py") if ".venv" not in path.parts)


def _imports(path: Path, package: str | None = None) -> set[str]:
    """Every module a file imports: import statements (relative ones resolved), __import__ and
    importlib.import_module with literal names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if package is None:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _within(module: str, forbidden: str) -> bool:
    """`module` is `forbidden` or inside it; for Flask also its extensions (flask_login, ...)."""
    return module == forbidden or module.startswith(forbidden + ".") or (
        forbidden == "flask" and module.startswith("flask_"))


def _offenders(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    offenders = {}
    for path in _python_files(package):
        bad = sorted(m for m in _imports(path) if any(_within(m, f) for f in forbidden))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    return offenders


def test_the_scanner_sees_imports():
    engine_files = _python_files("engine")
    assert len(engine_files) >= 20
    assert "SpiffWorkflow.bpmn.workflow" in _imports(ROOT / "engine" / "runtime" / "commands.py")
    assert "engine.runtime.handlers_registry" in _imports(ROOT / "handlers" / "archive.py")
    assert "engine" in {m.split(".")[0] for m in _imports(ROOT / "engine" / "api.py")}


PROBE = """
import flask
from flask_login import current_user
import SpiffWorkflow.bpmn as spiff
from web.views import cases
from . import sibling
from ..web import helpers
importlib.import_module("werkzeug.routing")
__import__("jinja2")

def later():
    import web.app
"""


def test_the_scanner_catches_every_form(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    found = _imports(probe, package="engine.sub")
    assert {"flask", "flask_login", "SpiffWorkflow.bpmn", "web.views", "web.views.cases", "engine.sub.sibling",
            "engine.web", "engine.web.helpers", "werkzeug.routing", "jinja2", "web.app"} <= found
    assert not {"web", "web.helpers"} & found  # "from ..web" inside engine/ is engine.web, not web/
    assert sorted(m for m in found if _within(m, "flask")) == ["flask", "flask_login", "flask_login.current_user"]


@pytest.mark.parametrize(("package", "forbidden"), [
    ("engine", ("flask", "werkzeug", "web")),
    ("handlers", ("flask", "web")),
    ("web", ("SpiffWorkflow",)),
])
def test_dependency_direction(package, forbidden):
    assert _python_files(package), f"{package}/ has no Python files to check"
    assert _offenders(package, forbidden) == {}


def test_engine_reaches_handlers_only_through_the_registry():
    # the engine loads handler modules by name (configurable), never with an import statement
    assert _offenders("engine", ("handlers",)) == {}


# ---- the rooms of engine/ (docs/architecture.md) -----------------------------------------------------

# room -> the rooms it may import. engine.errors and engine.jsonutil are open to every room; the door
# (engine.api and the `engine` face) imports rooms, and no room imports the door.
ROOMS = {
    "store": set(),
    "audit": {"store"},
    "timing": set(),
    "org": {"store", "audit", "timing"},
    "bpmn": {"store", "audit", "org", "timing"},
    "secrets": {"store", "audit"},
    "runtime": {"store", "audit", "org", "timing", "bpmn", "secrets"},
    "reads": {"store", "audit", "org", "timing", "bpmn", "runtime", "secrets"},
}
SHARED = {"engine.errors", "engine.jsonutil"}
DOOR = {"engine", "engine.api"}
# Read models may use runtime helpers (work items, case state, serialisation), never what runs commands.
NOT_FOR_READS = ("engine.runtime.commands", "engine.runtime.scheduler")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _project_modules() -> dict[str, Path]:
    return {_module_name(path): path for package in ("engine", "bench", "web", "cli", "handlers")
            for path in _python_files(package)}


def _resolved(names: set[str], known: set[str]) -> set[str]:
    """The project modules behind imported names: `from engine import audit` is engine.audit (a module),
    `from engine.api import Engine` is engine.api."""
    found = set()
    for name in names:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in known:
                found.add(".".join(parts[:end]))
                break
    return found


def _project_graph() -> dict[str, set[str]]:
    modules = _project_modules()
    graph = {}
    for name, path in modules.items():
        raw = _imports(path, package=name if path.name == "__init__.py" else name.rpartition(".")[0])
        # `from engine import audit` names both engine and engine.audit; the module is what is meant
        raw -= {n.rpartition(".")[0] for n in raw if n in modules and n.rpartition(".")[0] in modules}
        graph[name] = _resolved(raw, set(modules)) - {name}
    return graph


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "engine" and parts[1] in ROOMS else None


def room_offences(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the room rules, as "importer -> imported: why"."""
    offences = []
    for module, imported in sorted(graph.items()):
        room = _room(module)
        for target in sorted(imported):
            target_room = _room(target)
            if target.split(".")[0] == "bench" and module.split(".")[0] not in ("bench", "cli"):
                offences.append(f"{module} -> {target}: only the CLI runs the benchmarks")
            elif module.split(".")[0] in ("web", "cli") and target.split(".")[0] == "engine" and target not in DOOR:
                offences.append(f"{module} -> {target}: web/ and cli/ go through engine.api")
            elif room is None or target.split(".")[0] != "engine":
                continue
            elif target in DOOR:
                offences.append(f"{module} -> {target}: a room never imports the door")
            elif room == "reads" and target in NOT_FOR_READS:
                offences.append(f"{module} -> {target}: read models never run commands")
            elif target_room not in (room, *ROOMS[room]) and target not in SHARED:
                offences.append(f"{module} -> {target}: {room} may not use {target_room or target}")
    return offences


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_every_engine_module_lives_in_a_room():
    loose = sorted(m for m in _project_modules() if m.startswith("engine.") and _room(m) is None
                   and m not in DOOR | SHARED and m.split(".")[1] not in ROOMS)
    assert loose == []


def test_rooms_import_only_what_the_map_allows():
    assert room_offences(_project_graph()) == []


def test_no_import_cycles():
    # TYPE_CHECKING and function-level imports count: a cycle there is a cycle of understanding
    assert import_cycles(_project_graph()) == []


def test_the_room_checks_catch_each_forbidden_kind():
    graph = _project_graph()
    assert "engine.runtime.commands" in graph["engine.api"]  # the graph sees real imports
    assert "engine.audit" in graph["engine.reads.staff"]  # `from engine import audit` is the room's face
    planted = {
        "engine.reads.casepage": {"engine.runtime.commands"},
        "engine.store.models": {"engine.runtime.casestate"},
        "engine.bpmn.forms": {"engine.api"},
        "engine.runtime.timers": {"engine.reads.queues"},
        "web.tasks": {"engine.store.models"},
        "handlers.archive": {"bench.steps"},
        "cli.main": {"bench.suite", "engine.api"},
    }
    assert room_offences(planted) == [
        "engine.bpmn.forms -> engine.api: a room never imports the door",
        "engine.reads.casepage -> engine.runtime.commands: read models never run commands",
        "engine.runtime.timers -> engine.reads.queues: runtime may not use reads",
        "engine.store.models -> engine.runtime.casestate: store may not use runtime",
        "handlers.archive -> bench.steps: only the CLI runs the benchmarks",
        "web.tasks -> engine.store.models: web/ and cli/ go through engine.api",
    ]
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles(graph | {"engine.store.db": {"engine.api"}}) != []
