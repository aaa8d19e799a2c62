-- One row per (nit, tax_year) that reteICA agents reported paying, as known on the as-of
-- date: a bimester's report counts once the bimester is over. This is the income of the
-- supplier that a third party saw, independently of any return.
create or replace table features.third_party_income as
with as_of as (
    select fi_as_of($as_of, (select as_of from staging.as_of_date)) as as_of
)

select
    w.nit,
    w.tax_year::int as tax_year,
    sum(w.base_amount)::double as base_amount,
    sum(w.withheld_amount)::double as withheld_amount,
    count(distinct w.agent_nit) as agents,
    count(distinct w.period) as periods
from staging.stg_withholdings as w
cross join as_of as a
where last_day(make_date(w.tax_year::int, w.period::int * 2, 1)) <= a.as_of
group by w.nit, w.tax_year;
