"""Campaign effects: does the measurement recover the planted effect, and cover zero when there
is none? Three levels, cheapest first (results in benchmarks/campaigns_results.json):

1. ``simulated``: the estimator (fiscal_intel.actions.effects) on 20 simulated campaigns of 1,500
   cases drawn as the demo plants them (stratified assignment, case-dependent response).
2. ``generated``: 20 demo municipalities (``--taxpayers``, default 1,000) with the planted
   campaign, effect on and off; the effect measured from their landing files exactly as
   marts.campaign_effects defines it (returns and payments after the sending, 180 days).
3. ``warehouses``: marts.campaign_effects and marts.calibration of warehouses already built by
   `fiscal-intel demo` (``--warehouse DIR`` with w.duckdb and truth/ in it), e.g. seed 42 at
   15,000 taxpayers.

    .venv/bin/python benchmarks/campaigns.py [--taxpayers 1000] [--warehouse DIR ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fiscal_intel.actions.effects import itt_effect  # noqa: E402
from fiscal_intel.demo import generate  # noqa: E402

SEEDS = range(20)
OUT = Path(__file__).with_name("campaigns_results.json")


def simulated() -> dict:
    from test_actions import _simulated

    out = {}
    for effect, name in ((1.0, "planted"), (0.0, "null")):
        for outcome in ("filing_rate", "money_paid"):
            hits = sum(
                _simulated(s, effect)[outcome][0].covers(_simulated(s, effect)[outcome][1])
                for s in SEEDS
            )
            out[f"{name}_{outcome}_covered"] = f"{hits}/20"
    return out


def measured_from_landing(landing: Path, truth: Path, window: int = 180) -> dict:
    reg = pl.read_csv(truth / "campaign_register.csv", schema_overrides={"nit": pl.Utf8})
    sent_on = date.fromisoformat(json.loads((truth / "campaign_manifest.json").read_text())
                                 ["sent_on"])  # fmt: skip
    end = sent_on + timedelta(days=window)
    year = int(reg["tax_year"][0])
    types = {"nit": pl.Utf8, "tax_year": pl.Int64, "filed_on": pl.Date, "paid_on": pl.Date,
             "amount": pl.Float64}
    decl = pl.concat([pl.read_csv(p, schema_overrides=types)
                      .select("nit", "tax_year", "filed_on")
                      for p in sorted((landing / "declarations").glob(f"*_{year}.csv"))])
    pay = pl.concat([pl.read_csv(p, schema_overrides=types)
                     .select("nit", "tax_year", "paid_on", "amount")
                     for p in sorted((landing / "payments").glob(f"*_{year}.csv"))])
    filed = decl.filter((pl.col("filed_on") > sent_on) & (pl.col("filed_on") <= end))
    paid = pay.filter((pl.col("paid_on") > sent_on) & (pl.col("paid_on") <= end)).group_by(
        "nit", "tax_year").agg(pl.col("amount").sum())
    cases = reg.join(filed.select("nit", "tax_year").unique().with_columns(f=pl.lit(1)),
                     on=["nit", "tax_year"], how="left").join(
        paid, on=["nit", "tax_year"], how="left")  # fmt: skip
    treated = (cases["arm"] == "treatment").to_numpy()
    return {
        "filing_rate": itt_effect(cases["f"].fill_null(0).to_numpy(), treated),
        "money_paid": itt_effect(cases["amount"].fill_null(0).to_numpy(), treated),
    }


def generated(taxpayers: int) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for effect, name in ((1.0, "planted"), (0.0, "null")):
            hits = {"filing_rate": 0, "money_paid": 0}
            rows = []
            for seed in SEEDS:
                root = Path(tmp) / f"{name}{seed}"
                generate(root / "landing", root / "truth", taxpayers=taxpayers, seed=seed,
                         campaign_effect=effect)  # fmt: skip
                manifest = json.loads((root / "truth" / "campaign_manifest.json").read_text())
                m = measured_from_landing(root / "landing", root / "truth")
                for k in hits:
                    planted = manifest["planted_itt"]["180"][k]
                    hits[k] += m[k].covers(planted)
                rows.append({"seed": seed, "cases": manifest["cases"],
                             "planted_money": manifest["planted_itt"]["180"]["money_paid"],
                             "measured_money": m["money_paid"].diff,
                             "interval": [m["money_paid"].low, m["money_paid"].high]})  # fmt: skip
            out[name] = {f"{k}_covered": f"{v}/20" for k, v in hits.items()}
            out[name]["median_cases"] = float(np.median([r["cases"] for r in rows]))
            out[name]["seeds"] = rows
    return out


def _folds(nits: list[str], years: list[int], k: int) -> np.ndarray:
    """The mart's folds: md5 of 'nit/year', first 8 hex digits, modulo k."""
    import hashlib

    return np.array([int(hashlib.md5(f"{n}/{y}".encode()).hexdigest()[:8], 16) % k
                     for n, y in zip(nits, years, strict=True)])  # fmt: skip


