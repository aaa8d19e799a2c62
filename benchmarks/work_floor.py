"""The work floor: a warm small municipality's CPU split into our work and Dagster's (issue #19).

The same three generated 300-taxpayer municipalities as ``municipality_cost.py`` (seeds
19001-19003), run one after the other in this one process with
``fiscal_intel.department.runner.run_municipality``, ``--rounds`` times; every run but the first
is a warm (marginal) sample. Each run's CPU (``time.process_time``: every thread, DuckDB's
included) is split by timers placed from inside:

- **step bodies**: every asset's and check's own function, timed from inside Dagster's call of it
  (``dagster._core.execution.plan.compute_generator.invoke_compute_fn``; a generator body is timed
  at each ``next``, so what Dagster does with a yielded result between two is not counted);
- inside them, **our functions** by kind, each counted exclusively (a function's time less that
  of the timed functions it calls): the loader (``load_source``), the SQL files (``run_sql``),
  macros, table and column comments, Great Expectations (``validate_frame``), the SQL suites
  (``validate_table``), LightGBM training (``fit_members``), the backtest's ``features_as_of``;
  what is left of a step body is the rest of our code (backtest, ranking, marts writers, the
  tables' metadata, polars);
- **Dagster's events**: every event Dagster stores (``DagsterInstance.handle_new_event``), counted
  apart: those a step stores while it runs (``context.log``, asset metadata) are subtracted from
  the step body; the rest (step starts and successes, materializations) are between the steps;
- **ours outside the steps**: the run log and the publication of the read-only copy
  (``runner.open_run``, ``close_run``, ``publish_run``), the preflight checks;
- **Dagster's**: the rest of the run: building the job, the run and its plan, step
  orchestration, storing events, the input version lookups.

The work floor is the CPU of our work (the step bodies less Dagster's events inside them, plus our
work outside the steps): what a municipality costs with no orchestrator at all. Prints one JSON
line per municipality and the medians of the warm ones; ``--out`` appends them to a JSON list.

``--department LANDING`` instead runs a whole department landing serially in this process with
the same timers (the pooled step's read, fits and choice and the department's view counted as
our work) and prints the department's floor: its work and Dagster's CPU, its Dagster runs, and
the wall time two cores could not beat with Dagster at zero or at its floor a run.

Usage: .venv/bin/python benchmarks/work_floor.py [--rounds 3] [--workers 2] [--out F.json]
       .venv/bin/python benchmarks/work_floor.py --department data/bench/department-21-15000/landing
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from municipality_cost import append_result, warm_runs  # the same three municipalities

ROOT = Path(__file__).resolve().parents[1]

# (module, attribute, kind): our functions timed inside the steps, and outside them.
TIMED = [
    ("fiscal_intel.ingest.loader", "load_source", "loader"),
    ("fiscal_intel.sqlfiles", "run_sql", "sql_files"),
    ("fiscal_intel.sqlfiles", "install_macros", "macros"),
    ("fiscal_intel.catalogue", "comment_table", "comments"),
    ("fiscal_intel.catalogue", "comment_sql_table", "comments"),
    ("fiscal_intel.validation.gx", "validate_frame", "great_expectations"),
    ("fiscal_intel.validation.pushdown", "validate_table", "sql_suites"),
    ("fiscal_intel.scoring.model", "fit_members", "lightgbm_train"),
    ("fiscal_intel.scoring.evaluation", "features_as_of", "backtest_features_as_of"),
    ("fiscal_intel.runner", "open_run", "run_log_and_publish"),
    ("fiscal_intel.runner", "close_run", "run_log_and_publish"),
    ("fiscal_intel.runner", "publish_run", "run_log_and_publish"),
    ("fiscal_intel.preflight", "landing_problem", "preflight"),
    ("fiscal_intel.preflight", "warehouse_problem", "preflight"),
    # a department's own parts (``--department``), between and after the municipalities' runs
    ("fiscal_intel.department.pooled", "read_municipality", "pooled_read"),
    ("fiscal_intel.department.pooled", "fit_pooled", "pooled_fits"),
    ("fiscal_intel.department.pooled", "choose_and_write", "pooled_choice"),
    ("fiscal_intel.department.marts", "build_department", "department_view"),
    ("fiscal_intel.department.report", "department_report", "department_view"),
]
DEPARTMENT_PARTS = {"pooled_read", "pooled_fits", "pooled_choice", "department_view"}
OUTSIDE_STEPS = {"run_log_and_publish", "preflight", *DEPARTMENT_PARTS}
DAGSTER_EVENTS = "dagster_storing_events"


class Spans:
    """Exclusive CPU per kind: a span's time less the time of the spans it encloses."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.steps: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []

    def enter(self, kind: str) -> None:
        self._stack.append([kind, time.process_time(), 0.0])

    def exit(self, step: str | None = None) -> None:
        kind, start, inner = self._stack.pop()
        elapsed = time.process_time() - start
        self.totals[kind] += elapsed - inner
        if self._stack:
            self._stack[-1][2] += elapsed
        if step is not None:
            self.steps[step] += elapsed

    def timed(self, fn, kind: str):  # noqa: ANN001, ANN201
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.enter(kind)
            try:
                return fn(*args, **kwargs)
            finally:
                self.exit()

        return wrapper

    def reset(self) -> None:
        self.totals.clear()
        self.steps.clear()


