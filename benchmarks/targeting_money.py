"""Round 5 of issue #20: can a municipality run alone lift rionegro inexacto recovery@100 with
the labels it has? Offline, read-only on the cached municipalities of a
``targeting.py --worlds ... --cache DIR`` run (warehouse and planted truth; nothing is run
again), each seed ranked with its OWN closed audits only (no other municipality, no truth in
training), counted as the product counts (``ranking.rank_candidates``: cap, audited floor, the
unwitnessed part at the probability). Variants:

- ``own audits, retrained``: the product's classifiers retrained here on the seed's closed audits
  (checks this path against the stored model, seed by seed);
- ``neighbour years``: more labels from the same audits. Each return of a NIT in a year no
  audit closed on is labelled with the outcome of the nearest closed audit of the same NIT
  (within ``window`` years), at weight ``w`` beside the audited rows (weight 1);
- ``tweedie``: a direct expected-money model, LightGBM Tweedie on assessed / potential tax with
  zeros for clean audits, times potential tax; blended with the product's p × amount
  geometrically (the money ``(p·a)^(1-b) · T^b``; the amount counted is that money over p, so
  the ranking still discounts the unwitnessed part at p);
- ``monotone witnesses``: the witnessed shortfall taxes (third parties, outside income,
  deductions, rate, registry, linked NITs) constrained to raise the probability only.

    .venv/bin/python benchmarks/targeting_money.py --cache /tmp/h_inexacto/all \
        --seeds 9401 9402 9403 9501 9502 9503 9601 9602 9603 9701 9702 9703 \
        --worlds rionegro --out /tmp/money_rionegro.md

Reads the planted truth only to score, as every benchmark does. Paired gains over the stored
model, with the standard error of the mean paired difference over the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from targeting_ceiling import Seed, mean_p, ranked_with  # noqa: E402
from targeting_variants import against_truth  # noqa: E402

from fiscal_intel.scoring import ranking  # noqa: E402
from fiscal_intel.scoring.model import (  # noqa: E402
    CLASSIFIERS,
    amount_base,
    lgb_params,
    matrix,
    predict,
    train_classifiers,
)
from fiscal_intel.scoring.programs import PROGRAMS  # noqa: E402

WITNESS_TAXES = (
    "third_party_excess_tax",
    "outside_excess_tax",
    "deductions_excess_tax",
    "rate_gap_tax",
    "suspected_gap_tax",
    "registry_evidence_tax",
    "group_shortfall_tax",
)


def classifiers(s: Seed, rows: pl.DataFrame, weight: np.ndarray | None = None,
                monotone: dict | None = None) -> list[lgb.Booster]:
    """The product's classifiers on ``rows`` (label ``label_adjusted``)."""
    spec = PROGRAMS["inexacto"]
    if monotone is not None:
        PROGRAMS["inexacto"] = dataclasses.replace(spec, monotone=monotone)
    try:
        return train_classifiers(
            "inexacto", rows, seed=s.model.params["seed"], threads=1,
            rounds=s.model.params["rounds"], weight=weight,
        )  # fmt: skip
    finally:
        PROGRAMS["inexacto"] = spec


ADJUSTED_YEARS = (
    "outside_share_vs_adjusted_years",
    "deductions_share_vs_adjusted_years",
    "rate_vs_adjusted_years",
    "income_vs_adjusted_years",
)


def neighbour_rows(s: Seed, window: int, deleak: bool = True) -> pl.DataFrame:
    """Returns of audited NITs in years no audit closed on, labelled with the nearest closed
    audit of the same NIT within ``window`` years (the earlier one on a tie; adjusted wins a
    tie of two audits of the same distance)."""
    audits = s.audited.select("nit", a_year="tax_year", a_label="label_adjusted",
                              a_amount="label_amount", a_base="potential_tax")  # fmt: skip
    unaudited = s.rows.filter(pl.col("label_adjusted").is_null())
    pairs = (
        unaudited.join(audits, on="nit", how="inner")
        .with_columns(dist=(pl.col("tax_year") - pl.col("a_year")).abs())
        .filter(pl.col("dist") <= window)
        .sort(["nit", "tax_year", "dist", "a_year", "a_label"],
              descending=[False, False, False, False, True])  # fmt: skip
        .unique(["nit", "tax_year"], keep="first", maintain_order=True)
    )
    if deleak:
        # The row's past-audit features count the very audit that labels it: take it out, as
        # the audited rows' own features leave out their own year.
        alone = pl.col("a_label") & (pl.col("past_adjusted_audits") <= 1)
        pairs = pairs.with_columns(
            past_adjusted_audits=pl.col("past_adjusted_audits") - pl.col("a_label").cast(pl.Int64),
            past_clean_audits=pl.col("past_clean_audits") - (~pl.col("a_label")).cast(pl.Int64),
            **{f: pl.when(alone).then(None).otherwise(pl.col(f)) for f in ADJUSTED_YEARS},
        )
    return pairs.with_columns(
        label_adjusted=pl.col("a_label"),
        # the neighbour's assessed share of its potential tax, on this year's potential tax
        label_amount=pl.when(pl.col("a_label"))
        .then(pl.col("a_amount") / pl.max_horizontal(pl.col("a_base"), 100_000.0)
              * pl.max_horizontal(pl.col("potential_tax"), 100_000.0))
        .otherwise(None),
    ).drop("a_year", "a_label", "a_amount", "a_base", "dist")


