"""The pandas peer of issue #7: our ingest and feature steps as a competent analyst writes them.

One script, pandas only: ``pd.read_csv`` every landing file as text, parse the values exports
hold (Spanish or plain money, ISO or day-first dates, NITs with dots and a check digit checked
with DIAN's modulus 11, codes that lost their leading zeros, Spanish enum spellings), set bad
rows aside with a reason, keep the latest return per NIT and year, count a payment id once, and
build the two feature tables our SQL builds (``sql/features/*.sql``):

- inexacto, one row per known return: third-party (reteICA) base against declared local income,
  peer median and percentile by CIIU class (falling back to division, then section, under ten
  filers), outside-income and deductions shares against section × size band, income per asset
  against class × size band, the filer's own other years, year-over-year change, payments
  against the balance due, the registered activity's rate, past audits and the statute date;
- omiso, one row per obliged (NIT, year): RIT, local chamber registration or reteICA evidence,
  returns in other years (nearest declared income), reteICA in adjacent years, registry
  renewals, assets and employees, the section's income per asset and per employee.

It is vectorised the way pandas is meant to be used (``.str`` accessors, ``groupby``/``transform``,
``merge``); the check digit, a Python function, is mapped over the distinct NITs only.

Usage: .venv/bin/python benchmarks/pandas_peer.py --landing DIR [--out FILE.json]
Prints (and writes) the seconds of ingest and of features, the rows and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).resolve().parent.parent / "fiscal_intel" / "reference"
MUNICIPALITY = "05615"
WEIGHTS = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)
SMMLV = {2015: 644350, 2016: 689455, 2017: 737717, 2018: 781242, 2019: 828116, 2020: 877803,
         2021: 908526, 2022: 1000000, 2023: 1160000, 2024: 1300000, 2025: 1423500}  # fmt: skip
ENUMS = {
    "taxpayer_type": {"persona natural": "natural", "pn": "natural", "natural": "natural",
                      "persona juridica": "juridica", "persona jurídica": "juridica",
                      "pj": "juridica", "juridica": "juridica"},
    "status": {"activo": "active", "activa": "active", "active": "active",
               "inactivo": "inactive", "inactive": "inactive", "cancelado": "cancelled",
               "cancelada": "cancelled", "cancelled": "cancelled"},
    "regime": {"ordinario": "ordinario", "regimen ordinario": "ordinario", "simple": "simple",
               "regimen simple": "simple", "régimen simple": "simple", "": "ordinario"},
    "program": {"omiso": "omiso", "omisos": "omiso", "inexacto": "inexacto",
                "inexactos": "inexacto"},
    "outcome": {"adjusted": "adjusted", "con hallazgo": "adjusted", "no_finding": "no_finding",
                "sin hallazgo": "no_finding"},
    "selection": {"risk": "risk", "random": "random", "aleatoria": "random", "": None},
}  # fmt: skip

# column -> how to read it, per source (the landing contract)
SCHEMAS = {
    "taxpayers": {"nit": "nit", "dv": "dv", "taxpayer_type": "enum", "legal_name": "text",
                  "ciiu": "ciiu", "comuna": "text", "registered_on": "date", "status": "enum",
                  "regime": "enum"},
    "declarations": {"declaration_id": "text", "nit": "nit", "tax_year": "int",
                     "filed_on": "date", "gross_income": "money", "income_outside": "money",
                     "deductions": "money", "taxable_income": "money", "ciiu": "ciiu",
                     "rate_per_mil": "number", "ica_tax": "money", "avisos_tableros": "money",
                     "sobretasa_bomberil": "money?", "total_tax": "money",
                     "withholdings_credited": "money", "penalties": "money?",
                     "balance_due": "money"},
    "payments": {"payment_id": "text", "nit": "nit", "tax_year": "int", "paid_on": "date",
                 "amount": "money"},
    "withholdings": {"agent_nit": "nit", "nit": "nit", "tax_year": "int", "period": "int",
                     "base_amount": "money", "withheld_amount": "money"},
    "commerce_registry": {"matricula": "text", "nit": "nit?", "legal_name": "text",
                          "organization_type": "text", "ciiu": "ciiu", "ciiu_secondary": "ciiu",
                          "municipality_code": "dane", "registered_on": "date",
                          "last_renewal_year": "int?", "status": "text", "cancelled_on": "date?",
                          "total_assets": "money?", "employees": "int?"},
    "audits": {"case_id": "text", "nit": "nit", "tax_year": "int", "program": "enum",
               "selection": "enum", "opened_on": "date", "closed_on": "date", "outcome": "enum",
               "assessed_amount": "money"},
}  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Value parsers
# ----------------------------------------------------------------------------------------------
def check_digit(nit: str) -> int:
    total = sum(int(d) * w for d, w in zip(reversed(nit), WEIGHTS, strict=False))
    r = total % 11
    return r if r in (0, 1) else 11 - r


def parse_money(s: pd.Series) -> pd.Series:
    s = s.str.replace(r"[\s$]", "", regex=True)
    spanish = s.str.contains(r",\d{1,2}$|^\d{1,3}(?:\.\d{3})+$", regex=True)
    us = s.str.contains(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$", regex=True)
    s = s.mask(spanish, s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    s = s.mask(us, s.str.replace(",", "", regex=False))
    return pd.to_numeric(s, errors="coerce")


def parse_date(s: pd.Series) -> pd.Series:
    s = s.str.strip().str.slice(0, 10)
    iso = pd.to_datetime(s.str.replace("/", "-", regex=False), format="%Y-%m-%d", errors="coerce")
    day_first = pd.to_datetime(
        s.str.replace(r"[-.]", "/", regex=True), format="%d/%m/%Y", errors="coerce"
    )
    return iso.fillna(day_first)


def parse_nit(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Canonical NIT (digits, no DV, no leading zeros) and whether the value is valid."""
    s = s.str.replace(".", "", regex=False).str.replace(" ", "", regex=False)
    parts = s.str.split("-", n=1, expand=True)
    digits = parts[0].str.lstrip("0")
    dv = parts[1] if parts.shape[1] > 1 else pd.Series(None, index=s.index, dtype=object)
    valid = digits.str.fullmatch(r"\d{1,15}").fillna(False)
    has_dv = dv.notna() & valid
    if has_dv.any():
        expected = digits[has_dv].map(dv_of(digits[has_dv]))
        valid[has_dv] = expected.astype(str) == dv[has_dv]
    return digits, valid