def _global(e: np.ndarray, r: np.ndarray, et: np.ndarray) -> np.ndarray:
    return et * r.sum() / e.sum()


def _decile(e: np.ndarray, r: np.ndarray, et: np.ndarray, shrink: float = 20) -> np.ndarray:
    """Per decile of expected recovery, realised / predicted shrunk toward the global ratio."""
    g = r.sum() / e.sum()
    edges = np.quantile(e, np.linspace(0, 1, 11)[1:-1])
    b, bt = np.searchsorted(edges, e, "right"), np.searchsorted(edges, et, "right")
    out = np.empty_like(et)
    for j in range(10):
        m = b == j
        w = m.sum() / (m.sum() + shrink)
        ratio = r[m].sum() / e[m].sum() if e[m].sum() > 0 else g
        out[bt == j] = et[bt == j] * (w * ratio + (1 - w) * g)
    return out


def _crossfit(e: np.ndarray, r: np.ndarray, fold: np.ndarray, fit) -> np.ndarray:  # noqa: ANN001
    out = np.empty_like(e)
    for k in np.unique(fold):
        out[fold == k] = fit(e[fold != k], r[fold != k], e[fold == k])
    return out


def calibration_study(con: duckdb.DuckDBPyConnection, truth: Path) -> dict:
    """Per program, on the held-out audits (scoring.backtest): predicted / realised before and
    after each correction, out of sample (2- and 5-fold cross-fitting), the sampling spread of
    that ratio (bootstrap of the audits: what this many audits can judge), and how much of the
    realised money the five largest assessments hold. Then the same corrections, fitted on all
    held-out audits, applied to the open cases (marts.audit_ranking) against the demo's truth
    (what an audit would assess: 0.9 × 0.95 × the true gap above COP 200,000)."""
    from fiscal_intel.demo.generator import AUDIT_MIN_GAP, P_AUDIT_DETECTS

    gap = pl.read_csv(truth / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    out = {}
    for program in ("inexacto", "omiso"):
        nits, years, e, r = zip(*con.execute(
            "select nit, tax_year, expected_recovery, coalesce(assessed_amount, 0) "
            "from scoring.backtest where program = ? order by nit, tax_year", [program]
        ).fetchall(), strict=True)  # fmt: skip
        e, r = np.array(e, float), np.array(r, float)
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(e), (4000, len(e)))
        boot = e[idx].sum(1) / r[idx].sum(1)
        row = {"audits": len(e), "top5_share_of_realized": float(np.sort(r)[-5:].sum() / r.sum()),
               "before": float(e.sum() / r.sum()),
               "before_bootstrap_90": [float(q) for q in np.quantile(boot, [0.05, 0.95])]}
        for k in (2, 5):
            fold = _folds(list(nits), list(years), k)
            for name, fit in (("global", _global), ("decile", _decile)):
                row[f"after_{name}_{k}fold"] = float(_crossfit(e, r, fold, fit).sum() / r.sum())
        ranking = pl.from_arrow(con.sql(
            f"select nit, tax_year, expected_recovery from marts.audit_ranking "
            f"where program = '{program}'").to_arrow_table())  # fmt: skip
        ranking = ranking.join(gap.filter(pl.col("program") == program)
                               .select("nit", "tax_year", "true_gap"),
                               on=["nit", "tax_year"], how="left")  # fmt: skip
        tg = ranking["true_gap"].fill_null(0).to_numpy().astype(float)
        true_money = np.where(tg > AUDIT_MIN_GAP, tg * P_AUDIT_DETECTS * 0.95, 0.0).sum()
        oe = ranking["expected_recovery"].fill_null(0).to_numpy().astype(float)
        row["open_cases"] = ranking.height
        row["open_raw_over_truth"] = float(oe.sum() / true_money)
        row["open_global_over_truth"] = float(_global(e, r, oe).sum() / true_money)
        row["open_decile_over_truth"] = float(_decile(e, r, oe).sum() / true_money)
        out[program] = row
    return out


