"""The ``fiscal-intel`` command: thin over the Dagster assets.

Exit codes: 0 success; 1 a stage failed (the line printed says which asset or file and why);
2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fiscal_intel.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    import polars as pl


def _say(line: str) -> None:
    print(f"fiscal-intel: {line}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        getattr(args, "config", None),
        landing=getattr(args, "landing", None),
        warehouse=getattr(args, "warehouse", None),
        as_of=getattr(args, "as_of", None),
        continue_past_unreadable=getattr(args, "continue_past_unreadable", None),
        # run/demo: the language of the summary's list lines (report has its own --lang)
        report_language=getattr(args, "summary_lang", None),
    )


def _run(
    settings: Settings,
    *,
    quiet: bool = False,
    verbose: bool = False,
    profile: str | None = None,
    generate_seconds: float = 0.0,
) -> int:
    import time

    from fiscal_intel.locking import WarehouseBusy
    from fiscal_intel.preflight import landing_problem, warehouse_problem
    from fiscal_intel.profiling import process_seconds
    from fiscal_intel.run_events import StageResult
    from fiscal_intel.run_summary import print_summary
    from fiscal_intel.runner import PipelineError, run_pipeline

    if not settings.landing_path.is_dir():
        print(f"fiscal-intel: landing folder {settings.landing} does not exist", file=sys.stderr)
        return 1
    problem = landing_problem(settings.landing_path) or warehouse_problem(settings.warehouse_path)
    if problem:
        print(f"fiscal-intel: {problem}", file=sys.stderr)
        return 1

    done: list[StageResult] = []  # the stages run before a failure that has none to tell

    def progress(stage: StageResult) -> None:
        done.append(stage)
        if not quiet:
            print(f"  {stage.stage:<9} {stage.seconds:6.1f} s  {stage.assets} assets", flush=True)

    print(f"fiscal-intel: {settings.landing} -> {settings.warehouse}", flush=True)
    startup, start = process_seconds(), time.perf_counter()
    status, stages, pipeline_seconds = "failed", done, None
    try:
        # Dagster's own log lines would bury the one-line reason; --verbose shows them.
        stages = run_pipeline(
            settings,
            on_stage=progress,
            on_wait=lambda message: print(f"fiscal-intel: {message}", flush=True),
            log_level="DEBUG" if verbose else "CRITICAL",
        )
        pipeline_seconds = time.perf_counter() - start
        status = "success"
        if not quiet:
            print_summary(settings)
        from fiscal_intel.assets.raw import unreadable_files

        unreadable = unreadable_files(stages)  # only with continue_past_unreadable
        # ... and so are the files the quarantine-share gate let through.
        unreadable += [
            line
            for stage in stages
            for line in getattr(stage, "checks_failed", [])
            if ":quarantine_share failed" in line
        ]
        if unreadable:
            status = "incomplete"
            more = f" (and {len(unreadable) - 1} more file(s))" if len(unreadable) > 1 else ""
            print(f"fiscal-intel: stage raw: {unreadable[0]}{more}", file=sys.stderr)
            return 1
        return 0
    except (PipelineError, WarehouseBusy) as exc:
        stages = getattr(exc, "stages", done)
        print(f"fiscal-intel: {exc}", file=sys.stderr)
        return 1
    finally:
        if profile:
            if pipeline_seconds is None:
                pipeline_seconds = time.perf_counter() - start
            _write_profile(
                profile, settings, stages, status, pipeline_seconds, startup, generate_seconds
            )


def _write_profile(
    path: str,
    settings: Settings,
    stages: list,
    status: str,
    pipeline_seconds: float,
    startup: float | None,
    generate_seconds: float,
) -> None:
    import json

    from fiscal_intel.profiling import process_seconds, run_profile

    data = {
        "landing": str(settings.landing),
        "warehouse": str(settings.warehouse),
        **run_profile(
            stages,
            pipeline_seconds=pipeline_seconds,
            startup_seconds=startup,
            generate_seconds=generate_seconds,
            total_seconds=process_seconds(),
            status=status,
        ),
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def cmd_run(args: argparse.Namespace) -> int:
    from fiscal_intel.department.landing import is_department_landing

    settings = _settings(args)
    if getattr(args, "warehouse_dir", None) or is_department_landing(settings.landing_path):
        return _run_department(args, settings)
    return _run(settings, verbose=args.verbose, profile=args.profile)


def _run_department(args: argparse.Namespace, settings: Settings) -> int:
    """``run --warehouse-dir``: every municipality of a department landing; exit 1 naming each
    municipality that failed, 2 for bad arguments."""
    import time

    from fiscal_intel.department.landing import is_department_landing
    from fiscal_intel.department.runner import DepartmentError, run_department

    # The flag, else the setting (FISCAL_INTEL_WAREHOUSE_DIR), which the department code location
    # reads too (fiscal_intel.department.definitions).
    args.warehouse_dir = args.warehouse_dir or settings.warehouse_dir or None
    if not args.warehouse_dir:
        print(
            f"fiscal-intel: {settings.landing} is a department landing (one subfolder per DANE "
            "code): give --warehouse-dir DIR for one warehouse per municipality",
            file=sys.stderr,
        )
        return 2
    if not is_department_landing(settings.landing_path):
        print(
            f"fiscal-intel: --warehouse-dir needs a department landing: {settings.landing} has no "
            "subfolder named by a 5-digit DANE code (a single municipality takes --warehouse)",
            file=sys.stderr,
        )
        return 2
    if args.workers < 1:
        print("fiscal-intel: --workers must be at least 1", file=sys.stderr)
        return 2

    def progress(result) -> None:
        reason = f"  {result.message}" if result.message else ""
        print(f"  {result.code} {result.status:<10} {result.seconds:6.1f} s{reason}", flush=True)

    print(
        f"fiscal-intel: {settings.landing} -> {args.warehouse_dir} ({args.workers} worker(s))",
        flush=True,
    )
    start = time.perf_counter()
    try:
        results = run_department(
            settings,
            Path(args.warehouse_dir),
            workers=args.workers,
            only=args.municipality,
            on_result=progress,
            log_level="DEBUG" if args.verbose else "CRITICAL",
        )
    except DepartmentError as exc:
        print(f"fiscal-intel: {exc}", file=sys.stderr)
        return 2
    ok = [r for r in results if r.status == "success"]
    print(
        f"fiscal-intel: {len(ok)} of {len(results)} municipalities built in "
        f"{time.perf_counter() - start:.1f} s; department view in "
        f"{Path(args.warehouse_dir) / 'department.duckdb'}"
    )
    bad = [r for r in results if r.status != "success"]
    for r in bad:
        print(f"fiscal-intel: municipality {r.code} {r.status}: {r.message}", file=sys.stderr)
    return 1 if bad else 0


def cmd_demo(args: argparse.Namespace) -> int:
    import time

    from fiscal_intel.demo import generate

    settings = _settings(args)
    # A demo writes a new municipality over the last one: its lists are not comparable with the
    # previous run's, so only an empty list fails marts/audit_ranking:lists_not_collapsed.
    settings = settings.replace(min_list_share=min(settings.min_list_share, 1e-9))
    landing = settings.landing_path
    truth = landing.parent / "truth"
    dropped = _dropped_demo_option(args)
    if dropped:
        print(f"fiscal-intel: {dropped}", file=sys.stderr)
        return 2
    if getattr(args, "municipalities", None):
        return _department_demo(args, settings, truth)
    if args.messy:
        return _messy_demo(args, settings, truth)
    print(f"fiscal-intel demo: {args.taxpayers} taxpayers, seed {args.seed} -> {landing}")
    start = time.perf_counter()
    summary = generate(
        landing, truth, taxpayers=args.taxpayers, seed=args.seed, world=args.world
    )
    generate_seconds = time.perf_counter() - start
    rows = ", ".join(f"{k} {v:,}" for k, v in summary.rows.items())
    print(f"  wrote {rows}; ground truth in {truth}")
    _import_demo_campaign(settings, truth)
    return _run(
        settings, verbose=args.verbose, profile=args.profile, generate_seconds=generate_seconds
    )


def _dropped_demo_option(args: argparse.Namespace) -> str | None:
    """What a demo would not honour of the options given, said before anything is written (a
    user who asked for a messy or llanura department must not get a clean rionegro one
    without knowing); None when every option given applies."""
    world = getattr(args, "world", "rionegro")
    if getattr(args, "municipalities", None):
        if args.messy:
            return (
                "--messy writes one municipality; a department (--municipalities) is "
                "generated clean: drop one of the two"
            )
        if world != "rionegro":
            return (
                "--world sets one municipality's assumptions; a department (--municipalities) "
                "gives the city the rionegro world and each small municipality one of its own: "
                "drop --world"
            )
    elif args.messy and world != "rionegro":
        return "--messy writes the rionegro world only: drop --world or --messy"
    return None


def _department_demo(args: argparse.Namespace, settings: Settings, truth: Path) -> int:
    """``demo --municipalities N``: a generated department (the city of --taxpayers and N - 1
    municipalities of 300-3,000), then ``run --warehouse-dir``."""
    from fiscal_intel.demo.department import department_plan, generate_department

    try:
        plan = department_plan(args.municipalities, city_taxpayers=args.taxpayers, seed=args.seed)
    except ValueError as exc:
        print(f"fiscal-intel: {exc}", file=sys.stderr)
        return 2
    sizes = ", ".join(f"{code} {n:,}" for code, n, _ in plan)
    print(f"fiscal-intel demo: department of {len(plan)} ({sizes}) -> {settings.landing}")
    generate_department(settings.landing_path, truth, plan)
    args.warehouse_dir = args.warehouse_dir or str(settings.landing_path.parent / "warehouses")
    args.municipality = None
    return _run_department(args, settings)


def _import_demo_campaign(settings: Settings, truth: Path) -> None:
    """The demo's past campaign register into ``ops``, as an office imports a trial it ran."""
    register = truth / "campaign_register.csv"
    if register.is_file():
        import duckdb

        from fiscal_intel.actions.campaign import import_register

        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(settings.warehouse_path)) as con:
            import_register(con, register)


