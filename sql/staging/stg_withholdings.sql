-- reteICA reports, one row per agent, supplier, year and bimester (a restatement replaces).
create or replace table staging.stg_withholdings as
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
qualify row_number() over (
    partition by agent_nit, nit, tax_year, period order by _batch_id desc, _row_number desc
) = 1;
