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