def _messy_demo(args: argparse.Namespace, settings: Settings, truth: Path) -> int:
    import time

    from fiscal_intel.demo.messy import generate_messy

    landing = settings.landing_path
    print(f"fiscal-intel demo --messy: {args.taxpayers} taxpayers, seed {args.seed} -> {landing}")
    start = time.perf_counter()
    summary = generate_messy(
        landing, truth, taxpayers=args.taxpayers, seed=args.seed, bad_share=args.bad_share
    )
    generate_seconds = time.perf_counter() - start
    print(f"  {summary.describe()}; planted rows in {truth / 'messy_manifest.json'}")
    # The messy export holds one unreadable file on purpose: the run goes past it, builds every
    # table from what it could read, and still exits non-zero naming the file.
    return _run(
        settings.replace(continue_past_unreadable=True),
        verbose=args.verbose,
        profile=args.profile,
        generate_seconds=generate_seconds,
    )


def cmd_audit_list(args: argparse.Namespace) -> int:
    from fiscal_intel.inspector_files import export_audit_list

    settings = _settings(args)
    n = export_audit_list(
        settings.warehouse_path,
        args.program,
        args.top,
        Path(args.out),
        inspectors=args.inspectors,
        cases_per_inspector=args.cases_per_inspector,
        lang=args.lang,
        csv_dialect=args.csv_dialect,
        municipality=settings.municipality,
    )
    split = f" for {args.inspectors} inspectors" if args.inspectors else ""
    print(f"fiscal-intel: wrote {n} {args.program} cases{split} to {args.out}")
    return 0


