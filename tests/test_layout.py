"""Tests of the package's layout: the run folder's names and statuses have one home, and the server's side never
imports TensorFlow at module level."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models.store import files, progress

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "mnist_models" / "store"
FILE_NAMES = {value for name, value in vars(files).items() if name.isupper() and isinstance(value, str)}
STATUSES = {progress.QUEUED, progress.STARTING, progress.RUNNING, progress.STOPPING, progress.COMPLETED,
            progress.STOPPED, progress.FAILED, progress.INTERRUPTED}
SERVER_SIDE = ["mnist_models.jobs", "mnist_models.jobs.queue", "mnist_models.jobs.local", "mnist_models.jobs.settings",
               "mnist_models.jobs.ray_executor", "mnist_models.store", "mnist_models.config", "mnist_models.presets",
               "mnist_models.course", "mnist_models.share", "mnist_models.budget", "mnist_models.cli",
               "mnist_models.worker"]


def _sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant in the file that is not a docstring, with its line."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_names_checked_are_the_store_s_own():
    assert {"config.json", "meta.json", "history.json", "model.keras", "stop-requested"} <= FILE_NAMES
    assert len(STATUSES) == 8


@pytest.mark.parametrize("path", [path for path in _sources("mnist_models", "dashboard", "benchmarks")
                                  if STORE not in path.parents], ids=lambda path: str(path.relative_to(ROOT)))
def test_only_the_run_store_spells_a_run_folder_file_or_a_status(path):
    found = [f"line {line}: {value!r}" for line, value in _literals(path) if value in FILE_NAMES | STATUSES]
    assert not found, f"{path.name} spells what the run store owns (use mnist_models.store): {found}"


def test_the_check_finds_a_spelled_name(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Doc mentions meta.json."""\nSTATUS = "failed"\nPATH = "model.keras"\n')
    assert [value for _, value in _literals(sample) if value in FILE_NAMES | STATUSES] == ["failed", "model.keras"]


def _imported_modules(modules: list[str]) -> list[str]:
    script = ("import json, sys\n" + "".join(f"import {module}\n" for module in modules)
              + "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_server_side_imports_no_tensorflow():
    loaded = _imported_modules(SERVER_SIDE)
    assert "tensorflow" not in loaded and "keras" not in loaded


def _module_path(module: str) -> Path | None:
    """The source file of a project module or package, or None (a name imported from a module, a data folder)."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _top_level_imports(module: str) -> set[str]:
    """The modules a project module imports at module level (not inside functions), from its source."""
    found = set()
    for node in ast.parse(_module_path(module).read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _module_level_closure(start: str) -> set[str]:
    """Every module reached from `start` through module-level imports (the project's own followed)."""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        if module.split(".")[0] in ("dashboard", "mnist_models") and _module_path(module) is not None:
            todo.extend(_top_level_imports(module))
    return seen


@pytest.mark.parametrize("module", sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts) for path in _sources("dashboard")))
def test_no_dashboard_module_imports_tensorflow_at_module_level(module):
    reached = {name.split(".")[0] for name in _module_level_closure(module)}
    assert not reached & {"tensorflow", "keras"}, f"{module} imports TensorFlow when the page loads"


def test_the_static_check_follows_the_project_s_imports():
    assert "keras" in {name.split(".")[0] for name in _module_level_closure("mnist_models.worker.callback")}


def test_the_check_sees_tensorflow_when_it_is_imported():
    assert "keras" in _imported_modules(["mnist_models.worker.models"])