def dv_of(digits: pd.Series) -> dict[str, int]:
    return {n: check_digit(n) for n in digits.unique()}


def read_source(landing: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed rows and quarantined rows (with their reasons) of every file of one source."""
    frames = []
    for i, path in enumerate(sorted((landing / name).glob("*.csv"))):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame.columns = [c.strip().lower() for c in frame.columns]
        frame["_file"], frame["_row"] = i, np.arange(1, len(frame) + 1)
        frames.append(frame)
    raw = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame({"_file": raw["_file"], "_row": raw["_row"]})
    bad = pd.Series("", index=raw.index)
    for column, kind in SCHEMAS[name].items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if column not in raw:
            out[column] = None
            continue
        text = raw[column].str.strip()
        empty = text == ""
        if kind == "nit":
            value, ok = parse_nit(text)
        elif kind == "money" or kind == "number":
            value = parse_money(text) if kind == "money" else pd.to_numeric(text, errors="coerce")
            ok = value.notna() & (value >= 0)
        elif kind in ("int", "dv"):
            value = pd.to_numeric(text, errors="coerce").astype("Int64")
            ok = value.notna()
        elif kind == "date":
            value = parse_date(text)
            ok = value.notna()
        elif kind == "ciiu":
            value = text.str.zfill(4).where(~empty)
            ok = value.str.fullmatch(r"\d{4}").fillna(False)
        elif kind == "dane":
            value = text.str.zfill(5)
            ok = value.str.fullmatch(r"\d{5}").fillna(False)
        elif kind == "enum":
            value = text.str.lower().map(ENUMS[column])
            ok = value.notna() | (empty & (column in ("regime", "selection")))
        else:
            value, ok = text, ~empty
        if kind in ("ciiu", "text", "dv") or optional:
            ok = ok | empty  # may be blank
            value = value.where(~empty) if kind != "text" else value
        out[column] = value
        bad = bad.where(ok, bad + f"{column} is not a valid {kind}; ")
    if "dv" in out and "nit" in out:  # the RIT's own DV column
        given = out["dv"].notna()
        expected = out.loc[given, "nit"].map(dv_of(out.loc[given, "nit"]))
        wrong = pd.Series(False, index=out.index)
        wrong[given] = expected.to_numpy() != out.loc[given, "dv"].to_numpy()
        bad = bad.where(~wrong, bad + "dv does not match; ")
    is_bad = bad != ""
    quarantine = pd.DataFrame({"file": out["_file"], "row": out["_row"], "reason": bad})[is_bad]
    return out[~is_bad].reset_index(drop=True), quarantine


# ----------------------------------------------------------------------------------------------
# Ingest and staging
# ----------------------------------------------------------------------------------------------
def ingest(landing: Path) -> dict[str, pd.DataFrame]:
    t = {}
    quarantined = 0
    for name in SCHEMAS:
        t[name], bad = read_source(landing, name)
        quarantined += len(bad)
    t["quarantined"] = pd.DataFrame({"rows": [quarantined]})

    d = t["declarations"].drop_duplicates("declaration_id", keep="last")
    t["filings"] = d  # every filing, for the as-of cut of known returns
    t["payments"] = t["payments"].drop_duplicates("payment_id", keep="last")
    t["withholdings"] = t["withholdings"].drop_duplicates(
        ["agent_nit", "nit", "tax_year", "period"], keep="last"
    )
    t["taxpayers"] = t["taxpayers"].drop_duplicates("nit", keep="last")
    t["taxpayers"]["regime"] = t["taxpayers"]["regime"].fillna("ordinario")
    r = t["commerce_registry"].drop_duplicates("matricula", keep="last")
    r["status"] = r["status"].str.upper().str.strip()
    r["is_local"] = r["municipality_code"] == MUNICIPALITY
    t["commerce_registry"] = r
    t["audits"] = t["audits"].drop_duplicates("case_id", keep="last")
    t["declarations"] = latest_returns(d)
    return t


def latest_returns(filings: pd.DataFrame) -> pd.DataFrame:
    """The current return per NIT and year: the latest filing, with the first date and count."""
    g = filings.groupby(["nit", "tax_year"])
    filings = filings.assign(
        first_filed_on=g["filed_on"].transform("min"), filings=g["filed_on"].transform("size")
    )
    filings = filings.sort_values(["nit", "tax_year", "filed_on", "_file", "_row"])
    return filings.drop_duplicates(["nit", "tax_year"], keep="last").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------
def features(t: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    classes = pd.read_csv(REFERENCE / "ciiu_rev4ac_classes.csv", dtype=str)
    classes = classes.rename(columns={"class": "ciiu", "section": "ciiu_section"})[
        ["ciiu", "division", "ciiu_section"]
    ]
    rates = pd.read_csv(REFERENCE / "ciiu_rates_default.csv", dtype={"ciiu": str})[
        ["ciiu", "rate_per_mil"]
    ]
    rit, rues, audits = t["taxpayers"], t["commerce_registry"], t["audits"]
    as_of = max(
        t["declarations"]["filed_on"].max(), t["payments"]["paid_on"].max(),
        audits["closed_on"].max(), rit["registered_on"].max(),
        rues["registered_on"].max(), rues["cancelled_on"].max(),
    )  # fmt: skip

    # reteICA known on the as-of date: a bimester counts once it is over
    w = t["withholdings"]
    period_end = pd.to_datetime(
        {"year": w["tax_year"], "month": w["period"] * 2, "day": 1}
    ) + pd.offsets.MonthEnd(0)
    w = w[period_end <= as_of]
    third = w.groupby(["nit", "tax_year"], as_index=False).agg(
        base_amount=("base_amount", "sum"), withheld_amount=("withheld_amount", "sum"),
        agents=("agent_nit", "nunique"), periods=("period", "nunique"),
    )  # fmt: skip

    profile = registry_profile(rues, rates, as_of)
    filings = t["filings"][t["filings"]["filed_on"] <= as_of]
    known = latest_returns(filings)
    audits_known = audits[audits["opened_on"] <= as_of]
    paid = (
        t["payments"][t["payments"]["paid_on"] <= as_of]
        .groupby(["nit", "tax_year"], as_index=False)["amount"].sum()
        .rename(columns={"amount": "paid"})
    )  # fmt: skip
    inexacto = inexacto_features(
        known, classes, rates, profile, third, paid, audits_known, rit, as_of
    )
    omiso = omiso_features(known, classes, rates, profile, third, audits_known, rit, rues, as_of)
    return inexacto, omiso


def registry_profile(rues: pd.DataFrame, rates: pd.DataFrame, as_of) -> pd.DataFrame:
    k = rues[rues["nit"].notna() & (rues["registered_on"] <= as_of)].copy()
    k["cancelled"] = (k["cancelled_on"] <= as_of) | (k["status"] != "ACTIVA")
    k["open"] = ~k["cancelled"]
    k["renewal_year"] = k["last_renewal_year"].clip(upper=as_of.year)
    local = k[k["is_local"]].sort_values(["nit", "cancelled", "registered_on"],
                                         ascending=[True, False, True])  # fmt: skip
    prof = local.groupby("nit").agg(
        local_registrations=("matricula", "size"), registered_on=("registered_on", "min"),
        open_registrations=("open", "sum"),
        last_renewal_year=("renewal_year", "max"), total_assets=("total_assets", "max"),
        employees=("employees", "max"), ciiu=("ciiu", "last"),
    )  # fmt: skip
    prof["active"] = prof["open_registrations"] > 0
    elsewhere = k[~k["is_local"] & ~k["cancelled"]].groupby("nit").size()
    prof = prof.join(elsewhere.rename("branches_elsewhere"), how="outer")
    prof["branches_elsewhere"] = prof["branches_elsewhere"].fillna(0)
    prof["local_registrations"] = prof["local_registrations"].fillna(0)
    prof["active"] = prof["active"].fillna(False).astype(bool)
    year = prof["last_renewal_year"].fillna(2025).clip(2015, 2025).astype(int)
    smmlv = prof["total_assets"] / year.map(SMMLV)
    prof["size_band"] = np.select(
        [prof["total_assets"].isna(), smmlv <= 500, smmlv <= 5000, smmlv <= 30000],
        ["unknown", "micro", "small", "medium"], "large",
    )  # fmt: skip
    prof = prof.reset_index().merge(
        rates.rename(columns={"rate_per_mil": "activity_rate"}), on="ciiu", how="left"
    )
    return prof


def peer_pick(r: pd.DataFrame, value: str, levels: list[list[str]], count: pd.Series | None = None):
    """Median and percentile of ``value`` at the finest level with ten peers."""
    medians, ranks, counts = [], [], []
    for keys in levels:
        g = r.groupby(keys, dropna=False)[value]
        medians.append(g.transform("median"))
        ranks.append(g.rank(method="min", pct=True))
        counts.append(g.transform("count"))
    n0, n1 = counts[0], counts[1]
    median = np.where(n0 >= 10, medians[0], np.where(n1 >= 10, medians[1], medians[2]))
    rank = np.where(n0 >= 10, ranks[0], np.where(n1 >= 10, ranks[1], ranks[2]))
    return median, rank


def inexacto_features(known, classes, rates, profile, third, paid, audits, rit, as_of):
    r = known.merge(classes, on="ciiu", how="left").merge(
        profile[["nit", "size_band", "total_assets", "employees", "ciiu", "activity_rate",
                 "branches_elsewhere"]].rename(columns={"ciiu": "chamber_ciiu"}),
        on="nit", how="left",
    )  # fmt: skip
    r["gross"] = r["gross_income"]
    r["outside_share"] = r["income_outside"] / r["gross"].replace(0, np.nan)
    r["deductions_share"] = r["deductions"] / r["gross"].replace(0, np.nan)
    r["local_income"] = r["gross"] * (1 - r["outside_share"].fillna(0))
    r["log_income_per_asset"] = np.log(r["gross"].replace(0, np.nan)
                                       / r["total_assets"].replace(0, np.nan))  # fmt: skip
    levels = [["tax_year", "ciiu"], ["tax_year", "division"], ["tax_year", "ciiu_section"]]
    r["peer_median_income"], r["peer_percentile"] = peer_pick(r, "gross", levels)
    band = ["tax_year", "ciiu_section", "size_band"]
    for share in ("outside_share", "deductions_share"):
        g = r.groupby(band, dropna=False)[share]
        r[f"peer_{share}"] = g.transform("median")
        r[f"{share.split('_')[0]}_percentile"] = g.rank(method="min", pct=True)
    asset_levels = [[*k, "size_band"] for k in levels]
    ia, _ = peer_pick(r, "log_income_per_asset", asset_levels)
    r["peer_income_per_asset"] = np.exp(ia)
    # the filer's other years and the year before
    other = r[["nit", "tax_year", "gross", "outside_share", "deductions_share", "rate_per_mil"]]
    pairs = r[["nit", "tax_year"]].merge(other, on="nit", suffixes=("", "_o"))
    pairs = pairs[pairs["tax_year"] != pairs["tax_year_o"]]
    own = pairs.groupby(["nit", "tax_year"], as_index=False).agg(
        other_returns=("gross", "size"), own_median_income=("gross", "median"),
        own_outside_share=("outside_share", "median"), own_max_rate=("rate_per_mil", "max"),
    )  # fmt: skip
    prev = other.assign(tax_year=other["tax_year"] + 1).rename(
        columns={"gross": "prev_gross", "outside_share": "prev_outside_share",
                 "deductions_share": "prev_deductions_share", "rate_per_mil": "prev_rate"}
    )  # fmt: skip
    r = r.merge(own, on=["nit", "tax_year"], how="left")
    r = r.merge(prev, on=["nit", "tax_year"], how="left")
    r = r.merge(third, on=["nit", "tax_year"], how="left")
    r = r.merge(paid, on=["nit", "tax_year"], how="left")
    # the registered activity: the RIT's as known on the as-of date, else the chamber's
    rit_known = rit[rit["registered_on"] <= as_of][["nit", "ciiu", "taxpayer_type"]]
    r = r.merge(rit_known.rename(columns={"ciiu": "rit_ciiu"}), on="nit", how="left")
    r["registered_ciiu"] = r["rit_ciiu"].fillna(r["chamber_ciiu"])
    r = r.merge(rates.rename(columns={"ciiu": "registered_ciiu", "rate_per_mil": "registry_rate"}),
                on="registered_ciiu", how="left")  # fmt: skip
    adjusted = audits[(audits["closed_on"] <= as_of)]
    past = r[["nit", "tax_year"]].merge(adjusted[["nit", "tax_year", "outcome"]], on="nit",
                                        suffixes=("", "_a"))  # fmt: skip
    past = past[past["tax_year"] != past["tax_year_a"]]
    past = past.assign(adj=past["outcome"] == "adjusted", clean=past["outcome"] != "adjusted")
    past = past.groupby(["nit", "tax_year"]).agg(
        past_adjusted_audits=("adj", "sum"), past_clean_audits=("clean", "sum")
    )
    r = r.merge(past.reset_index(), on=["nit", "tax_year"], how="left")
    labels = (
        adjusted[adjusted["program"] == "inexacto"]
        .sort_values(["nit", "tax_year", "closed_on", "case_id"], ascending=[1, 1, 0, 1])
        .drop_duplicates(["nit", "tax_year"])[["nit", "tax_year", "outcome", "assessed_amount"]]
    )
    r = r.merge(labels, on=["nit", "tax_year"], how="left")
    any_audit = audits[["nit", "tax_year"]].drop_duplicates().assign(audited=True)
    r = r.merge(any_audit, on=["nit", "tax_year"], how="left")

    base = r["base_amount"].fillna(0)
    by_shape = pd.Series(np.where(r["nit"].str.len().eq(9) & r["nit"].str[0].isin(["8", "9"]),
                                  "juridica", "natural"), index=r.index)  # fmt: skip
    r["is_juridica"] = (r["taxpayer_type"].fillna(by_shape) == "juridica").astype(int)
    r["third_party_base"] = base
    r["third_party_ratio"] = base / r["local_income"].replace(0, np.nan)
    r["third_party_excess"] = (base - r["local_income"]).clip(lower=0)
    r["third_party_excess_tax"] = r["third_party_excess"] * r["rate_per_mil"] / 1000 * 1.15
    r["income_vs_peers"] = r["gross"] / pd.Series(r["peer_median_income"]).replace(0, np.nan)
    r["income_per_asset_vs_peers"] = (
        r["gross"] / r["total_assets"].replace(0, np.nan) / r["peer_income_per_asset"]
    )
    r["outside_excess_tax"] = ((r["outside_share"] - r["peer_outside_share"]).clip(lower=0)
                               .fillna(0) * r["gross"] * r["rate_per_mil"] / 1000 * 1.15)
    r["deductions_excess_tax"] = ((r["deductions_share"] - r["peer_deductions_share"])
                                  .clip(lower=0).fillna(0) * r["gross"] * r["rate_per_mil"]
                                  / 1000 * 1.15)  # fmt: skip
    r["income_change_yoy"] = r["gross"] / r["prev_gross"].replace(0, np.nan) - 1
    r["income_vs_own"] = r["gross"] / r["own_median_income"].replace(0, np.nan)
    r["outside_share_change_yoy"] = r["outside_share"] - r["prev_outside_share"]
    r["rate_gap"] = r["registry_rate"] - r["rate_per_mil"]
    r["rate_gap_tax"] = (r["rate_gap"].clip(lower=0).fillna(0) * r["taxable_income"]
                         / 1000 * 1.15)  # fmt: skip
    r["activity_mismatch"] = (r["registered_ciiu"] != r["ciiu"]).astype(int)
    r["paid_share"] = r["paid"].fillna(0) / r["balance_due"].replace(0, np.nan)
    deadline = pd.to_datetime({"year": r["tax_year"] + 1, "month": 4, "day": 30})
    r["days_late"] = (r["first_filed_on"] - deadline).dt.days
    r["statute_expires_on"] = np.maximum(r["first_filed_on"], deadline) + pd.DateOffset(years=3)
    r["suspected_gap_tax"] = (r["third_party_excess_tax"].fillna(0) + r["outside_excess_tax"]
                              + r["deductions_excess_tax"] + r["rate_gap_tax"])  # fmt: skip
    r["is_candidate"] = r["audited"].isna() & (r["statute_expires_on"] >= as_of)
    r["label_adjusted"] = r["outcome"].map({"adjusted": True, "no_finding": False})
    return r


def omiso_features(known, classes, rates, profile, third, audits, rit, rues, as_of):
    years = sorted(set(known["tax_year"]) | set(third["tax_year"]) | set(audits["tax_year"]))
    due = [y for y in range(min(years), max(years) + 1) if pd.Timestamp(y + 1, 4, 30) < as_of]
    due = pd.DataFrame({"tax_year": due})
    due["year_end"] = pd.to_datetime({"year": due["tax_year"], "month": 12, "day": 31})
    due["year_start"] = pd.to_datetime({"year": due["tax_year"], "month": 1, "day": 1})
    last_filed = known.groupby("nit")["tax_year"].max().rename("last_filed_year")

    rit_known = rit[rit["registered_on"] <= as_of]
    a = rit_known[["nit", "registered_on", "status"]].merge(due, how="cross")
    a = a.merge(last_filed, on="nit", how="left")
    a = a[(a["registered_on"] <= a["year_end"])
          & ((a["status"] == "active") | (a["tax_year"] <= a["last_filed_year"]))]  # fmt: skip
    local = rues[rues["is_local"] & rues["nit"].notna() & (rues["registered_on"] <= as_of)]
    b = local[["nit", "registered_on", "cancelled_on"]].merge(due, how="cross")
    b = b[(b["registered_on"] <= b["year_end"])
          & (b["cancelled_on"].isna() | (b["cancelled_on"] >= b["year_start"]))]  # fmt: skip
    c = third[(third["base_amount"] > 0) & third["tax_year"].isin(due["tax_year"])]
    labels = (
        audits[(audits["program"] == "omiso") & (audits["closed_on"] <= as_of)]
        .sort_values(["nit", "tax_year", "closed_on", "case_id"], ascending=[1, 1, 0, 1])
        .drop_duplicates(["nit", "tax_year"])
    )
    cases = pd.concat([x[["nit", "tax_year"]] for x in (a, b, c, labels)]).drop_duplicates()

    # returns of other years: the nearest one says what the business declares
    h = cases.merge(known[["nit", "tax_year", "total_tax", "gross_income"]], on="nit",
                    suffixes=("", "_d"))  # fmt: skip
    h = h[h["tax_year"] != h["tax_year_d"]]
    h["distance"] = (h["tax_year_d"] - h["tax_year"]).abs()
    h["prior"] = h["tax_year_d"] < h["tax_year"]
    nearest = h.sort_values(["nit", "tax_year", "distance", "tax_year_d"]).drop_duplicates(
        ["nit", "tax_year"]
    )[["nit", "tax_year", "tax_year_d", "total_tax", "gross_income"]].rename(
        columns={"tax_year_d": "nearest_filed_year", "total_tax": "nearest_declared_tax",
                 "gross_income": "nearest_declared_income"}
    )  # fmt: skip
    h["later"] = ~h["prior"]
    h["prior_year"] = h["tax_year_d"].where(h["prior"])
    h["prev_year"] = h["prior"] & (h["distance"] == 1)
    h["next_year"] = h["later"] & (h["distance"] == 1)
    counts = h.groupby(["nit", "tax_year"]).agg(
        prior_filings=("prior", "sum"), later_filings=("later", "sum"),
        last_filed_year=("prior_year", "max"), filed_prev_year=("prev_year", "any"),
        filed_next_year=("next_year", "any"),
    ).reset_index()  # fmt: skip
    adj = cases.merge(third[["nit", "tax_year", "base_amount"]], on="nit", suffixes=("", "_w"))
    adj = (adj[(adj["tax_year_w"] - adj["tax_year"]).abs() == 1]
           .groupby(["nit", "tax_year"], as_index=False)["base_amount"].max()
           .rename(columns={"base_amount": "third_party_base_adjacent"}))  # fmt: skip

    # what filers of the same section earn per peso of assets and per employee
    y = known.merge(profile[["nit", "total_assets", "employees"]], on="nit").merge(
        classes, on="ciiu"
    )
    y["lia"] = np.log(y["gross_income"].replace(0, np.nan) / y["total_assets"].replace(0, np.nan))
    y["lie"] = np.log(y["gross_income"].replace(0, np.nan) / y["employees"].replace(0, np.nan))
    section_yield = np.exp(y.groupby("ciiu_section")[["lia", "lie"]].median()).rename(
        columns={"lia": "income_per_asset", "lie": "income_per_employee"}
    ).reset_index()  # fmt: skip
    latest_ciiu = known.sort_values("tax_year").drop_duplicates("nit", keep="last")[
        ["nit", "ciiu"]
    ].rename(columns={"ciiu": "return_ciiu"})

    o = cases.merge(rit_known[["nit", "taxpayer_type", "ciiu", "registered_on", "status"]]
                    .rename(columns={"ciiu": "rit_ciiu", "registered_on": "rit_registered_on"}),
                    on="nit", how="left")  # fmt: skip
    o = o.merge(profile.rename(columns={"ciiu": "chamber_ciiu"}), on="nit", how="left")
    o = o.merge(latest_ciiu, on="nit", how="left")
    o["ciiu"] = o["rit_ciiu"].fillna(o["chamber_ciiu"]).fillna(o["return_ciiu"])
    o = o.merge(classes[["ciiu", "ciiu_section"]], on="ciiu", how="left")
    o = o.merge(rates, on="ciiu", how="left")
    o = o.merge(section_yield, on="ciiu_section", how="left")
    o = o.merge(third, on=["nit", "tax_year"], how="left")
    o = o.merge(adj, on=["nit", "tax_year"], how="left")
    o = o.merge(counts, on=["nit", "tax_year"], how="left")
    o = o.merge(nearest, on=["nit", "tax_year"], how="left")
    declared = known[["nit", "tax_year", "total_tax"]].rename(columns={"total_tax": "declared_tax"})
    o = o.merge(declared, on=["nit", "tax_year"], how="left")
    o = o.merge(labels[["nit", "tax_year", "outcome", "assessed_amount"]],
                on=["nit", "tax_year"], how="left")  # fmt: skip
    any_audit = audits[["nit", "tax_year"]].drop_duplicates().assign(audited=True)
    o = o.merge(any_audit, on=["nit", "tax_year"], how="left")

    year_end = pd.to_datetime({"year": o["tax_year"], "month": 12, "day": 31})
    o["in_rit"] = (o["rit_registered_on"] <= year_end).astype(int)
    o["rit_active"] = (o["status"] == "active").astype(int)
    o["years_registered"] = o["tax_year"] - o["rit_registered_on"].fillna(
        o["registered_on"]).dt.year  # fmt: skip
    o["in_rues_local"] = (o["local_registrations"] > 0).astype(int)
    o["renewal_lag"] = o["last_renewal_year"] - o["tax_year"]
    o["third_party_base"] = o["base_amount"].fillna(0)
    o["years_since_last_filing"] = o["tax_year"] - o["last_filed_year"]
    o["assets_to_declared_income"] = o["total_assets"] / o["nearest_declared_income"].replace(
        0, np.nan)  # fmt: skip
    o["asset_implied_income"] = o["total_assets"] * o["income_per_asset"]
    o["employee_implied_income"] = o["employees"] * o["income_per_employee"]
    o["asset_implied_tax"] = o["asset_implied_income"] * o["rate_per_mil"] / 1000 * 1.15
    o["third_party_implied_tax"] = o["third_party_base"] * o["rate_per_mil"] / 1000 * 1.15
    o["rule_score"] = o["total_assets"].fillna(0) * o["rate_per_mil"].fillna(0) / 1000
    o["filed"] = o["declared_tax"].notna().astype(int)
    expires = pd.to_datetime({"year": o["tax_year"] + 6, "month": 4, "day": 30})
    o["is_candidate"] = o["audited"].isna() & (o["filed"] == 0) & (expires >= as_of)
    o["label_adjusted"] = o["outcome"].map({"adjusted": True, "no_finding": False})
    return o


def _peak_rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--out", help="write the timings as JSON here too")
    args = parser.parse_args()
    landing = Path(args.landing)
    start = time.perf_counter()
    tables = ingest(landing)
    ingest_seconds = time.perf_counter() - start
    start = time.perf_counter()
    inexacto, omiso = features(tables)
    features_seconds = time.perf_counter() - start
    result = {
        "ingest_seconds": ingest_seconds,
        "features_seconds": features_seconds,
        "ingest_features_seconds": ingest_seconds + features_seconds,
        "rows": {name: len(frame) for name, frame in tables.items() if name != "quarantined"}
        | {"quarantined": int(tables["quarantined"]["rows"].iloc[0]),
           "inexacto_features": len(inexacto), "omiso_features": len(omiso),
           "omiso_candidates": int(omiso["is_candidate"].sum())},  # fmt: skip
        "peak_rss_bytes": _peak_rss(),
        "pandas": pd.__version__,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
