-- Chamber of commerce registrations, one row per matricula; is_local marks establishments in
-- the municipality this warehouse serves (the others are context, not obligations here).
create or replace table staging.stg_commerce_registry as
select
    matricula,
    nit,
    legal_name,
    organization_type,
    ciiu,
    ciiu_secondary,
    municipality_code,
    municipality_code = $municipality as is_local,
    registered_on,
    last_renewal_year,
    upper(trim(status)) as status,
    cancelled_on,
    total_assets,
    employees,
    _file as source_file,
    _row_number as source_row
from raw.commerce_registry
qualify row_number() over (
    partition by matricula order by _batch_id desc, _row_number desc
) = 1;
