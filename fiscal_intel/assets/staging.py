"""Raw → staging: typed, deduplicated, corrections applied, one canonical NIT across sources.

Each table is built by its SQL file, whose header comment says what it holds and whose reads are
its dependencies (see ``fiscal_intel.assets.factory``).
"""

from fiscal_intel.assets.factory import partitioned_sql_asset, sql_asset

# One staged table per landing source, each checked by its GX suite (expectations/<name>.json).
STAGED_TABLES = [
    "stg_taxpayers",
    "stg_declarations",
    "stg_payments",
    "stg_withholdings",
    "stg_commerce_registry",
    "stg_audits",
    "stg_ciiu_rates",
    "stg_actions",
]

# Rows that belong to one tax year: rebuilt per year (delete-then-insert), see partitions.py.
PARTITIONED = {"stg_declarations", "stg_payments", "stg_withholdings"}

staging_assets = [
    (partitioned_sql_asset if name in PARTITIONED else sql_asset)("staging", name)
    for name in [*STAGED_TABLES, "stg_entities", "as_of_date"]
]
