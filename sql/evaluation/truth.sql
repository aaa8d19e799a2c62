-- The ground truth a run is evaluated against, one row per case: the tax an audit would find
-- (true_gap, never negative). Read from the file given in the `truth` setting (registered by
-- the asset as _truth_file, all text); empty when there is none. Only marts.model_performance
-- reads it: features and models never see it.
create or replace table evaluation.truth as
select
    fi_nit_body(nit) as nit,
    try_cast(tax_year as integer) as tax_year,
    lower(trim(program)) as program,
    greatest(coalesce(try_cast(true_gap as double), 0), 0) as true_gap
from _truth_file
where fi_nit_body(nit) is not null and try_cast(tax_year as integer) is not null;
