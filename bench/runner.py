"""One scenario in this process: `python -m bench.runner NAME OUT.json`.

The orchestrator (`python -m bench`) starts one of these per scenario, so no scenario inherits
another's memory high-water mark, wiring singleton or environment.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

from bench.procinfo import peak_rss_bytes

SCENARIOS = ("percontact", "reconcile", "scale", "firstimport", "webhook", "outcomes", "footprint")


def main(argv: list[str]) -> int:
    name, out = argv[0], Path(argv[1])
    if name not in SCENARIOS:
        print(f"unknown scenario {name!r}; expected one of {SCENARIOS}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.scenarios.{name}")
    started = time.perf_counter()
    result = module.run()
    result["details"]["scenario_seconds"] = round(time.perf_counter() - started, 1)
    # This process only: the world, stacks and baseline processes are children.
    result["details"]["process_peak_rss_mb"] = round(peak_rss_bytes() / 2**20, 1)
    out.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
