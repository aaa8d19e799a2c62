"""Staging → features: one feature table per audit program, built in SQL, plus the helper
tables both read (registry profile, returns and third-party income known on the as-of date)."""


from fiscal_intel.assets.factory import sql_asset

feature_assets = [
    sql_asset("features", name)
    for name in (
        "registry_profile",
        "known_returns",
        "third_party_income",
        "omiso_features",
        "inexacto_features",
    )
]
