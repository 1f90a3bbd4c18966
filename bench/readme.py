"""Write the figures of docs/performance.md from bench/results.json (`make bench`) and
bench/chaos.json (`make chaos`).

`python -m bench.readme` replaces the text between each pair of markers in docs/performance.md, so
the figures quoted there are always those of the last runs, with their date and machine. A missing
file leaves its block as it was. (The module keeps its name from when the tables were in README.md.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import RESULTS
from bench.runner import SCENARIOS

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE = ROOT / "docs" / "performance.md"
CHAOS = Path(__file__).resolve().parent / "chaos.json"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
CHAOS_BEGIN, CHAOS_END = "<!-- chaos:begin -->", "<!-- chaos:end -->"
README = ROOT / "README.md"
HEADLINE_BEGIN, HEADLINE_END = "<!-- headline:begin -->", "<!-- headline:end -->"
# The README's short table: the pace of a first import, a webhook's way into the bucket, a call
# outcome's way into GHL, the cold start and what AWS charges (each row's scenario, and the start
# of its measure).
HEADLINE_ROWS = (
    ("firstimport", "GHL calls per contact"),
    ("firstimport", "CallTools calls per contact"),
    ("firstimport", "wall time"),
    ("firstimport", "oldest hit"),
    ("webhook", "webhook → in bucket, stack defaults p50"),
    ("outcomes", "GHL calls per disposition without DND"),
    ("outcomes", "hook → note in GHL p50"),
    ("footprint", "import app"),
    ("footprint", "fastest"),
    ("percontact", "AWS cost per 1M webhooks of new"),
)


def section(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        BEGIN,
        f"Last `make bench`: {results['started_at']}, {results['total_seconds']:.0f} s on "
        f"{m['nproc']} × {m['cpu']}, Python {m['python']}. One run is one sample.",
        "",
        "| measure | ours | seed-style baseline | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in results["scenarios"]:
        sizes = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in scenario["sizes"].items()
        )
        lines.append(f"| **{scenario['title']}**{f' ({sizes})' if sizes else ''} | | | | | |")
        for r in scenario["rows"]:
            met = {True: "yes", False: "**no**", None: ""}[r["met"]]
            cells = [r["measure"], r["ours"], r["baseline"], r["ratio"], r["goal"], met]
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    lines.append(END)
    return "\n".join(lines)


def headline(results: dict[str, Any]) -> str:
    """The README's few figures from the last `make bench`, the full table being in
    docs/performance.md."""
    by_name = {s["name"]: s for s in results["scenarios"]}
    lines = [
        HEADLINE_BEGIN,
        f"Last `make bench`, {results['started_at']} ({results['machine']['nproc']} cores); "
        "every figure with its conditions in [docs/performance.md](docs/performance.md).",
        "",
        "| measure | ours | goal | met |",
        "|---|---|---|---|",
    ]
    for scenario, prefix in HEADLINE_ROWS:
        rows = by_name.get(scenario, {}).get("rows", [])
        for r in (r for r in rows if str(r["measure"]).lstrip().startswith(prefix)):
            met = {True: "yes", False: "**no**", None: ""}[r["met"]]
            cells = [f"{by_name[scenario]['title']}: {r['measure'].strip()}", r["ours"], r["goal"]]
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in [*cells, met]) + " |")
    lines.append(HEADLINE_END)
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


def chaos_section(runs: dict[str, Any], stamp: str) -> str:
    seeds = sorted({str(r.get("seed", "?")) for r in runs.values()})
    lines = [
        CHAOS_BEGIN,
        f"Last `make chaos`: {stamp}, `CHAOS_SEED` {', '.join(seeds)}. Each run below passed "
        "every assertion above (a run writes its figures only after its last assertion).",
        "",
        "| SQS configuration | contacts | deliveries (duplicated, arriving out of order) | "
        "CallTools calls / faults | GHL calls / 429s | consumer kills | failed invocations | "
        "dead-lettered | wall time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in sorted(runs.items()):
        config = "ReportBatchItemFailures" if name.endswith("True") else "without it"
        ct_faults = sum(r["calltools_faults"].values())
        lines.append(
            f"| {config} | {r['contacts']:,} | {r['deliveries']:,} "
            f"({r['duplicated_share']:.0%}, {r['reordered_share']:.0%}) | "
            f"{r['calltools_calls']:,} / {ct_faults:,} ({_counts(r['calltools_faults'])}) | "
            f"{r['ghl_calls']:,} / {sum(r['ghl_faults'].values()):,} | "
            f"{sum(r['kills'].values()):,} | {r['failed_invocations']:,} | "
            f"{r['dead_lettered']} (only the poisoned, undialable contacts) | "
            f"{r['wall_seconds'] / 60:.1f} min |"
        )
    kills: dict[str, int] = {}
    for r in runs.values():
        for point, n in r["kills"].items():
            kills[point] = kills.get(point, 0) + n
    deferred = sum(r.get("deferred", 0) for r in runs.values())
    lines += [
        "",
        f"Kill points hit (both runs): {_counts(kills)}. Messages deferred rather than failed "
        f"(a write whose answer was lost, a contact another worker held, a create still "
        f"settling; both runs): {deferred:,}.",
        CHAOS_END,
    ]
    return "\n".join(lines)


def _replace(text: str, begin: str, end: str, block: str, path: Path = PERFORMANCE) -> str:
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{_shown(path)} has no {begin} … {end} block")
    return pattern.sub(lambda _: block, text)


def bench_section(path: Path) -> str | None:
    results = json.loads(path.read_text())
    missing = set(SCENARIOS) - {s["name"] for s in results["scenarios"]}
    if missing:  # `python -m bench NAME` writes only its own scenarios
        print(f"{path} is a partial run (no {', '.join(sorted(missing))}): run `make bench` first")
        return None
    return section(results)


def main() -> None:
    text = PERFORMANCE.read_text()
    renderers: list[tuple[Path, str, str, Callable[[Path], str | None]]] = [
        (RESULTS, BEGIN, END, bench_section),
        (
            CHAOS,
            CHAOS_BEGIN,
            CHAOS_END,
            lambda p: chaos_section(json.loads(p.read_text()), _mtime(p)),
        ),
    ]
    for path, begin, end, render in renderers:
        if not path.exists():
            print(f"{path} not found: its block in {_shown(PERFORMANCE)} is left as it was")
        elif (block := render(path)) is not None:
            text = _replace(text, begin, end, block)
            print(f"{_shown(PERFORMANCE)} updated from {path}")
    PERFORMANCE.write_text(text)
    if RESULTS.exists():
        results = json.loads(RESULTS.read_text())
        if not set(SCENARIOS) - {s["name"] for s in results["scenarios"]}:
            block = headline(results)
            README.write_text(
                _replace(README.read_text(), HEADLINE_BEGIN, HEADLINE_END, block, README)
            )
            print(f"{_shown(README)} updated from {RESULTS}")


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


if __name__ == "__main__":
    main()
