"""Audit-list stability: the same municipality clean and as a messy export with ~1 % bad rows.

For each seed: write a demo municipality (``fiscal_intel.demo.generate``) and the same one as a
real office exports it with ``bad_share`` of its rows corrupted
(``fiscal_intel.demo.messy.generate_messy``), run the whole pipeline on both (the messy one past
its unreadable file), and compare each program's list.

A case is *touched* when a quarantined row names its NIT: a registry row (RIT or chamber) touches
every year of the NIT, any other row (return, payment, withholding, audit) the NIT and tax year it
names (the manifest's ``touched_cases``; see docs/messy_demo.md). Touched cases are set aside
on both lists; what is left should rank alike. Per program and k (10, 50, 100):

- ``overlap``: untouched cases in both top k;
- ``spearman``: rank correlation of the shared cases' positions on the two lists (1: same order).

What is left moves because losing 1 % of the rows moves what the models learn from (the training
audits and returns). To tell that apart from the data itself, each program's messy list is also
scored with the clean run's stored model (``same_model``: what the nightly job does between
yearly retrains): the features then carry everything the quarantine changed (peer medians,
third-party totals), the model nothing. And to know how much any retraining moves a list, the
clean run's own training data is learnt again with another seed (``reseeded``: the clean list
against itself, the model's noise floor). ``identical`` says whether the untouched top k is the
same cases in the same order.

    .venv/bin/python benchmarks/stability.py                  # seed 42, 15,000 taxpayers
    .venv/bin/python benchmarks/stability.py --seeds 42 11    # several municipalities

Results: benchmarks/stability_results.json (and a table on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import duckdb  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from fiscal_intel.demo import generate  # noqa: E402
from fiscal_intel.demo.messy import MANIFEST, generate_messy  # noqa: E402
from fiscal_intel.resources import build_resources  # noqa: E402
from fiscal_intel.runner import run_pipeline  # noqa: E402
from fiscal_intel.scoring.ranking import rank_candidates, stored_model  # noqa: E402
from fiscal_intel.scoring.training import train_program, training_data  # noqa: E402
from fiscal_intel.settings import load_settings  # noqa: E402
from fiscal_intel.sqlfiles import frame, scalar  # noqa: E402

OUT = ROOT / "stability_results.json"
TOPS = (10, 50, 100)
PROGRAMS = ("omiso", "inexacto")  # the order of the stored results

Case = tuple[str, int]


def ranking(warehouse: Path) -> dict[str, list[Case]]:
    """Each program's list, best first, as (nit, tax_year)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select program, nit, tax_year from marts.audit_ranking order by program, rank"
        ).fetchall()
    out: dict[str, list[Case]] = {p: [] for p in PROGRAMS}
    for program, nit, year in rows:
        out[program].append((nit, int(year)))
    return out


def ranking_with_model(
    model_warehouse: Path, features_warehouse: Path, *, reseed: int | None = None
) -> dict[str, list[Case]]:
    """Each program's list as the model stored in ``model_warehouse`` ranks the open cases of
    ``features_warehouse`` (the same order as marts.audit_ranking); with ``reseed``, as a model
    trained again on ``model_warehouse``'s data with the run's seed plus ``reseed`` ranks them."""
    out: dict[str, list[Case]] = {}
    with duckdb.connect(str(model_warehouse), read_only=True) as con:
        models = {p: stored_model(con, p) for p in PROGRAMS}
        if reseed is not None:
            base = load_settings(warehouse=str(model_warehouse))
            settings = build_resources(base.replace(seed=base.seed + reseed))["settings"]
            as_of = scalar(con, "select as_of from staging.as_of_date")
            models = {
                p: train_program(p, training_data(con, p, as_of), as_of, settings)
                for p in PROGRAMS
            }
    with duckdb.connect(str(features_warehouse), read_only=True) as con:
        for program, model in models.items():
            candidates = frame(
                con, f"select * from features.{program}_features where is_candidate"
            )
            ranked = rank_candidates(model, candidates)
            out[program] = [(n, int(y)) for n, y in ranked.select("nit", "tax_year").rows()]
    return out


def spearman(a: list[Case], b: list[Case]) -> float | None:
    """Rank correlation of the cases both lists hold, by their positions on each list."""
    pos_b = {case: i for i, case in enumerate(b)}
    shared = [(i, pos_b[case]) for i, case in enumerate(a) if case in pos_b]
    if len(shared) < 3:
        return None
    x = np.argsort(np.argsort([s[0] for s in shared])).astype(float)
    y = np.argsort(np.argsort([s[1] for s in shared])).astype(float)
    return float(np.corrcoef(x, y)[0, 1])


