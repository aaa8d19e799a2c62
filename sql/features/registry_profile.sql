-- One row per NIT with a chamber of commerce registration known on the as-of date: what the
-- registry says about the business behind a return (or behind a missing one). Local
-- establishments give activity, assets, employees and renewals; establishments in other
-- municipalities are the evidence that income earned "outside" can be real.
-- Size band: total assets at the last renewal in legal monthly minimum wages (SMMLV), with the
-- thresholds of Ley 905 de 2004 art. 2 (micro <= 500, small <= 5,000, medium <= 30,000).
-- Status, renewal, assets and employees are the registry's snapshot as exported; only
-- registrations and cancellations are dated, so only those are cut at the as-of date.
create or replace table features.registry_profile as
with as_of as (
    select fi_as_of($as_of, (select as_of from staging.as_of_date)) as as_of
),

-- legal monthly minimum wage per year (col0: year, col1: pesos)
smmlv as (
    select
        v.col0 as year,
        v.col1 as wage
    from (
        values
        (2015, 644350.0),
        (2016, 689455.0),
        (2017, 737717.0),
        (2018, 781242.0),
        (2019, 828116.0),
        (2020, 877803.0),
        (2021, 908526.0),
        (2022, 1000000.0),
        (2023, 1160000.0),
        (2024, 1300000.0),
        (2025, 1423500.0)
    ) as v
),

known as (
    select
        r.*,
        -- A cancellation after the as-of date had not happened yet; one without a date is
        -- taken at its word.
        coalesce(r.cancelled_on <= a.as_of, r.status <> 'ACTIVA') as cancelled,
        least(r.last_renewal_year, year(a.as_of)) as renewal_year
    from staging.stg_commerce_registry as r
    cross join as_of as a
    where r.nit is not null and r.registered_on <= a.as_of
),

local_registry as (
    select
        nit,
        count(*) as local_registrations,
        min(registered_on) as registered_on,
        bool_or(not cancelled) as active,
        max(case when cancelled then cancelled_on end) as cancelled_on,
        max(renewal_year) as last_renewal_year,
        max(total_assets)::double as total_assets,
        max(employees) as employees,
        -- the main activity of the establishment still open, else of the latest one
        arg_max(ciiu, [(not cancelled)::int, epoch(registered_on)]) as ciiu
    from known
    where is_local
    group by nit
),

elsewhere as (
    select
        nit,
        count(*) filter (where not cancelled) as branches_elsewhere
    from known
    where not is_local
    group by nit
),

nits as (
    select nit from local_registry
    union
    select nit from elsewhere
),

wage as (
    select
        n.nit,
        w.wage
    from nits as n
    left join local_registry as l on n.nit = l.nit
    left join smmlv as w
        on w.year = least(greatest(coalesce(l.last_renewal_year, 2025), 2015), 2025)
)

select
    n.nit,
    coalesce(l.local_registrations, 0) as local_registrations,
    l.registered_on,
    coalesce(l.active, false) as active,
    l.cancelled_on,
    l.last_renewal_year,
    l.total_assets,
    l.employees,
    l.ciiu,
    rt.rate_per_mil as activity_rate,
    coalesce(e.branches_elsewhere, 0) as branches_elsewhere,
    l.total_assets / w.wage as assets_smmlv,
    case
        when l.total_assets is null then 'unknown'
        when l.total_assets / w.wage <= 500 then 'micro'
        when l.total_assets / w.wage <= 5000 then 'small'
        when l.total_assets / w.wage <= 30000 then 'medium'
        else 'large'
    end as size_band
from nits as n
left join local_registry as l on n.nit = l.nit
left join elsewhere as e on n.nit = e.nit
left join wage as w on n.nit = w.nit
left join staging.stg_ciiu_rates as rt on l.ciiu = rt.ciiu;
