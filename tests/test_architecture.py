"""The house rules, checked: rooms import only downwards, the core never imports the
interfaces' libraries, and modules stay small (docs/architecture.md draws the same layers).

Imports are read from the source (every ``import`` and ``from ... import``, also inside
functions, since a lazy import couples as much as any), except those under ``if
TYPE_CHECKING:``, which never run. The root package (``assetflow/__init__.py``, the public API)
and ``__main__`` may import anything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assetflow"

# Top to bottom; a room may import its own modules and any room in a layer below it. Rooms
# sharing a layer are independent: neither imports the other.
LAYERS: list[set[str]] = [
    {"cli"},
    {"tui"},
    {"views"},
    {"application"},
    {"scheduling"},
    {"alerts", "lineage_export"},
    {"runner"},
    {"io", "store"},
    {"planner"},
    {"graph", "config"},
    {"integrations"},  # other tools' declarations read into definitions (dbt)
    {"definitions"},
    {"sql"},
    {"mappings"},
    {"partitions"},
    {"errors", "records", "text", "cache_files"},  # the shared vocabulary
]
FREE = {"assetflow", "__main__"}
LINE_LIMIT = 420  # "about 400": a module past it is split along its seams
INTERFACE_LIBRARIES = ("textual", "typer")
# Libraries of optional extras: a module needing one that is not installed is not imported.
OPTIONAL_LIBRARIES = ("openlineage",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def room(module: str) -> str:
    """``assetflow.store.status`` → ``store``; ``assetflow.records`` → ``records``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "assetflow"


def runtime_imports(path: Path, type_only: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every assetflow import that can run; with ``type_only``, also those
    under ``if TYPE_CHECKING:``."""
    modules = _modules()
    found: list[tuple[int, str]] = []

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = getattr(test, "id", None) or getattr(test, "attr", None)
            if name == "TYPE_CHECKING" and not type_only:
                for statement in node.orelse:
                    self.visit(statement)
                return
            self.generic_visit(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0 and node.module and node.module.split(".")[0] == "assetflow":
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.append((node.lineno, full if full in modules else node.module))

        def visit_Import(self, node: ast.Import) -> None:
            for alias in node.names:
                if alias.name.split(".")[0] == "assetflow":
                    found.append((node.lineno, alias.name))

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def layer_of(name: str) -> int:
    for index, rooms in enumerate(LAYERS):
        if name in rooms:
            return index
    raise AssertionError(f"room {name!r} is in no layer of LAYERS: place it (and draw it)")


def violations(type_only: bool = False) -> list[str]:
    """Every import that goes up, or sideways to an independent room (``type_only``: also
    the imports only the type checker reads)."""
    found = []
    for module, path in sorted(_modules().items()):
        source = room(module)
        if source in FREE:
            continue
        for line, target in runtime_imports(path, type_only):
            destination = room(target)
            # The root package is imported before any of its modules anyway (``__version__``).
            if destination == source or target == "assetflow":
                continue
            if layer_of(destination) <= layer_of(source):
                where = (
                    "a room above it"
                    if layer_of(destination) < layer_of(source)
                    else ("an independent room beside it")
                )
                found.append(f"{module}:{line} imports {target}: {where}")
    return found


def test_rooms_import_only_downwards() -> None:
    assert violations() == []


def test_even_type_annotations_name_only_rooms_below() -> None:
    # No cycle across rooms even for the type checker: a room below the application names
    # what it needs from a project as a protocol (scheduling/subject.py, alerts/subject.py).
    assert violations(type_only=True) == []


def test_every_room_has_a_layer() -> None:
    for module in _modules():
        if room(module) not in FREE:
            layer_of(room(module))


def test_the_check_catches_an_upward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rule is not vacuous: a planner module importing the runner is reported.
    planner = _modules()["assetflow.planner.plan"]
    original = planner.read_text(encoding="utf-8")
    patched = tmp_path / "plan.py"
    patched.write_text(original + "\nfrom assetflow.runner.run import PlanRunner\n")
    monkeypatch.setitem(_modules(), "assetflow.planner.plan", patched)
    assert any(
        v.startswith("assetflow.planner.plan:") and "assetflow.runner.run" in v
        for v in violations()
    )


def test_the_core_never_imports_the_interface_libraries() -> None:
    """In a fresh interpreter: import every module but the interfaces, then look."""
    core = [
        module
        for module in _modules()
        if room(module) not in {"cli", "tui", "__main__"} and module != "assetflow.__main__"
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as exc:\n"
        f"        if (exc.name or '').split('.')[0] not in {OPTIONAL_LIBRARIES!r}:\n"
        "            raise\n"
        f"print(sorted(m for m in {INTERFACE_LIBRARIES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_modules_stay_small() -> None:
    long = {
        module: count
        for module, path in _modules().items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > LINE_LIMIT
    }
    assert long == {}
