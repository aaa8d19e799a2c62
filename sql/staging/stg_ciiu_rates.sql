-- The tariff in force: the municipality's own table where it has the class, else the default.
create or replace table staging.stg_ciiu_rates as
with municipal as (
    select
        ciiu,
        description,
        rate_per_mil
    from raw.ciiu_rates
    qualify row_number() over (partition by ciiu order by _batch_id desc, _row_number desc) = 1
)

select
    coalesce(m.ciiu, d.ciiu) as ciiu,
    coalesce(m.description, d.description) as description,
    coalesce(m.rate_per_mil, d.rate_per_mil) as rate_per_mil,
    case when m.ciiu is null then 'default' else 'municipal' end as rate_source
from municipal as m
full outer join ref.ciiu_rates_default as d on m.ciiu = d.ciiu;
