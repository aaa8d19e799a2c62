-- The current ICA return per NIT and tax year: the latest filing supersedes earlier ones
-- (corrections). first_filed_on keeps the original filing date, which sets lateness and statute.
-- Partitioned by tax_year: this query selects the rows of the years in $years.
-- Which row wins is decided on the few columns that decide it, then the winners' full rows are
-- read: windows carry every column of their rows through their sorts.
with filings as (
    -- a file sent twice: the latest copy of each declaration
    select
        declaration_id,
        nit,
        tax_year,
        filed_on,
        _batch_id,
        _row_number
    from raw.declarations
    where list_contains($years, tax_year)
    qualify row_number() over (
        partition by declaration_id order by _batch_id desc, _row_number desc
    ) = 1
),

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
    d.tax_year,
    d.filed_on,
    c.first_filed_on,
    c.filings,
    d.gross_income,
    d.income_outside,
    d.deductions,
    d.taxable_income,
    d.ciiu,
    d.rate_per_mil,
    d.ica_tax,
    d.avisos_tableros,
    coalesce(d.sobretasa_bomberil, 0) as sobretasa_bomberil,
    d.total_tax,
    d.withholdings_credited,
    coalesce(d.penalties, 0) as penalties,
    d.balance_due,
    d._file as source_file,
    d._row_number as source_row
from raw.declarations as d
inner join current_filings as c on d._batch_id = c._batch_id and d._row_number = c._row_number;
