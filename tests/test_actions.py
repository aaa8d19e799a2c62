"""From list to action: the action per case, campaigns with a random control group, and the
effects measured against it (fiscal_intel.actions; README "Actions and campaigns")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import polars as pl
import pytest

from fiscal_intel.actions.campaign import assign_arms, strata
from fiscal_intel.actions.choice import Capacities, choose_actions
from fiscal_intel.actions.effects import itt_effect
from fiscal_intel.cli import main
from fiscal_intel.demo.campaign import (
    DELAY_MEAN_DAYS,
    P_BASE,
    P_REGISTERED,
    P_SEEN,
    planted_itt,
    simulate_response,
)
from fiscal_intel.sqlfiles import frame

CAP = Capacities(audits=2, requests=3, audit_cost=2.4e6, request_cost=180_000, letter_cost=8_000)
PRIORS = {("omiso", "emplazamiento"): 0.3, ("inexacto", "requerimiento"): 0.35,
          ("omiso", "carta"): 0.05, ("inexacto", "carta"): 0.05}  # fmt: skip


def test_actions_follow_expected_net_under_capacities() -> None:
    cases = pl.DataFrame({
        "program": ["omiso", "omiso", "inexacto", "inexacto", "omiso", "inexacto", "omiso"],
        "nit": ["1", "2", "3", "4", "5", "6", "7"],
        "tax_year": [2023] * 7,
        "expected_recovery": [50e6, 40e6, 30e6, 20e6, 10e6, 5e6, 1e5],
        "late_probability": [0.99, None, None, None, None, None, None],
    })  # fmt: skip
    out = choose_actions(cases, PRIORS, CAP)
    action = dict(zip(out["nit"], out["action"], strict=True))
    # The probable late filer gets a demand to file, not an audit: the audits go to the next two.
    assert action["1"] == "emplazamiento"
    assert [action[n] for n in ("2", "3")] == ["fiscalizacion", "fiscalizacion"]
    assert (out["action"] == "fiscalizacion").sum() == CAP.audits
    assert out.filter(pl.col("action").is_in(["emplazamiento", "requerimiento"])).height <= 3
    assert action["7"] == "carta"  # too small for anything dearer
    row = out.filter(pl.col("nit") == "2").row(0, named=True)
    assert row["expected_net"] == row["expected_money"] - CAP.audit_cost
    # A measured yield replaces the prior: letters that earn half the audit money win cases.
    measured = choose_actions(cases, {**PRIORS, ("inexacto", "carta"): 0.5}, CAP)
    assert (measured["action"] == "requerimiento").sum() < (out["action"] == "requerimiento").sum()


def _amounts(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.round(rng.lognormal(13, 1.5, n), -3)


def test_assignment_is_balanced_on_expected_yield() -> None:
    rng = np.random.default_rng(5)
    amount = np.sort(_amounts(rng, 500))[::-1]
    stratum = strata(len(amount))
    arms = assign_arms(stratum, 0.2, rng)
    assert (arms == "control").sum() == 100
    for s in np.unique(stratum):
        share = (arms[stratum == s] == "control").mean()
        assert abs(share - 0.2) <= 0.03, (s, share)
    t, c = amount[arms == "treatment"], amount[arms == "control"]
    smd = abs(t.mean() - c.mean()) / np.sqrt((t.var() + c.var()) / 2)
    assert smd < 0.1, smd  # stratified: far tighter than a plain draw's ~0.11 s.d. of the SMD


def _simulated(seed: int, effect: float) -> dict[str, tuple]:
    """One simulated campaign of 1,500 cases as the demo plants it; (estimate, planted) per
    outcome at 180 days."""
    rng = np.random.default_rng([seed, 99])
    n = 1_500
    amount = np.sort(_amounts(rng, n))[::-1]
    seen, registered = rng.random(n) < 0.4, rng.random(n) < 0.7
    p = effect * (P_BASE + P_SEEN * seen + P_REGISTERED * registered)
    treated = assign_arms(strata(n), 0.2, rng) == "treatment"
    sent, _, responds, day = simulate_response(rng, treated, p)
    within = responds & (day <= 180)
    planted = planted_itt(p, amount, sent)[180]
    return {
        "filing_rate": (itt_effect(within, treated), planted["filing_rate"]),
        "money_paid": (itt_effect(within * amount, treated), planted["money_paid"]),
    }


def test_null_effect_interval_covers_zero_in_at_least_18_of_20_seeds() -> None:
    for outcome in ("filing_rate", "money_paid"):
        covered = sum(_simulated(seed, 0.0)[outcome][0].covers(0.0) for seed in range(20))
        assert covered >= 18, (outcome, covered)


def test_planted_effect_within_interval_in_at_least_18_of_20_seeds() -> None:
    for outcome in ("filing_rate", "money_paid"):
        hits = 0
        for seed in range(20):
            effect, planted = _simulated(seed, 1.0)[outcome]
            hits += effect.covers(planted)
        assert hits >= 18, (outcome, hits)
    assert DELAY_MEAN_DAYS < 180  # the 180-day window sees most responses


# --- on the demo --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(campaign_run) -> dict:
    """The session demo's municipality (1,000 taxpayers, seed 7) with its planted past campaign,
    run end to end with the campaign register imported, as `fiscal-intel demo` does: the
    session's ``campaign_run`` (tests/conftest.py), shared with the pushdown tests."""
    return campaign_run


