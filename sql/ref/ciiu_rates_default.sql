-- The shipped default tariff, used for classes the municipality's own table does not cover.
create or replace table ref.ciiu_rates_default as
select
    ciiu,
    description,
    cast(rate_per_mil as double) as rate_per_mil
from read_csv($path, header = true, all_varchar = true);
