-- Closed audit cases (the labels), one row per case. Cases without a selection flag count as
-- chosen by risk: only cases marked random may serve as an unbiased sample.
create or replace table staging.stg_audits as
select
    case_id,
    nit,
    tax_year,
    program,
    coalesce(selection, 'risk') as selection,
    opened_on,
    closed_on,
    outcome,
    assessed_amount,
    _file as source_file,
    _row_number as source_row
from raw.audits
qualify row_number() over (partition by case_id order by _batch_id desc, _row_number desc) = 1;