def test_demo_campaign_effect_recovers_the_planted_one(demo_run) -> None:
    planted = json.loads((demo_run["truth"] / "campaign_manifest.json").read_text())
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        rows = frame(
            con, "select * from marts.campaign_effects where campaign_id = $c order by window_days",
            {"c": planted["campaign_id"]},
        )
    assert rows["window_days"].to_list() == [30, 90, 180]
    assert rows["window_complete"].all()
    assert rows["treatment_cases"][0] == planted["treatment"]
    assert rows["control_cases"][0] == planted["control"]
    assert rows["cases_sent"][0] == planted["sent"]  # intention to treat: unsent cases count
    last = rows.row(2, named=True)
    for outcome in ("filing_rate", "money_paid"):
        truth = planted["planted_itt"]["180"][outcome]
        assert last[f"{outcome}_diff_low"] <= truth <= last[f"{outcome}_diff_high"], outcome
    assert last["filing_rate_diff_low"] > 0  # the letters worked, and the data show it
    assert last["cost_per_peso"] == last["cost"] / last["extra_money"]


def test_every_open_case_has_an_action_within_capacity(demo_run) -> None:
    settings = demo_run["settings"]
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        ranking = frame(
            con, "select program, rank, action, expected_net, expected_recovery "
            "from marts.audit_ranking"
        )
    assert ranking["action"].null_count() == 0
    assert set(ranking["action"]) <= {"fiscalizacion", "requerimiento", "emplazamiento", "carta"}
    assert (ranking["action"] == "fiscalizacion").sum() <= settings.audits_per_year
    assert ranking.filter((pl.col("program") == "omiso") & (pl.col("action") == "requerimiento"))\
        .height == 0  # fmt: skip
    # rank is still the contract's: expected recovery, highest first
    for _, group in ranking.group_by("program"):
        g = group.sort("rank")
        assert g["expected_recovery"].is_sorted(descending=True)


def test_measured_effect_replaces_the_prior(demo_run) -> None:
    from fiscal_intel.assets.actions import case_action_frame

    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        _, used = case_action_frame(con, demo_run["settings"])
    assert used["omiso/carta"]["source"] == "measured"
    assert used["omiso/carta"]["yield"] != demo_run["settings"].prior_yield_carta
    assert used["inexacto/carta"]["source"] == "prior"


