-- Every return's NIT should be known to some registry (RIT or chamber of commerce). A few
-- unknown filers are a finding for the registry team; many mean the exports do not match.
with registered as (
    select distinct nit from staging.stg_commerce_registry
),

filers as (
    select
        d.nit,
        t.nit is not null or r.nit is not null as known
    from staging.stg_declarations as d
    left join staging.stg_taxpayers as t on d.nit = t.nit
    left join registered as r on d.nit = r.nit
)

select
    coalesce(avg(case when known then 0.0 else 1.0 end), 0) <= $max_unknown_filer_share as passed,
    coalesce(avg(case when known then 0.0 else 1.0 end), 0) as observed,
    count(*) filter (not known) || ' of ' || count(*) || ' returns filed by a NIT in no registry'
    || coalesce(', e.g. ' || string_agg(nit, ', ' order by nit) filter (not known), '') as detail
from filers;