def compare(
    clean: dict[str, list[Case]], messy: dict[str, list[Case]], manifest: dict
) -> dict[str, dict]:
    """Per program and k: overlap and rank correlation of the untouched top k."""
    every_year = {t["nit"] for t in manifest["touched_cases"] if t["tax_year"] is None}
    one_year = {(t["nit"], t["tax_year"]) for t in manifest["touched_cases"]}

    def untouched(case: Case) -> bool:
        return case[0] not in every_year and case not in one_year

    out: dict[str, dict] = {}
    for program in PROGRAMS:
        a = [c for c in clean[program] if untouched(c)]
        b = [c for c in messy[program] if untouched(c)]
        out[program] = {
            f"top{k}": {
                "overlap": len(set(a[:k]) & set(b[:k])),
                "spearman": (None if (r := spearman(a[:k], b[:k])) is None else round(r, 3)),
                "identical": a[:k] == b[:k],
            }
            for k in TOPS
        }
        out[program]["touched_in_clean_top100"] = sum(
            not untouched(c) for c in clean[program][:100]
        )
    return out


def _run(landing: Path, warehouse: Path) -> float:
    settings = load_settings(
        landing=str(landing), warehouse=str(warehouse), continue_past_unreadable=True
    )
    start = time.perf_counter()
    run_pipeline(settings)
    return round(time.perf_counter() - start, 1)


def run_seed(seed: int, taxpayers: int, bad_share: float, work: Path) -> dict:
    clean, messy = work / "clean", work / "messy"
    generate(clean / "landing", clean / "truth", taxpayers=taxpayers, seed=seed)
    generate_messy(
        messy / "landing", messy / "truth", taxpayers=taxpayers, seed=seed, bad_share=bad_share
    )
    manifest = json.loads((messy / "truth" / MANIFEST).read_text())
    seconds = {
        "clean": _run(clean / "landing", clean / "warehouse.duckdb"),
        "messy": _run(messy / "landing", messy / "warehouse.duckdb"),
    }
    clean_lists = ranking(clean / "warehouse.duckdb")
    return {
        "seed": seed,
        "taxpayers": taxpayers,
        "bad_share": bad_share,
        "touched_cases": len(manifest["touched_cases"]),
        "pipeline_seconds": seconds,
        "programs": compare(clean_lists, ranking(messy / "warehouse.duckdb"), manifest),
        "same_model": compare(
            clean_lists,
            ranking_with_model(clean / "warehouse.duckdb", messy / "warehouse.duckdb"),
            manifest,
        ),
        "reseeded": compare(
            clean_lists,
            ranking_with_model(clean / "warehouse.duckdb", clean / "warehouse.duckdb", reseed=1),
            manifest,
        ),
    }


def table(results: list[dict]) -> str:
    lines = [
        "| seed | program | model | top 10 shared | top 50 shared | top 100 shared "
        "| Spearman (shared of top 100) | top 100 identical |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for program in PROGRAMS:
            for label, key in (
                ("retrained", "programs"),
                ("clean run's", "same_model"),
                ("clean, reseeded", "reseeded"),
            ):
                p = r[key][program]
                lines.append(
                    f"| {r['seed']} | {program} | {label} | {p['top10']['overlap']} "
                    f"| {p['top50']['overlap']} | {p['top100']['overlap']} "
                    f"| {p['top100']['spearman']} | {p['top100']['identical']} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--taxpayers", type=int, default=15_000)
    parser.add_argument("--bad-share", type=float, default=0.01)
    parser.add_argument("--work", help="folder for landings and warehouses (default: temporary)")
    parser.add_argument("--out", default=str(OUT), help="results JSON ('-': do not write)")
    args = parser.parse_args(argv)
    results = []
    for seed in args.seeds:
        print(f"seed {seed}: generating and running clean and messy ...", flush=True)
        if args.work:
            work = Path(args.work) / f"seed{seed}"
            results.append(run_seed(seed, args.taxpayers, args.bad_share, work))
        else:
            with tempfile.TemporaryDirectory(prefix=f"stability-{seed}-") as tmp:
                results.append(run_seed(seed, args.taxpayers, args.bad_share, Path(tmp)))
    print(table(results))
    if args.out != "-":
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