def test_campaign_command_draws_once_and_mails_the_treatment_group(
    demo_run, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(demo_run["warehouse"], warehouse)
    args = ["campaign", "--warehouse", str(warehouse), "--program", "omiso", "--action",
            "carta", "--size", "60"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a.xlsx")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.xlsx")]) == 0  # same arguments: same draw
    assert main([*args, "--seed", "2", "--out", str(tmp_path / "c.xlsx")]) == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        campaigns = con.execute(
            "select campaign_id, treatment, control from ops.campaigns "
            "where created_by = 'fiscal-intel campaign' order by campaign_id"
        ).fetchall()
        assert len(campaigns) == 2
        first, second = (
            frame(
                con, "select nit, tax_year, arm, stratum from ops.campaign_assignments "
                "where campaign_id = $c order by nit, tax_year", {"c": cid},
            )
            for cid, _, _ in campaigns
        )
        actions = con.execute(
            "select distinct r.action from ops.campaign_assignments as a join "
            "marts.audit_ranking as r using (nit, tax_year) where a.campaign_id in (?, ?)",
            [campaigns[0][0], campaigns[1][0]],
        ).fetchall()
    assert first.join(second, on=["nit", "tax_year"]).height == 0  # no case in two campaigns
    assert actions == [("carta",)]  # none taken from a higher action
    assert {cid: (t, c) for cid, t, c in campaigns} == {campaigns[0][0]: (48, 12),
                                                        campaigns[1][0]: (48, 12)}  # fmt: skip
    a = list(openpyxl.load_workbook(tmp_path / "a.xlsx").active.iter_rows(values_only=True))
    b = list(openpyxl.load_workbook(tmp_path / "b.xlsx").active.iter_rows(values_only=True))
    assert a == b and len(a) == 1 + 48
    header = a[0]
    assert header[:4] == ("Campaña", "Razón social", "NIT", "Año gravable")
    nits = {row[2] for row in a[1:]}
    mine = campaigns[0][0] if set(first["nit"]) >= nits else campaigns[1][0]
    treated = (first if mine == campaigns[0][0] else second).filter(pl.col("arm") == "treatment")
    assert nits == set(treated["nit"])  # the treatment group only
    assert all("ET" in row[6] or "Estatuto Tributario" in row[6] for row in a[1:])
    evidence = [row[7] for row in a[1:] if row[7]]
    assert all("reportaron pagos por COP" in e or "reportó pagos por COP" in e for e in evidence)


def test_campaign_rerun_on_later_data_gives_back_the_open_campaign(
    demo_run, tmp_path: Path
) -> None:
    from fiscal_intel.actions.campaign import OPEN_DAYS, draw_campaign

    warehouse = tmp_path / "w.duckdb"
    shutil.copy(demo_run["warehouse"], warehouse)
    args = {"program": "omiso", "action": "carta", "size": 30, "seed": 5}
    with duckdb.connect(str(warehouse)) as con:
        first = draw_campaign(con, **args)
        assert first.new
        # a nightly run moved the as-of date: the same arguments find the open campaign
        con.execute("update staging.as_of_date set as_of = as_of + 40")
        again = draw_campaign(con, **args)
        assert (again.campaign_id, again.new, again.as_of) == (first.campaign_id, False,
                                                               first.as_of)  # fmt: skip
        other = draw_campaign(con, **{**args, "seed": 6})  # other arguments: a new draw
        assert other.new and other.campaign_id != first.campaign_id
        # once the campaign is closed, the same arguments draw the next campaign
        con.execute(f"update staging.as_of_date set as_of = as_of + {OPEN_DAYS}")
        later = draw_campaign(con, **args)
        assert later.new and later.campaign_id != first.campaign_id
        n = con.execute("select count(*) from ops.campaign_assignments where campaign_id = ?",
                        [first.campaign_id]).fetchall()[0][0]  # fmt: skip
    assert n == 30  # the first campaign's assignments are untouched


def test_case_file_shows_the_action(demo_run, tmp_path: Path) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        nit, year, action = con.execute(
            "select nit, tax_year, action from marts.audit_ranking where program = 'omiso' "
            "order by rank limit 1"
        ).fetchall()[0]
    from fiscal_intel.actions.texts import NAMES

    out = tmp_path / "caso.xlsx"
    assert main(["case", "--warehouse", str(demo_run["warehouse"]), "--nit", nit, "--year",
                 str(year), "--program", "omiso", "--out", str(out)]) == 0  # fmt: skip
    cells = {c for ws in openpyxl.load_workbook(out) for row in ws.iter_rows(values_only=True)
             for c in row if c is not None}  # fmt: skip
    assert "Acción recomendada" in cells and NAMES["es"][action] in cells


