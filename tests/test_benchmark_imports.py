"""The benchmarks import the project and their own support code, never the tests (the arrow points one way)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_MODULES = {path.stem for path in (ROOT / "tests").glob("*.py")}


def imported_names(path: Path) -> set[str]:
    """The top-level names of every module the file imports, in functions included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda path: path.name)
def test_a_benchmark_imports_nothing_from_the_tests(path):
    assert not imported_names(path) & (TEST_MODULES | {"tests"}), f"{path.name} imports a test module"


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def main():\n    from browser_support import CHROMIUM\n")
    assert "browser_support" in imported_names(sample)
