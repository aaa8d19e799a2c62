-- One row per (nit, tax_year) return known on the as-of date: the latest filing made by then,
-- when the first one was made and how many there were. Staging keeps only the latest filing
-- ever, but a correction filed after the as-of date was not known then, so the filing history
-- comes from raw (deduplicated per declaration_id exactly as staging does).
create or replace table features.known_returns as
with as_of as (
    select fi_as_of($as_of, (select as_of from staging.as_of_date)) as as_of
),

filings as (
    select
        d.declaration_id,
        d.nit,
        d.tax_year,
        d.filed_on,
        d._batch_id,
        d._row_number
    from raw.declarations as d
    cross join as_of as a
    where d.filed_on <= a.as_of
    qualify row_number() over (
        partition by d.declaration_id order by d._batch_id desc, d._row_number desc
    ) = 1
),

-- Which filing is current is decided on the few columns that decide it, then the winners'
-- full rows are read (as in staging.stg_declarations): windows carry every column of their
-- rows through their sorts.
current_filings as (
    select
        _batch_id,
        _row_number,
        min(filed_on) over (partition by nit, tax_year) as first_filed_on,
        count(*) over (partition by nit, tax_year) as filings
    from filings
    qualify row_number() over (
        partition by nit, tax_year order by filed_on desc, _batch_id desc, _row_number desc
    ) = 1
)

select
    d.declaration_id,
    d.nit,
    d.tax_year::int as tax_year,
    d.filed_on,
    c.first_filed_on,
    c.filings,
    d.gross_income::double as gross_income,
    d.income_outside::double as income_outside,
    d.deductions::double as deductions,
    d.taxable_income::double as taxable_income,
    d.ciiu,
    d.rate_per_mil,
    d.total_tax::double as total_tax,
    d.withholdings_credited::double as withholdings_credited,
    d.balance_due::double as balance_due
from raw.declarations as d
inner join current_filings as c on d._batch_id = c._batch_id and d._row_number = c._row_number;
