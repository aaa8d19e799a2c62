-- Every tax year in the raw table has a partition to be staged in: a year outside
-- [first_tax_year, last_tax_year] would otherwise never reach staging, silently.
with outside as (
    select
        tax_year,
        count(*) as n
    from query_table($raw_table)
    where tax_year < $first_tax_year or tax_year > $last_tax_year
    group by tax_year
)

select
    count(*) = 0 as passed,
    coalesce(sum(n), 0)::double as observed,
    case
        when count(*) = 0 then 'every tax year is within the partitions'
        else
            coalesce(sum(n), 0) || ' rows in tax years '
            || string_agg(tax_year::varchar, ', ' order by tax_year)
            || ' outside the partitions ' || $first_tax_year || '-' || $last_tax_year
            || ': set first_tax_year / last_tax_year to cover them'
    end as detail
from outside;
