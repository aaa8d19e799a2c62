-- reteICA reports, one row per agent, supplier, year and bimester (a restatement replaces: the
-- latest file's row wins). Partitioned by tax_year: this query selects the rows of the years in
-- $years. Only repeated keys are ranked: a window over every row cost ~60 % more at 8M rows.
with reported as (
    select *
    from raw.withholdings
    where list_contains($years, tax_year)
),

repeated as (
    select
        agent_nit,
        nit,
        tax_year,
        period
    from reported
    group by agent_nit, nit, tax_year, period
    having count(*) > 1
),

superseded as (
    select
        w._batch_id,
        w._row_number
    from reported as w
    semi join repeated as r
        on
            w.agent_nit = r.agent_nit
            and w.nit = r.nit
            and w.tax_year = r.tax_year
            and w.period = r.period
    qualify row_number() over (
        partition by w.agent_nit, w.nit, w.tax_year, w.period
        order by w._batch_id desc, w._row_number desc
    ) > 1
)

select
    w.agent_nit,
    w.nit,
    w.tax_year,
    w.period,
    w.base_amount,
    w.withheld_amount,
    w._file as source_file,
    w._row_number as source_row
from reported as w
anti join superseded as s on w._batch_id = s._batch_id and w._row_number = s._row_number;
