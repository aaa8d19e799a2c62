-- What the office actually sent (letters, demands to file, requests), one row per action id:
-- the latest copy of an id wins. Campaign effects read the sending date from here; outcomes
-- are never taken from this table, only from later returns and payments.
create or replace table staging.stg_actions as
select
    action_id,
    nit,
    cast(tax_year as integer) as tax_year,
    program,
    action,
    sent_on,
    campaign_id,
    channel,
    _file as source_file,
    _row_number as source_row
from raw.actions
qualify row_number() over (
    partition by action_id order by _batch_id desc, _row_number desc
) = 1;