def test_audit_workbook_has_a_sheet_per_action(demo_run, tmp_path: Path) -> None:
    out = tmp_path / "omisos.xlsx"
    args = ["audit-list", "--warehouse", str(demo_run["warehouse"]), "--program", "omiso",
            "--top", "400", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "Omisos" and wb.sheetnames[-1] == "Acerca de"
    assert set(wb.sheetnames[1:-1]) <= {"Fiscalización", "Emplazamiento", "Carta"}
    assert "Fiscalización" in wb.sheetnames
    headers = [c.value for c in wb["Omisos"][1]]
    assert "Acción recomendada" in headers
    col = headers.index("Acción recomendada")
    shown = {r[col] for r in wb["Fiscalización"].iter_rows(min_row=2, values_only=True)}
    assert shown == {"Fiscalización (visita o auditoría)"}
    total = sum(wb[s].max_row - 1 for s in wb.sheetnames[1:-1])
    assert total == wb["Omisos"].max_row - 1


def test_calibration_sets_predicted_against_realised_with_a_cross_fitted_correction(
    demo_run,
) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        cal = frame(con, "select * from marts.calibration")
        backtest = frame(
            con, "select program, sum(expected_recovery) as p, sum(coalesce(assessed_amount, 0)) "
            "as r, count(*) as n from scoring.backtest group by program"
        )
    totals = cal.filter(pl.col("decile").is_null() & (pl.col("sample") == "held_out"))
    for row in backtest.iter_rows(named=True):
        mine = totals.filter(pl.col("program") == row["program"]).row(0, named=True)
        assert mine["audits"] == row["n"]
        assert abs(mine["predicted"] - row["p"]) < 1 and abs(mine["realized"] - row["r"]) < 1
        assert abs(mine["correction_factor"] - row["r"] / row["p"]) <= 5e-7  # 6 decimals
        deciles = cal.filter((pl.col("program") == row["program"])
                             & (pl.col("sample") == "held_out") & pl.col("decile").is_not_null())
        assert deciles["audits"].sum() == row["n"] and deciles["decile"].max() <= 10
    # the factor's 90 % sampling interval brackets it
    assert (totals["factor_low"] <= totals["correction_factor"]).all()
    assert (totals["correction_factor"] <= totals["factor_high"]).all()
    applied = cal.filter(pl.col("correction_applied"))
    assert (applied["correction_factor"] - 1).abs().min() > 0.1 if applied.height else True


def test_uplift_learnt_from_the_demo_campaign_targets_the_next_one(
    demo_run, tmp_path: Path
) -> None:
    from fiscal_intel.actions.uplift import learn

    warehouse = tmp_path / "w.duckdb"
    shutil.copy(demo_run["warehouse"], warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        model = learn(con, "omiso", "carta")
        assert learn(con, "inexacto", "carta") is None  # nothing measured to learn from
    # planted: firms seen by third parties respond more, registered ones too
    assert model[(True, True)] > model[(False, False)]
    args = ["campaign", "--warehouse", str(warehouse), "--program", "omiso", "--action",
            "carta", "--size", "40"]  # fmt: skip
    assert main([*args, "--target", "uplift", "--out", str(tmp_path / "u.xlsx")]) == 0
    assert main([*args, "--target", "uplift", "--program", "inexacto",
                 "--out", str(tmp_path / "v.xlsx")]) == 1  # fmt: skip


def _randomized_cases(n: int, seed: int, by_segment_only: bool) -> pl.DataFrame:
    from fiscal_intel.actions.uplift import FEATURES

    rng = np.random.default_rng(seed)
    feats = {c: rng.lognormal(1, 1, n) for c in FEATURES["omiso"]}
    seen, registered = rng.random(n) < 0.5, rng.random(n) < 0.6
    treated = rng.random(n) < 0.8
    response = (0.05 + 0.2 * seen + 0.1 * registered if by_segment_only
                else 0.05 + 0.5 * (feats["employees"] > np.exp(1.5)))  # fmt: skip
    filed = rng.random(n) < 0.04 + treated * response
    return pl.DataFrame({"nit": [str(900_000 + i) for i in range(n)], "tax_year": 2023,
                         "treated": treated, "filed": filed, "seen_by_third_party": seen,
                         "registered": registered, **feats}), response  # fmt: skip


def test_learnt_uplift_is_used_only_where_it_predicts_held_out_response_better() -> None:
    from fiscal_intel.actions.uplift import _matrix, fit_learnt

    # the response depends on a feature the segments do not see: the learnt model wins
    rows, truth = _randomized_cases(3_000, 1, by_segment_only=False)
    model = fit_learnt(rows, "omiso")
    assert model.beats_segments
    assert (model.cases, model.control_cases) == (3_000, (~rows["treated"]).sum())
    assert np.corrcoef(model.response(_matrix(rows, "omiso")), truth)[0, 1] > 0.8
    # the response depends on the segments alone: the segments are kept
    rows, _ = _randomized_cases(3_000, 2, by_segment_only=True)
    assert not fit_learnt(rows, "omiso").beats_segments


def test_uplift_campaign_with_a_learnt_model(demo_run, tmp_path: Path, monkeypatch) -> None:
    import fiscal_intel.actions.uplift as uplift
    from fiscal_intel.actions.campaign import draw_campaign

    warehouse = tmp_path / "w.duckdb"
    shutil.copy(demo_run["warehouse"], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        assert uplift.learn_model(con, "omiso", "carta") is None  # too few randomized cases
        assert isinstance(uplift.best_model(con, "omiso", "carta"), dict)  # the segments
        monkeypatch.setattr(uplift, "MIN_CASES", 50)
        monkeypatch.setattr(uplift, "MIN_CONTROL", 10)
        monkeypatch.setattr(uplift.LearntUplift, "beats_segments", property(lambda self: True))
        model = uplift.best_model(con, "omiso", "carta")
        assert isinstance(model, uplift.LearntUplift) and model.cases >= 50
        campaign = draw_campaign(con, program="omiso", action="carta", size=30, seed=3,
                                 target="uplift")  # fmt: skip
        assert campaign.new and campaign.treatment + campaign.control == 30
        assert "learnt model" in campaign.picked_by


def test_planted_campaign_is_deterministic_and_its_returns_are_in_the_truth(
    tmp_path: Path,
) -> None:
    from fiscal_intel.demo import generate

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file()}  # fmt: skip

    a = generate(tmp_path / "a" / "landing", tmp_path / "a" / "truth", taxpayers=400, seed=3)
    b = generate(tmp_path / "b" / "landing", tmp_path / "b" / "truth", taxpayers=400, seed=3)
    assert files(a.landing) == files(b.landing) and files(a.truth_dir) == files(b.truth_dir)
    assert (a.landing / "actions" / "actions.csv").is_file()
    year = pl.read_csv(a.truth_dir / "campaign_register.csv")["tax_year"][0]
    planted = pl.read_csv(a.landing / "declarations" / f"declarations_{year}.csv",
                          schema_overrides={"nit": pl.Utf8}).filter(
        pl.col("declaration_id").str.slice(6).cast(pl.Int64) >= 900_000)  # fmt: skip
    assert planted.height > 0
    truth = pl.read_csv(a.truth_dir / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    mine = truth.join(planted.select("nit", "tax_year", "total_tax"), on=["nit", "tax_year"])
    assert mine.height == planted.height  # every late return the campaign brought is in the truth
    assert (mine["program"] == "inexacto").all() and (mine["true_gap"] == 0).all()
    assert (mine["declared_tax"] == mine["total_tax"]).all()
    register = pl.read_csv(a.truth_dir / "campaign_register.csv")
    assert set(register["arm"]) == {"treatment", "control"}
