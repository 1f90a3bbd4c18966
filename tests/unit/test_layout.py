"""The layout of tests/ (docs/testing.md): every test module lies in a suite folder the Makefile
runs, and test modules import shared code from tests/support, never from one another or conftest."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


def makefile_suites() -> list[str]:
    found = re.search(r"^SUITES := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert found, "the Makefile names its suites in SUITES"
    return found.group(1).split()


def module_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def test_every_test_module_is_in_a_suite_the_makefile_runs():
    suites = makefile_suites()
    outside = [
        str(p.relative_to(TESTS))
        for p in module_files()
        if p.relative_to(TESTS).parts[0] not in suites
    ]
    assert not outside, f"test modules in no suite folder of the Makefile's SUITES: {outside}"
    for suite in suites:
        assert list((TESTS / suite).glob("test_*.py")), f"tests/{suite} holds no test module"


def imports_of(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:  # relative: inside tests/
            base = ".".join(["tests", *filter(None, [node.module])])
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_tests_import_support_never_another_test_module_or_conftest():
    broken = []
    for path in sorted(TESTS.rglob("*.py")):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "tests" and (
                parts[-1] == "conftest" or any(p.startswith("test_") for p in parts)
            ):
                broken.append(f"{path.relative_to(ROOT)}: imports {name}")
    assert not broken, "move the shared piece into tests/support:\n" + "\n".join(broken)
