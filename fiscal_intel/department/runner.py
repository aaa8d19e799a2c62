"""Run every municipality of a department landing, each into its own warehouse file.

Each municipality is one pipeline run (``fiscal_intel.runner.run_pipeline``) on settings that
differ only in landing, warehouse, municipality code and leadership folder. With ``workers`` > 1
the runs go to a pool of worker processes: each worker pays the fixed costs (interpreter,
Dagster, Great Expectations, LightGBM imports) once and then runs municipality after
municipality. Every municipality has its own DuckDB file, so workers never contend for a writer
lock; a municipality that fails is named in the result and never stops the others.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from fiscal_intel.department.landing import (
    landing_size,
    municipality_folders,
    municipality_name,
    unknown_codes,
)
from fiscal_intel.settings import Settings

if TYPE_CHECKING:
    from fiscal_intel.department.pooled import Parallel, PooledResult
    from fiscal_intel.run_log import RunRecord


@dataclass
class MunicipalityResult:
    code: str
    name: str
    status: str  # success | incomplete (built, some file unreadable) | failed
    seconds: float
    warehouse: str
    message: str | None = None  # one line: the stage and why (file names, never a row)
    worker: int = 0  # the process that ran it (fixed costs are paid once per process)
    # Between a department's two runs of the municipality: its run so far (the second finishes it)
    record: RunRecord | None = None
    # A department run with workers: the pooled step's read of it, taken on its worker right
    # after its first run (a Municipality, or the failure), and a choice that failed.
    pooled_read: object = None
    pooled_failure: str | None = None


class DepartmentError(ValueError):
    """The department landing or the municipalities asked for cannot be run (bad arguments)."""


def municipality_settings(
    settings: Settings, code: str, landing: Path, warehouse_dir: Path
) -> Settings:
    """The settings of one municipality's run inside a department."""
    return settings.replace(
        landing=str(landing),
        warehouse=str(Path(warehouse_dir) / f"{code}.duckdb"),
        municipality=code,
        # Each municipality's leadership file and report in its own folder (they share a dir).
        leadership_dir=str(Path(warehouse_dir) / "leadership" / code),
    )


