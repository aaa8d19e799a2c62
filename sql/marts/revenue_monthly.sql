-- ICA collected per month of payment and CIIU section of the payer's main activity.
create or replace table marts.revenue_monthly as
select
    cast(date_trunc('month', p.paid_on) as date) as month,
    e.ciiu_section,
    cast(sum(p.amount) as double) as collected,
    cast(count(distinct p.nit) as integer) as payers
from staging.stg_payments as p
left join staging.stg_entities as e on p.nit = e.nit
group by all
order by month, e.ciiu_section;
