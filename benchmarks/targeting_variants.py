"""omiso ranking variants measured on the kept worlds × seeds municipalities (issue #20).

Each variant changes only how the stored omiso model's cases are ranked (the features, the
models and the inexacto list stay as the last ``targeting.py --worlds ... --cache DIR`` run
left them), so it re-ranks ``features.omiso_features`` with ``scoring.risk_models`` in each
cached warehouse and scores the top 100 of the open cases (``marts.audit_ranking``) against
the planted truth, as ``marts.model_performance`` does. Writes benchmarks/targeting_variants.md.

    .venv/bin/python benchmarks/targeting_variants.py --cache data/w
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from fiscal_intel.scoring import model as model_module  # noqa: E402
from fiscal_intel.scoring import ranking  # noqa: E402
from fiscal_intel.scoring.programs import PROGRAMS  # noqa: E402
from fiscal_intel.scoring.training import amount_rows  # noqa: E402
from fiscal_intel.sqlfiles import frame, scalar  # noqa: E402

K = 100
SEEDS = (9401, 9402, 9403)
Hook = Callable[[object, pl.DataFrame, duckdb.DuckDBPyConnection], tuple[object, pl.DataFrame]]


def _params(m: object, **changes: float) -> object:
    return dataclasses.replace(m, params={**m.params, **changes})


def coverage(m: object, cand: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> tuple:
    """The contractor's tax on its agents' payments over the share of a filer's taxable
    income that agents pay (median over the returns third parties saw)."""
    share = scalar(con, "select median(w.base_amount / k.taxable_income) from "
                        "features.third_party_income as w join features.known_returns as k "
                        "using (nit, tax_year) where k.taxable_income > 0")  # fmt: skip
    return m, cand.with_columns(pl.col("contractor_tax") / share)


def evidence_prior(m: object, cand: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> tuple:
    """The contractor evidence's hit rate with the hit rate of the audited non-filers third
    parties paid as its prior (two audits' weight) instead of an even bet."""
    rows = frame(con, "select label_adjusted::int as y, audit_selection = 'random' as r from "
                      "features.omiso_features where label_adjusted is not null "
                      "and third_party_base > 0")  # fmt: skip
    w = np.where(rows["r"].to_numpy(), model_module.RANDOM_AUDIT_WEIGHT, 1.0)
    prior = float((w * rows["y"].to_numpy()).sum() / w.sum())
    p = m.params
    shown = p["evidence_audits"] + (model_module.RANDOM_AUDIT_WEIGHT - 1) * p[
        "evidence_random_audits"]  # fmt: skip
    hits = p["evidence_hit_rate"] * (shown + 2) - 1
    return _params(m, evidence_hit_rate=(hits + 2 * prior) / (shown + 2)), cand


def smearing(m: object, cand: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> tuple:
    """Amounts as expected values (Duan's smearing: the mean of exp(residual) of the log
    amount model on its own rows), not medians."""
    spec = PROGRAMS["omiso"].amount
    src = amount_rows(con, "omiso", spec)
    src = pl.concat([src, model_module.blinded(src, spec.blind)])
    y = np.log(src[spec.target].cast(pl.Float64).to_numpy() / model_module.amount_base(src, spec))
    fit = model_module._mean_prediction(m.amount_models, model_module.matrix(src, m.features), 1)
    factor = float(np.mean(np.exp(y - fit)))
    original = ranking.predict
    ranking.predict = lambda mm, c, threads=1: (lambda p, a: (p, a * factor))(
        *original(mm, c, threads=threads))  # fmt: skip
    return m, cand


def multiple(value: float | None = None, quantile: float | None = None) -> Hook:
    def hook(m: object, cand: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> tuple:
        if quantile is not None:
            spec = PROGRAMS["omiso"]
            PROGRAMS["omiso"] = dataclasses.replace(spec, corroboration_quantile=quantile)
            try:
                k = model_module.learnt_corroboration_multiple(
                    "omiso", amount_rows(con, "omiso", spec.amount))
            finally:
                PROGRAMS["omiso"] = spec
            return _params(m, corroboration_multiple=k), cand
        return _params(m, corroboration_multiple=value), cand
    return hook


VARIANTS: dict[str, Hook | None] = {
    "this branch (learnt multiple, evidence at the higher probability)": None,
    "fixed multiple 3 (before)": multiple(3.0),
    "fixed multiple 2": multiple(2.0),
    "learnt multiple, 80th percentile": multiple(quantile=0.8),
    "learnt multiple, 95th percentile": multiple(quantile=0.95),
    "contractor tax over the filers' third-party coverage": coverage,
    "evidence hit rate with the third-party audits as prior": evidence_prior,
    "amounts with Duan's smearing": smearing,
}


def against_truth(
    workdir: Path, program: str, ranked: pl.DataFrame, listed: pl.DataFrame
) -> tuple[float, float]:
    """Precision and recovery at k = K of ``ranked`` (restricted to the rows the stored list
    holds, ``listed``) against the municipality's planted truth."""
    truth = pl.read_csv(workdir / "truth" / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    truth = truth.filter(pl.col("program") == program).select(
        "nit", pl.col("tax_year").cast(pl.Int32), gap=pl.col("true_gap").cast(pl.Float64))
    ranked = (
        ranked.with_columns(pl.col("tax_year").cast(pl.Int32))
        .join(listed.with_columns(pl.col("tax_year").cast(pl.Int32)),
              on=["nit", "tax_year"], how="semi", maintain_order="left")
        .join(truth, on=["nit", "tax_year"], how="left", maintain_order="left")
        .with_columns(pl.col("gap").fill_null(0.0))
    )  # fmt: skip
    top = ranked.head(K)
    best = ranked["gap"].sort(descending=True).head(K).sum()
    return float((top["gap"] > 0).mean()), float(top["gap"].sum() / best)


def evaluate(workdir: Path, hook: Hook | None) -> tuple[float, float]:
    predict = ranking.predict
    try:
        with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
            m = ranking.stored_model(con, "omiso")
            cand = frame(con, "select * from features.omiso_features where is_candidate")
            listed = frame(con, "select nit, tax_year::int as tax_year from marts.audit_ranking "
                                "where program = 'omiso'")  # fmt: skip
            if hook is not None:
                m, cand = hook(m, cand, con)
            ranked = ranking.rank_candidates(m, cand)
    finally:
        ranking.predict = predict
    return against_truth(workdir, "omiso", ranked, listed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--worlds", nargs="+", default=["rionegro", "llanura"])
    args = parser.parse_args(argv)
    lines = [
        "# omiso ranking variants (issue #20)", "",
        "Generated by `benchmarks/targeting_variants.py --cache DIR`: the stored models of the "
        "kept municipalities re-ranked under each variant (only the omiso ranking changes; the "
        "inexacto list is untouched). Precision / recovery at k = 100 against the planted "
        "truth.", "",
        "| variant | world | per seed (p / r) | mean precision | mean recovery |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for name, hook in VARIANTS.items():
        for world in args.worlds:
            cells = [evaluate(args.cache / f"{world}-{s}", hook) for s in SEEDS]
            seeds = ", ".join(f"{s}: {p:.2f} / {r:.2f}" for s, (p, r) in zip(SEEDS, cells,
                                                                               strict=True))
            row = (f"| {name} | {world} | {seeds} | "
                   f"{statistics.mean(p for p, _ in cells):.3f} | "
                   f"{statistics.mean(r for _, r in cells):.3f} |")  # fmt: skip
            print(row, flush=True)
            lines.append(row)
    # the inexacto section (targeting_inexacto_variants.py) is kept below the omiso one
    path = ROOT / "targeting_variants.md"
    heading = "# inexacto ranking variants"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept = heading + old.split(heading, 1)[1] if heading in old else ""
    path.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
