-- After corrections, exactly one current return per NIT and tax year.
with dupes as (
    select
        nit,
        tax_year,
        count(*) as n
    from staging.stg_declarations
    group by nit, tax_year
    having count(*) > 1
)

select
    count(*) = 0 as passed,
    count(*)::double as observed,
    count(*) || ' (nit, tax_year) with more than one current return'
    || coalesce(', e.g. ' || string_agg(nit || '/' || tax_year, ', ' order by nit), '') as detail
from dupes;
