"""Imports point inwards: each layer of chalicelib (docs/architecture.md) and app.py import only the parts
of our code that their rule names. The standard library and third-party packages are always fine."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The top-level names of our own code: an import of anything else is stdlib or third-party.
OWN = frozenset({"app", "chalicelib", "ops", "sandbox", "tests", "bench", "scripts"})

DOMAIN, PORTS, INBOUND = "chalicelib.domain", "chalicelib.ports", "chalicelib.inbound"
SERVICES, ADAPTERS, RUNTIME = "chalicelib.services", "chalicelib.adapters", "chalicelib.runtime"
OBSERVABILITY = "chalicelib.runtime.observability"  # logging and metrics only

# Layer → the parts of our code its modules may import (each a module or a package prefix).
RULES: dict[str, tuple[str, ...]] = {
    DOMAIN: (DOMAIN,),
    PORTS: (DOMAIN, PORTS),  # a package: its __init__ gathers its modules
    INBOUND: (DOMAIN, PORTS, INBOUND),
    SERVICES: (DOMAIN, PORTS, INBOUND, SERVICES, OBSERVABILITY),
    ADAPTERS: (DOMAIN, PORTS, INBOUND, ADAPTERS, OBSERVABILITY),
    RUNTIME: ("chalicelib",),  # the wiring composes everything
    "chalicelib": (),  # the package's __init__ (empty)
    "app": (RUNTIME, SERVICES, DOMAIN),
}
# Rules for one module only, not for the modules under it.
EXACT = frozenset({"chalicelib", "app"})


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> str | None:
    """The most specific rule that covers `module`; None for a module of no layer."""
    covering = [
        layer
        for layer in RULES
        if module == layer or (layer not in EXACT and within(module, layer))
    ]
    return max(covering, key=len) if covering else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def checked_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]


def known_modules() -> frozenset[str]:
    """Every module of chalicelib, to tell `from package import module` from a name import."""
    return frozenset(module_name(p) for p in checked_files())


def imported(source: str, module: str, is_package: bool, known: Iterable[str]) -> list[str]:
    """The absolute names of the modules `source` (module `module`) imports."""
    known = frozenset(known)
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".") if package else []
            if node.level:
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                names.append(sub if sub in known else target)
    return names


def violations(
    source: str, module: str, display: str, *, is_package: bool = False, known: Iterable[str] = ()
) -> list[str]:
    """`display: imports X` for each import of our code that `module`'s rule does not allow."""
    layer = layer_of(module)
    if layer is None:
        return [f"{display}: belongs to no layer (add it to a layer package or to RULES)"]
    allowed = RULES[layer]
    found = []
    for name in imported(source, module, is_package, known):
        if name.split(".")[0] not in OWN:
            continue  # standard library or third-party
        if not any(within(name, prefix) for prefix in allowed):
            found.append(f"{display}: imports {name}")
    return found


def test_every_import_points_the_way_the_layers_allow():
    known = known_modules()
    broken = []
    for path in checked_files():
        broken += violations(
            path.read_text(),
            module_name(path),
            str(path.relative_to(ROOT)),
            is_package=path.name == "__init__.py",
            known=known,
        )
    assert not broken, "imports against the layer rules:\n" + "\n".join(broken)


def test_the_check_reads_every_layer():
    modules = {module_name(p) for p in checked_files()}
    for expected in (
        "app",
        "chalicelib",
        PORTS,
        OBSERVABILITY,
        "chalicelib.services.sync.contact_sync",
    ):
        assert expected in modules
    for layer in (DOMAIN, INBOUND, SERVICES, ADAPTERS, RUNTIME):
        assert sum(within(m, layer) for m in modules) >= 3, layer


