-- Chamber of commerce registrations, one row per matricula; is_local marks establishments in
-- the municipality this warehouse serves (the others are context, not obligations here).
-- A registration exported without a NIT carries the RIT NIT its legal name matched
-- unambiguously (staging.stg_registry_matches); nit_source says which: 'export' or
-- 'name_match' (NULL: still unknown).
create or replace table staging.stg_commerce_registry as
select
    r.matricula,
    coalesce(r.nit, m.matched_nit) as nit,
    case
        when r.nit is not null then 'export'
        when m.matched_nit is not null then 'name_match'
    end as nit_source,
    r.legal_name,
    r.organization_type,
    r.ciiu,
    r.ciiu_secondary,
    r.municipality_code,
    r.municipality_code = $municipality as is_local,
    r.registered_on,
    r.last_renewal_year,
    upper(trim(r.status)) as status,
    r.cancelled_on,
    r.total_assets,
    r.employees,
    r._file as source_file,
    r._row_number as source_row
from raw.commerce_registry as r
left join staging.stg_registry_matches as m on r.matricula = m.matricula
qualify row_number() over (
    partition by r.matricula order by r._batch_id desc, r._row_number desc
) = 1;
