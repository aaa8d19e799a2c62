"""Staging → features: one feature table per audit program, built in SQL."""


from fiscal_intel.assets.factory import sql_asset

_COMMON = [
    ("staging", "stg_entities"),
    ("staging", "stg_declarations"),
    ("staging", "stg_withholdings"),
    ("staging", "stg_commerce_registry"),
    ("staging", "stg_taxpayers"),
    ("staging", "stg_audits"),
    ("staging", "stg_ciiu_rates"),
    ("staging", "as_of_date"),
]

feature_assets = [
    sql_asset(
        "features",
        "omiso_features",
        _COMMON,
        "Non-filer cases (obliged here, no return) with activity evidence and past audit labels.",
    ),
    sql_asset(
        "features",
        "inexacto_features",
        [*_COMMON, ("staging", "stg_payments"), ("ref", "ciiu_classes")],
        "Filed returns with under-reporting signals (third parties, peers, rates) and labels.",
    ),
]
