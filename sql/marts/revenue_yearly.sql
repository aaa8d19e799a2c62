-- Per tax year and CIIU section: tax declared on current returns, money collected for that
-- year (whenever paid), filers and payers, and the share of declared tax collected.
create or replace table marts.revenue_yearly as
with declared as (
    select
        d.tax_year,
        e.ciiu_section,
        sum(d.total_tax) as declared_tax,
        sum(d.balance_due) as balance_due,
        count(*) as filers
    from staging.stg_declarations as d
    left join staging.stg_entities as e on d.nit = e.nit
    group by all
),

collected as (
    select
        p.tax_year,
        e.ciiu_section,
        sum(p.amount) as collected,
        count(distinct p.nit) as payers
    from staging.stg_payments as p
    left join staging.stg_entities as e on p.nit = e.nit
    group by all
)

select
    cast(coalesce(d.tax_year, c.tax_year) as integer) as tax_year,
    coalesce(d.ciiu_section, c.ciiu_section) as ciiu_section,
    cast(coalesce(d.declared_tax, 0) as double) as declared_tax,
    cast(coalesce(d.balance_due, 0) as double) as balance_due,
    cast(coalesce(c.collected, 0) as double) as collected,
    cast(coalesce(d.filers, 0) as integer) as filers,
    cast(coalesce(c.payers, 0) as integer) as payers,
    cast(c.collected / nullif(d.balance_due, 0) as double) as collection_rate
from declared as d
full outer join collected as c
    on d.tax_year = c.tax_year and d.ciiu_section is not distinct from c.ciiu_section
order by tax_year, ciiu_section;
