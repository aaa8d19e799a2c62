"""Audit-targeting benchmark on demo municipalities the models were never tuned on.

For each seed: generate a 15,000-taxpayer demo municipality, run the whole pipeline with the
demo's ground truth given (setting ``truth``, read only by marts.model_performance), and collect

- precision@100 and recovery@100 per program for the model, the analyst's rule (third-party gap
  × rate for inexacto, registry assets × rate for omiso) and random picks, against the truth;
- predicted against realised yield on the random audits opened after the backtest cut-off
  (marts.model_card): the bias-free check a real office can run without any truth file.

Held-out seeds: 9301, 9302 and 9303 were fixed before the fourth round of modelling work (omiso
late filing learnt from earlier years, hash-sampled amount rows) and never run while
developing it (development used seeds 42 and 1-5, and 7 in the tests). 9201-9203 were the
held-out seeds of the third round, 9101-9103 of the second and 8101-8103 of the first; their
results were seen before this round, so 9201-9203 are reported again but no longer count as
unseen.

    .venv/bin/python benchmarks/targeting.py                   # held-out seeds, writes results
    .venv/bin/python benchmarks/targeting.py --seeds 42 11 12  # development seeds, prints only

Results go to benchmarks/targeting_results.md and .json (held-out run only).

Worlds × seeds (issue #20): every modelling change is judged on both demo worlds
(``fiscal_intel/demo/worlds.py``), three held-out seeds each, precision@100 and recovery@100 side
by side, with the share of each planted evasion kind's gap the top 100 finds:

    .venv/bin/python benchmarks/targeting.py --worlds rionegro llanura --label before
    # appends to benchmarks/targeting_worlds.json and rewrites targeting_worlds.md
    .venv/bin/python benchmarks/targeting.py --worlds rionegro llanura --cache /tmp/w \
        --mode rescore --no-selection-correction --label "without the selection correction"
    # reuses the municipalities kept in /tmp/w: only scoring and marts run again
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import duckdb  # noqa: E402

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from fiscal_intel.demo import generate  # noqa: E402
from fiscal_intel.runner import run_pipeline  # noqa: E402
from fiscal_intel.settings import load_settings  # noqa: E402

HELD_OUT_SEEDS = (9301, 9302, 9303)
# Held out in the third round, seen since: reported, not counted as unseen.
SEEN_SEEDS = (9201, 9202, 9203)
TAXPAYERS = 15_000
K = 100
TARGETS = {
    # program: (recovery@100, precision@100) the issue asks for; plus 2.5 x the rule's recovery
    "inexacto": (0.75, 0.95),
    "omiso": (0.92, 0.95),
}
RULE_MULTIPLE = 2.5
# Whether the generated municipalities carry the demo's planted past letter campaign
# (fiscal_intel.demo.campaign; ``--no-past-campaign``: without it, as before #18 added it).
PAST_CAMPAIGN = True


def run_seed(
    seed: int, taxpayers: int, workdir: Path, world: str = "rionegro", mode: str = "full"
) -> dict:
    """Generate and run one municipality in ``workdir`` and collect its results. ``mode``:
    ``full``; ``rescore`` (a warehouse built there before: only the scoring and marts stages
    run again, for modelling changes that leave the features as they are); ``refeature`` (the
    features stage too, for a change to the feature SQL; the generated data and staging stay);
    ``collect`` (read the results of the warehouse there, run nothing)."""
    landing, truth = workdir / "landing", workdir / "truth"
    warehouse = workdir / "warehouse.duckdb"
    if mode == "full" or not warehouse.exists():
        mode = "full"
        generate(landing, truth, taxpayers=taxpayers, seed=seed, world=world,
                 past_campaign=PAST_CAMPAIGN)
    settings = load_settings(
        landing=str(landing), warehouse=str(warehouse), truth=str(truth / "tax_gap.csv")
    )
    start = time.perf_counter()
    stages = []
    if mode != "collect":
        stages = run_pipeline(settings, **({"stages": ("scoring", "marts")}
                                           if mode == "rescore" else
                                           {"stages": ("features", "scoring", "marts")}
                                           if mode == "refeature" else {}))
    seconds = time.perf_counter() - start
    with duckdb.connect(settings.warehouse, read_only=True) as con:
        perf = con.execute(
            "select program, method, precision_at_k, recovery_at_k from marts.model_performance "
            "where evaluated_on = 'truth_file' and k = ?",
            [K],
        ).fetchall()
        card = con.sql(
            "select program, random_audits, random_adjusted, random_predicted_hit_rate, "
            "random_realised_hit_rate, random_auc, random_predicted_yield, random_realised_yield, "
            "held_out_audits, held_out_predicted_yield, held_out_realised_yield, backtest_cutoff "
            "from marts.model_card"
        ).fetchall()
        params = con.execute("select program, params from scoring.risk_models").fetchall()
        # What share of each planted kind's gap the top K finds (the scores are stored ranked).
        by_kind = con.execute(
            "with t as (select * from read_csv($truth, all_varchar = true)), "
            "top as (select program, nit, tax_year::varchar as tax_year from ("
            "select program, nit, tax_year, row_number() over (partition by program order by "
            "expected_recovery desc, statute_expires_on, nit, tax_year) as r from ("
            "select * from scoring.omiso_scores union all by name "
            "select * from scoring.inexacto_scores)) where r <= $k) "
            "select t.program, t.kind, sum(t.true_gap::double) as gap, "
            "sum(t.true_gap::double) filter (where top.nit is not null) as found "
            "from t left join top using (program, nit, tax_year) "
            "group by all order by all",
            {"truth": str(truth / "tax_gap.csv"), "k": K},
        ).fetchall()
        columns = [
            "random_audits", "random_adjusted", "random_predicted_hit_rate",
            "random_realised_hit_rate", "random_auc", "random_predicted_yield",
            "random_realised_yield", "held_out_audits", "held_out_predicted_yield",
            "held_out_realised_yield", "backtest_cutoff",
        ]  # fmt: skip
    return {
        "seed": seed,
        "taxpayers": taxpayers,
        "pipeline_seconds": round(seconds, 1),
        "stage_seconds": {s.stage: round(s.seconds, 1) for s in stages},
        "mode": mode,
        "at_k": {
            f"{program}/{method}": {"precision": p, "recovery": r}
            for program, method, p, r in perf
        },
        "world": world,
        "model_params": dict(params),
        "gap_found_by_kind": {
            f"{program}/{kind}": round((found or 0) / gap, 3)
            for program, kind, gap, found in by_kind
            if gap
        },
        "random_audits": {
            row[0]: {c: (v.isoformat() if hasattr(v, "isoformat") else v)
                     for c, v in zip(columns, row[1:], strict=True)}
            for row in card
        },
    }


def summarise(results: list[dict], kind: str, title: str = "#") -> tuple[str, dict]:
    """A markdown report and the verdict per target."""
    seeds = ", ".join(str(r["seed"]) for r in results)
    lines = [
        f"{title} Audit targeting benchmark: {kind.split(' (')[0].lower()}",
        "",
        f"{kind}: seeds {seeds}, {results[0]['taxpayers']:,} taxpayers each. Generated by "
        "`benchmarks/targeting.py`.",
        "",
        f"{title}# Against the ground truth, top {K} per program",
        "",
        "| program | method | " + " | ".join(f"seed {r['seed']}" for r in results)
        + " | mean |",
        "|---|---|" + "---|" * (len(results) + 1),
    ]
    verdict = {}
    for program in ("inexacto", "omiso"):
        for metric in ("recovery", "precision"):
            for method in ("model", "rule", "random"):
                values = [r["at_k"][f"{program}/{method}"][metric] for r in results]
                cells = " | ".join(f"{v:.3f}" for v in values)
                lines.append(
                    f"| {program} | {method} {metric}@{K} | {cells} | "
                    f"{statistics.mean(values):.3f} |"
                )
        model_rec = [r["at_k"][f"{program}/model"]["recovery"] for r in results]
        model_prec = [r["at_k"][f"{program}/model"]["precision"] for r in results]
        rule_rec = [r["at_k"][f"{program}/rule"]["recovery"] for r in results]
        target_rec, target_prec = TARGETS[program]
        verdict[program] = {
            f"recovery@{K} >= {target_rec}": all(v >= target_rec for v in model_rec),
            f"precision@{K} >= {target_prec}": all(v >= target_prec for v in model_prec),
            f"recovery@{K} >= {RULE_MULTIPLE} x rule": all(
                m >= RULE_MULTIPLE * r for m, r in zip(model_rec, rule_rec, strict=True)
            ),
            "model / rule recovery": [round(m / r, 2) if r else None
                                      for m, r in zip(model_rec, rule_rec, strict=True)],
        }
    lines += ["", "Targets (met on every seed?):", ""]
    for program, checks in verdict.items():
        for name, ok in checks.items():
            lines.append(f"- {program}: {name}: {ok}")
    lines += [
        "",
        f"{title}# Predicted against realised yield on random audits after the backtest cut-off",
        "",
        "The backtest retrains each model as of a cut-off (24 months before the as-of date, "
        "features rebuilt as of that day) and scores the audits opened after it; the randomly "
        "selected ones are an unbiased sample of the open cases.",
        "",
        "| program | seed | random audits | adjusted | predicted hit rate | realised hit rate "
        "| AUC | predicted yield (COP M) | realised yield (COP M) | all held-out: predicted "
        "/ realised (COP M) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for program in ("inexacto", "omiso"):
        totals = {"p": 0.0, "r": 0.0, "n": 0, "a": 0}
        for r in results:
            c = r["random_audits"][program]
            totals["p"] += c["random_predicted_yield"] or 0
            totals["r"] += c["random_realised_yield"] or 0
            totals["n"] += c["random_audits"] or 0
            totals["a"] += c["random_adjusted"] or 0
            auc = "-" if c["random_auc"] is None else f"{c['random_auc']:.2f}"
            lines.append(
                f"| {program} | {r['seed']} | {c['random_audits']} | {c['random_adjusted']} | "
                f"{c['random_predicted_hit_rate'] or 0:.2f} | "
                f"{c['random_realised_hit_rate'] or 0:.2f} | {auc} | "
                f"{(c['random_predicted_yield'] or 0) / 1e6:,.0f} | "
                f"{(c['random_realised_yield'] or 0) / 1e6:,.0f} | "
                f"{(c['held_out_predicted_yield'] or 0) / 1e6:,.0f} / "
                f"{(c['held_out_realised_yield'] or 0) / 1e6:,.0f} |"
            )
        lines.append(
            f"| {program} | all | {totals['n']} | {totals['a']} | | | | "
            f"{totals['p'] / 1e6:,.0f} | {totals['r'] / 1e6:,.0f} | |"
        )
    lines += [
        "",
        "Pipeline seconds per seed (whole run, scoring stage): "
        + ", ".join(
            f"{r['seed']}: {r['pipeline_seconds']} s, scoring {r['stage_seconds']['scoring']} s"
            for r in results
        ),
        "",
    ]
    return "\n".join(lines), verdict


# Held-out seeds of the worlds table (#20): fixed before the second world existed.
WORLD_SEEDS = (9401, 9402, 9403)
WORLD_TAXPAYERS = 10_000
WORLDS_JSON = ROOT / "targeting_worlds.json"


# What a row of the worlds table measured, printed under its heading.
LABEL_NOTES = {
    "main at 90d8a5d, measured again": (
        "The baseline of this round: main's code (90d8a5d) on the same municipalities, "
        "scoring and marts run again (`--mode rescore`), as every row below. Main changed "
        "after the rows above were measured (merges of #18 and #19), so the same seeds give "
        "other figures (llanura omiso recovery 0.870, not 0.934): compare the rows below with "
        "this one. Run noise: main's full run of these municipalities (before any rescore) "
        "gave rionegro omiso 0.940 / 0.907, inexacto 0.917 / 0.887, llanura omiso "
        "0.990 / 0.891, inexacto 0.920 / 0.900 (up to 0.04 apart on one seed, 0.02 on a "
        "mean): differences below that size are not a finding."
    ),
    "omiso and inexacto amounts corroborated + selection correction": (
        "Corroborated amounts on both programs (at most 3 times what today's witnesses "
        "show) and the selection correction (tempered inverse-propensity weights)."
    ),
    "omiso and inexacto amounts corroborated, without the selection correction": (
        "The row above without the selection correction (`--no-selection-correction`): "
        "every closed audit weighs the same."
    ),
    "selection correction alone, no corroborated amounts": (
        "The selection correction without corroborated amounts (`--no-corroboration`): "
        "against the baseline, what the correction alone changes."
    ),
    "final: omiso with corroborated amounts and the selection correction; inexacto as on main": (
        "What this branch ships. omiso: corroborated amounts and the selection correction "
        "(together they raised recovery on both worlds, rows above). inexacto: neither (with "
        "corroborated amounts precision rose and recovery fell on both worlds; the selection "
        "correction cost the first world precision and moved recovery less than the seeds "
        "do), so its model is main's and its rows equal the baseline's (a rescore is "
        "deterministic)."
    ),
    "main at 9703c7c, full run": (
        "The baseline of the next round (llanura omiso recovery 0.910 < 0.92): main's code at "
        "9703c7c, every municipality generated and run again from scratch (`--mode full`, "
        "kept in a new cache). Every cell equals the final row above: nothing the lists "
        "depend on changed since. Every row below rescored these municipalities."
    ),
    "corroboration multiple learnt from the filers (90th percentile)": (
        "The omiso amount counted at most the multiple of what today's witnesses imply that "
        "nine returns in ten of the municipality stay within (the 90th percentile of declared "
        "tax over the largest witness-implied tax, over the amount model's rows a witness saw; "
        "learnt 1.8-1.9 on every municipality here), instead of a fixed 3. The cases it moves: "
        "contractors that answered the planted letter campaign with one late return leave the "
        "contractor rule, and their other years were counted at three times their third-party "
        "tax, about twice what they owed, above better cases. inexacto has no corroboration: "
        "its rows cannot move."
    ),
    "+ ranked on the evidence at the higher of its hit rate and the model's probability": (
        "A case ranked on the contractor rule keeps the model's probability when it is higher "
        "than the rule's hit rate: with no closed audit showing the evidence (llanura 9403) "
        "that rate is an even bet, and contractors the model put at 0.86 were counted at 0.5. "
        "Rionegro has no contractor evidence: its rows cannot move. Shipped. Variants measured "
        "and not kept: benchmarks/targeting_variants.md."
    ),
    "main's code (9703c7c), llanura generated without the planted letter campaign": (
        "What cost llanura omiso recovery between the 'after (final)' row (0.934) and main at "
        "90d8a5d: not the code (no scoring, feature or staging change between b420f8d and "
        "90d8a5d) but the world. #18 added a past letter campaign to the demo generator: "
        "non-filers of the year before last that answered it filed one late return, and "
        "the truth follows. The same seeds generated without it (`--no-past-campaign`, main's "
        "code, full run) give 0.936 again: the campaign's responders are contractors and "
        "registered businesses seen by third parties whose single late return moved them out "
        "of the contractor rule and into amounts their witnesses did not support."
    ),
    "this branch, llanura generated without the planted letter campaign": (
        "The row above rescored with this branch's code: on the world without the campaign "
        "the two changes do not cost what they bought on the world with it."
    ),
    "main at 58f2991, full run, development seeds": (
        "The baseline of round 3 (rionegro inexacto precision@100 0.873 on seeds 9501-9503, "
        "target 0.90): main's code at 58f2991, the municipalities of the six development seeds "
        "(9401-9403 and 9501-9503, both seen before) generated and run from scratch into a new "
        "cache (`--mode full`). The rows below rescored these municipalities."
    ),
    "unwitnessed money at the case's probability (inexacto)": (
        "inexacto only (ProgramSpec.amount_witnesses, ranking.witnessed_amount): the part of "
        "the predicted amount up to the largest shortfall the case's witnesses show (the "
        "data-matching checks, the registry, linked NITs) counts in full, the rest, which the "
        "amount model extrapolates from size and history, at the case's probability. The "
        "false positives it moves out of the top 100: honest, mostly large firms at "
        "probability 0.03-0.8 whose COP 0.08-8 bn amounts the checks, the registry and linked "
        "NITs showed less than a quarter of (docs/targeting.md, round 3). Shipped. omiso "
        "rows cannot move (no witnesses declared). Variants measured and not kept: "
        "benchmarks/targeting_variants.md, inexacto section."
    ),
    "held-out seeds 9601-9603 (round 3)": (
        "Fresh seeds fixed before round 3 and run once, with the final code of round 3 "
        "(`--mode full`, new municipalities): reported as they came out. Measured after "
        "it, to tell the change from the seeds (nothing was changed after): the same "
        "municipalities and stored models ranked with the whole amount counted, as main "
        "does, give inexacto rionegro 0.913 / 0.817 (9601: 0.96 / 0.82, 9602: 0.90 / 0.76, "
        "9603: 0.88 / 0.87) and llanura 0.953 / 0.884 (0.96 / 0.91, 0.95 / 0.92, 0.95 / "
        "0.81); omiso is the same code as main's."
    ),
    "evidence hit rate from the random audits only (omiso)": (
        "Round 3, after the held-out seeds (docs/targeting.md, 'what the top 100 misses'): the "
        "nine seen seeds (9401-9403, 9501-9503, 9601-9603; the last three from their held-out "
        "run), scoring and marts run again. omiso only: the contractor evidence's hit rate "
        "learnt from random audits only (model.STAFF_PICK_WEIGHT); on llanura 9602 it rested "
        "on one clean staff pick (1/3), on every other municipality here on random audits "
        "or none, so only that cell can move. inexacto is main's code: its rows are main's."
    ),
    "held-out seeds 9701-9703 (round 3, after recovery)": (
        "Fresh seeds, never run before, run once with this branch's final code (`--mode "
        "full`, new municipalities in /tmp/recovery/heldout97): reported as they came out. "
        "Attribution, measured after it: main's code ranks the same lists on all six "
        "(inexacto is main's code; omiso re-ranked with main's contractor hit rate: only "
        "llanura 9701 had a staff-picked evidence audit, a hit, rate 0.67 against 0.5, same "
        "top 100, 0.99 / 0.96). The misses are the ones docs/targeting.md explains: rionegro "
        "9701 inexacto (0.77) leaves out 0.269 of the best 100's money, 0.262 of it in "
        "never-audited firms, 0.206 at probability below 0.1."
    ),
    "held-out seeds 9801-9803, main df85b5b": (
        "Fresh seeds fixed before round 4 and never seen by the sessions that worked on it: "
        "the lead ran them once with main's code at the start of round 4 (`--mode full`), "
        "reported as they came out. Every target of our worlds is met on this triple, as on "
        "none of the two before it: the seed noise docs/targeting.md (round 4) measures."
    ),
    "held-out seeds 9801-9803, round 4 (audited tax)": (
        "The same six municipalities after round 4 merged (`--mode refeature`: features, "
        "scoring and marts again): only omiso can move (the audited tax), rionegro omiso "
        "0.944 -> 0.948, llanura 0.928 -> 0.929; inexacto the same lists."
    ),
    "held-out seeds 9901-9903, round 4 (audited tax)": (
        "Fresh seeds, never run before, run once with round 4's final code (`--mode full`), "
        "reported as they came out. rionegro misses three targets on this triple (inexacto "
        "recovery 0.814 and precision 0.890, omiso recovery 0.916). Over the twelve fresh "
        "seeds run since round 3 (9601-9903, four triples, each once), rionegro inexacto is "
        "0.917 / 0.842 and omiso 0.965 / 0.923 (round 4's code from 9801 on); llanura "
        "inexacto 0.958 / 0.867, omiso 0.980 / 0.931."
    ),
    "held-out seeds 10001-10003 (round 5, main 5df61a9)": (
        "Fresh seeds fixed at the start of round 5, never run before, run once with main's "
        "code as round 4 left it (`--mode full`), reported as they came out; with the next "
        "triple, the baseline any round-5 change is compared with on the same municipalities."
    ),
    "held-out seeds 10101-10103 (round 5, main 5df61a9)": (
        "The second fresh triple of round 5, same code, run once. rionegro inexacto recovery "
        "0.786 (two seeds at 0.75). Round 4's code over its twelve fresh seeds (9801-10103, "
        "four triples, each run once): rionegro inexacto 0.917 / 0.836 (sd 0.053 between "
        "seeds, standard error 0.015), omiso 0.951 / 0.927; llanura inexacto 0.963 / 0.871, "
        "omiso 0.984 / 0.937."
    ),
    "held-out seeds 10001-10003, round 5 (extra trees)": (
        "The same six municipalities as the row 'held-out seeds 10001-10003 (round 5, main "
        "5df61a9)', scoring and marts run again (`--mode rescore`) with round 5's extremely "
        "randomised inexacto classifiers; main's code rescored the same way gives its full "
        "run's figures exactly, so the two rows differ by the change alone."
    ),
    "held-out seeds 10101-10103, round 5 (extra trees)": (
        "As above, on the 10101-10103 municipalities. Over the six seeds, paired: rionegro "
        "inexacto 0.925 / 0.817 -> 0.912 / 0.832 (recovery +0.015, se 0.007), llanura "
        "0.968 / 0.873 -> 0.957 / 0.865 (-0.008, se 0.006); omiso unchanged "
        "(docs/targeting.md, round 5)."
    ),
    "held-out seeds 9901-9903, round 5 (extra trees)": (
        "The 9901-9903 municipalities of round 4 run again with round 5's code (`--mode full`: "
        "their warehouses predate ref.cpi_by_year), against the row 'held-out seeds 9901-9903, "
        "round 4 (audited tax)' (round 5 changed no other output: the department changes keep "
        "every table). rionegro inexacto 0.890 / 0.814 -> 0.887 / 0.811, llanura inexacto "
        "0.957 / 0.852 -> 0.963 / 0.874. Over the lead's nine fresh seeds (9901-10103), paired: "
        "rionegro inexacto recovery +0.007 (se 0.006), precision -0.010 (se 0.007); llanura "
        "+0.002 (0.007) and -0.006 (0.007)."
    ),
    "round 6, main 88f5384 (extra trees), fresh seeds 10201-10303": (
        "Six fresh seeds fixed at the start of round 6, run once in full with main's code "
        "(88f5384, round 5's extremely randomised inexacto classifiers) and reported as they "
        "came out; this row is the same municipalities scored again with that code "
        "(`--mode rescore`), identical to the full run seed by seed. rionegro inexacto "
        "precision 0.848 is under 0.90 (docs/targeting.md, round 6)."
    ),
    "round 6 paired: fresh 10201-10303 without extra trees": (
        "The same municipalities and code with plain inexacto classifiers (round 4's): rionegro "
        "inexacto 0.848 / 0.837 -> 0.892 / 0.855, llanura 0.955 / 0.863 -> 0.965 / 0.852; omiso "
        "unchanged. With round 5's fresh pairs, over eighteen fresh seeds the extra trees bought "
        "no recovery for about 0.02 of precision: dropped (docs/targeting.md, round 6). The rows "
        "down to 'seen seeds' are the code as shipped after round 6 on earlier seeds."
    ),
    "round 6 paired: 10001-10003 without extra trees": (
        "Round 6's code (plain classifiers) on the round-5 municipalities, `--mode rescore`: "
        "the same figures as round 4's code gave them (row 'held-out seeds 10001-10003 (round "
        "5, main 5df61a9)'): no other change since alters an inexacto or omiso list."
    ),
    "round 6 paired: 10101-10103 without extra trees": (
        "As above, 10101-10103 (the same figures as the row of round 5, main 5df61a9)."
    ),
    "round 6 paired: 9901-9903 without extra trees": (
        "As above, 9901-9903 (the same figures as round 4's row for them)."
    ),
    "round 6 paired: 9801-9803 without extra trees": (
        "As above, 9801-9803, `--mode full` (their warehouses predate ref.cpi_by_year): the "
        "same figures as round 4's row for them."
    ),
    "round 6 paired: seen seeds without extra trees": (
        "As above, the twelve development seeds, `--mode full`: the same as round 4's stored "
        "models gave them (rionegro inexacto 0.924 / 0.848, llanura 0.949 / 0.883)."
    ),
    "round 6, main 8a9255e (plain classifiers, witnesses trusted from the base rate), fresh "
    "seeds 10401-10503": (
        "Six more fresh seeds, fixed after the extra trees were dropped, run once in full with "
        "main 8a9255e: plain classifiers and a ranking change not kept (the witnessed amount "
        "counted at min(1, p / base rate): over 36 seeds rionegro precision +0.010, recovery "
        "-0.001, one seed -0.092; targeting_inexacto_variants.py). The next row is the shipped "
        "ranking on the same municipalities."
    ),
    "round 6, final (plain classifiers, round 4's ranking), fresh seeds 10401-10503": (
        "The shipped code after round 6 on 10401-10503 (`--mode rescore` of the row above's "
        "municipalities, same models). Over the 24 fresh seeds run since round 4 (9801-10503), "
        "with this code: rionegro inexacto 0.907 / 0.849, omiso 0.957 / 0.927; llanura "
        "inexacto 0.962 / 0.859, omiso 0.988 / 0.943 (docs/targeting.md, round 6)."
    ),
}


def worlds_table(runs: dict[str, dict[str, list[dict]]]) -> str:
    """Markdown: per label (a modelling state) and world, precision@K and recovery@K of each
    program per seed and their mean, then the share of each planted kind's gap found."""
    lines = [
        "# Targeting across worlds (issue #20)",
        "",
        "Generated by `benchmarks/targeting.py --worlds ...`: each row a modelling state, each "
        f"cell precision / recovery at k = {K} against the planted truth.",
        "",
    ]
    for label, worlds in runs.items():
        note = LABEL_NOTES.get(label)
        lines += [f"## {label}", "", *([note, ""] if note else []),
                  "| world | program | " + "per seed (p / r) | "
                  "mean precision | mean recovery |", "|---|---|---|---|---|"]
        for world, results in worlds.items():
            for program in ("omiso", "inexacto"):
                cell = [r["at_k"][f"{program}/model"] for r in results]
                seeds = ", ".join(
                    f"{r['seed']}: {c['precision']:.2f} / {c['recovery']:.2f}"
                    for r, c in zip(results, cell, strict=True)
                )
                lines.append(
                    f"| {world} | {program} | {seeds} | "
                    f"{statistics.mean(c['precision'] for c in cell):.3f} | "
                    f"{statistics.mean(c['recovery'] for c in cell):.3f} |"
                )
        lines += ["", "Share of each planted kind's gap in the top 100 (mean over seeds):", ""]
        for world, results in worlds.items():
            kinds = sorted({k for r in results for k in r["gap_found_by_kind"]})
            parts = [
                f"{k} {statistics.mean(r['gap_found_by_kind'].get(k, 0) for r in results):.2f}"
                for k in kinds
            ]
            lines.append(f"- {world}: " + "; ".join(parts))
        lines.append("")
    return "\n".join(lines)


