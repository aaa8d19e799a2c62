"""Raw → staging: typed, deduplicated, corrections applied, one canonical NIT across sources."""

from fiscal_intel.assets.factory import partitioned_sql_asset, sql_asset

_STG = [
    ("stg_taxpayers", [("raw", "taxpayers")], "The municipal tax registry, one row per NIT."),
    (
        "stg_declarations",
        [("raw", "declarations")],
        "The current ICA return per NIT and tax year, corrections applied.",
    ),
    ("stg_payments", [("raw", "payments")], "Payments received, one row per receipt."),
    (
        "stg_withholdings",
        [("raw", "withholdings")],
        "reteICA reports: income of each supplier seen by third parties, per bimester.",
    ),
    (
        "stg_commerce_registry",
        [("raw", "commerce_registry"), ("staging", "stg_registry_matches")],
        "Chamber of commerce registrations, one row per matricula, local ones flagged; NITs "
        "missing from the export filled in where the name matched the RIT.",
    ),
    (
        "stg_audits",
        [("raw", "audits")],
        "Audit cases: closed ones with their outcome (the labels) and cases in progress.",
    ),
    (
        "stg_ciiu_rates",
        [("raw", "ciiu_rates"), ("ref", "ciiu_rates_default")],
        "The ICA tariff in force per CIIU class (municipal table, else the shipped default).",
    ),
]

STAGED_TABLES = [name for name, _, _ in _STG]

# Rows that belong to one tax year: rebuilt per year (delete-then-insert), see partitions.py.
PARTITIONED = {"stg_declarations", "stg_payments", "stg_withholdings"}

staging_assets = [
    (partitioned_sql_asset if name in PARTITIONED else sql_asset)(
        "staging", name, deps, description
    )
    for name, deps, description in _STG
] + [
    sql_asset(
        "staging",
        "stg_entities",
        [("staging", n) for n in STAGED_TABLES if n != "stg_ciiu_rates"]
        + [("ref", "ciiu_classes")],
        "Every NIT seen in any source, with its name, main activity and registry presence.",
    ),
    sql_asset(
        "staging",
        "as_of_date",
        [("staging", n) for n in STAGED_TABLES if n not in ("stg_ciiu_rates", "stg_withholdings")],
        "The date the run reasons from: the setting, else the latest dated event in the data.",
    ),
]
