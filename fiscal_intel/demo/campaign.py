"""A past campaign planted in the synthetic municipality, so the effect measurement can be
checked against a known truth.

Some months before the data end the office sent persuasive letters to the non-filers of the
year before last: their cases were split at random into treatment (80 %) and control (20 %)
within strata of expected yield, as ``fiscal-intel campaign`` does. A share of every case files
late anyway (the trend, both arms); on top of that, a treated case responds with a probability
that depends on the case: more when third parties reported paying it and when it is a
registered operating business, none when the letter was not actually sent. A responder files
the return it owed and pays it. What the office recorded goes where it would: the letters sent
to ``landing/actions/``, the late returns and payments at the end of their year's files, and the
campaign register to ``truth_dir/campaign_register.csv`` (imported into ``ops`` by the demo, as
an office imports a trial it ran before). The response probabilities and the planted effects
go to ``truth_dir/campaign_truth.csv`` and ``campaign_manifest.json``, which the pipeline never
reads.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from fiscal_intel.actions.campaign import assign_arms, strata

CAMPAIGN_ID = "DEMO-CARTA-OMISOS"
MAX_CASES = 2_000
CONTROL_SHARE = 0.2
BASELINE = 0.04  # files late anyway, either arm (the trend)
P_BASE, P_SEEN, P_REGISTERED = 0.08, 0.22, 0.12  # treated response: base + by case
NOT_SENT = 0.05  # treatment cases whose letter never went out (intention to treat counts them)
DELAY_MEAN_DAYS = 45.0  # response day after sending: ceil(exponential)
WINDOWS = (30, 90, 180)
LETTER_DAYS_BEFORE_END = 227


def planted_itt(p_treat: np.ndarray, amount: np.ndarray, sent: np.ndarray | None = None
                ) -> dict[int, dict[str, float]]:  # fmt: skip
    """The expected intention-to-treat effect per window over these cases: filing (and
    payment, when the amount is positive) rate and money per case."""
    p = p_treat * (1 - BASELINE) * (1.0 if sent is None else (1 - NOT_SENT))
    out = {}
    for w in WINDOWS:
        f = 1 - np.exp(-w / DELAY_MEAN_DAYS)
        out[w] = {
            "filing_rate": float(np.mean(p) * f),
            "payment_rate": float(np.mean(p * (amount > 0)) * f),
            "money_paid": float(np.mean(p * amount) * f),
        }
    return out


def _append(frame: pl.DataFrame, path: Path) -> None:
    """Add ``frame``'s rows to the year's own file, in its column order: the late returns and
    payments are part of the year's export, as an office's would be."""
    if not path.is_file():
        frame.write_csv(path)
        return
    with path.open("r", encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    with path.open("a", encoding="utf-8", newline="") as fh:
        fh.write(frame.select(header).write_csv(include_header=False))


def simulate_response(
    rng: np.random.Generator, treated: np.ndarray, p_treat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Who was sent a letter, who files anyway (the trend), who responds at all and on which
    day after the sending: the planted response model, on its own for tests to simulate."""
    n = len(treated)
    sent = treated & (rng.random(n) >= NOT_SENT)
    u, v = rng.random(n), rng.random(n)
    base = u < BASELINE
    responds = base | (sent & (v < p_treat))
    day = np.ceil(rng.exponential(DELAY_MEAN_DAYS, n)).astype(np.int64)
    return sent, base, responds, day


