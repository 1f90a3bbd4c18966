"""Cold-start footprint: `import app` time and the deployment zip.

Import: a fresh interpreter per run, timing only `import app` (not interpreter start-up), median
of several runs after one that warms the disk cache, and beside it the fastest run: on a shared
machine the median moves with the load, the minimum is closer to what the code itself costs.
Zip: scripts/package.py, as `make package STAGE=dev` runs it (cp313 manylinux wheels from PyPI,
`chalice package`), into a temporary directory; the size of deployment.zip.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.report import Row, ScenarioResult, megabytes, row, seconds

ROOT = Path(__file__).resolve().parents[2]
IMPORT_RUNS = 15
IMPORT_GOAL, ZIP_GOAL_MB = 0.300, 15.0
PACKAGE_TIMEOUT = 900
# Wall time (the goal's) and the interpreter's CPU time, which other work on the machine moves less.
_TIMED_IMPORT = (
    "import time; t, c = time.perf_counter(), time.process_time(); import app; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


def _clean_env() -> dict[str, str]:
    """The settings' defaults: nothing from a developer's shell changes what app.py reads."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_CACHE_DIR")
    return {k: v for k, v in os.environ.items() if k in keep}


def import_times() -> tuple[list[float], list[float]]:
    """`import app`'s wall times and CPU times, run by run."""
    times: list[tuple[float, float]] = []
    for _ in range(IMPORT_RUNS + 1):
        out = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", _TIMED_IMPORT],
            cwd=ROOT,
            env=_clean_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        wall, cpu = out.strip().splitlines()[-1].split()
        times.append((float(wall), float(cpu)))
    runs = times[1:]  # the first run warms the disk cache
    return [wall for wall, _ in runs], [cpu for _, cpu in runs]


def package_zip(out: Path) -> tuple[Path | None, str]:
    """Build the dev stage's zip in `out`; (path, "") or (None, why not)."""
    # The stage needs a location to be packaged (it names the operator's); any id sizes the zip.
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "GHL_LOCATION_ID": "bench-location"}
    for name in ("SYNC_QUEUE_ARN", "CONSUMER_MAX_CONCURRENCY"):
        env.pop(name, None)
    try:
        done = subprocess.run(  # noqa: S603 - the project's own packaging script
            [sys.executable, "scripts/package.py", "--stage", "dev", "--out", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=PACKAGE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"scripts/package.py ran over {PACKAGE_TIMEOUT} s"
    zip_path = out / "deployment.zip"
    if done.returncode != 0 or not zip_path.exists():
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return None, f"scripts/package.py failed ({done.returncode}): {tail}"
    return zip_path, ""


def run() -> ScenarioResult:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # other work on the machine slows imports
    times, cpu_times = import_times()
    median = statistics.median(times)
    rows = [
        row(
            f"import app (median of {IMPORT_RUNS} runs)",
            seconds(median),
            goal=f"≤ {seconds(IMPORT_GOAL)}",
            met=median <= IMPORT_GOAL,
            data={"median_s": median, "runs_s": times},
        ),
        row(f"  fastest of the {IMPORT_RUNS}", seconds(min(times)), data={"min_s": min(times)}),
    ]
    details: dict[str, object] = {"import_runs_s": times, "import_cpu_s": cpu_times}
    notes = [
        f"import runs: min {seconds(min(times))}, median {seconds(median)}, "
        f"max {seconds(max(times))}; CPU time median {seconds(statistics.median(cpu_times))}; "
        f"load average before them {load} (1, 5, 15 min)"
    ]
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        rows.append(_zip_row(Path(tmp), notes, details))
    return ScenarioResult(
        name="footprint",
        title="Cold start and package (seed's not reproduced)",
        sizes={},
        rows=rows,
        notes=notes,
        details=details,
    )


def _zip_row(out: Path, notes: list[str], details: dict[str, object]) -> Row:
    zip_path, why = package_zip(out)
    if zip_path is None:
        notes.append(why)
        return row("deployment.zip (chalice package)", "not measured", goal=f"≤ {ZIP_GOAL_MB:g} MB")
    size = zip_path.stat().st_size
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(i.file_size for i in archive.infolist())
        files = len(archive.infolist())
    notes.append(
        f"zip: {files:,} files, {megabytes(unzipped)} unzipped (Lambda allows 250 MB), built by "
        "scripts/package.py --stage dev (python3.13 manylinux wheels) in a temporary directory"
    )
    details.update(zip_bytes=size, zip_unzipped_bytes=unzipped, zip_files=files)
    return row(
        "deployment.zip (chalice package)",
        megabytes(size),
        goal=f"≤ {ZIP_GOAL_MB:g} MB",
        met=size / 2**20 <= ZIP_GOAL_MB,
        data={"bytes": size, "unzipped_bytes": unzipped, "files": files},
    )
