-- How well chamber registrations line up with the tax registry: per scope (this municipality,
-- elsewhere, all), how many registrations came with a NIT, how many without one were matched
-- to the RIT by name, were ambiguous or stayed unmatched, and the rates a data engineer
-- watches. Aggregates only: no taxpayer appears here.
create or replace table marts.registry_match_rates as
with registrations as (
    select
        c.is_local,
        c.nit_source,
        m.outcome
    from staging.stg_commerce_registry as c
    left join staging.stg_registry_matches as m on c.matricula = m.matricula
),

scoped as (
    select
        case when is_local then 'local' else 'elsewhere' end as scope,
        *
    from registrations
    union all
    select
        'all' as scope,
        *
    from registrations
)

select
    scope,
    count(*) as registrations,
    count(*) filter (nit_source = 'export') as with_nit,
    count(*) filter (nit_source is distinct from 'export') as without_nit,
    count(*) filter (outcome = 'matched') as matched,
    count(*) filter (outcome = 'ambiguous') as ambiguous,
    count(*) filter (outcome = 'unmatched') as unmatched,
    count(*) filter (outcome = 'matched')
    / nullif(count(*) filter (nit_source is distinct from 'export'), 0) as match_rate,
    count(*) filter (nit_source is not null) / nullif(count(*), 0) as nit_coverage
from scoped
group by scope
order by case scope when 'local' then 1 when 'elsewhere' then 2 else 3 end;