def run_worlds(
    worlds: list[str],
    seeds: tuple[int, ...],
    taxpayers: int,
    label: str,
    cache: Path | None = None,
    mode: str = "full",
) -> None:
    """One row of the worlds table. ``cache``: keep each municipality in ``cache/world-seed``
    (``mode`` rescore or collect reuse it; see ``run_seed``)."""
    runs = json.loads(WORLDS_JSON.read_text()) if WORLDS_JSON.exists() else {}
    runs[label] = {}
    for world in worlds:
        results = []
        for seed in seeds:
            print(f"{world} seed {seed}: {mode} ...", flush=True)
            if cache is not None:
                workdir = cache / f"{world}-{seed}"
                workdir.mkdir(parents=True, exist_ok=True)
                results.append(run_seed(seed, taxpayers, workdir, world, mode))
                continue
            with tempfile.TemporaryDirectory(prefix=f"targeting-{world}-{seed}-") as tmp:
                results.append(run_seed(seed, taxpayers, Path(tmp), world))
        runs[label][world] = results
        WORLDS_JSON.write_text(json.dumps(runs, indent=2, default=str) + "\n", encoding="utf-8")
    table = worlds_table(runs)
    (ROOT / "targeting_worlds.md").write_text(table, encoding="utf-8")
    print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="development seeds (prints only)")
    parser.add_argument("--taxpayers", type=int, default=None)
    parser.add_argument("--worlds", nargs="+", help="worlds × seeds table (issue #20)")
    parser.add_argument("--label", default="current", help="with --worlds: the modelling state")
    parser.add_argument("--cache", type=Path, help="with --worlds: keep the municipalities here")
    parser.add_argument("--mode", choices=("full", "rescore", "refeature", "collect"),
                        default="full",
                        help="with --cache: rebuild all, rerun scoring and marts (refeature: "
                             "features, scoring and marts), or only read")
    parser.add_argument("--no-selection-correction", action="store_true",
                        help="every closed audit weighs the same (model.SELECTION_CORRECTION)")
    parser.add_argument("--no-corroboration", action="store_true",
                        help="amounts not checked against the current witnesses")
    parser.add_argument("--no-past-campaign", action="store_true",
                        help="generate the municipalities without the planted letter campaign")
    args = parser.parse_args(argv)
    if args.no_past_campaign:
        global PAST_CAMPAIGN
        PAST_CAMPAIGN = False
    if args.no_selection_correction:
        from fiscal_intel.scoring import model

        model.SELECTION_CORRECTION = False
    if args.no_corroboration:
        import dataclasses

        from fiscal_intel.scoring.programs import PROGRAMS

        for name, spec in list(PROGRAMS.items()):
            PROGRAMS[name] = dataclasses.replace(spec, corroboration=())
    if args.worlds:
        run_worlds(args.worlds, tuple(args.seeds or WORLD_SEEDS),
                   args.taxpayers or WORLD_TAXPAYERS, args.label, args.cache, args.mode)
        return 0
    args.taxpayers = args.taxpayers or TAXPAYERS
    held_out = args.seeds is None
    groups = (
        [
            ("Held-out demo municipalities (never run while developing)", HELD_OUT_SEEDS),
            ("Previously held-out demo municipalities (results seen before this round)",
             SEEN_SEEDS),
        ]
        if held_out
        else [("Development demo municipalities", tuple(args.seeds))]
    )
    reports, everything = [], {}
    for kind, seeds in groups:
        results = []
        for seed in seeds:
            with tempfile.TemporaryDirectory(prefix=f"targeting-{seed}-") as tmp:
                print(f"seed {seed}: generating and running ...", flush=True)
                results.append(run_seed(seed, args.taxpayers, Path(tmp)))
        report, verdict = summarise(results, kind)
        print(report, flush=True)
        reports.append(report)
        everything[kind] = {"results": results, "verdict": verdict}
    if held_out:
        (ROOT / "targeting_results.md").write_text("\n".join(reports), encoding="utf-8")
        (ROOT / "targeting_results.json").write_text(
            json.dumps(everything, indent=2, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
