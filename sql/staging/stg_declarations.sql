-- The current ICA return per NIT and tax year: the latest filing supersedes earlier ones
-- (corrections). first_filed_on keeps the original filing date, which sets lateness and statute.
-- Partitioned by tax_year: this query selects the rows of the years in $years.
with filings as (
    select *
    from raw.declarations
    where list_contains($years, tax_year)
    qualify row_number() over (
        partition by declaration_id order by _batch_id desc, _row_number desc
    ) = 1
)

select
    declaration_id,
    nit,
    tax_year,
    filed_on,
    min(filed_on) over (partition by nit, tax_year) as first_filed_on,
    count(*) over (partition by nit, tax_year) as filings,
    gross_income,
    income_outside,
    deductions,
    taxable_income,
    ciiu,
    rate_per_mil,
    ica_tax,
    avisos_tableros,
    coalesce(sobretasa_bomberil, 0) as sobretasa_bomberil,
    total_tax,
    withholdings_credited,
    coalesce(penalties, 0) as penalties,
    balance_due,
    _file as source_file,
    _row_number as source_row
from filings
qualify row_number() over (
    partition by nit, tax_year order by filed_on desc, _batch_id desc, _row_number desc
) = 1;
