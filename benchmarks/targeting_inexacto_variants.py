"""inexacto ranking variants measured on the kept worlds × seeds municipalities (issue #20,
requirement 4: a case whose money rests on size alone with weak evidence must not outrank solid
cases).

Each variant changes only how the stored inexacto model's amounts are counted in the ranking
(``ranking.witnessed_amount``; the features and the trained models stay as the last
``targeting.py --worlds ... --cache DIR`` run left them): it re-ranks the open cases of
``marts.audit_ranking`` in each cached warehouse and scores the top 100 against the planted
truth, as ``marts.model_performance`` does. Writes the inexacto section of
benchmarks/targeting_variants.md (the omiso section is ``targeting_variants.py``'s).

    .venv/bin/python benchmarks/targeting_inexacto_variants.py --cache /tmp/precision/cache
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
from fiscal_intel.scoring.model import witness_tax  # noqa: E402
from fiscal_intel.scoring.programs import PROGRAMS  # noqa: E402
from fiscal_intel.scoring.ranking import witness_trust  # noqa: E402
from fiscal_intel.sqlfiles import frame  # noqa: E402

SEEDS = (9401, 9402, 9403, 9501, 9502, 9503)
HEADING = "# inexacto ranking variants (issue #20, round 3)"
SHIPPED = ranking.witnessed_amount
Counting = Callable[[str, pl.DataFrame, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
WITNESSES = PROGRAMS["inexacto"].amount_witnesses


def counted(
    factor: Callable[[np.ndarray], np.ndarray],
    witnesses: Callable[[pl.DataFrame], np.ndarray] | None = None,
) -> Counting:
    """The unwitnessed part counted at ``factor(p)``, witnesses as ``witnesses`` says (default
    the spec's)."""

    def count(
        program: str, cand: pl.DataFrame, p: np.ndarray, amount: np.ndarray,
        trusted_from: float = 0.0,
    ) -> tuple:  # fmt: skip
        if program != "inexacto":
            return SHIPPED(program, cand, p, amount, trusted_from)
        seen = witnesses(cand) if witnesses else witness_tax(cand, WITNESSES)
        w = np.minimum(seen, amount)
        # the witnessed part as the product counts it since round 6 (ranking.witness_trust)
        trust = witness_trust(p, trusted_from)
        return w * trust + factor(np.asarray(p)) * (amount - w), amount - w

    return count


def soft_half(cand: pl.DataFrame) -> np.ndarray:
    """Third-party excess and the rate gap in full, income outside and deductions above the
    peers' shares (peer comparisons, not records) at half."""
    c = cand.with_columns(
        _w=pl.col("third_party_excess_tax").fill_null(0)
        + pl.col("rate_gap_tax").fill_null(0)
        + 0.5 * (pl.col("outside_excess_tax").fill_null(0)
                 + pl.col("deductions_excess_tax").fill_null(0))
    )  # fmt: skip
    return witness_tax(c, ("_w", "registry_evidence_tax", "group_shortfall_tax"))


VARIANTS: dict[str, tuple[Counting, str]] = {
    "shipped: unwitnessed money at the case's probability": (SHIPPED, "kept"),
    "the whole amount counts (main)": (
        lambda program, cand, p, amount: (np.asarray(amount, dtype=float), np.zeros(len(p))),
        "the baseline",
    ),
    "unwitnessed money at a fixed half": (
        counted(lambda p: np.full(len(p), 0.5)),
        "a constant where the probability gives one; no better",
    ),
    "unwitnessed money at a fixed quarter": (
        counted(lambda p: np.full(len(p), 0.25)),
        "costs recovery for little precision",
    ),
    "unwitnessed money at the square root of the probability": (
        counted(np.sqrt), "less precision, same recovery",
    ),
    "unwitnessed money at the probability squared": (
        counted(lambda p: p**2),
        "within the seed noise of the shipped rule on precision, lower recovery",
    ),
    "+ staff-implied shortfall as a witness": (
        counted(lambda p: p, lambda c: witness_tax(c, (*WITNESSES, "employee_shortfall_tax"))),
        "the peers' income per employee vouches for honest firms: precision back down",
    ),
    "income outside and deductions above the peers as half witnesses": (
        counted(lambda p: p, soft_half),
        "more precision, less recovery on rionegro; a tuned half",
    ),
    "only the data-matching checks (suspected_gap_tax) as witnesses": (
        counted(lambda p: p, lambda c: witness_tax(c, ("suspected_gap_tax",))),
        "the registry and linked NITs add little here, but they are the evidence of the "
        "fragmented and cash-sector cases",
    ),
}


def evaluate(workdir: Path, count: Counting) -> tuple[float, float]:
    try:
        ranking.witnessed_amount = count
        with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as con:
            m = ranking.stored_model(con, "inexacto")
            cand = frame(con, "select * from features.inexacto_features where is_candidate")
            listed = frame(con, "select nit, tax_year::int as tax_year from marts.audit_ranking "
                                "where program = 'inexacto'")  # fmt: skip
        ranked = ranking.rank_candidates(m, cand)
    finally:
        ranking.witnessed_amount = SHIPPED
    return against_truth(workdir, "inexacto", ranked, listed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--worlds", nargs="+", default=["rionegro", "llanura"])
    args = parser.parse_args(argv)
    lines = [
        HEADING, "",
        "Generated by `benchmarks/targeting_inexacto_variants.py --cache DIR`: the stored "
        "inexacto models of the kept municipalities (development seeds "
        f"{', '.join(map(str, SEEDS))}) re-ranked with the amount counted as each variant "
        "says (`ranking.witnessed_amount`). Precision / recovery at k = 100 against the "
        "planted truth; means over the six seeds.", "",
        "| variant | world | per seed (p / r) | mean precision | mean recovery | why |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, (count, why) in VARIANTS.items():
        for world in args.worlds:
            cells = [evaluate(args.cache / f"{world}-{s}", count) for s in SEEDS]
            seeds = ", ".join(f"{s}: {p:.2f} / {r:.2f}" for s, (p, r) in zip(SEEDS, cells,
                                                                               strict=True))
            row = (f"| {name} | {world} | {seeds} | "
                   f"{statistics.mean(p for p, _ in cells):.3f} | "
                   f"{statistics.mean(r for _, r in cells):.3f} | {why} |")  # fmt: skip
            print(row, flush=True)
            lines.append(row)
    path = ROOT / "targeting_variants.md"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    # Only this script's section is rewritten: the sections before and after it are kept.
    before, _, after = text.partition(HEADING)
    before = before.rstrip("\n")
    after = after[after.index("\n# ") + 1 :] if "\n# " in after else ""
    body = (before + "\n\n" if before else "") + "\n".join(lines) + "\n"
    path.write_text(body + ("\n" + after if after else ""), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
