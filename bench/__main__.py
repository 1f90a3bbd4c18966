"""`make bench`: every scenario in its own process, one table, bench/results.json.

`python -m bench [scenario ...]` runs a subset (names in bench.runner.SCENARIOS).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import ScenarioResult, print_table, row, write_results
from bench.runner import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
# A scenario that runs past this is stuck (the whole bench takes ~14 min on 2 cores).
SCENARIO_TIMEOUT = 1500


def _run_one(name: str, workdir: Path) -> ScenarioResult:
    out, log = workdir / f"{name}.json", workdir / f"{name}.log"
    with log.open("w") as log_file:
        try:
            code = subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bench.runner", name, str(out)],
                cwd=ROOT,
                stdout=log_file,  # the product's JSON logs and metrics go here
                stderr=subprocess.STDOUT,
                timeout=SCENARIO_TIMEOUT,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    if code == 0 and out.exists():
        result: ScenarioResult = json.loads(out.read_text())
        return result
    tail = log.read_text(errors="replace").splitlines()[-15:]
    print(f"  {name} FAILED (exit {code}); last lines of {log}:", file=sys.stderr)
    for line in tail:
        print(f"    {line}", file=sys.stderr)
    return ScenarioResult(
        name=name,
        title=f"{name}: failed, see {log}",
        sizes={},
        rows=[row("scenario failed", "not measured", data={"exit_code": code})],
        notes=[],
        details={"log_tail": tail},
    )


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        print(f"unknown scenario(s) {unknown}; expected some of {SCENARIOS}", file=sys.stderr)
        return 2
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results.append(_run_one(name, workdir))
        print(
            f"[{i}/{len(names)}] {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr
        )
    elapsed = time.perf_counter() - started
    write_results(results, elapsed, started_at)
    print_table(results, elapsed)
    print(f"Logs of each scenario's process: {workdir}", file=sys.stderr)
    return 0 if all(r["rows"][0]["measure"] != "scenario failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
