-- One row per NIT seen anywhere, with the name and main activity an inspector would use:
-- the RIT first, then the local chamber registration, then the latest return.
create or replace table staging.stg_entities as
with nits as (
    select nit from staging.stg_taxpayers
    union
    select nit from staging.stg_commerce_registry
    where nit is not null
    union
    select nit from staging.stg_declarations
    union
    select nit from staging.stg_withholdings
    union
    select nit from staging.stg_payments
    union
    select nit from staging.stg_audits
),

rues as (
    select *
    from staging.stg_commerce_registry
    where nit is not null
    qualify row_number() over (
        partition by nit
        order by is_local desc, (cancelled_on is null) desc, registered_on desc, matricula asc
    ) = 1
),

last_return as (
    select
        nit,
        ciiu
    from staging.stg_declarations
    qualify row_number() over (partition by nit order by tax_year desc) = 1
)

select
    n.nit,
    fi_nit_dv(n.nit) as dv,
    coalesce(t.legal_name, r.legal_name) as legal_name,
    coalesce(t.taxpayer_type, case
        when length(n.nit) = 9 and n.nit[1] in ('8', '9')
            then 'juridica'
        else 'natural'
    end) as taxpayer_type,
    coalesce(t.ciiu, r.ciiu, d.ciiu) as ciiu,
    c.ciiu_section,
    t.comuna,
    t.nit is not null as in_rit,
    coalesce(t.status, 'unregistered') as rit_status,
    r.nit is not null and r.is_local as in_rues_local
from nits as n
left join staging.stg_taxpayers as t on n.nit = t.nit
left join rues as r on n.nit = r.nit
left join last_return as d on n.nit = d.nit
left join ref.ciiu_classes as c on coalesce(t.ciiu, r.ciiu, d.ciiu) = c.ciiu;
