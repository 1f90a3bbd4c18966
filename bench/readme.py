"""Write the README's "Performance and reliability" table from bench/results.json.

`python -m bench.readme` replaces the text between the two markers in README.md, so the figures
quoted there are always those of the last `make bench` run, with its date and machine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.report import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


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


def main() -> None:
    results = json.loads(RESULTS.read_text())
    text = README.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {BEGIN} … {END} block")
    README.write_text(pattern.sub(lambda _: section(results), text))
    print(f"README.md updated from {RESULTS}")


if __name__ == "__main__":
    main()
