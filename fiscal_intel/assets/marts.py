"""Scoring and staging → marts: the tables inspectors and finance leadership read."""


from fiscal_intel.assets.factory import sql_asset

mart_assets = [
    sql_asset(
        "marts",
        "audit_ranking",
        [("scoring", "omiso_scores"), ("scoring", "inexacto_scores"), ("staging", "stg_entities")],
        "Whom to inspect first: open cases per program ranked by expected money recovered.",
    ),
    sql_asset(
        "marts",
        "revenue_monthly",
        [("staging", "stg_payments"), ("staging", "stg_entities")],
        "ICA collected per month and CIIU section of the payer.",
    ),
    sql_asset(
        "marts",
        "revenue_yearly",
        [("staging", "stg_declarations"), ("staging", "stg_payments"), ("staging", "stg_entities")],
        "Per tax year and CIIU section: tax declared, collected, filers, payers, collection rate.",
    ),
]
