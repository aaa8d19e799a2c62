"""Marginal CPU of a small municipality in a warm worker (issue #19, requirement 5).

Three generated municipalities of 300 taxpayers (the demo generator's department mode, seeds
19001-19003, codes 05615, 05002, 05021: the data of ``benchmarks/department_cost.md``) are run one
after the other in this one process, as a department worker runs them
(``fiscal_intel.department.runner.run_municipality``, persistent Dagster instance). The first pays
the process's first-run costs; the second and third are the marginal cost of a municipality.

Prints, per municipality, CPU seconds (``time.process_time``: every thread of the process, GX's
import thread and DuckDB's included) and wall seconds, and CPU per stage: the process's CPU clock
read each time the runner records a stage starting in its run marker (``write_marker`` with
``running``), so the split is the same whether the stages are six Dagster runs or one. With
``--rounds N`` the three run N times (each time into a new warehouse): 3N - 1 marginal samples.
CPU is the number to compare on a loaded machine; the 1-minute load average is printed beside
each wall time.

Usage: .venv/bin/python benchmarks/municipality_cost.py [--keep DIR] [--out FILE.json]
``--keep DIR`` leaves the three warehouses in DIR (for ``benchmarks/compare_warehouses.py``).
``--workers N`` runs them as one of N department workers does: the worker's share of the cores for
DuckDB, model training and the thread pools of polars, OpenMP and BLAS
(``fiscal_intel.department.runner.worker_settings`` and ``worker_environment``); run N of these at
once to load the machine as N workers do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAN = [("05615", 300, 19001), ("05002", 300, 19002), ("05021", 300, 19003)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="folder for the warehouses (default: a temporary one)")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--label", default="", help="a name for this measurement in the JSON")
    parser.add_argument("--rounds", type=int, default=1, help="run the three this many times")
    parser.add_argument("--workers", type=int, default=1, help="as one of N department workers")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    if args.workers > 1:
        # Before polars, LightGBM and numpy are imported, as in a spawned worker.
        from fiscal_intel.department.runner import worker_environment

        worker_environment(args.workers).__enter__()

    cpu0 = time.process_time()
    from fiscal_intel import runner

    imports_cpu = time.process_time() - cpu0

    # The CPU clock at each stage start, through the runner's marker writes.
    marks: list[tuple[str, float]] = []
    write_marker = runner.write_marker

    def marking(warehouse, run_id, started_at, status, stage) -> None:  # noqa: ANN001
        if status == "running" and stage and (not marks or marks[-1][0] != stage):
            marks.append((stage, time.process_time()))
        write_marker(warehouse, run_id, started_at, status, stage)

    runner.write_marker = marking

    rows = []
    for run in warm_runs(args.rounds, args.workers, args.keep, before_each=marks.clear):
        # The last stage's CPU includes the run log and the publication after it.
        bounds = [m[1] for m in marks[1:]] + [run.cpu_end]
        stages: dict[str, float] = {}
        for (stage, begin), end_of in zip(marks, bounds, strict=True):
            stages[stage] = round(stages.get(stage, 0.0) + end_of - begin, 2)
        row = {
            "code": run.code,
            "taxpayers": run.taxpayers,
            "cpu_seconds": round(run.cpu_seconds, 2),
            "wall_seconds": round(run.wall_seconds, 1),
            "load_average_1min": [round(run.load_before, 1), round(os.getloadavg()[0], 1)],
            "stage_cpu_seconds": stages,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    marginal = [r["cpu_seconds"] for r in rows[1:]]
    summary = {
        "label": args.label,
        "workers": args.workers,
        "imports_cpu_seconds": round(imports_cpu, 2),
        "municipalities": rows,
        "marginal_cpu_seconds": marginal,
        "marginal_cpu_median": round(statistics.median(marginal), 2),
    }
    print(f"marginal CPU of a warm 300-taxpayer municipality: {marginal} s")
    if args.out:
        append_result(Path(args.out), summary)
    return 0


@dataclass
class WarmRun:
    """One municipality run by :func:`warm_runs`: its CPU (``time.process_time``) and wall
    seconds, the load average before it and the CPU clock at its end."""

    code: str
    taxpayers: int
    cpu_seconds: float
    wall_seconds: float
    load_before: float
    cpu_end: float


def warm_runs(
    rounds: int,
    workers: int,
    keep: str | None = None,
    before_each: Callable[[], None] = lambda: None,
) -> Iterator[WarmRun]:
    """The :data:`PLAN` municipalities generated into a temporary folder and run ``rounds``
    times, one after the other in this process, each as one of ``workers`` department workers
    runs it and into a new warehouse (in ``keep`` when given); ``before_each`` is called just
    before each run. Exits naming a municipality whose run did not succeed."""
    from fiscal_intel.demo.department import generate_department
    from fiscal_intel.department.runner import (
        municipality_settings,
        run_municipality,
        worker_settings,
    )
    from fiscal_intel.settings import load_settings

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        landing = base / "landing"
        generate_department(landing, base / "truth", PLAN)
        out = Path(keep) if keep else base / "warehouses"
        out.mkdir(parents=True, exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(base / "dagster_home")
        settings = load_settings(landing=str(landing))
        for code, taxpayers, _ in PLAN * rounds:
            municipal = worker_settings(
                municipality_settings(settings, code, landing / code, out), workers
            )
            Path(municipal.warehouse).unlink(missing_ok=True)
            before_each()
            load = os.getloadavg()[0]
            cpu_start, wall = time.process_time(), time.perf_counter()
            result = run_municipality(municipal, code)
            end, wall = time.process_time(), time.perf_counter() - wall
            if result.status != "success":
                sys.exit(f"{code}: {result.status}: {result.message}")
            yield WarmRun(code, taxpayers, end - cpu_start, wall, load, end)


def append_result(path: Path, summary: dict) -> None:
    """``summary`` appended to the JSON list in ``path`` (created if missing)."""
    previous = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps([*previous, summary], indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
