-- One row per (nit, tax_year) return known on the as-of date: the latest filing made by then,
-- when the first one was made and how many there were. Staging keeps only the latest filing
-- ever, but a correction filed after the as-of date was not known then, so the filing history
-- comes from raw (deduplicated per declaration_id exactly as staging does).
create or replace table features.known_returns as
with as_of as (
    select
        coalesce(
            try_cast(nullif($as_of, '') as date), (select as_of from staging.as_of_date)
        ) as as_of
),

filings as (
    select d.*
    from raw.declarations as d
    cross join as_of as a
    where d.filed_on <= a.as_of
    qualify row_number() over (
        partition by d.declaration_id order by d._batch_id desc, d._row_number desc
    ) = 1
)

select
    declaration_id,
    nit,
    tax_year::int as tax_year,
    filed_on,
    min(filed_on) over (partition by nit, tax_year) as first_filed_on,
    count(*) over (partition by nit, tax_year) as filings,
    gross_income::double as gross_income,
    income_outside::double as income_outside,
    deductions::double as deductions,
    taxable_income::double as taxable_income,
    ciiu,
    rate_per_mil,
    total_tax::double as total_tax,
    withholdings_credited::double as withholdings_credited,
    balance_due::double as balance_due
from filings
qualify row_number() over (
    partition by nit, tax_year order by filed_on desc, _batch_id desc, _row_number desc
) = 1;
