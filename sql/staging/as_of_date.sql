-- The date the run reasons from: the setting when given, else the latest dated event in the
-- data, so the same input always gives the same output. A case opened is an event: the run
-- that first sees a case in progress must see it open, or the case stays in the lists.
create or replace table staging.as_of_date as
with events as (
    select max(filed_on) as d from staging.stg_declarations
    union all
    select max(paid_on) from staging.stg_payments
    union all
    select max(greatest(opened_on, closed_on)) from staging.stg_audits
    union all
    select max(registered_on) from staging.stg_taxpayers
    union all
    select max(greatest(registered_on, cancelled_on)) from staging.stg_commerce_registry
)

select
    coalesce(try_cast(nullif($as_of, '') as date), max(d)) as as_of,
    case when nullif($as_of, '') is null then 'latest event in the data' else 'setting' end
        as as_of_source
from events;
