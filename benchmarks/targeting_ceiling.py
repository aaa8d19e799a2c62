"""The evidence's ceiling for inexacto (issue #20, round 4): how well could any model trained
on the product's own features rank the open cases if every firm were labelled?

Reads the municipalities a ``targeting.py --worlds ... --cache DIR`` run kept (warehouse and
planted truth, read-only; nothing is run again). Per world, leave one seed out over the seeds
given: LightGBM classifiers with the product's deterministic parameters, monotone constraints
and members (``model.train_classifiers``) learn, on the features exactly as the stored model
sees them (``features.inexacto_features``, ``scoring.risk_models.features``), the TRUE label
(true gap above the audits' minimum, from ``truth/tax_gap.csv``) of

- ``all candidates``: every open case of the other seeds (the ceiling: every firm labelled);
- ``audited, true labels``: only the returns staff or the random draw audited in the other
  seeds, with the truth instead of the audit's finding (more labels, same selection);
- ``random audits, true labels``: only the randomly audited returns of the other seeds;

and the held-out seed's open cases are ranked by the predicted probability times

- the product's own predicted amount (the stored model of that seed), counted as the product
  counts it (``ranking.rank_candidates``: corroboration cap, audited floor, the unwitnessed
  part at the probability, ``ranking.witnessed_amount``), and without the discount;
- the true gap itself (the amount known: only the probability is learnt);
- a true-amount regressor (log true gap over ``potential_tax``, one LightGBM regression on the
  owing open cases of the other seeds), with and without the discount.

The product (stored model, ``rank_candidates``) and the truth order (recovery 1) bracket the
rows. Precision / recovery at 100 are ``targeting_variants.against_truth``'s (rows of
``marts.audit_ranking``; a hit is any true gap). It then says what the ceiling's top 100 finds
that the product's misses, by planted kind and by whether the firm was audited before.

    .venv/bin/python benchmarks/targeting_ceiling.py --cache /tmp/h_inexacto/all \
        --seeds 9401 9402 9403 9501 9502 9503 9601 9602 9603 9701 9702 9703 \
        --worlds rionegro --out benchmarks/targeting_ceiling.md

``--pooled``: instead, the product's department pooled model (``department/pooled.py``)
trained on the seeds' closed audits, each seed ranked by it (its own section of ``--out``).

Run one world per process (``--worlds``) to use two cores; each writes its own section of
``--out`` (the other world's section is kept). About 3.5 CPU minutes per world of twelve
18,000-candidate seeds (17 CPU s a fold; ``--pooled`` about a minute). Reads the planted
truth, as every benchmark does; product code never does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import duckdb
import lightgbm as lgb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from targeting_variants import against_truth  # noqa: E402

from fiscal_intel.scoring import ranking  # noqa: E402
from fiscal_intel.scoring.model import (  # noqa: E402
    amount_base,
    lgb_params,
    matrix,
    predict,
    train_classifiers,
)
from fiscal_intel.sqlfiles import frame, scalar  # noqa: E402

AUDIT_MIN_GAP = 200_000  # the demo's smallest gap an audit adjusts (demo/generator.py)
K = 100


class Seed:
    """One cached municipality: its rows with the truth, the stored model, the listed cases."""

    def __init__(self, workdir: Path, seed: int) -> None:
        self.seed = seed
        self.workdir = workdir
        with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
            self.model = ranking.stored_model(con, "inexacto")
            rows = frame(con, "select * from features.inexacto_features")
            self.listed = frame(
                con,
                "select nit, tax_year::int as tax_year from marts.audit_ranking "
                "where program = 'inexacto'",
            )
        truth = pl.read_csv(workdir / "truth" / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
        truth = truth.filter(pl.col("program") == "inexacto").select(
            "nit", pl.col("tax_year").cast(pl.Int32), "kind",
            gap=pl.col("true_gap").cast(pl.Float64),
        )  # fmt: skip
        rows = (
            rows.with_columns(pl.col("tax_year").cast(pl.Int32))
            .join(truth, on=["nit", "tax_year"], how="left", maintain_order="left")
            .with_columns(pl.col("gap").fill_null(0.0), pl.col("kind").fill_null("-"))
            .with_columns(owes=pl.col("gap") > AUDIT_MIN_GAP)
            .sort(["nit", "tax_year"])
        )
        self.candidates = rows.filter(pl.col("is_candidate"))
        self.audited = rows.filter(pl.col("label_adjusted").is_not_null())
        self.random = self.audited.filter(pl.col("audit_selection") == "random")


def ceiling_classifiers(
    model: ranking.ProgramModel, rows: pl.DataFrame, label: str = "owes"
) -> list[lgb.Booster]:
    """The product's classifiers (parameters, members, monotone constraints) on ``label``
    (default the true one)."""
    return train_classifiers(
        "inexacto", rows, seed=model.params["seed"], threads=1,
        rounds=model.params["rounds"], label=label,
    )  # fmt: skip


def true_amount_regressor(model: ranking.ProgramModel, rows: pl.DataFrame) -> lgb.Booster:
    """log(true gap / potential_tax) of the owing rows, as the product's amount model learns
    log(audited amount / potential_tax)."""
    owing = rows.filter(pl.col("owes"))
    y = np.log(owing["gap"].to_numpy() / amount_base(owing, model.amount))
    params = lgb_params(model.params["seed"], 1, "regression", owing.height,
                        model.params["rounds"])  # fmt: skip
    data = lgb.Dataset(matrix(owing, model.features), label=y, feature_name=model.features)
    return lgb.train(params, data, num_boost_round=model.params["rounds"])


def mean_p(boosters: list[lgb.Booster], x: np.ndarray) -> np.ndarray:
    return np.mean([b.predict(x, num_threads=1) for b in boosters], axis=0)


def ranked_with(s: Seed, p: np.ndarray, amount: np.ndarray, discount: bool) -> pl.DataFrame:
    """The held-out open cases ranked by ``p`` × ``amount``: through the product's ranking
    (cap, floor, unwitnessed part at p) when ``discount``, else by the bare product."""
    cand = s.candidates
    if not discount:
        return cand.with_columns(_e=pl.Series(p * amount)).sort(
            ["_e", "statute_expires_on", "nit", "tax_year"],
            descending=[True, False, False, False],
        )
    stored = ranking.predict
    ranking.predict = lambda model, candidates, threads=1: (p, amount)
    try:
        return ranking.rank_candidates(s.model, cand)
    finally:
        ranking.predict = stored


def where(df: pl.DataFrame) -> pl.Expr:
    audited = (pl.col("past_adjusted_audits") + pl.col("past_clean_audits")) > 0
    return pl.concat_str(
        pl.col("kind"), pl.when(audited).then(pl.lit("audited before"))
        .otherwise(pl.lit("never audited")), separator=", ",
    )  # fmt: skip


def found(s: Seed, ranked: pl.DataFrame) -> dict[str, float]:
    """The top 100's money by planted kind × audited before, as a share of the best 100's."""
    r = ranked.join(s.listed, on=["nit", "tax_year"], how="semi", maintain_order="left")
    best = r["gap"].sort(descending=True).head(K).sum()
    top = r.head(K).with_columns(where=where(r))
    sums = top.group_by("where").agg(pl.col("gap").sum())
    return {w: float(g / best) for w, g in sums.iter_rows()}


def run_world(cache: Path, world: str, seeds: list[int]) -> list[str]:
    data = {s: Seed(cache / f"{world}-{s}", s) for s in seeds}
    rows: dict[str, list[tuple[float, float]]] = {}
    finds: dict[str, list[dict[str, float]]] = {"product": [], "ceiling": [], "best": []}

    def score(name: str, s: Seed, ranked: pl.DataFrame) -> None:
        rows.setdefault(name, []).append(against_truth(s.workdir, "inexacto", ranked, s.listed))

    for held in seeds:
        t0 = time.process_time()
        s = data[held]
        others = [data[o] for o in seeds if o != held]
        x = matrix(s.candidates, s.model.features)
        _, product_amount = predict(s.model, s.candidates)
        gap = s.candidates["gap"].to_numpy()

        product = ranking.rank_candidates(s.model, s.candidates)
        score("product (stored model, its own ranking)", s, product)
        finds["product"].append(found(s, product))
        best = s.candidates.sort("gap", descending=True)
        score("truth order (the best 100)", s, best)
        finds["best"].append(found(s, best))

        pool = pl.concat([o.candidates for o in others], how="vertical_relaxed")
        p = mean_p(ceiling_classifiers(s.model, pool), x)
        reg = true_amount_regressor(s.model, pool)
        reg_amount = np.exp(reg.predict(x, num_threads=1)) * amount_base(
            s.candidates, s.model.amount
        )
        ceiling = ranked_with(s, p, product_amount, discount=True)
        score("all candidates: p × product amount, product's ranking (discounted)", s, ceiling)
        finds["ceiling"].append(found(s, ceiling))
        score("all candidates: p × product amount, no discount", s,
              ranked_with(s, p, product_amount, discount=False))  # fmt: skip
        score("all candidates: p × true-amount regressor, discounted", s,
              ranked_with(s, p, reg_amount, discount=True))  # fmt: skip
        score("all candidates: p × true-amount regressor, no discount", s,
              ranked_with(s, p, reg_amount, discount=False))  # fmt: skip
        score("all candidates: p × true gap (amount known)", s,
              ranked_with(s, p, gap, discount=False))  # fmt: skip

        # More labels of the same selection, as the audits found them: what pooling the
        # other seeds' audits buys without the truth.
        # The held-out seed's own audits first (the product's labels, without its selection
        # weights: checks this path against the product), then 1, 3 and all the other seeds'.
        at = seeds.index(held)
        for n in (0, 1, 3, len(others)):
            pooled = [data[seeds[(at + i) % len(seeds)]] for i in range(1, n + 1)]
            audits = pl.concat([o.audited for o in pooled or [s]], how="vertical_relaxed")
            q = mean_p(ceiling_classifiers(s.model, audits, "label_adjusted"), x)
            what = "its own seed's" if n == 0 else f"{n} other seeds'"
            score(f"audited, the audits' findings (no truth), {what} audits", s,
                  ranked_with(s, q, product_amount, discount=True))  # fmt: skip
        for label, part in (("audited", "audited"), ("random audits", "random")):
            train = pl.concat([getattr(o, part) for o in others], how="vertical_relaxed")
            q = mean_p(ceiling_classifiers(s.model, train), x)
            score(f"{label}, true labels: p × product amount, discounted", s,
                  ranked_with(s, q, product_amount, discount=True))  # fmt: skip
            score(f"{label}, true labels: p × true gap (amount known)", s,
                  ranked_with(s, q, gap, discount=False))  # fmt: skip
        print(
            f"{world} {held}: "
            + "; ".join(f"{n[:40]} {v[-1][0]:.2f}/{v[-1][1]:.2f}" for n, v in rows.items()),
            f"({time.process_time() - t0:.0f} CPU s)",
            file=sys.stderr,
            flush=True,
        )

    lines = [
        f"## {world}, seeds {' '.join(map(str, seeds))} (leave one seed out)", "",
        "| ranking | mean precision@100 | mean recovery@100 | sd recovery | per seed (p / r) |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for name, cells in rows.items():
        per_seed = ", ".join(
            f"{s}: {p:.2f} / {r:.2f}" for s, (p, r) in zip(seeds, cells, strict=True)
        )
        recs = [r for _, r in cells]
        lines.append(f"| {name} | {statistics.mean(p for p, _ in cells):.3f} | "
                     f"{statistics.mean(recs):.3f} | {statistics.stdev(recs):.3f} | "
                     f"{per_seed} |")  # fmt: skip
    lines += [
        "", "Where the top 100's money sits (share of the best 100's money, mean over the "
        "seeds): the product against the ceiling (all candidates, p × product amount, "
        "discounted).", "",
        "| planted kind, audited before? | best 100 | product | ceiling | ceiling − product "
        "| the ceiling leaves out |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    keys = sorted({k for f in finds["best"] + finds["product"] + finds["ceiling"] for k in f})
    table = []
    for k in keys:
        a = statistics.mean(f.get(k, 0.0) for f in finds["product"])
        b = statistics.mean(f.get(k, 0.0) for f in finds["ceiling"])
        c = statistics.mean(f.get(k, 0.0) for f in finds["best"])
        table.append((b - a, k, a, b, c))
    for d, k, a, b, c in sorted(table, reverse=True):
        lines.append(f"| {k} | {c:.3f} | {a:.3f} | {b:.3f} | {d:+.3f} | {c - b:.3f} |")
    return lines


def run_pooled(cache: Path, world: str, seeds: list[int]) -> list[str]:
    """The product's own way to learn from other municipalities' audits
    (``department/pooled.py``): the pooled inexacto model trained on the closed audits of a
    department of the seeds' municipalities, each seed's open cases ranked by it with its
    profile (as ``chosen_scores`` ranks them when the backtest picks ``pooled``). Two
    departments: every seed (one model, the seed's own audits included, as a department run
    trains it) and the eleven others (leave one seed out)."""
    from fiscal_intel.department.pooled import pool_part, train_pooled, with_profile

    data = {s: Seed(cache / f"{world}-{s}", s) for s in seeds}
    parts = {}
    for s in seeds:
        with duckdb.connect(str(data[s].workdir / "warehouse.duckdb"), read_only=True) as con:
            as_of = scalar(con, "select as_of from staging.as_of_date")
            parts[s] = pool_part(con, "inexacto", as_of, str(s))
    fit = {"seed": data[seeds[0]].model.params["seed"], "threads": 1,
           "rounds": data[seeds[0]].model.params["rounds"]}  # fmt: skip
    everyone = train_pooled("inexacto", list(parts.values()), **fit)
    rows: dict[str, list[tuple[float, float]]] = {}
    for held in seeds:
        s = data[held]
        cand = with_profile(s.candidates, parts[held].profile)
        others = train_pooled("inexacto", [parts[o] for o in seeds if o != held], **fit)
        for name, model in (
            ("product (stored model, its own ranking)", s.model),
            (f"pooled model, a department of all {len(seeds)} seeds", everyone),
            (f"pooled model, a department of the {len(seeds) - 1} other seeds", others),
        ):
            ranked = ranking.rank_candidates(model, cand)
            rows.setdefault(name, []).append(against_truth(s.workdir, "inexacto", ranked, s.listed))
        print(f"{world} pooled {held}", file=sys.stderr, flush=True)
    lines = [
        f"## {world} department, seeds {' '.join(map(str, seeds))} (the product's pooled model)",
        "",
        "| ranking | mean precision@100 | mean recovery@100 | sd recovery | per seed (p / r) |",
        "|---|---|---|---|---|",
    ]
    for name, cells in rows.items():
        per_seed = ", ".join(
            f"{s}: {p:.2f} / {r:.2f}" for s, (p, r) in zip(seeds, cells, strict=True)
        )
        recs = [r for _, r in cells]
        lines.append(
            f"| {name} | {statistics.mean(p for p, _ in cells):.3f} | "
            f"{statistics.mean(recs):.3f} | {statistics.stdev(recs):.3f} | {per_seed} |"
        )
    return lines


def write_section(path: Path, world: str, lines: list[str]) -> None:
    """Rewrite this world's section of ``path``, keeping the others."""
    heading = "# inexacto: the evidence's ceiling (issue #20, round 4)"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    sections = {}
    for part in text.split("\n## ")[1:]:
        sections[part.split(",", 1)[0]] = "## " + part.rstrip("\n")
    sections[world] = "\n".join(lines)
    intro = (
        f"{heading}\n\nGenerated by `benchmarks/targeting_ceiling.py` (its docstring says what "
        "each row is). Read-only on the cached municipalities of the development seeds; "
        "precision / recovery at k = 100 against the planted truth."
    )
    path.write_text(
        intro + "\n\n" + "\n\n".join(sections[w] for w in sorted(sections)) + "\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--worlds", nargs="+", default=["rionegro", "llanura"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--pooled", action="store_true", help="only the department's pooled model rows"
    )
    args = parser.parse_args(argv)
    for world in args.worlds:
        run = run_pooled if args.pooled else run_world
        lines = run(args.cache, world, args.seeds)
        print("\n".join(lines), flush=True)
        if args.out is not None:
            write_section(args.out, world, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