def install_timers(spans: Spans) -> list[tuple[object, str, object]]:
    """Wrap :data:`TIMED` everywhere they were imported, Dagster's event handling, and the call
    of every step body; returns ``(owner, attribute, original)`` of each, for
    :func:`remove_timers`."""
    import importlib

    import dagster._core.execution.plan.compute_generator as compute_generator
    from dagster._core.instance import DagsterInstance

    undo: list[tuple[object, str, object]] = []
    for module_name, attribute, kind in TIMED:
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)
        wrapper = spans.timed(original, kind)
        for name, loaded in list(sys.modules.items()):
            if name.startswith("fiscal_intel") and loaded is not None:
                for key, value in list(vars(loaded).items()):
                    if value is original:
                        undo.append((loaded, key, original))
                        setattr(loaded, key, wrapper)

    handle = DagsterInstance.handle_new_event
    undo.append((DagsterInstance, "handle_new_event", handle))
    DagsterInstance.handle_new_event = spans.timed(handle, DAGSTER_EVENTS)
    invoke = compute_generator.invoke_compute_fn
    undo.append((compute_generator, "invoke_compute_fn", invoke))

    def timed_invoke(fn, context, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        step = context.op_execution_context.op_def.name
        spans.enter("step_bodies_other")
        try:
            result = invoke(fn, context, *args, **kwargs)
        finally:
            spans.exit(step)
        if inspect.isgenerator(result):
            return _timed_generator(result, spans, step)
        return result

    compute_generator.invoke_compute_fn = timed_invoke
    return undo


def remove_timers(undo: list[tuple[object, str, object]]) -> None:
    """Put back what :func:`install_timers` wrapped."""
    for owner, attribute, original in reversed(undo):
        setattr(owner, attribute, original)


def _timed_generator(inner, spans: Spans, step: str):  # noqa: ANN001, ANN202
    """``inner``'s items, its CPU counted at each ``next`` only."""
    while True:
        spans.enter("step_bodies_other")
        try:
            item = next(inner)
        except StopIteration as stop:
            return stop.value
        finally:
            spans.exit(step)
        yield item


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="run the three this many times")
    parser.add_argument("--workers", type=int, default=2, help="as one of N department workers")
    parser.add_argument("--out", help="append the results as JSON to this file")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--department", type=Path,
        help="instead: this department landing run serially in this process, timers on "
        "(the department's floor: its own work against Dagster's, and the bound on two cores)",
    )  # fmt: skip
    parser.add_argument("--dagster-floor", type=float, nargs=2, default=(1.09, 0.23),
                        metavar=("FIRST", "SECOND"),
                        help="with --department: Dagster's CPU for a trivial first and second "
                        "run of a municipality (benchmarks/dagster_floor.py)")  # fmt: skip
    parser.add_argument("--city-alone", type=float, default=28.0,
                        help="with --department: the largest municipality alone, median wall s "
                        "(benchmarks/department.py), for the ratio")  # fmt: skip
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    if args.workers > 1:
        from fiscal_intel.department.runner import worker_environment

        worker_environment(args.workers).__enter__()

    import fiscal_intel.definitions  # noqa: F401  (every module, before the timers)
    import fiscal_intel.demo.department  # noqa: F401
    import fiscal_intel.department.runner  # noqa: F401
    import fiscal_intel.preflight  # noqa: F401

    spans = Spans()
    install_timers(spans)
    if args.department:
        summary = department_floor(args.department, spans, args.dagster_floor, args.city_alone)
        summary["label"] = args.label
        print(json.dumps(summary, indent=1))
        if args.out:
            append_result(Path(args.out), summary)
        return 0
    rows = []
    for run in warm_runs(args.rounds, args.workers, before_each=spans.reset):
        rows.append(split(run.code, run.taxpayers, run.cpu_seconds, spans, run.load_before))
        print(json.dumps(rows[-1]), flush=True)
    warm = rows[1:]
    medians = {
        key: round(statistics.median(r[key] for r in warm), 3)
        for key in ("cpu_seconds", "work_seconds", "dagster_seconds", "step_bodies_seconds")
    }
    medians["by_kind"] = {
        kind: round(statistics.median(r["by_kind"].get(kind, 0.0) for r in warm), 3)
        for kind in rows[0]["by_kind"]
    }
    steps = defaultdict(list)
    for r in warm:
        for step, seconds in r["steps"].items():
            steps[step].append(seconds)
    largest = sorted(((statistics.median(v), k) for k, v in steps.items()), reverse=True)[:12]
    summary = {
        "label": args.label,
        "workers": args.workers,
        # Each step's CPU is printed above; the JSON keeps the medians of the largest.
        "municipalities": [{k: v for k, v in r.items() if k != "steps"} for r in rows],
        "warm_medians": medians,
        "largest_step_bodies": {k: round(v, 3) for v, k in largest},
    }
    print(json.dumps({"warm_medians": medians}, indent=1))
    print("largest step bodies (median CPU s):", json.dumps(summary["largest_step_bodies"]))
    if args.out:
        append_result(Path(args.out), summary)
    return 0


