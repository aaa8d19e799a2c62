-- reteICA reports, one row per agent, supplier, year and bimester (a restatement replaces).
-- Partitioned by tax_year: this query selects the rows of the years in $years.
select
    agent_nit,
    nit,
    tax_year,
    period,
    base_amount,
    withheld_amount,
    _file as source_file,
    _row_number as source_row
from raw.withholdings
where list_contains($years, tax_year)
qualify row_number() over (
    partition by agent_nit, nit, tax_year, period order by _batch_id desc, _row_number desc
) = 1;