def tweedie(s: Seed, rows: pl.DataFrame, weight: np.ndarray | None = None,
            power: float = 1.5) -> np.ndarray:
    """Expected assessed tax of each open case: Tweedie on assessed / potential tax (0 for a
    clean audit), times potential tax."""
    features = s.model.features
    base = amount_base(rows, s.model.amount)
    y = np.where(rows["label_adjusted"].to_numpy(),
                 rows["label_amount"].cast(pl.Float64).fill_null(0.0).to_numpy(), 0.0) / base
    params = lgb_params(s.model.params["seed"], 1, "tweedie", rows.height, s.model.params["rounds"])
    params["tweedie_variance_power"] = power
    booster = lgb.train(params, lgb.Dataset(matrix(rows, features), label=y, weight=weight,
                                            feature_name=features),
                        num_boost_round=s.model.params["rounds"])  # fmt: skip
    x = matrix(s.candidates, features)
    return booster.predict(x, num_threads=1) * amount_base(s.candidates, s.model.amount)


def money_weight(rows: pl.DataFrame, alpha: float) -> np.ndarray:
    """Per audit, its potential tax to the power ``alpha`` (mean 1, at most 10 times it): the
    classifier spends its fit where the money is, as recovery counts it."""
    w = np.maximum(rows["potential_tax"].cast(pl.Float64).fill_null(0.0).to_numpy(),
                   100_000.0) ** alpha  # fmt: skip
    for _ in range(3):
        w = np.minimum(w / w.mean(), 10.0)
    return w / w.mean()


def persistence(s: Seed) -> dict[str, float]:
    """How often a neighbouring year of an audited NIT truly owes (above the audits' minimum),
    by the audit's outcome; and the same for never-audited NITs (the base)."""
    nb = neighbour_rows(s, 1, deleak=False).join(
        s.rows.select("nit", "tax_year", "owes"), on=["nit", "tax_year"], how="left")
    audited_nits = s.audited["nit"].unique()
    never = s.rows.filter(~pl.col("nit").is_in(audited_nits.implode()))
    return {
        "after an adjusted audit": float(nb.filter(pl.col("label_adjusted"))["owes"].mean()),
        "after a clean audit": float(nb.filter(~pl.col("label_adjusted"))["owes"].mean()),
        "never-audited NITs": float(never["owes"].mean()),
        "audited rows, adjusted": float(s.audited.filter(pl.col("label_adjusted"))["owes"].mean()),
        "audited rows, clean": float(s.audited.filter(~pl.col("label_adjusted"))["owes"].mean()),
    }


@dataclasses.dataclass
class Prepared:
    """One seed's municipality ready for the variants: its rows, the stored model's features of
    the open cases (``x``) and amounts, and where each variant's precision / recall goes."""

    s: Seed
    x: np.ndarray
    p_stored: np.ndarray
    amount: np.ndarray
    rows: dict[str, list[tuple[float, float]]]
    started: float

    def score(self, name: str, ranked: pl.DataFrame) -> None:
        self.rows.setdefault(name, []).append(
            against_truth(self.s.workdir, "inexacto", ranked, self.s.listed)
        )

    def with_p(self, p: np.ndarray, amount: np.ndarray | None = None) -> pl.DataFrame:
        return ranked_with(self.s, p, self.amount if amount is None else amount, discount=True)

    def report(self, world: str) -> None:
        print(f"{world} {self.s.seed}: " + "; ".join(
            f"{n[:28]} {v[-1][0]:.2f}/{v[-1][1]:.2f}" for n, v in self.rows.items()),
            f"({time.process_time() - self.started:.0f} CPU s)", file=sys.stderr, flush=True,
        )  # fmt: skip


