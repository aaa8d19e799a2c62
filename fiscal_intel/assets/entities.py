"""One entity across sources: chamber registrations without a NIT matched to the RIT by name,
activity codes checked against DANE's CIIU list, and how well the registries line up."""

from fiscal_intel.assets.factory import sql_asset

entity_assets = [
    sql_asset("staging", "stg_registry_matches"),
    sql_asset("staging", "unknown_ciiu"),
    sql_asset("marts", "registry_match_rates"),
]
