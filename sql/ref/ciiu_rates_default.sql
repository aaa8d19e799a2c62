-- The shipped default tariff, used for classes the municipality's own table does not cover. A
-- 2012-edition code still in use takes its successor's rate (ref/ciiu_2012_crosswalk.csv).
create or replace table ref.ciiu_rates_default as
with shipped as (
    select
        ciiu,
        description,
        cast(rate_per_mil as double) as rate_per_mil
    from read_csv($path, header = true, all_varchar = true)
),

successors as (
    select
        ciiu_2012,
        description_2012,
        ciiu
    from read_csv($crosswalk, header = true, all_varchar = true)
)

select
    ciiu,
    description,
    rate_per_mil
from shipped
union all
select
    x.ciiu_2012 as ciiu,
    x.description_2012 as description,
    s.rate_per_mil
from successors as x
inner join shipped as s on x.ciiu = s.ciiu
where x.ciiu_2012 not in (select s2.ciiu from shipped as s2);
