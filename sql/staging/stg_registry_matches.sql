-- Chamber registrations that came without a NIT (natural persons often register that way),
-- matched to the RIT by legal name: one row per such matricula. Names are compared by
-- fi_name_key (case, accents, punctuation and legal-form spellings ignored) and a match is
-- taken only when exactly one NIT in the RIT carries that name; two or more is 'ambiguous' and
-- stays unmatched, because a wrong match would hand one person's obligations to another.
create or replace table staging.stg_registry_matches as
with registry as (
    select
        matricula,
        nit,
        legal_name,
        municipality_code
    from raw.commerce_registry
    qualify row_number() over (
        partition by matricula order by _batch_id desc, _row_number desc
    ) = 1
),

rit_names as (
    select
        fi_name_key(legal_name) as name_key,
        count(distinct nit) as candidates,
        min(nit) as nit
    from staging.stg_taxpayers
    where fi_name_key(legal_name) is not null
    group by fi_name_key(legal_name)
)

select
    r.matricula,
    r.legal_name,
    fi_name_key(r.legal_name) as name_key,
    r.municipality_code = $municipality as is_local,
    case when n.candidates = 1 then n.nit end as matched_nit,
    coalesce(n.candidates, 0) as candidates,
    case
        when n.candidates = 1 then 'matched'
        when n.candidates > 1 then 'ambiguous'
        else 'unmatched'
    end as outcome
from registry as r
left join rit_names as n on fi_name_key(r.legal_name) = n.name_key
where r.nit is null;
