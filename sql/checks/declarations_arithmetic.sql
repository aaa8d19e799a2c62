-- The return's own lines must add up: taxable = gross - outside - deductions, and the total
-- is the sum of its parts (to the thousand pesos the form rounds to).
with bad as (
    select
        nit,
        tax_year
    from staging.stg_declarations
    where
        abs(taxable_income - (gross_income - income_outside - deductions)) > 1000
        or abs(total_tax - (ica_tax + avisos_tableros + sobretasa_bomberil)) > 1000
)

select
    count(*) <= 0.01 * (select count(*) from staging.stg_declarations) as passed,
    count(*)::double as observed,
    count(*) || ' returns whose lines do not add up'
    || coalesce(', e.g. ' || string_agg(nit || '/' || tax_year, ', ' order by nit), '') as detail
from bad;
