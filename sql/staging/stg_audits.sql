-- Audit cases, one row per case: closed ones with their outcome (the labels) and cases in
-- progress (no closed_on yet), which take their NIT and tax year out of the audit lists. When
-- the office later exports the case closed, the closed row wins whatever the file order; among
-- rows of the same state the latest copy wins. Cases without a selection flag count as chosen
-- by risk: only cases marked random may serve as an unbiased sample.
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
    -- an open case has no amount yet (the loader lets a 0 through for it)
    case when closed_on is not null then assessed_amount end as assessed_amount,
    -- 'open' or 'closed'; null would be a row the loader should have quarantined (GX checks it)
    case
        when closed_on is null and outcome is null then 'open'
        when closed_on is not null and outcome is not null and assessed_amount is not null
            then 'closed'
    end as status,
    _file as source_file,
    _row_number as source_row
from raw.audits
qualify row_number() over (
    partition by case_id order by closed_on is null, _batch_id desc, _row_number desc
) = 1;