def prepare(
    cache: Path, world: str, seed: int, rows: dict, *, every_row: bool = False
) -> Prepared:
    """The seed's municipality, scored first as the product ranks it; ``every_row``: ``s.rows``
    holds every row of the features table (``Seed`` keeps open cases and audited rows only)."""
    started = time.process_time()
    s = Seed(cache / f"{world}-{seed}", seed)
    if every_row:
        s.rows = pl.concat(
            [s.candidates, s.audited, _others(s)], how="diagonal_relaxed"
        ).unique(["nit", "tax_year"], keep="first", maintain_order=True).sort(["nit", "tax_year"])
    p_stored, amount = predict(s.model, s.candidates)
    prepared = Prepared(s, matrix(s.candidates, s.model.features), p_stored, amount, rows, started)
    prepared.score("product (stored model)", ranking.rank_candidates(s.model, s.candidates))
    return prepared


def run_second(cache: Path, world: str, seeds: list[int]) -> list[str]:
    rows: dict[str, list[tuple[float, float]]] = {}
    stats: list[dict[str, float]] = []
    for seed in seeds:
        m = prepare(cache, world, seed, rows, every_row=True)
        s, x, score, with_p = m.s, m.x, m.score, m.with_p
        stats.append(persistence(s))
        audits = s.audited.sort(["nit", "tax_year"])
        for alpha in (0.25, 0.5):
            p = mean_p(classifiers(s, audits, weight=money_weight(audits, alpha)), x)
            score(f"classifier weighted by potential tax^{alpha}", with_p(p))
        spec = PROGRAMS["inexacto"]
        checks = ("third_party_excess_tax", "outside_excess_tax", "deductions_excess_tax",
                  "rate_gap_tax")  # fmt: skip
        for name, extra in (
            ("monotone: the checks' taxes", checks),
            ("monotone: witnessed-amount taxes (suspected gap, registry, linked NITs)",
             ("suspected_gap_tax", "registry_evidence_tax", "group_shortfall_tax")),
        ):
            mono = dict(spec.monotone) | dict.fromkeys(extra, 1)
            p = mean_p(classifiers(s, audits, monotone=mono), x)
            score(name, with_p(p))
        p = mean_p(classifiers(s, audits, monotone={}), x)
        score("no monotone constraints", with_p(p))
        m.report(world)
    lines = table(world, seeds, rows)
    lines += ["", f"Persistence ({world}, share of rows that truly owe above the audits' minimum, "
              "mean over the seeds):", ""]
    for k in stats[0]:
        lines.append(f"- {k}: {statistics.mean(st[k] for st in stats):.3f}")
    return lines


SIZE = ("gross_income", "local_income", "total_assets", "employees", "declared_tax",
        "potential_tax", "third_party_base")
SIZE_TAXES = ("third_party_excess_tax", "outside_excess_tax", "deductions_excess_tax",
              "rate_gap_tax", "suspected_gap_tax", "asset_shortfall_tax",
              "employee_shortfall_tax", "registry_evidence_tax", "group_shortfall_tax")


def classifiers_with(s: Seed, rows: pl.DataFrame, amount_only: tuple[str, ...] = (),
                     extra: dict | None = None, seed_shift: int = 0,
                     members: int = CLASSIFIERS) -> list[lgb.Booster]:
    """The product's classifiers with ``amount_only`` columns unseen by them (zero split gain,
    as omiso's size) and ``extra`` LightGBM parameters."""
    from fiscal_intel.scoring import model as model_module

    spec = PROGRAMS["inexacto"]
    stored = model_module.lgb_params
    if extra:
        model_module.lgb_params = lambda *a, **k: stored(*a, **k) | extra
    PROGRAMS["inexacto"] = dataclasses.replace(spec, amount_only=frozenset(amount_only))
    try:
        return train_classifiers("inexacto", rows, seed=s.model.params["seed"] + seed_shift,
                                 threads=1, members=members,
                                 rounds=s.model.params["rounds"])  # fmt: skip
    finally:
        PROGRAMS["inexacto"] = spec
        model_module.lgb_params = stored