def plant_campaign(
    landing: Path, truth_dir: Path, *, seed: int, last_year: int, effect: float = 1.0
) -> dict:
    """Write the past campaign's files (see the module docstring); returns its manifest."""
    actions_dir = landing / "actions"
    if actions_dir.is_dir():
        shutil.rmtree(actions_dir)
    actions_dir.mkdir(parents=True)
    year = last_year - 1
    data_end = date(last_year + 1, 6, 30)
    sent_on = data_end - timedelta(days=LETTER_DAYS_BEFORE_END)
    truth = pl.read_csv(truth_dir / "tax_gap.csv", schema_overrides={"nit": pl.Utf8})
    pool = truth.filter((pl.col("program") == "omiso") & (pl.col("tax_year") == year))
    if pool.height < 20:
        return {}
    seen = pl.read_csv(
        landing / "withholdings" / f"withholdings_{year}.csv", schema_overrides={"nit": pl.Utf8}
    ).select("nit").unique()
    rit = pl.read_csv(landing / "taxpayers" / "taxpayers.csv",
                      schema_overrides={"nit": pl.Utf8, "ciiu": pl.Utf8})  # fmt: skip
    rates = pl.read_csv(Path(__file__).resolve().parent.parent / "reference" /
                        "ciiu_rates_default.csv", schema_overrides={"ciiu": pl.Utf8})  # fmt: skip
    cases = (
        pool.sort(["true_tax", "nit"], descending=[True, False])
        .head(MAX_CASES)
        .with_columns(seen=pl.col("nit").is_in(seen["nit"].implode()))
        .join(rit.select("nit", "ciiu", "legal_name"), on="nit", how="left",
              maintain_order="left")
        .join(rates.select("ciiu", "rate_per_mil"), on="ciiu", how="left",
              maintain_order="left")
        .with_columns(
            registered=pl.col("kind") != "operating_unregistered",
            rate_per_mil=pl.col("rate_per_mil").fill_null(7.0),
            ciiu=pl.col("ciiu").fill_null("4711"),
        )
    )
    n = cases.height
    rng = np.random.default_rng([seed, 18])
    stratum = strata(n)
    arm = assign_arms(stratum, CONTROL_SHARE, rng)
    treated = arm == "treatment"
    seen_v = cases["seen"].to_numpy()
    registered = cases["registered"].to_numpy()
    p_treat = effect * (P_BASE + P_SEEN * seen_v + P_REGISTERED * registered)
    p_treat = np.clip(p_treat, 0, 1)
    sent, base, responds, day = simulate_response(rng, treated, p_treat)
    filed = np.array([sent_on + timedelta(days=int(d)) for d in day])
    in_data = filed <= np.array([data_end - timedelta(days=11)] * n)
    files = responds & in_data
    amount = cases["true_tax"].to_numpy().astype(np.int64)

    idx = np.flatnonzero(files)
    rate = cases["rate_per_mil"].to_numpy()
    ica = amount[idx]
    gross = np.round(ica * 1000 / np.maximum(rate[idx], 0.1) / 1000).astype(np.int64) * 1000
    pay_day = [filed[i] + timedelta(days=int(d)) for i, d in zip(idx, rng.integers(0, 10, len(idx)),
                                                                  strict=True)]  # fmt: skip
    nits = cases["nit"].to_numpy()
    _append(pl.DataFrame({
        # numbered after any year's own returns (a year holds far fewer than 900,000)
        "declaration_id": [f"D{year}-{900_000 + k:06d}" for k in range(len(idx))],
        "nit": pl.Series(nits[idx].tolist(), dtype=pl.Utf8), "tax_year": [year] * len(idx),
        "filed_on": pl.Series(filed[idx].tolist(), dtype=pl.Date),
        "gross_income": gross, "income_outside": [0] * len(idx), "deductions": [0] * len(idx),
        "taxable_income": gross, "ciiu": pl.Series(cases["ciiu"].to_numpy()[idx].tolist(),
                                                   dtype=pl.Utf8),
        "rate_per_mil": rate[idx], "ica_tax": ica, "avisos_tableros": [0] * len(idx),
        "sobretasa_bomberil": [0] * len(idx), "total_tax": ica,
        "withholdings_credited": [0] * len(idx), "penalties": [0] * len(idx),
        "balance_due": ica,
    }), landing / "declarations" / f"declarations_{year}.csv")  # fmt: skip
    paying = [k for k, i in enumerate(idx) if amount[i] > 0]
    _append(pl.DataFrame({
        "payment_id": pl.Series([f"P{year}-{9_000_000 + k:07d}" for k in range(len(paying))],
                                dtype=pl.Utf8),
        "nit": pl.Series(nits[idx][paying].tolist(), dtype=pl.Utf8),
        "tax_year": pl.Series([year] * len(paying), dtype=pl.Int64),
        "paid_on": pl.Series([pay_day[k] for k in paying], dtype=pl.Date),
        "amount": pl.Series(amount[idx][paying].tolist(), dtype=pl.Int64),
    }), landing / "payments" / f"payments_{year}.csv")  # fmt: skip
    # The truth follows: a case that filed is no longer a non-filer but an honest late filer
    # (its return declares the tax it owed).
    filers = pl.DataFrame({"nit": pl.Series(nits[idx].tolist(), dtype=pl.Utf8),
                           "tax_year": pl.Series([year] * len(idx), dtype=pl.Int64)})  # fmt: skip
    if filers.height:
        truth = truth.join(filers.with_columns(_filed=pl.lit(True)), on=["nit", "tax_year"],
                           how="left", maintain_order="left")  # fmt: skip
        truth = truth.with_columns(
            program=pl.when(pl.col("_filed")).then(pl.lit("inexacto")).otherwise("program"),
            declared_tax=pl.when(pl.col("_filed")).then("true_tax").otherwise("declared_tax"),
            true_gap=pl.when(pl.col("_filed")).then(0).otherwise("true_gap"),
            kind=pl.when(pl.col("_filed")).then(pl.lit("honest")).otherwise("kind"),
        ).drop("_filed")
        truth.write_csv(truth_dir / "tax_gap.csv")
    s_idx = np.flatnonzero(sent)
    pl.DataFrame({
        "action_id": [f"A{year}-{k:06d}" for k in range(len(s_idx))],
        "nit": pl.Series(nits[s_idx].tolist(), dtype=pl.Utf8), "tax_year": [year] * len(s_idx),
        "program": ["omiso"] * len(s_idx),
        "action": ["carta"] * len(s_idx), "sent_on": [sent_on] * len(s_idx),
        "campaign_id": [CAMPAIGN_ID] * len(s_idx), "channel": ["correo"] * len(s_idx),
    }).write_csv(actions_dir / "actions.csv")  # fmt: skip
    register = pl.DataFrame({
        "campaign_id": [CAMPAIGN_ID] * n, "nit": nits, "tax_year": [year] * n,
        "program": ["omiso"] * n, "stratum": stratum, "arm": arm.tolist(),
        "expected_recovery": amount.astype(np.float64), "action": ["carta"] * n,
        "as_of": [sent_on] * n, "control_share": [CONTROL_SHARE] * n,
    })  # fmt: skip
    register.write_csv(truth_dir / "campaign_register.csv")
    pl.DataFrame({
        "nit": nits, "tax_year": [year] * n, "arm": arm.tolist(), "stratum": stratum,
        "p_treat": p_treat, "sent": sent, "baseline": base, "responds": responds,
        "response_day": day, "amount": amount,
    }).write_csv(truth_dir / "campaign_truth.csv")  # fmt: skip
    manifest = {
        "campaign_id": CAMPAIGN_ID, "program": "omiso", "action": "carta", "tax_year": year,
        "sent_on": sent_on.isoformat(), "cases": n, "treatment": int(treated.sum()),
        "control": int((~treated).sum()), "sent": int(sent.sum()), "effect_scale": effect,
        "response": {"baseline": BASELINE, "base": P_BASE, "seen_by_third_party": P_SEEN,
                     "registered": P_REGISTERED, "not_sent": NOT_SENT,
                     "delay_mean_days": DELAY_MEAN_DAYS},
        "planted_itt": {str(w): v for w, v in planted_itt(p_treat, amount, sent).items()},
    }  # fmt: skip
    (truth_dir / "campaign_manifest.json").write_text(
        json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
    )
    return manifest