def cmd_case(args: argparse.Namespace) -> int:
    from fiscal_intel.casefile import write_case_file

    settings = _settings(args)
    case = write_case_file(
        settings.warehouse_path,
        args.nit,
        args.year,
        Path(args.out),
        program=args.program,
        lang=args.lang,
        municipality=settings.municipality,
    )
    rank = f", rank {case.ranking['rank']}" if case.ranking else ", not in the list"
    print(f"fiscal-intel: wrote the {case.program} case file of {case.nit} {case.tax_year}{rank} "
          f"to {args.out}")
    return 0


def cmd_campaign(args: argparse.Namespace) -> int:
    import duckdb

    from fiscal_intel.actions.campaign import draw_campaign, write_merge_file
    from fiscal_intel.locking import warehouse_lock

    settings = _settings(args)
    if not settings.warehouse_path.is_file():
        raise FileNotFoundError(
            f"warehouse {settings.warehouse} does not exist: run fiscal-intel first"
        )
    size = args.size if args.size is not None else settings.letters_per_campaign
    with (
        warehouse_lock(settings.warehouse, timeout=settings.lock_timeout),
        duckdb.connect(str(settings.warehouse)) as con,
    ):
        campaign = draw_campaign(
            con, program=args.program, action=args.action, size=size,
            control_share=args.control_share, seed=args.seed, target=args.target,
        )
        n = write_merge_file(con, campaign.campaign_id, Path(args.out))
    how = (f"drew (cases picked by {campaign.picked_by})" if campaign.new
           else "found (same arguments, same draw)")  # fmt: skip
    print(f"fiscal-intel: {how} campaign {campaign.campaign_id}: {campaign.treatment} treatment, "
          f"{campaign.control} control; wrote {n} treatment cases to {args.out}")
    return 0