def department_floor(
    landing: Path,
    spans: Spans,
    dagster_floor: tuple[float, float],
    city_alone: float,
    cores: int = 2,
) -> dict:
    """The department of ``landing`` run serially in this process (``run_department``, one
    worker, into a temporary folder) with the timers on: its CPU split into our work (the
    municipalities' and the department's own parts) and Dagster's, its Dagster runs by phase,
    and what that puts the department's wall time at on ``cores`` cores at best: our work alone
    (Dagster at zero), and our work plus ``dagster_floor`` (a trivial first and second run of a
    municipality, ``dagster_floor.py``) for each run (Dagster at its floor)."""
    import tempfile

    import fiscal_intel.runner as runner
    from fiscal_intel.department.runner import run_department
    from fiscal_intel.settings import load_settings

    runs: dict[str, int] = defaultdict(int)
    stages = runner._run_stages

    def counted(settings, stages_, record, on_stage, log_level, phase="whole", *rest):  # noqa: ANN001, ANN002, ANN202
        runs[phase] += 1
        return stages(settings, stages_, record, on_stage, log_level, phase, *rest)

    runner._run_stages = counted
    load = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory() as scratch:
            os.environ["DAGSTER_HOME"] = str(Path(scratch) / "dagster_home")
            settings = load_settings(landing=str(landing))
            spans.reset()
            cpu, wall = time.process_time(), time.perf_counter()
            results = run_department(settings, Path(scratch) / "warehouses", workers=1)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        runner._run_stages = stages
    failed = [r.code for r in results if r.status != "success"]
    if failed:
        sys.exit(f"municipalities failed: {failed}")
    row = split("department", 0, cpu, spans, load)
    work = row["work_seconds"]
    department_parts = sum(row["by_kind"].get(k, 0.0) for k in DEPARTMENT_PARTS)
    first, second = dagster_floor
    floor = sum(
        n * (second if phase == runner.AFTER_CHOICE else first) for phase, n in runs.items()
    )
    at_floor = work + floor
    return {
        "landing": str(landing),
        "municipalities": len(results),
        "dagster_runs": dict(runs),
        "wall_seconds_serial": round(wall, 1),
        "cpu_seconds": row["cpu_seconds"],
        "work_seconds": work,
        "of_which_department_parts": round(department_parts, 3),
        "dagster_seconds": row["dagster_seconds"],
        "by_kind": row["by_kind"],
        "dagster_floor_first_second_run": list(dagster_floor),
        "dagster_floor_seconds": round(floor, 1),
        "cores": cores,
        "bound_wall_dagster_at_zero": round(work / cores, 1),
        "bound_wall_dagster_at_floor": round(at_floor / cores, 1),
        "city_alone_wall": city_alone,
        "bound_ratio_dagster_at_zero": round(work / cores / city_alone, 2),
        "bound_ratio_dagster_at_floor": round(at_floor / cores / city_alone, 2),
        "load_average_1min": row["load_average_1min"],
    }


def split(code: str, taxpayers: int, cpu: float, spans: Spans, load: float) -> dict:
    """One run's CPU: ours (inside and outside the steps) and Dagster's (the rest)."""
    totals = dict(spans.totals)
    in_steps = sum(v for k, v in totals.items() if k not in OUTSIDE_STEPS | {DAGSTER_EVENTS})
    outside = sum(v for k, v in totals.items() if k in OUTSIDE_STEPS)
    work = in_steps + outside
    return {
        "code": code,
        "taxpayers": taxpayers,
        "cpu_seconds": round(cpu, 3),
        "work_seconds": round(work, 3),
        "dagster_seconds": round(cpu - work, 3),
        "step_bodies_seconds": round(sum(spans.steps.values()), 3),
        "steps": {k: round(v, 4) for k, v in spans.steps.items()},
        "by_kind": {k: round(v, 3) for k, v in sorted(totals.items())},
        "load_average_1min": [round(load, 1), round(os.getloadavg()[0], 1)],
    }


if __name__ == "__main__":
    sys.exit(main())