def worker_threads(workers: int) -> int:
    """Threads for each of ``workers`` processes sharing this machine's cores (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def worker_settings(settings: Settings, workers: int) -> Settings:
    """A municipality's settings in one of ``workers`` worker processes: DuckDB and model
    training get the worker's share of the cores (two workers on two cores with two threads
    each ran four busy threads on two cores, benchmarks/department_cost.md). Unchanged for one
    worker, or when the settings already name fewer threads. The models are the same for any
    thread count (deterministic LightGBM; each member trains on one thread below
    ``MIN_ROWS_PER_THREAD`` rows)."""
    if workers <= 1:
        return settings
    threads = worker_threads(workers)
    duckdb_threads = min(settings.duckdb_threads or threads, threads)
    return settings.replace(
        duckdb_threads=duckdb_threads, num_threads=min(settings.num_threads, threads)
    )


# Thread pools that size themselves from the environment when their library is first imported
# in the worker (polars, OpenMP under LightGBM, numpy's BLAS). PASSIVE: an OpenMP thread with
# no work sleeps instead of spinning for a core the other worker needs.
_THREAD_VARIABLES = (
    "POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
)  # fmt: skip


@contextmanager
def worker_environment(workers: int) -> Iterator[None]:
    """The environment the ``workers`` spawned worker processes start with: their thread pools
    sized to their share of the cores. A spawned process copies this process's environment
    when it starts, before it imports anything; restored afterwards (a variable set by the
    user is kept as it is)."""
    threads = str(worker_threads(workers))
    wanted = {name: threads for name in _THREAD_VARIABLES} | {"OMP_WAIT_POLICY": "PASSIVE"}
    added = [name for name in wanted if name not in os.environ]
    os.environ.update({name: wanted[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def plan(landing: Path, only: list[str] | None = None) -> tuple[dict[str, Path], list[str]]:
    """The municipalities to run (code -> landing folder) and the folders refused (unknown code).

    Raises :class:`DepartmentError` when a code asked for is not in the landing folder or the
    landing holds no municipality folder.
    """
    folders = municipality_folders(landing)
    if not folders:
        raise DepartmentError(
            f"landing folder {landing} holds no municipality subfolder named by its 5-digit "
            "DANE code (e.g. 05615/)"
        )
    if only:
        bad = [c for c in only if c not in folders]
        if bad:
            raise DepartmentError(
                f"municipality {', '.join(bad)} has no folder in {landing} "
                f"(found: {', '.join(folders)})"
            )
        folders = {c: folders[c] for c in only}
    unknown = unknown_codes(list(folders))
    return {c: p for c, p in folders.items() if c not in unknown}, unknown


def run_municipality(
    settings: Settings,
    code: str,
    log_level: str = "CRITICAL",
    *,
    phase: str = "whole",
    first: MunicipalityResult | None = None,
    chosen: bool = False,
) -> MunicipalityResult:
    """One municipality's run; never raises for a failure of its own data.

    ``phase``: ``whole`` (its own models), or a department's two runs of it: ``before_choice``
    (everything the pooled step reads; the result holds the run so far, status ``waiting``),
    then ``after_choice`` (``first``: that result; the score tables and what reads them, ranked
    as ``marts.model_choice`` says when ``chosen``, else by its own model; logged, published).
    Its seconds are both runs'."""
    from fiscal_intel.locking import WarehouseBusy
    from fiscal_intel.runner import BEFORE_CHOICE, PipelineError, run_pipeline
    from fiscal_intel.scoring.choice import MODEL_CHOICE_TAG

    start = time.perf_counter()
    result = MunicipalityResult(
        code, municipality_name(code), "failed", 0.0, settings.warehouse, worker=os.getpid()
    )
    try:
        from fiscal_intel.preflight import landing_problem, warehouse_problem

        problem = first is None and (
            landing_problem(settings.landing_path) or warehouse_problem(settings.warehouse_path)
        )
        if problem:
            result.message = problem
            return result
        from fiscal_intel.run_log import RunRecord

        record = first.record if first is not None else None
        if phase == BEFORE_CHOICE:  # kept to hand to the second run
            import uuid
            from datetime import datetime

            record = RunRecord(str(uuid.uuid4()), datetime.now())
        stages = run_pipeline(
            settings,
            log_level=log_level,
            phase=phase,
            record=record,
            tags={MODEL_CHOICE_TAG: "marts.model_choice"} if chosen else None,
        )
        if phase == BEFORE_CHOICE:
            result.status, result.record = "waiting", record
            return result
        from fiscal_intel.assets.raw import unreadable_files

        unreadable = unreadable_files(stages)
        if unreadable:
            result.status, result.message = "incomplete", f"stage raw: {unreadable[0]}"
        else:
            result.status = "success"
    except (PipelineError, WarehouseBusy) as exc:
        result.message = str(exc)
    except Exception as exc:  # one municipality's surprise must not stop the department
        result.message = f"{type(exc).__name__}: {exc}"
    finally:
        result.seconds = time.perf_counter() - start + (first.seconds if first else 0.0)
    return result