def evaluate(settings: Settings) -> pl.DataFrame:
    """Load ``settings.truth`` and rebuild marts.model_performance on a built warehouse; returns
    the mart. Runs the two assets through Dagster, like every other table; a failure raises
    ``PipelineError`` naming the asset and why."""
    import dagster as dg
    import duckdb

    from fiscal_intel.runner import materialize_assets
    from fiscal_intel.sqlfiles import frame

    keys = [dg.AssetKey(["evaluation", "truth"]), dg.AssetKey(["marts", "model_performance"])]
    materialize_assets(settings, keys)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return frame(con, "select * from marts.model_performance order by all")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from fiscal_intel.runner import PipelineError
    from fiscal_intel.scoring.evaluation import summary_lines

    settings = _settings(args).replace(truth=args.truth)
    if not settings.warehouse_path.is_file():
        print(f"fiscal-intel: warehouse {settings.warehouse} does not exist", file=sys.stderr)
        return 1
    from fiscal_intel.locking import warehouse_lock
    from fiscal_intel.published import publish

    # A writer like a run: it waits for one, and publishes its mart for readers when done.
    with warehouse_lock(settings.warehouse, timeout=settings.lock_timeout, on_wait=_say):
        try:
            performance = evaluate(settings)
        except PipelineError as exc:
            _say(str(exc))
            return 1
        publish(settings.warehouse)
    for line in summary_lines(performance):
        print(line)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from fiscal_intel.backup import backup_warehouse

    settings = _settings(args)
    tables = backup_warehouse(settings.warehouse, args.out, timeout=settings.lock_timeout)
    print(f"fiscal-intel: backed up {settings.warehouse} to {args.out} ({tables} tables)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from fiscal_intel.leadership.report import report_file

    settings = _settings(args)
    size = report_file(
        settings.warehouse_path,
        Path(args.out),
        language=args.lang or settings.report_language,
        municipality=settings.municipality,
        min_cell_taxpayers=settings.min_cell_taxpayers,
        rounding_cop=settings.secrecy_rounding_cop,
    )
    print(f"fiscal-intel: wrote the leadership report to {args.out} ({size:,} bytes)")
    return 0


def cmd_export_leadership(args: argparse.Namespace) -> int:
    from fiscal_intel.leadership.export import export_leadership_file

    settings = _settings(args)
    rows = export_leadership_file(
        settings.warehouse_path, Path(args.out), rounding_cop=settings.secrecy_rounding_cop
    )
    print(
        f"fiscal-intel: wrote {len(rows)} leadership marts to {args.out} (aggregates only: "
        f"cells of {settings.min_cell_taxpayers}+ taxpayers, p % rule at "
        f"{settings.dominance_p_percent:g} %, amounts rounded to "
        f"COP {settings.secrecy_rounding_cop:,})"
    )
    return 0


def cmd_forecast_backtest(args: argparse.Namespace) -> int:
    import json
    from datetime import date

    from fiscal_intel.leadership.backtest import read_inflation, read_series, run_backtests

    def month(text: str | None, flag: str) -> date | None:
        if text is None:
            return None
        try:
            year, mon = (int(x) for x in text.split("-")[:2])
            return date(year, mon, 1)
        except ValueError:
            raise ValueError(f"{flag} {text!r} is not a month YYYY-MM") from None

    series = read_series(Path(args.series), args.month_column, args.amount_column)
    inflation = read_inflation(Path(args.cpi) if args.cpi else None)
    result = run_backtests(
        series, inflation, first_year=args.first_year, last_year=args.last_year,
        first_origin=month(args.first_origin, "--first-origin"),
        last_origin=month(args.last_origin, "--last-origin"),
    )  # fmt: skip
    if args.json:
        keep = {"yearly": ("mape", "coverage95", "n"), "monthly": ("mape", "mase", "coverage80",
                                                                   "n")}  # fmt: skip
        print(json.dumps({
            kind: {m: {k: v[k] for k in keep[kind]} for m, v in methods.items()}
            for kind, methods in result.items()
        }))  # fmt: skip
        return 0

    def pct(v: float | None) -> str:
        return "     -" if v is None else f"{100 * v:5.1f}%"

    print(f"fiscal-intel forecast-backtest: {args.series}")
    print("yearly, 12 months ahead (from each December):")
    print("  method           MAPE   cov95    n")
    for method, v in result["yearly"].items():
        print(f"  {method:<15} {pct(v['mape'])} {pct(v['coverage95'])} {v['n']:4d}")
    print("monthly, per horizon (months after the origin):")
    print("  method           h   MAPE   MASE  relMAE  cov80  cov95    n")
    for method, v in result["monthly"].items():
        for h, m in [*v["by_horizon"].items(), ("all", v)]:
            mase = "    -" if m["mase"] is None else f"{m['mase']:5.2f}"
            rel = "     -" if m["rel_mae"] is None else f"{m['rel_mae']:6.2f}"
            print(f"  {method:<15} {h!s:>3} {pct(m['mape'])} {mase} {rel} {pct(m['coverage80'])}"
                  f" {pct(m['coverage95'])} {m['n']:4d}")  # fmt: skip
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from fiscal_intel.status import print_status

    return print_status(_settings(args), runs=args.runs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fiscal-intel", description="Municipal fiscal intelligence on ICA tax data."
    )
    parser.add_argument("--config", help="TOML settings file (default: fiscal_intel.toml)")
    parser.add_argument("--verbose", action="store_true", help="show Dagster's log lines")
    sub = parser.add_subparsers(dest="command", required=True)

    def paths(p: argparse.ArgumentParser) -> None:
        p.add_argument("--landing", help="landing folder (default data/landing)")
        p.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")

    run = sub.add_parser("run", help="materialise every asset on a landing folder")
    paths(run)
    run.add_argument("--as-of", help="YYYY-MM-DD (default: latest dated event in the data)")
    run.add_argument(
        "--continue-past-unreadable",
        action="store_true",
        default=None,
        help="build every table from the readable files, then exit 1 naming the unreadable ones",
    )
    run.add_argument(
        "--profile",
        metavar="FILE.json",
        help="write where the time and memory went: per stage, step and phase, and in total",
    )
    run.add_argument(
        "--lang", dest="summary_lang", choices=("es", "en"),
        help="language of the summary's list lines (default es)",
    )
    # A department landing (one subfolder per DANE code): one warehouse per municipality.
    run.add_argument(
        "--warehouse-dir",
        help="department: folder of <code>.duckdb per municipality plus department.duckdb",
    )
    run.add_argument(
        "--workers", type=int, default=1, help="department: municipalities run in parallel"
    )
    run.add_argument(
        "--municipality", nargs="+", action="extend", metavar="CODE",
        help="department: run only these DANE codes (default: every subfolder)",
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="write a synthetic municipality, then run on it")
    paths(demo)
    demo.add_argument("--taxpayers", type=int, default=15_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument(
        "--messy",
        action="store_true",
        help="write the municipality as real offices export it (encodings, Spanish headers and "
        "numbers, ~1%% bad rows, one unreadable file), with a manifest of what was planted",
    )
    demo.add_argument(
        "--bad-share",
        type=float,
        default=0.01,
        help="with --messy: share of rows corrupted (default 0.01; junk rows are always added)",
    )
    demo.add_argument(
        "--world",
        default="rionegro",
        choices=("rionegro", "llanura"),
        help="the municipality's assumptions (fiscal_intel/demo/worlds.py): rionegro, the "
        "original demo (default), or llanura: heavy size tails, cash sectors, contractors "
        "registered elsewhere, fragmented businesses, a new evasion form, audits of the largest",
    )
    demo.add_argument(
        "--municipalities", type=int, metavar="N",
        help="a department: the city of --taxpayers and N - 1 small municipalities, each in its "
        "DANE-code subfolder, run into --warehouse-dir (default: warehouses/ beside the landing)",
    )
    demo.add_argument("--warehouse-dir", help=argparse.SUPPRESS)
    demo.add_argument("--workers", type=int, default=1, help="with --municipalities: in parallel")
    demo.add_argument("--as-of", help=argparse.SUPPRESS)
    demo.add_argument(
        "--profile",
        metavar="FILE.json",
        help="write where the time and memory went (generating the data included)",
    )
    demo.add_argument(
        "--lang", dest="summary_lang", choices=("es", "en"),
        help="language of the summary's list lines (default es)",
    )
    demo.set_defaults(func=cmd_demo)

    audit = sub.add_parser("audit-list", help="export a ranked audit list for inspectors")
    audit.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    audit.add_argument("--program", choices=("omiso", "inexacto"), required=True)
    audit.add_argument("--top", type=int, default=100)
    audit.add_argument("--out", required=True, help="FILE.csv or FILE.xlsx")
    audit.add_argument(
        "--inspectors", type=int, help="split the top cases across this many inspectors"
    )
    audit.add_argument(
        "--cases-per-inspector", type=int, help="with --inspectors: cases each (replaces --top)"
    )
    audit.add_argument("--lang", choices=("es", "en"), default="es", help="language (default es)")
    audit.add_argument(
        "--csv-dialect",
        choices=("semicolon", "comma"),
        default="semicolon",
        help="CSV: semicolon (default; ';', UTF-8 with BOM, decimal comma: Spanish-locale Excel) "
        "or comma (',', UTF-8, decimal point)",
    )
    audit.set_defaults(func=cmd_audit_list)
    case = sub.add_parser("case", help="write one case's evidence file (XLSX or HTML)")
    case.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    case.add_argument("--nit", required=True, help="the taxpayer's NIT (with or without DV)")
    case.add_argument("--year", type=int, required=True, help="tax year of the case")
    case.add_argument("--program", choices=("omiso", "inexacto"), help="default: as ranked")
    case.add_argument("--out", required=True, help="FILE.xlsx or FILE.html")
    case.add_argument("--lang", choices=("es", "en"), default="es", help="language (default es)")
    case.set_defaults(func=cmd_case)
    campaign = sub.add_parser(
        "campaign", help="draw a campaign with a random control group and its mail-merge file"
    )
    campaign.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    campaign.add_argument("--program", choices=("omiso", "inexacto"), required=True)
    campaign.add_argument(
        "--action", choices=("carta", "emplazamiento", "requerimiento"), required=True
    )
    campaign.add_argument("--size", type=int, help="cases (default: letters_per_campaign)")
    campaign.add_argument("--control-share", type=float, default=0.2, help="default 0.2")
    campaign.add_argument("--seed", type=int, default=1, help="default 1")
    campaign.add_argument(
        "--target", choices=("expected", "uplift"), default="expected",
        help="pick by expected recovery (default) or by uplift x amount learnt from past "
        "measured campaigns",
    )
    campaign.add_argument("--out", required=True, help="FILE.xlsx (treatment group only)")
    campaign.set_defaults(func=cmd_campaign)
    evaluate = sub.add_parser(
        "evaluate", help="score the lists against a ground-truth file (marts.model_performance)"
    )
    evaluate.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    evaluate.add_argument(
        "--truth", required=True, help="CSV with nit, tax_year, program, true_gap"
    )
    evaluate.set_defaults(func=cmd_evaluate)
    status = sub.add_parser("status", help="the last runs and any failing checks")
    status.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    status.add_argument("--runs", type=int, default=10, help="how many runs to show")
    status.set_defaults(func=cmd_status)
    backup = sub.add_parser("backup", help="copy the warehouse consistently (between runs)")
    backup.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    backup.add_argument("--out", required=True, help="the backup file to write")
    backup.set_defaults(func=cmd_backup)
    report = sub.add_parser("report", help="write the leadership report (one offline HTML file)")
    report.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument("--lang", choices=("es", "en"), help="language (default es)")
    report.set_defaults(func=cmd_report)
    leadership = sub.add_parser(
        "export-leadership", help="copy only the leadership marts (aggregates) to a new DuckDB"
    )
    leadership.add_argument("--warehouse", help="DuckDB file (default data/warehouse.duckdb)")
    leadership.add_argument("--out", required=True, help="the DuckDB file to write")
    leadership.set_defaults(func=cmd_export_leadership)
    backtest = sub.add_parser(
        "forecast-backtest", help="yearly and monthly forecast backtests of a monthly series CSV"
    )
    backtest.add_argument("--series", required=True, help="CSV: one row per month and amount")
    backtest.add_argument("--month-column", help="the month column (default: month/mes/fecha)")
    backtest.add_argument("--amount-column", help="the amount column (default: the other one)")
    backtest.add_argument("--cpi", help="CPI file completing the shipped one (year,"
                          "inflation_dec_pct or DANE's monthly index when,deflator)")  # fmt: skip
    backtest.add_argument("--first-year", type=int, help="first target year (yearly backtest)")
    backtest.add_argument("--last-year", type=int, help="last target year (yearly backtest)")
    backtest.add_argument("--first-origin", help="first origin month YYYY-MM (monthly)")
    backtest.add_argument("--last-origin", help="last origin month YYYY-MM (monthly)")
    backtest.add_argument("--json", action="store_true", help="print JSON only")
    backtest.set_defaults(func=cmd_forecast_backtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    import duckdb

    from fiscal_intel.locking import WarehouseBusy

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    args = build_parser().parse_args(argv)
    # What a user can cause (a missing file, a bad value, a busy or unreadable warehouse) ends
    # every command the same way: one line on stderr and exit 1, not a traceback.
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"fiscal-intel: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except (OSError, ValueError, RuntimeError, duckdb.Error, WarehouseBusy) as exc:
        print(f"fiscal-intel: {_one_line(str(exc))}", file=sys.stderr)
        return 1


def _one_line(message: str) -> str:
    """The whole message on one line (line breaks become ' / ')."""
    return " / ".join(line.strip() for line in message.strip().splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
