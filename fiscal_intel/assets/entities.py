"""One entity across sources: chamber registrations without a NIT matched to the RIT by name,
activity codes checked against DANE's CIIU list, and how well the registries line up."""

from fiscal_intel.assets.factory import sql_asset

entity_assets = [
    sql_asset(
        "staging",
        "stg_registry_matches",
        [("raw", "commerce_registry"), ("staging", "stg_taxpayers")],
        "Chamber registrations exported without a NIT, matched to the RIT by normalised legal "
        "name where exactly one taxpayer has that name (else ambiguous or unmatched).",
    ),
    sql_asset(
        "staging",
        "unknown_ciiu",
        [
            ("staging", "stg_taxpayers"),
            ("staging", "stg_declarations"),
            ("staging", "stg_commerce_registry"),
            ("staging", "stg_ciiu_rates"),
            ("ref", "ciiu_classes"),
        ],
        "Activity codes that are not a CIIU Rev.4 A.C. class in DANE's list: per source, column "
        "and code, the rows carrying it and example NITs.",
    ),
    sql_asset(
        "marts",
        "registry_match_rates",
        [("staging", "stg_commerce_registry"), ("staging", "stg_registry_matches")],
        "How chamber registrations line up with the tax registry: with NIT, matched by name, "
        "ambiguous, unmatched, per scope (local, elsewhere, all).",
    ),
]
