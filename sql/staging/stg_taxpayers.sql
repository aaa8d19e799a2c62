-- One row per NIT in the municipal tax registry (RIT); a later file restates an earlier one.
create or replace table staging.stg_taxpayers as
select
    nit,
    fi_nit_dv(nit) as dv,
    taxpayer_type,
    legal_name,
    ciiu,
    comuna,
    registered_on,
    status,
    coalesce(regime, 'ordinario') as regime,
    _file as source_file,
    _row_number as source_row
from raw.taxpayers
qualify row_number() over (partition by nit order by _batch_id desc, _row_number desc) = 1;
