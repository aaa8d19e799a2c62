"""Why never-audited inexacto cases owe more often than the audits taught (issue #20, round 4).

Reads the municipalities a ``targeting.py --worlds ... --cache DIR`` run kept (warehouse and
planted truth; nothing is run again) and prints, per world, pooled over the seeds:

1. the share of returns that owe (true gap above the audits' minimum) by tax year and size
   band, and the hit rate of the closed audits by tax year and selection (a trend over tax
   years; whether the open years differ from the audited ones);
2. open cases against closed audits, firms never audited against firms audited before, by
   size band: the truth, what the audits found, what the stored model says (deterrence, staff
   selection);
3. the cell the model misses most: never-audited medium and large firms whose return's checks
   and linked NITs are silent, split by whether the registry shows a shortfall;
4. where the money the top 100 leaves out sits (share of the best 100's money, mean over the
   seeds): firms audited before; never-audited firms whose witnesses show at least a tenth of
   their gap; never-audited firms nothing but size points at;
5. upper bounds for any base-rate fix: the stored models re-ranked with the never-audited
   cases' probabilities calibrated on the truth itself (per municipality: by probability
   bins, or per size band × registry-evidence cell), which no office could do; and the odds
   of never-audited cases times 2.

    .venv/bin/python benchmarks/targeting_inexacto_base_rate.py --cache /tmp/w \
        --seeds 9401 9402 9403 --worlds rionegro llanura

Prints only (docs/targeting.md, "Round 4", quotes it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from targeting_variants import against_truth  # noqa: E402

from fiscal_intel.scoring import ranking  # noqa: E402
from fiscal_intel.sqlfiles import frame  # noqa: E402

AUDIT_MIN_GAP = 200_000  # the demo's smallest gap an audit adjusts (demo/generator.py)
DETECTS = 0.9  # the demo's detection rate: an audit finds 90 % of what is owed
MEDIUM_LARGE = ("medium", "large")
Adjust = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def load(workdir: Path, seed: int) -> pl.DataFrame:
    """Every return with its audit label, the stored model's probability (open cases) and the
    truth: does it owe?"""
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        rows = frame(con, """
            select f.nit, f.tax_year::int as tax_year, f.size_band, f.is_candidate,
                f.label_adjusted::double as hit, f.audit_selection,
                f.past_adjusted_audits + f.past_clean_audits = 0 as never_audited,
                coalesce(f.suspected_gap_tax, 0) <= 0
                and coalesce(f.group_shortfall_tax, 0) <= 0 as checks_silent,
                coalesce(f.registry_evidence_tax, 0) > 0 as registry_shortfall,
                s.risk_score
            from features.inexacto_features as f
            left join scoring.inexacto_scores as s on f.nit = s.nit and f.tax_year = s.tax_year
        """)  # fmt: skip
    truth = pl.read_csv(workdir / "truth" / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    truth = truth.filter(pl.col("program") == "inexacto").select(
        "nit", pl.col("tax_year").cast(pl.Int32),
        owes=(pl.col("true_gap") > AUDIT_MIN_GAP).cast(pl.Float64),
    )  # fmt: skip
    return rows.join(truth, on=["nit", "tax_year"], how="left").with_columns(
        pl.col("owes").fill_null(0.0), seed=pl.lit(seed)
    )


def group(rows: pl.DataFrame) -> pl.Expr:
    """open (a candidate no audit covers), random or risk (a closed audit of that selection)."""
    return (
        pl.when(pl.col("hit").is_not_null())
        .then(pl.col("audit_selection"))
        .when(pl.col("is_candidate"))
        .then(pl.lit("open"))
    )


def summary(frame_: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return (
        frame_.group_by(by)
        .agg(
            n=pl.len(),
            owes=pl.col("owes").mean().round(3),
            audits_found=pl.col("hit").mean().round(3),
            model_p=pl.col("risk_score").mean().round(3),
        )
        .sort(by)
    )


def rerank(workdir: Path, adjust: Adjust) -> tuple[float, float]:
    """The stored inexacto model's open cases ranked with ``adjust(p, never, owes, cell)``
    applied to its probabilities; precision and recovery at 100 against the truth."""
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        m = ranking.stored_model(con, "inexacto")
        cand = frame(con, "select * from features.inexacto_features where is_candidate")
        listed = frame(con, "select nit, tax_year::int as tax_year from marts.audit_ranking "
                            "where program = 'inexacto'")  # fmt: skip
    keys = cand.select("nit", pl.col("tax_year").cast(pl.Int32))
    truth = load(workdir, 0).select("nit", "tax_year", "owes")
    owes = keys.join(truth, on=["nit", "tax_year"], how="left", maintain_order="left")
    owes_ = owes["owes"].fill_null(0.0).to_numpy()
    never = ((cand["past_adjusted_audits"] == 0) & (cand["past_clean_audits"] == 0)).to_numpy()
    silent = (
        (cand["suspected_gap_tax"].fill_null(0) <= 0)
        & (cand["group_shortfall_tax"].fill_null(0) <= 0)
    ).to_numpy()
    cell = np.array(
        [f"{b}|{s}" for b, s in zip(cand["size_band"].fill_null("-"), silent, strict=True)]
    )
    stored = ranking.predict

    def predict(model, candidates, threads=1):  # noqa: ANN001, ANN202
        p, amount = stored(model, candidates, threads=threads)
        return adjust(np.asarray(p, dtype=float).copy(), never, owes_, cell), amount

    ranking.predict = predict
    try:
        ranked = ranking.rank_candidates(m, cand)
    finally:
        ranking.predict = stored
    return against_truth(workdir, "inexacto", ranked, listed)


def missed(workdir: Path) -> dict[str, float]:
    """The best 100's money (ranked by the truth) the stored model's top 100 leaves out, by
    where it sits, as a share of what the best 100 hold."""
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
        m = ranking.stored_model(con, "inexacto")
        cand = frame(con, "select * from features.inexacto_features where is_candidate")
    ranked = ranking.rank_candidates(m, cand).with_row_index("rank")
    truth = pl.read_csv(workdir / "truth" / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    truth = truth.filter(pl.col("program") == "inexacto").select(
        "nit", pl.col("tax_year").cast(pl.Int32), gap=pl.col("true_gap").cast(pl.Float64)
    )
    ranked = (
        ranked.with_columns(pl.col("tax_year").cast(pl.Int32))
        .join(truth, on=["nit", "tax_year"], how="left")
        .with_columns(pl.col("gap").fill_null(0.0))
    )
    best = ranked.sort("gap", descending=True).head(100)
    seen = pl.sum_horizontal(
        pl.col(c).fill_null(0) for c in ("suspected_gap_tax", "registry_evidence_tax",
                                         "group_shortfall_tax"))  # fmt: skip
    where = (
        pl.when((pl.col("past_adjusted_audits") + pl.col("past_clean_audits")) > 0)
        .then(pl.lit("audited before"))
        .when(seen >= 0.1 * pl.col("gap"))
        .then(pl.lit("never audited, witnessed"))
        .otherwise(pl.lit("never audited, witnesses under a tenth of the gap"))
    )
    left = best.filter(pl.col("rank") >= 100).with_columns(where=where)
    total = best["gap"].sum()
    sums = left.group_by("where").agg(pl.col("gap").sum())
    return {w: float(g / total) for w, g in sums.iter_rows()}


def by_bins(p: np.ndarray, never: np.ndarray, owes: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Oracle: never-audited cases at their true finding rate within 20 quantile bins of p."""
    q = np.quantile(p[never], np.linspace(0, 1, 21))
    b = np.clip(np.searchsorted(q, p, side="right") - 1, 0, 19)
    for i in range(20):
        sel = never & (b == i)
        if sel.any():
            p[sel] = DETECTS * owes[sel].mean()
    return p


