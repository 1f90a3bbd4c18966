"""Result rows, their formatting, the printed table and bench/results.json."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

RESULTS = Path(__file__).resolve().parent / "results.json"


class Row(TypedDict):
    measure: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None  # None: no goal, or not measured
    data: dict[str, Any]  # the raw numbers behind the formatted cells


class ScenarioResult(TypedDict):
    name: str
    title: str
    sizes: dict[str, Any]
    rows: list[Row]
    notes: list[str]
    details: dict[str, Any]


def row(
    measure: str,
    ours: str,
    baseline: str = "n/a",
    ratio: str = "",
    goal: str = "",
    met: bool | None = None,
    data: dict[str, Any] | None = None,
) -> Row:
    return Row(
        measure=measure,
        ours=ours,
        baseline=baseline,
        ratio=ratio,
        goal=goal,
        met=met,
        data=data or {},
    )


# --- formatting ------------------------------------------------------------------------------------
def seconds(value: float) -> str:
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value * 1000:.0f} ms"
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def megabytes(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MB"


def fewer(baseline: float, ours: float) -> str:
    """`baseline / ours`, as "N× fewer"; ours = 0 reads "none"."""
    if ours == 0:
        return "none vs " + f"{baseline:,.2f}".rstrip("0").rstrip(".")
    return f"{baseline / ours:,.1f}× fewer" if baseline >= ours else f"{ours / baseline:.1f}× more"


def times(ours: float, reference: float, label: str) -> str:
    return f"{ours / reference:.2f}× {label}" if reference > 0 else ""


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1..99), interpolated between the nearest ranks."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- machine and output ----------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        cpu = platform.processor()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def _met(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[value]


def print_table(results: Sequence[ScenarioResult], elapsed: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(180, Console().width))  # wide enough when piped
    table = Table(
        title="ghl-calltools-sync: ours vs the seed-style batch baseline", show_lines=False
    )
    for name, justify in (
        ("measure", "left"),
        ("ours", "right"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("goal", "left"),
        ("met?", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, result in enumerate(results):
        if i:
            table.add_section()
        sizes = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in result["sizes"].items()
        )
        table.add_row(f"[bold]{result['title']}[/bold]")
        if sizes:
            table.add_row(f"  [dim]measured at: {sizes}[/dim]")
        for r in result["rows"]:
            style = {True: "green", False: "red", None: ""}[r["met"]]
            met = f"[{style}]{_met(r['met'])}[/{style}]" if style else ""
            table.add_row("  " + r["measure"], r["ours"], r["baseline"], r["ratio"], r["goal"], met)
    console.print(table)
    for result in results:
        for note in result["notes"]:
            console.print(f"[dim]- {result['name']}: {note}[/dim]", highlight=False)
    info = machine()
    console.print(
        f"\n{info['nproc']} CPUs ({info['cpu']}), Python {info['python']}; "
        f"total {elapsed / 60:.1f} min. Results: {RESULTS}",
        highlight=False,
    )


def write_results(results: Sequence[ScenarioResult], elapsed: float, started_at: str) -> None:
    payload = {
        "started_at": started_at,
        "total_seconds": round(elapsed, 1),
        "machine": machine(),
        "scenarios": list(results),
    }
    RESULTS.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
