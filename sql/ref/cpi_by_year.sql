-- The CPI December index of every tax year a warehouse can hold, one row per year: DANE's level
-- where it is published (ref.cpi_deflator); a year after the last published one carries that
-- last level forward (published false), so a tax year newer than the shipped CPI counts at the
-- latest known prices rather than dropping out. The one place this rule lives: the marts and
-- features that index or deflate pesos by tax year join this table.
--
-- Span: from 1990 (or the first published year, if earlier) to 2100, the tax years the loader
-- accepts (fiscal_intel/ingest/sources.py, _YEAR; a row outside them is quarantined), so every
-- tax year in staging has its row; tests/test_cpi_by_year.py holds the two together. A year
-- before the first published one, or one missing from the file, has no index (null).
create or replace table ref.cpi_by_year as
with published as (
    select
        min(year) as first_year,
        max(year) as latest_year,
        arg_max(cpi_dec, year) as latest_cpi_dec
    from ref.cpi_deflator
),

years as (
    select unnest(range(least(first_year, 1990), greatest(latest_year, 2100) + 1)) as year
    from published
)

select
    cast(y.year as integer) as year,
    coalesce(c.cpi_dec, case when y.year > p.latest_year then p.latest_cpi_dec end) as cpi_dec,
    c.year is not null as published,
    p.latest_year,
    p.latest_cpi_dec
from years as y
cross join published as p
left join ref.cpi_deflator as c on y.year = c.year
order by y.year;