def run_department(
    settings: Settings,
    warehouse_dir: Path,
    *,
    workers: int = 1,
    only: list[str] | None = None,
    on_result: Callable[[MunicipalityResult], None] | None = None,
    log_level: str = "CRITICAL",
    pooled: bool = True,
) -> list[MunicipalityResult]:
    """Run the municipalities of ``settings.landing`` (a department landing), ``workers`` at a
    time, then the pooled model (``pooled``), then build ``department.duckdb``. Returns one
    result per municipality, by code."""
    from fiscal_intel.department.marts import build_department

    begun = time.time()
    landing, warehouse_dir = settings.landing_path, Path(warehouse_dir)
    folders, unknown = plan(landing, only)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    results = [
        MunicipalityResult(
            c, c, "failed", 0.0, "", f"folder {c}/ is not a municipality code in DIVIPOLA"
        )
        for c in unknown
    ]
    for r in results:
        if on_result:
            on_result(r)
    # Largest first: the long runs start early, the small ones fill the gaps.
    order = sorted(folders, key=lambda c: (-landing_size(folders[c]), c))
    jobs = {
        c: worker_settings(municipality_settings(settings, c, folders[c], warehouse_dir), workers)
        for c in order
    }
    # Each municipality in two runs around the pooled step (without it, one whole run): the
    # first builds what the step reads, the second its lists, once, with the choice made.
    phase = "before_choice" if pooled else "whole"

    def finished(result: MunicipalityResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    timeline: list[dict] = [_span("plan", "", begun)]
    if workers <= 1:
        waiting = []
        for code in order:
            first = run_municipality(jobs[code], code, log_level, phase=phase)
            _report_first(first, finished)
            if first.status == "waiting":
                waiting.append(first)
        chosen = _pooled(waiting, jobs, pooled, None)
        for first in waiting:
            finished(_second_run(jobs[first.code], first, log_level, first.code in chosen))
    else:
        # spawn, not fork: a forked Dagster/DuckDB process with live threads can deadlock.
        with (
            worker_environment(workers),
            ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool,
        ):
            _overlapped(pool, order, jobs, log_level, pooled, finished, timeline)
            # Every task is done: the workers exit (Dagster's, DuckDB's and GX's exit work,
            # seconds under load) while this process builds the department's view, instead
            # of before it; the interpreter waits for them at its own exit.
            pool.shutdown(wait=False)
            return _department_view(
                settings, warehouse_dir, results, unknown, timeline, build_department
            )
    return _department_view(settings, warehouse_dir, results, unknown, timeline, build_department)


def _department_view(
    settings: Settings,
    warehouse_dir: Path,
    results: list[MunicipalityResult],
    unknown: list[str],
    timeline: list[dict],
    build_department: Callable,
) -> list[MunicipalityResult]:
    """``department.duckdb`` and the department's report from the results (by code)."""
    landing = settings.landing_path
    start = time.time()
    results.sort(key=lambda r: r.code)
    # With --municipality, the others keep their place in the department's view from their
    # last run (their files are not touched).
    kept = [
        previous_result(c, warehouse_dir)
        for c in municipality_folders(landing)
        if c not in {r.code for r in results} and c not in unknown
    ]
    department = build_department(
        warehouse_dir, sorted(results + [k for k in kept if k], key=lambda r: r.code), settings
    )
    if any(r.status in ("success", "incomplete") for r in results):
        from fiscal_intel.department.report import department_report

        language = settings.report_language if settings.report_language in ("es", "en") else "es"
        department_report(department, warehouse_dir / "department.html", language)
    timeline.append(_span("department view and report", "", start))
    _write_timeline(timeline)
    return results


def _report_first(
    result: MunicipalityResult, finished: Callable[[MunicipalityResult], None]
) -> None:
    """Report a municipality whose (first) run failed as soon as it is known: it is final. One
    waiting for its second run is reported when that run is done."""
    if result.status != "waiting":
        finished(result)


def _second_run(
    settings: Settings, first: MunicipalityResult, log_level: str, chosen: bool
) -> MunicipalityResult:
    """A municipality's second run (its lists, with the department's choice when ``chosen``):
    a module-level function, so a worker process can run it."""
    return run_municipality(
        settings, first.code, log_level, phase="after_choice", first=first, chosen=chosen
    )


def _first_run(
    settings: Settings, code: str, log_level: str, phase: str
) -> MunicipalityResult:
    """A municipality's first run on a worker and, when it waits for the pooled step, the
    step's read of it (``pooled_read``) right after, on the same warm worker: the reads of a
    department overlap the other municipalities' runs instead of waiting for the last one."""
    result = run_municipality(settings, code, log_level, phase=phase)
    if result.status == "waiting":
        from fiscal_intel.department.pooled import read_or_failure

        result.pooled_read = read_or_failure(code, settings)
    return result


def _chosen_second_run(
    settings: Settings,
    first: MunicipalityResult,
    log_level: str,
    pooled: tuple | None,
) -> MunicipalityResult:
    """The pooled step's choice for one municipality recorded in its warehouse
    (``pooled``: its read and the pooled models, now and as of the cut-off; None: no pooled
    model, it ranks with its own), then its second run, as one task on a worker: each
    municipality's lists start as soon as the pooled models exist, not after every choice is
    written. A choice that fails is reported on the result (``pooled_failure``); the
    municipality then ranks with its own model."""
    chosen = False
    if pooled is not None:
        from fiscal_intel.department.pooled import choose_and_write

        got = choose_and_write(*pooled)
        chosen = not isinstance(got, str)
        failure = got if isinstance(got, str) else None
    result = _second_run(settings, first, log_level, chosen)
    if pooled is not None:
        result.pooled_failure = failure
    return result


def _overlapped(
    pool: ProcessPoolExecutor,
    order: list[str],
    jobs: dict[str, Settings],
    log_level: str,
    pooled: bool,
    finished: Callable[[MunicipalityResult], None],
    timeline: list[dict],
) -> None:
    """A department's runs on the worker pool, the largest municipality first, with as few
    waits as the pooled step allows: each municipality's first run and its read for the pooled
    step as one task; the four pooled fits, the largest first, each training its members on
    every core of the department (nothing else runs then); each choice written and the second
    run as one task, the largest first. The models are the same as in turn (seeded; each
    member trains on one thread, benchmarks/department_cost.md)."""
    phase = "before_choice" if pooled else "whole"
    submitted = _submit(pool, {c: partial(_first_run, jobs[c], c, log_level, phase) for c in order})
    # Imported here, while the workers run (pooled imports LightGBM and polars: seconds that
    # would hold back the workers' first tasks if imported before, or leave them idle after).
    from fiscal_intel.department.pooled import collect_reads, fit_pooled

    firsts = _collect(
        submitted,
        jobs,
        partial(_report_first, finished=finished),
        timeline,
        "first run" if pooled else "run",
    )
    waiting = [firsts[c] for c in order if firsts[c].status == "waiting"]
    read, failed = collect_reads({r.code: r.pooled_read for r in waiting})
    for r in waiting:
        r.pooled_read = None  # the rows for the fit: not kept on the result
    for code, message in failed.items():
        print(f"fiscal-intel: municipality {code}: {message}", file=sys.stderr)
    models = None
    if len(read) >= 2:
        models = fit_pooled(
            read, _pool_map(pool, timeline, "pooled fit"), threads=worker_threads(1)
        )
    done = _in_pool(
        pool,
        {
            r.code: partial(
                _chosen_second_run, jobs[r.code], r, log_level,
                (read[r.code], *models) if models and r.code in read else None,
            )
            for r in waiting
        },  # fmt: skip
        jobs,
        finished,
        timeline,
        "choice and second run",
    )
    for code in sorted(done):
        message = getattr(done[code], "pooled_failure", None)
        if message:
            print(f"fiscal-intel: municipality {code}: {message}", file=sys.stderr)


def _timed(call: Callable[[], object]) -> tuple[object, int, float, float]:
    """``call()`` on a worker, with the worker's pid and the wall clock around it (the
    department's timeline: where its cores wait)."""
    start = time.time()
    out = call()
    return out, os.getpid(), start, time.time()


def _span(kind: str, code: str, start: float, pid: int | None = None) -> dict:
    return {"kind": kind, "code": code, "pid": pid or os.getpid(), "start": start,
            "end": time.time()}  # fmt: skip


def _write_timeline(timeline: list[dict]) -> None:
    """With ``FISCAL_INTEL_TIMELINE`` set (a file path), what each process did when, as JSON
    (benchmarks/department.py reads it: where the department's cores wait)."""
    path = os.environ.get("FISCAL_INTEL_TIMELINE")
    if path and timeline:
        import json

        Path(path).write_text(json.dumps(timeline, indent=0) + "\n", encoding="utf-8")


def _in_pool(
    pool: ProcessPoolExecutor,
    calls: dict[str, Callable[[], MunicipalityResult]],
    jobs: dict[str, Settings],
    on_done: Callable[[MunicipalityResult], None] | None = None,
    timeline: list[dict] | None = None,
    kind: str = "run",
) -> dict[str, MunicipalityResult]:
    """Each call (by municipality code) on the pool, in the given order, ``on_done`` with each
    result as it comes; a worker that died (killed, out of memory) fails its municipality only.
    ``timeline``: each call's span is added to it."""
    return _collect(_submit(pool, calls), jobs, on_done, timeline, kind)


def _submit(
    pool: ProcessPoolExecutor, calls: dict[str, Callable[[], MunicipalityResult]]
) -> dict[Future, str]:
    """Each call (by municipality code) submitted to the pool, in the given order."""
    return {pool.submit(_timed, call): code for code, call in calls.items()}


def _collect(
    futures: dict[Future, str],
    jobs: dict[str, Settings],
    on_done: Callable[[MunicipalityResult], None] | None = None,
    timeline: list[dict] | None = None,
    kind: str = "run",
) -> dict[str, MunicipalityResult]:
    """The results of :func:`_submit`'s calls as they come (see :func:`_in_pool`)."""
    out = {}
    for future in as_completed(futures):
        code = futures[future]
        try:
            out[code], pid, start, end = future.result()
            if timeline is not None:
                timeline.append(
                    {"kind": kind, "code": code, "pid": pid, "start": start, "end": end}
                )
        except Exception as exc:
            out[code] = MunicipalityResult(
                code, municipality_name(code), "failed", 0.0, jobs[code].warehouse,
                f"worker process failed: {type(exc).__name__}: {exc}",
            )  # fmt: skip
        if on_done:
            on_done(out[code])
    return out


def _pooled(
    waiting: list[MunicipalityResult],
    jobs: dict[str, Settings],
    pooled: bool,
    parallel: Parallel | None,
) -> set[str]:
    """The pooled step over the municipalities whose first run this department run built (#19:
    one model on every municipality's audits, chosen per municipality); the codes whose choice
    it recorded (the others rank with their own model)."""
    if not pooled:
        return set()
    result = pooled_step(
        {r.code: jobs[r.code] for r in waiting},
        on_message=lambda line: print(f"fiscal-intel: {line}", file=sys.stderr),
        parallel=parallel,
    )
    return set(result.choices)


def _pool_map(
    pool: ProcessPoolExecutor, timeline: list[dict] | None = None, kind: str = ""
) -> Parallel:
    """A worker pool as the pooled step's :data:`~fiscal_intel.department.pooled.Parallel`:
    every call submitted at once, the results in the calls' order (their spans added to
    ``timeline``)."""

    def parallel(fn: Callable[..., object], calls: list[tuple]) -> list:
        futures = [pool.submit(_timed, partial(fn, *args)) for args in calls]
        out = []
        for i, future in enumerate(futures):
            got, pid, start, end = future.result()
            if timeline is not None:
                timeline.append(
                    {"kind": kind, "code": str(i), "pid": pid, "start": start, "end": end}
                )
            out.append(got)
        return out

    return parallel


def pooled_step(
    municipalities: dict[str, Settings],
    *,
    on_message: Callable[[str], None] | None = None,
    parallel: Parallel | None = None,
) -> PooledResult:
    """The department's pooled step (:func:`fiscal_intel.department.pooled.pooled_learning`) over
    these municipalities (their first run done): the pooled models and each one's choice
    recorded in its warehouse, for its second run to rank with; reading, fitting and writing
    through ``parallel`` (default: in turn, in this process)."""
    from fiscal_intel.department.pooled import in_turn, pooled_learning

    return pooled_learning(municipalities, on_message=on_message, parallel=parallel or in_turn)


def previous_result(code: str, warehouse_dir: Path) -> MunicipalityResult | None:
    """A municipality not run this time, as its last run left it (None: never built here)."""
    import duckdb

    from fiscal_intel.published import published_path

    warehouse = Path(warehouse_dir) / f"{code}.duckdb"
    source = published_path(warehouse)
    if not source.is_file():
        return None
    try:
        with duckdb.connect(str(source), read_only=True) as con:
            row = con.execute(
                "select status from ops.run_log order by started_at desc limit 1"
            ).fetchall()
    except duckdb.Error:
        return None
    status = row[0][0] if row else "failed"
    return MunicipalityResult(code, municipality_name(code), status, 0.0, str(source))