def warehouses(dirs: list[str]) -> dict:
    out = {}
    for d in dirs:
        root = Path(d)
        manifest = json.loads((root / "truth" / "campaign_manifest.json").read_text())
        with duckdb.connect(str(root / "w.duckdb")) as con:
            # the campaign marts as the current SQL builds them (a warehouse may predate it)
            from fiscal_intel.settings import Settings
            from fiscal_intel.sqlfiles import run_sql

            s = Settings()
            for name in ("campaign_outcomes", "campaign_effects", "calibration"):
                run_sql(con, f"marts/{name}", letter_cost=s.letter_cost,
                        request_cost=s.hours_per_request * s.inspector_hour_cost)  # fmt: skip
            eff = con.execute(
                "select window_days, filing_rate_diff, filing_rate_diff_low, "
                "filing_rate_diff_high, money_paid_diff, money_paid_diff_low, "
                "money_paid_diff_high, cost_per_peso from marts.campaign_effects "
                "where campaign_id = ?", [manifest["campaign_id"]],
            ).fetchall()
            cal = con.execute(
                "select program, sample, audits, predicted, realized, predicted_corrected, "
                "correction_factor, correction_applied, factor_low, factor_high "
                "from marts.calibration where decile is null order by program, sample"
            ).fetchall()
            study = calibration_study(con, root / "truth")
            actions = con.execute(
                "select program, action, count(*), sum(expected_net) from marts.audit_ranking "
                "group by all order by all"
            ).fetchall()
        out[d] = {
            "planted_itt": manifest["planted_itt"],
            "effects": [dict(zip(["window", "filing_diff", "filing_low", "filing_high",
                                  "money_diff", "money_low", "money_high", "cost_per_peso"], r,
                                 strict=True)) for r in eff],  # fmt: skip
            "calibration": [
                {"program": p, "sample": s, "audits": n, "predicted": pr, "realized": re,
                 "predicted_over_realized": pr / re if re else None,
                 "corrected_over_realized": pc / re if re else None, "factor": f,
                 "applied": a, "factor_90": [lo, hi]}
                for p, s, n, pr, re, pc, f, a, lo, hi in cal
            ],  # fmt: skip
            "calibration_study": study,
            "actions": [{"program": p, "action": a, "cases": n, "expected_net": e}
                        for p, a, n, e in actions],  # fmt: skip
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--taxpayers", type=int, default=1_000)
    parser.add_argument("--warehouse", action="append", default=[])
    parser.add_argument("--skip-generated", action="store_true")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    results["simulated"] = simulated()
    if not args.skip_generated:
        results["generated"] = {"taxpayers": args.taxpayers, **generated(args.taxpayers)}
    if args.warehouse:
        results.setdefault("warehouses", {}).update(warehouses(args.warehouse))
    OUT.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "warehouses"}, indent=1,
                     default=str)[:3000])  # fmt: skip


if __name__ == "__main__":
    main()