def by_cells(p: np.ndarray, never: np.ndarray, owes: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Oracle: never-audited cases rescaled so each size band × checks-silent cell's mean
    probability is its true finding rate (the order within a cell kept)."""
    for c in np.unique(cell[never]):
        sel = never & (cell == c)
        if p[sel].mean() > 0:
            p[sel] = np.clip(p[sel] * DETECTS * owes[sel].mean() / p[sel].mean(), 0, 0.99)
    return p


def odds_times(k: float) -> Adjust:
    def adjust(p: np.ndarray, never: np.ndarray, owes: np.ndarray, cell: np.ndarray) -> np.ndarray:
        odds = k * p / np.maximum(1 - p, 1e-9)
        return np.where(never, odds / (1 + odds), p)

    return adjust


VARIANTS: dict[str, Adjust] = {
    "stored model": lambda p, never, owes, cell: p,
    "never-audited odds x 2": odds_times(2.0),
    "oracle: never-audited calibrated on the truth by probability bins": by_bins,
    "oracle: never-audited calibrated on the truth per size band x checks-silent cell": by_cells,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--worlds", nargs="+", default=["rionegro", "llanura"])
    parser.add_argument(
        "--no-rerank", action="store_true", help="without the re-ranked variants (5)"
    )
    args = parser.parse_args(argv)
    pl.Config.set_tbl_rows(80)
    pl.Config.set_tbl_cols(12)
    for world in args.worlds:
        dirs = {s: args.cache / f"{world}-{s}" for s in args.seeds}
        rows = pl.concat([load(d, s) for s, d in dirs.items()], how="vertical_relaxed")
        rows = rows.with_columns(group=group(rows))
        print(f"\n## {world}, seeds {' '.join(map(str, args.seeds))}\n")
        print("1. share of returns that owe, by tax year and size band")
        bands = [pl.col("owes").filter(pl.col("size_band") == b).mean().round(3).alias(b)
                 for b in ("micro", "small", "medium", "large")]  # fmt: skip
        print(rows.group_by("tax_year").agg(pl.col("owes").mean().round(3).alias("all"), *bands)
              .sort("tax_year"))  # fmt: skip
        print("   closed audits by tax year and selection")
        print(summary(rows.filter(pl.col("hit").is_not_null()), ["tax_year", "audit_selection"]))
        print("2. open cases and closed audits, never audited or audited before, by size band")
        print(summary(rows.filter(pl.col("group").is_not_null()),
                      ["size_band", "never_audited", "group"]))  # fmt: skip
        print("3. never-audited medium and large firms whose checks and linked NITs are silent")
        cell = rows.filter(
            pl.col("group").is_not_null() & pl.col("never_audited") & pl.col("checks_silent")
            & pl.col("size_band").is_in(MEDIUM_LARGE)
        )  # fmt: skip
        print(summary(cell, ["registry_shortfall", "group"]))
        print("4. the best 100's money the top 100 leaves out, by where it sits (mean)")
        shares = [missed(d) for d in dirs.values()]
        for w in sorted({k for s in shares for k in s}):
            print(f"   {w}: {statistics.mean(s.get(w, 0.0) for s in shares):.3f}")
        print(f"   total: {statistics.mean(sum(s.values()) for s in shares):.3f}")
        if args.no_rerank:
            continue
        print("5. re-ranked (precision / recovery at 100)")
        for name, adjust in VARIANTS.items():
            cells = [rerank(d, adjust) for d in dirs.values()]
            per_seed = ", ".join(f"{s}: {p:.2f} / {r:.2f}"
                                 for s, (p, r) in zip(dirs, cells, strict=True))  # fmt: skip
            print(f"| {name} | {world} | {per_seed} | "
                  f"{statistics.mean(p for p, _ in cells):.3f} | "
                  f"{statistics.mean(r for _, r in cells):.3f} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
