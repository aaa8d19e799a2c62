"""omiso: a business obliged to file ICA that did not file for a year (ET art. 715-717).

The case is a (NIT, tax year) of ``features.omiso_features`` with no return; an audit finds
it owes tax when the business was operating that year. Everything the omiso model, its amount
and its reasons need is in :data:`OMISO` (see :class:`fiscal_intel.scoring.spec.ProgramSpec`).
"""

from fiscal_intel.scoring import phrases
from fiscal_intel.scoring.spec import AmountSpec, ProgramSpec

FEATURES = (
    "is_juridica",
    "in_rit",
    "rit_active",
    "years_registered",
    "in_rues_local",
    "rues_active",
    "renewal_lag",
    "total_assets",
    "employees",
    "branches_elsewhere",
    "third_party_base",
    "third_party_agents",
    "third_party_periods",
    "third_party_base_adjacent",
    "prior_filings",
    "later_filings",
    "filed_prev_year",
    "filed_next_year",
    "years_since_last_filing",
    "nearest_declared_tax",
    "nearest_declared_income",
    "assets_to_declared_income",
    "declared_income_per_employee",
    "renewals_after_last_filing",
    "assets_vs_declared_income",
    "staff_vs_declared_income",
    "staff_vs_assets",
    "asset_implied_income",
    "employee_implied_income",
    "asset_implied_tax",
    "employee_implied_tax",
    "past_adjusted_audits",
    "past_clean_audits",
    "activity_rate",
    "third_party_implied_tax",
    "contractor_tax",
)

# Evidence whose direction is known, as monotone constraints (+1: can only raise the probability
# of a finding, -1: can only lower it), so a few hundred labels cannot learn the opposite by
# chance: activity evidence can only make it likelier an obliged business was operating.
MONOTONE = dict.fromkeys(
    (
        "rit_active",
        "rues_active",
        "renewal_lag",
        "total_assets",
        "employees",
        "third_party_base",
        "third_party_agents",
        "third_party_periods",
        "third_party_base_adjacent",
        "third_party_implied_tax",
        "contractor_tax",
        "later_filings",
        "filed_prev_year",
        "filed_next_year",
        "renewals_after_last_filing",
        "assets_vs_declared_income",
        "staff_vs_declared_income",
    ),
    1,
)

# Features only the amount model uses: how big a business is says how much it would owe, not
# whether it was operating. Staff rarely audit the former filers whose registry now looks like a
# shell's, so the few such audits cannot teach a classifier that a large declared history with a
# shell's assets means nothing is owed; left to the classifiers, the scale features carried these
# cases' size into the probability. Development seeds 11-20 and 42, omiso precision@100 (mean,
# worst seed): 0.896 / 0.60 before; 0.941 / 0.90 with these amount-only; 0.958 / 0.93 with these
# amount-only and the registry-against-declared-income features (assets_vs_declared_income,
# staff_vs_declared_income) in the classifiers. On seed 15, 40 of the top 100 were such shells
# before, 2 after.
AMOUNT_ONLY = frozenset(
    (
        "nearest_declared_tax",
        "nearest_declared_income",
        "assets_to_declared_income",
        "declared_income_per_employee",
        "asset_implied_income",
        "employee_implied_income",
        "asset_implied_tax",
        "employee_implied_tax",
        "third_party_implied_tax",
        "staff_vs_assets",
    )
)

# The filing-history features of an omiso case and their values when there is no history: the
# omiso amount model also learns from every filer with these hidden (see the module docstring).
HISTORY: dict[str, float | None] = {
    "prior_filings": 0,
    "later_filings": 0,
    "filed_prev_year": 0,
    "filed_next_year": 0,
    "years_since_last_filing": None,
    "nearest_declared_tax": None,
    "nearest_declared_income": None,
    "assets_to_declared_income": None,
    "declared_income_per_employee": None,
    "renewals_after_last_filing": None,
    "assets_vs_declared_income": None,
    "staff_vs_declared_income": None,
}

# What each program's amount model learns from (see fiscal_intel.scoring.model). The omiso one
# learns from 60,000 filer-years at most (``hash_sample`` above that): a 15,000-taxpayer
# municipality holds ~59,000, and at 1M taxpayers it trains on 60,000, not 4 million. On the
# development seeds 42 and 1-5 (with the late-filing part), precision@100 / recovery@100 were
# 0.970 / 0.928 with 20,000 rows, 0.972 / 0.934 with 40,000 and 0.977 / 0.936 with all.
#
# The omiso amount is the mean of five regressions (own seeds, same rows). One alone is
# sensitive to which rows it sees: on the seed-42 demo with 1 % of rows quarantined, it moved
# top omiso amounts by up to 50 % (COP 109 M -> 170 M) and 12 of the untouched top 100 out of
# the list; with five, the retrained lists of seeds 42 and 11 keep 94 and 97 of 100, near the
# 98-99 that retraining the clean data with another seed keeps (benchmarks/stability.py), and
# development seeds 42, 1-5 rank as before (0.972 / 0.934). The inexacto list did not move
# less with five (95 and 96 of 100 either way), and its 1.8M cases at 1M taxpayers would pay
# five predictions each, so it keeps one.
AMOUNT = AmountSpec(
    rows="all", target="declared_tax", blind=tuple(HISTORY.items()), max_rows=60_000, members=5
)

