"""Tax-year partitions for the tables whose rows belong to one tax year.

Returns, payments and withholdings are naturally partitioned by tax_year: a year can be rebuilt
on its own (delete-then-insert in one transaction) without touching the others. The set of years
is a setting (``first_tax_year`` .. ``last_tax_year``) rather than something read from the data
or the clock, so the same settings load the same definitions everywhere; a check fails loudly
if the data holds a year outside it. Nothing here reads settings: each function takes the
settings of the run (``fiscal_intel.definitions.build_definitions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from fiscal_intel.settings import Settings


def tax_years(settings: Settings) -> dg.StaticPartitionsDefinition:
    """One partition per tax year of the settings."""
    return dg.StaticPartitionsDefinition(
        [str(y) for y in range(settings.first_tax_year, settings.last_tax_year + 1)]
    )


def default_tax_years() -> dg.StaticPartitionsDefinition:
    """The partitions of the default settings: what an asset module declares when it is
    imported, before :func:`with_tax_years` gives it the run's years."""
    return tax_years(Settings.model_construct())


def all_tax_years(settings: Settings) -> dict[str, str]:
    """Run tags that select every tax year in one run (the partitioned assets use a single-run
    backfill policy, so the whole range is one delete-then-insert per table)."""
    return {
        "dagster/asset_partition_range_start": str(settings.first_tax_year),
        "dagster/asset_partition_range_end": str(settings.last_tax_year),
    }


def with_tax_years(definitions: Sequence[Any], settings: Settings) -> list[Any]:
    """``definitions`` with every tax-year-partitioned asset given the years of ``settings``
    (assets without partitions, checks and specs are returned as they are)."""
    years = tax_years(settings)
    return [
        d.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=years))
        if isinstance(d, dg.AssetsDefinition) and d.partitions_def is not None
        else d
        for d in definitions
    ]
