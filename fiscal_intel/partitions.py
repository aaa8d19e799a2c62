"""Tax-year partitions for the tables whose rows belong to one tax year.

Returns, payments and withholdings are naturally partitioned by tax_year: a year can be rebuilt
on its own (delete-then-insert in one transaction) without touching the others. The set of years
is a setting rather than something read from the data or the clock, so the same definitions load
the same way everywhere; a check fails loudly if the data holds a year outside it.
"""

import dagster as dg

from fiscal_intel.settings import load_settings

_settings = load_settings()
FIRST_TAX_YEAR, LAST_TAX_YEAR = _settings.first_tax_year, _settings.last_tax_year

tax_years = dg.StaticPartitionsDefinition(
    [str(y) for y in range(FIRST_TAX_YEAR, LAST_TAX_YEAR + 1)]
)

# Run tags that select every tax year in one run (the partitioned assets use a single-run
# backfill policy, so the whole range is one delete-then-insert per table).
ALL_TAX_YEARS = {
    "dagster/asset_partition_range_start": str(FIRST_TAX_YEAR),
    "dagster/asset_partition_range_end": str(LAST_TAX_YEAR),
}