@pytest.mark.parametrize(
    ("module", "source", "offender"),
    [
        (
            "chalicelib.domain.contact",
            "from chalicelib.services.rule_book import RuleBook",
            "chalicelib.services.rule_book",
        ),
        ("chalicelib.domain.contact", "import chalicelib.ports", "chalicelib.ports"),
        ("chalicelib.domain.contact", "from ..ports import GhlApi", "chalicelib.ports"),
        (
            "chalicelib.ports",
            "from chalicelib.inbound.ghl_events import InvalidEvent",
            "chalicelib.inbound.ghl_events",
        ),
        (
            "chalicelib.inbound.ghl_events",
            "from chalicelib.runtime import observability",
            "chalicelib.runtime.observability",
        ),
        (
            "chalicelib.services.stats",
            "from chalicelib.adapters.aws.state import to_item",
            "chalicelib.adapters.aws.state",
        ),
        (
            "chalicelib.services.stats",
            "from chalicelib.runtime.settings import Settings",
            "chalicelib.runtime.settings",
        ),
        ("chalicelib.services.stats", "from chalicelib import runtime", "chalicelib.runtime"),
        (
            "chalicelib.adapters.aws.state",
            "from chalicelib.services import stats",
            "chalicelib.services.stats",
        ),
        (
            "chalicelib.adapters.aws.state",
            "from ...services import stats",
            "chalicelib.services.stats",
        ),
        ("chalicelib.runtime.wiring", "from ops.doctor import diagnose", "ops.doctor"),
        ("chalicelib.runtime.wiring", "import sandbox.stack", "sandbox.stack"),
        (
            "chalicelib.runtime.wiring",
            "from tests.support.fakes import FakeQueue",
            "tests.support.fakes",
        ),
        ("chalicelib.runtime.wiring", "from bench import world", "bench"),
        ("chalicelib.runtime.wiring", "from scripts.package import ROOT", "scripts.package"),
        (
            "app",
            "from chalicelib.adapters.aws.queue import SqsContactQueue",
            "chalicelib.adapters.aws.queue",
        ),
        ("app", "from chalicelib.ports import ContactQueue", "chalicelib.ports"),
        ("app", "from chalicelib import inbound", "chalicelib.inbound"),
    ],
)
def test_the_checker_catches_a_module_that_breaks_its_rule(module: str, source: str, offender: str):
    """A synthetic module: allowed imports (stdlib, third-party, its own layer) and one that is not."""
    allowed = (
        "from __future__ import annotations\n\nimport json\n\nfrom pydantic import BaseModel\n"
    )
    layer = layer_of(module)
    assert layer is not None
    if layer in RULES[layer]:
        allowed += f"import {layer}\n"
    found = violations(f"{allowed}{source}\n", module, "synthetic.py", known=known_modules())
    assert found == [f"synthetic.py: imports {offender}"]


def test_the_checker_passes_what_the_rules_allow():
    allowed = {
        "chalicelib.domain.sync_plan": "from chalicelib.domain.phone import to_e164\nimport re",
        "chalicelib.ports": "from chalicelib.domain.runs import Run",
        "chalicelib.inbound.ghl_events": "from chalicelib.ports import AuthResult",
        "chalicelib.services.intake": "from chalicelib.inbound import webhook_auth\n"
        "from chalicelib.runtime.observability import logger",
        "chalicelib.adapters.ghl.signature": "from ...inbound.webhook_auth import header_value",
        "chalicelib.runtime.wiring": "from chalicelib.adapters.aws.state import DynamoStateStore",
        "app": "from chalicelib.runtime import wiring\nfrom chalice.app import Chalice",
    }
    known = known_modules()
    for module, source in allowed.items():
        assert violations(source, module, f"{module}.py", known=known) == [], module


def test_a_module_outside_every_layer_is_reported():
    for module in ("chalicelib.helpers", "vendor.thing"):
        assert violations("import json\n", module, "x.py") == [
            "x.py: belongs to no layer (add it to a layer package or to RULES)"
        ]
    assert violations("import json\n", "chalicelib", "chalicelib/__init__.py") == []
