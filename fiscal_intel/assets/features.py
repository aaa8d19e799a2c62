"""Staging → features: one feature table per audit program, built in SQL, plus the helper
tables both read (registry profile, returns and third-party income known on the as-of date)."""


from fiscal_intel.assets.factory import sql_asset

_AS_OF = ("staging", "as_of_date")

_HELPERS = [("features", "registry_profile"), ("features", "known_returns"),
            ("features", "third_party_income")]
_COMMON = [
    *_HELPERS,
    ("staging", "stg_taxpayers"),
    ("ref", "ciiu_classes"),
    ("staging", "stg_audits"),
    ("staging", "stg_ciiu_rates"),
    _AS_OF,
]

feature_assets = [
    sql_asset(
        "features",
        "registry_profile",
        [("staging", "stg_commerce_registry"), ("staging", "stg_ciiu_rates"), _AS_OF],
        "What the chamber of commerce registry says about each NIT on the as-of date: "
        "activity, assets, staff, renewals, size band, establishments elsewhere.",
    ),
    sql_asset(
        "features",
        "known_returns",
        [("raw", "declarations"), _AS_OF],
        "The current ICA return per NIT and tax year as known on the as-of date (corrections "
        "filed later were not known then).",
    ),
    sql_asset(
        "features",
        "third_party_income",
        [("staging", "stg_withholdings"), _AS_OF],
        "Income of each supplier and year that reteICA agents reported, as known on the as-of "
        "date.",
    ),
    sql_asset(
        "features",
        "omiso_features",
        _COMMON,
        "Non-filer cases (obliged here, no return) with activity evidence and past audit labels.",
    ),
    sql_asset(
        "features",
        "inexacto_features",
        [*_COMMON, ("staging", "stg_payments")],
        "Filed returns with under-reporting signals (third parties, peers, rates) and labels.",
    ),
]
