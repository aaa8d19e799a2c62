"""Pooled learning on a generated department (issue #19, requirement 3): recovery@k per
municipality and program for its own model, the pooled model and the rule, against the demo's
planted truth.

    .venv/bin/python benchmarks/pooled.py [--municipalities 21] [--city 15000] [--seed 19]

Generates the department (``fiscal_intel.demo.department``: the city in the base world, each
small municipality in its own world) under ``data/bench/``, runs it without the pooled step
(``run_department(pooled=False)``) when its warehouses are not there yet, then runs the pooled
step (timed) and ranks every municipality's open cases three ways:

- **own**: the model stored in its ``scoring.risk_models`` (trained on its audits alone);
- **pooled**: the model the step stored in its ``scoring.pooled_models``;
- **rule**: ``rule_score`` (the tax the evidence shows at the activity's rate);
- **chosen**: ``marts.audit_ranking`` built with the step's choice (what the office gets).

k is the office's capacity: one case per 100 registered taxpayers, at least 5
(``k = max(5, round(taxpayers / 100))``: 150 for a 15,000-taxpayer city, 5-30 for the small
offices). recovery@k = true gap in the top k / the largest gap any k open cases hold (as
``marts.model_performance``). Writes ``benchmarks/pooled_results.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = 50  # "fewer than 50 past audits" (the target group), per program


def capacity(taxpayers: int) -> int:
    return max(5, round(taxpayers / 100))


def recovery_at_k(order_gap, all_gap, k: int) -> float | None:
    import numpy as np

    best = float(np.sort(np.asarray(all_gap, dtype=float))[::-1][:k].sum())
    if best <= 0:
        return None
    return float(np.asarray(order_gap, dtype=float)[:k].sum()) / best


def evaluate(code: str, warehouse: Path, truth: Path, taxpayers: int) -> list[dict]:
    import duckdb
    import polars as pl

    from fiscal_intel.department.pooled import with_profile
    from fiscal_intel.scoring.choice import pooled_model_from_record
    from fiscal_intel.scoring.model import model_from_record
    from fiscal_intel.scoring.programs import PROGRAMS
    from fiscal_intel.scoring.ranking import rank_candidates
    from fiscal_intel.sqlfiles import frame

    gap = pl.read_csv(truth / "tax_gap.csv", infer_schema=False).select(
        "nit", pl.col("tax_year").cast(pl.Int64), "program",
        pl.col("true_gap").cast(pl.Float64),
    )  # fmt: skip
    out = []
    k = capacity(taxpayers)
    for program in PROGRAMS:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            choice = frame(
                con, "select * from marts.model_choice where program = $p", {"p": program}
            ).row(0, named=True)
            own = model_from_record(
                frame(con, "select * from scoring.risk_models where program = $p",
                      {"p": program}).row(0, named=True)
            )  # fmt: skip
            pooled = pooled_model_from_record(
                frame(con, "select * from scoring.pooled_models where program = $p",
                      {"p": program}).row(0, named=True)
            )  # fmt: skip
            from fiscal_intel.scoring.choice import municipality_profile

            as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
            profile = municipality_profile(con, program, as_of)
            candidates = frame(
                con, f"select * from features.{program}_features where is_candidate"
            ).with_columns(pl.col("tax_year").cast(pl.Int64))
            chosen = frame(
                con,
                "select nit, tax_year::bigint as tax_year from marts.audit_ranking "
                "where program = $p order by rank",
                {"p": program},
            )
        truth_p = gap.filter(pl.col("program") == program).drop("program")
        keys = ["nit", "tax_year", "statute_expires_on"]

        def gaps(order: pl.DataFrame, truth_p: pl.DataFrame = truth_p) -> list[float]:
            return (
                order.select("nit", "tax_year")
                .join(truth_p, on=["nit", "tax_year"], how="left")["true_gap"]
                .fill_null(0.0)
                .to_list()
            )

        orders = {
            "own": rank_candidates(own, candidates, keep=keys),
            "pooled": rank_candidates(pooled, with_profile(candidates, profile), keep=keys),
            "rule": candidates.sort(
                ["rule_score", "statute_expires_on", "nit", "tax_year"],
                descending=[True, False, False, False], nulls_last=True,
            ),  # fmt: skip
            "chosen": chosen,
        }
        all_gap = gaps(candidates)
        row = {
            "municipality": code,
            "program": program,
            "taxpayers": taxpayers,
            "k": k,
            "candidates": candidates.height,
            "own_audits": choice["own_audits"],
            "held_out_audits": choice["held_out_audits"],
            "choice": choice["choice"],
        }
        for method, order in orders.items():
            value = recovery_at_k(gaps(order), all_gap, k)
            row[f"{method}_recovery"] = None if value is None else round(value, 4)
        out.append(row)
    return out


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 4) if values else None


def summary(rows: list[dict]) -> dict:
    out = {}
    for label, keep in (
        ("fewer_than_50_audits", lambda r: r["own_audits"] < SMALL),
        ("50_or_more_audits", lambda r: r["own_audits"] >= SMALL),
        ("all", lambda r: True),
    ):
        group = [r for r in rows if keep(r) and r["own_recovery"] is not None]
        medians = {m: _median([r[f"{m}_recovery"] for r in group])
                   for m in ("own", "pooled", "rule", "chosen")}  # fmt: skip
        out[label] = {
            "cases": len(group),
            "median_recovery": medians,
            "pooled_over_own": (
                round(medians["pooled"] / medians["own"], 3)
                if medians["own"] and medians["pooled"] is not None
                else None
            ),
            "pooled_below_rule": sum(
                1 for r in group
                if r["pooled_recovery"] is not None and r["rule_recovery"] is not None
                and r["pooled_recovery"] < r["rule_recovery"]
            ),  # fmt: skip
            "chosen_below_rule": sum(
                1 for r in group
                if r["chosen_recovery"] is not None and r["rule_recovery"] is not None
                and r["chosen_recovery"] < r["rule_recovery"]
            ),  # fmt: skip
            "choices": {c: sum(1 for r in group if r["choice"] == c)
                        for c in ("own", "pooled", "rule")},  # fmt: skip
        }
    return out


def markdown(result: dict) -> str:
    lines = [
        "# Pooled learning: own model vs pooled model vs rule (issue #19)",
        "",
        f"Department: {result['department']}. k = {result['k_rule']}. "
        f"Pooled step: {result['pooled_seconds']} s. Generated by `benchmarks/pooled.py`.",
        "",
        "| group (per municipality and program) | n | own | pooled | rule | chosen | "
        "pooled / own | pooled < rule | chosen < rule |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, s in result["summary"].items():
        m = s["median_recovery"]
        lines.append(
            f"| {label} | {s['cases']} | {m['own']} | {m['pooled']} | {m['rule']} | "
            f"{m['chosen']} | {s['pooled_over_own']} | {s['pooled_below_rule']} | "
            f"{s['chosen_below_rule']} |"
        )
    lines += [
        "",
        "Median recovery@k. `pooled < rule`: municipalities (and programs) where the pooled "
        "model recovered less than the rule.",
        "",
        "| municipality | program | taxpayers | k | own audits | held out | choice | own | "
        "pooled | rule | chosen |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['municipality']} | {r['program']} | {r['taxpayers']} | {r['k']} | "
            f"{r['own_audits']} | {r['held_out_audits']} | {r['choice']} | "
            f"{r['own_recovery']} | {r['pooled_recovery']} | {r['rule_recovery']} | "
            f"{r['chosen_recovery']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--municipalities", type=int, default=21)
    parser.add_argument("--city", type=int, default=15_000)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "pooled_results"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from fiscal_intel.demo.department import department_plan, generate_department
    from fiscal_intel.department.runner import (
        municipality_settings,
        pooled_step,
        run_department,
    )
    from fiscal_intel.settings import load_settings

    plan = department_plan(args.municipalities, city_taxpayers=args.city, seed=args.seed)
    base = ROOT / "data" / "bench" / f"pooled-{args.municipalities}-{args.city}-{args.seed}"
    landing, truth, wh = base / "landing", base / "truth", base / "wh"
    if not landing.is_dir():
        generate_department(landing, truth, plan)
    settings = load_settings(landing=str(landing))
    if not all((wh / f"{code}.duckdb").is_file() for code, _, _ in plan):
        run_department(settings, wh, workers=args.workers, pooled=False)
    jobs = {code: municipality_settings(settings, code, landing / code, wh)
            for code, _, _ in plan}  # fmt: skip
    start = time.perf_counter()
    step = pooled_step(jobs, on_message=print)
    seconds = round(time.perf_counter() - start, 1)
    # The lists with the choice (as a department run's second run of each municipality builds
    # them), here after whole runs: the lists alone, a run of their own.
    from fiscal_intel.runner import AFTER_CHOICE, run_pipeline
    from fiscal_intel.scoring.choice import MODEL_CHOICE_TAG

    for code in step.choices:
        run_pipeline(jobs[code], phase=AFTER_CHOICE, log_level="CRITICAL",
                     tags={MODEL_CHOICE_TAG: "marts.model_choice"})  # fmt: skip
    rows = []
    for code, taxpayers, _ in plan:
        if code in step.choices:
            rows += evaluate(code, wh / f"{code}.duckdb", truth / code, taxpayers)
    result = {
        "department": f"{len(plan)} municipalities (seed {args.seed}): city "
        f"{plan[0][1]:,} taxpayers, others {min(n for _, n, _ in plan[1:]):,}-"
        f"{max(n for _, n, _ in plan[1:]):,}",
        "k_rule": "max(5, round(taxpayers / 100)) open cases per program",
        "pooled_seconds": seconds,
        "failed": step.failed,
        "summary": summary(rows),
        "rows": rows,
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