# A return not filed a few weeks after its deadline is most often a late one, not an omission:
# every year some regular filers file months late. Closed omiso audits cannot teach this (by
# the time a year's omisos are audited its late filers have filed), so for the one year whose
# filing window is still open (``late_filing_open``: the deadline passed less than a year ago)
# P(tax due) = q + (1 - q) * p, where p is the audit-trained probability that a non-filer was
# operating and q the probability that the return is simply late. q is learnt from the data
# itself: every earlier (NIT, year) that had no return as long after its deadline as the open
# year has now, labelled by whether a return came later (``filed``). What only later years can
# show (returns for later years) is hidden on those rows, as it is for the open year. Measured
# on development seeds 42 and 1-5 (precision@100 / recovery@100, whole pipeline): omiso
# 0.968 / 0.901 without, 0.970 / 0.928 with it; the open year holds 60-80 % of the best top
# 100's gap, and before this its operating non-filers got a median probability of 0.2-0.3
# where 85 % of them owed tax.
LATE_FILING_BLIND: tuple[tuple[str, float | None], ...] = (
    ("later_filings", 0),
    ("filed_next_year", 0),
)

OMISO = ProgramSpec(
    name="omiso",
    features=FEATURES,
    monotone=MONOTONE,
    amount_only=AMOUNT_ONLY,
    families={
        "third_party": (
            phrases.omiso_third_party,
            (
                "third_party_base",
                "third_party_agents",
                "third_party_periods",
                "third_party_base_adjacent",
                "third_party_implied_tax",
            ),
        ),
        "history": (
            phrases.omiso_history,
            (
                "prior_filings",
                "later_filings",
                "filed_prev_year",
                "filed_next_year",
                "years_since_last_filing",
                "nearest_declared_tax",
                "nearest_declared_income",
            ),
        ),
        "registry": (
            phrases.omiso_registry,
            ("in_rues_local", "rues_active", "renewal_lag", "renewals_after_last_filing"),
        ),
        "rit": (phrases.omiso_rit, ("in_rit", "rit_active", "years_registered")),
        "size": (
            phrases.omiso_size,
            (
                "total_assets",
                "employees",
                "assets_to_declared_income",
                "declared_income_per_employee",
                "assets_vs_declared_income",
                "staff_vs_declared_income",
                "staff_vs_assets",
                "asset_implied_income",
                "employee_implied_income",
                "asset_implied_tax",
                "employee_implied_tax",
                "branches_elsewhere",
            ),
        ),
        "past_audits": (phrases.past_audits, ("past_adjusted_audits", "past_clean_audits")),
        "activity": (phrases.omiso_activity, ("activity_rate",)),
        "contractor": (phrases.omiso_contractor, ("contractor_tax",)),
        "entity": (phrases.entity, ("is_juridica",)),
    },
    amount=AMOUNT,
    late_filing_blind=LATE_FILING_BLIND,
    evidence="contractor_tax",
    # a return filed is not an omiso case: staff picked from the non-filers. The selection
    # correction is on: with corroborated amounts it raised omiso recovery@100 on both worlds
    # (rionegro 0.917 -> 0.925, llanura 0.905 -> 0.910, benchmarks/targeting_worlds.md).
    population="filed = 0",
    # What the registry and third parties say the business owes today: a non-filer whose last
    # return declared billions and whose registry now shows a shell's assets and no staff is
    # counted at three times what the registry implies, not at its old return. Measured on the
    # worlds table (benchmarks/targeting_worlds.md, "corroborated amounts").
    corroboration=("asset_implied_tax", "employee_implied_tax", "third_party_implied_tax"),
    # At most the multiple of that which nine filers in ten of the municipality stay within
    # (the 90th percentile of declared tax over the largest tax their witnesses imply: 1.8-1.9
    # on both worlds), not a fixed 3. At 3, a contractor that answered a letter with one late
    # return left the contractor rule and its other years were counted at three times its
    # third-party tax, twice what it owed, above better cases. Worlds table (precision@100 /
    # recovery@100): llanura omiso 0.990 / 0.910 -> 0.990 / 0.932, rionegro 0.957 / 0.925 ->
    # 0.960 / 0.925 (benchmarks/targeting_worlds.md, "corroboration multiple learnt"); the
    # 95th percentile (2.4-2.5) gave llanura 0.917, the 80th 0.937 and rionegro 0.924
    # (benchmarks/targeting_variants.md).
    corroboration_quantile=0.9,
    # What an omiso audit of another year assessed the same business, indexed by the CPI
    # (``audited_tax`` in sql/features/omiso_features.sql): the amount counts at least this.
    # The amount model learns from what filers declare, and a business that stopped filing
    # often declared less than it earned; its own audit measured what it earned. Twelve seeds
    # per world (benchmarks/targeting_worlds.md, "amount at least the audited tax"; docs/
    # targeting.md, round 4).
    amount_floor="audited_tax",
    amount_floor_year="audited_tax_year",
)