def run_third(cache: Path, world: str, seeds: list[int], which: str = "third") -> list[str]:
    """The third set of variants, or (``which``) the fourth, fifth or sixth."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for seed in seeds:
        m = prepare(cache, world, seed, rows)
        s, x, amount, score = m.s, m.x, m.amount, m.score
        audits = s.audited.sort(["nit", "tax_year"])
        if which == "sixth":
            # the product's members (model.train_classifiers: seeds seed + i), extremely
            # randomised (LightGBM derives each member's thresholds from its seed)
            for count in (3, 6, 9):
                members = classifiers_with(s, audits, extra={"extra_trees": True}, members=count)
                score(f"{count} extra_trees members (product seeds)",
                      ranked_with(s, mean_p(members, x), amount, discount=True))
        if which == "fifth":
            normal = classifiers_with(s, audits)
            extra = classifiers_with(s, audits, extra={"extra_trees": True})
            extra2 = classifiers_with(s, audits, extra={"extra_trees": True}, seed_shift=100)
            extra3 = classifiers_with(s, audits, extra={"extra_trees": True, "extra_seed": 77},
                                      seed_shift=200)
            for name, members in (
                ("3 members + 3 extra_trees members", normal + extra),
                ("6 extra_trees members", extra + extra2),
                ("9 extra_trees members", extra + extra2 + extra3),
            ):
                score(name, ranked_with(s, mean_p(members, x), amount, discount=True))
        for name, kw in () if which in ("fifth", "sixth") else (
            ("classifier blind to size (the amount model's only)", {"amount_only": SIZE}),
            ("classifier blind to size and to the shortfall taxes (ratios kept)",
             {"amount_only": SIZE + SIZE_TAXES}),
            ("extra_trees", {"extra": {"extra_trees": True}}),
            ("path_smooth 20", {"extra": {"path_smooth": 20.0}}),
            ("monotone_constraints_method advanced", {"extra": {
                "monotone_constraints_method": "advanced"}}),
        ) if which != "fourth" else (
            ("blind to size and shortfall taxes + extra_trees",
             {"amount_only": SIZE + SIZE_TAXES, "extra": {"extra_trees": True}}),
            ("blind to the shortfall taxes only", {"amount_only": SIZE_TAXES}),
            ("blind to size and shortfall taxes, other member seeds",
             {"amount_only": SIZE + SIZE_TAXES, "seed_shift": 100}),
            ("extra_trees, other extra_seed", {"extra": {"extra_trees": True, "extra_seed": 77}}),
            ("extra_trees, other member seeds", {"extra": {"extra_trees": True},
                                                  "seed_shift": 100}),
        ):
            p = mean_p(classifiers_with(s, audits, **kw), x)
            score(name, ranked_with(s, p, amount, discount=True))
        m.report(world)
    return table(world, seeds, rows)


def run_world(cache: Path, world: str, seeds: list[int]) -> list[str]:
    rows: dict[str, list[tuple[float, float]]] = {}
    for seed in seeds:
        m = prepare(cache, world, seed, rows, every_row=True)
        s, x, p_stored, amount, score, with_p = m.s, m.x, m.p_stored, m.amount, m.score, m.with_p
        audits = s.audited.sort(["nit", "tax_year"])
        p_own = mean_p(classifiers(s, audits), x)
        score("own audits, retrained", with_p(p_own))

        spec = PROGRAMS["inexacto"]
        mono = dict(spec.monotone) | dict.fromkeys(WITNESS_TAXES, 1)
        p_mono = mean_p(classifiers(s, audits, monotone=mono), x)
        score("monotone witnesses", with_p(p_mono))

        for window in (1, 2):
            nb = neighbour_rows(s, window)
            both = pl.concat([audits, nb.select(audits.columns)], how="vertical_relaxed")
            order = both.with_row_index("_i").sort(["nit", "tax_year"])
            both = order.drop("_i")
            for w in (0.25, 0.5, 1.0) if window == 1 else (0.25,):
                weight = np.concatenate([np.ones(audits.height), np.full(nb.height, w)])
                weight = weight[order["_i"].to_numpy()]
                p_nb = mean_p(classifiers(s, both, weight=weight), x)
                score(f"neighbour years ±{window}, weight {w}", with_p(p_nb))
                if window == 1 and w == 0.5:
                    p_nb_half = p_nb

        nb = neighbour_rows(s, 1, deleak=False)
        both = pl.concat([audits, nb.select(audits.columns)], how="vertical_relaxed")
        order = both.with_row_index("_i").sort(["nit", "tax_year"])
        weight = np.concatenate([np.ones(audits.height), np.full(nb.height, 0.25)])
        p_leak = mean_p(classifiers(s, order.drop("_i"), weight=weight[order["_i"].to_numpy()]), x)
        score("neighbour years ±1, weight 0.25, past audits not taken out", with_p(p_leak))

        t_own = tweedie(s, audits)
        for b in (0.25, 0.5):
            money = np.exp((1 - b) * np.log(np.maximum(p_stored * amount, 1.0))
                           + b * np.log(np.maximum(t_own, 1.0)))
            score(f"tweedie (own audits), geometric blend {b}", with_p(p_stored, money / p_stored))
        money = t_own
        score("tweedie alone (amount = T / p)", with_p(p_stored, money / p_stored))
        nb = neighbour_rows(s, 1)
        both = pl.concat([audits, nb.select(audits.columns)], how="vertical_relaxed")
        weight = np.concatenate([np.ones(audits.height), np.full(nb.height, 0.5)])
        t_nb = tweedie(s, both, weight=weight)
        money = np.sqrt(np.maximum(p_stored * amount, 1.0) * np.maximum(t_nb, 1.0))
        score("tweedie (+ neighbour years ±1, 0.5), geometric blend 0.5",
              with_p(p_stored, money / p_stored))
        money = np.sqrt(np.maximum(p_nb_half * amount, 1.0) * np.maximum(t_nb, 1.0))
        score("neighbour ±1 0.5 p, tweedie (+neighbours) blend 0.5",
              with_p(p_nb_half, money / p_nb_half))
        m.report(world)
    return table(world, seeds, rows)


def _others(s: Seed) -> pl.DataFrame:
    """The features rows that are neither open cases nor audited (other filed years)."""
    import duckdb

    from fiscal_intel.sqlfiles import frame

    with duckdb.connect(str(s.workdir / "warehouse.duckdb"), read_only=True) as con:
        other = frame(con, "select * from features.inexacto_features "
                           "where not is_candidate and label_adjusted is null")  # fmt: skip
    return other.with_columns(pl.col("tax_year").cast(pl.Int32))


def se(d: list[float]) -> float:
    """Standard error of the mean of ``d``."""
    return statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")


def table(world: str, seeds: list[int], rows: dict[str, list[tuple[float, float]]]) -> list[str]:
    base = rows["product (stored model)"]
    lines = [
        f"## {world}, seeds {' '.join(map(str, seeds))} (each seed its own audits)", "",
        "| ranking | mean precision@100 | mean recovery@100 | paired gain precision (se) "
        "| paired gain recovery (se) | per seed (p / r) |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, cells in rows.items():
        dp = [c[0] - b[0] for c, b in zip(cells, base, strict=True)]
        dr = [c[1] - b[1] for c, b in zip(cells, base, strict=True)]
        per_seed = ", ".join(f"{s}: {p:.2f} / {r:.2f}" for s, (p, r) in zip(seeds, cells,
                                                                              strict=True))
        lines.append(
            f"| {name} | {statistics.mean(c[0] for c in cells):.3f} | "
            f"{statistics.mean(c[1] for c in cells):.3f} | "
            f"{statistics.mean(dp):+.3f} ({se(dp):.3f}) | {statistics.mean(dr):+.3f} "
            f"({se(dr):.3f}) | {per_seed} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--worlds", nargs="+", default=["rionegro", "llanura"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--second", action="store_true",
                        help="the second set: money-weighted classifiers, monotone subsets")
    parser.add_argument("--third", action="store_true",
                        help="the third set: what the classifier sees and how it splits")
    parser.add_argument("--sixth", action="store_true",
                        help="the sixth set: extra_trees members as the product trains them")
    parser.add_argument("--fifth", action="store_true",
                        help="the fifth set: extra_trees members averaged")
    parser.add_argument("--fourth", action="store_true",
                        help="the fourth set: combinations and other seeds of the third's best")
    args = parser.parse_args(argv)
    which = next((w for w in ("sixth", "fifth", "fourth", "third") if getattr(args, w)), None)
    out: list[str] = []
    for world in args.worlds:
        if args.second:
            out += run_second(args.cache, world, args.seeds) + [""]
        elif which:
            out += run_third(args.cache, world, args.seeds, which) + [""]
        else:
            out += run_world(args.cache, world, args.seeds) + [""]
    text = "\n".join(out)
    print(text, flush=True)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

