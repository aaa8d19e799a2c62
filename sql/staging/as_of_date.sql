-- The date the run reasons from: the setting when given, else where the data ends, so the same
-- input always gives the same output. Where the data ends is robust to typos: the horizon is the
-- k-th latest event (k = 10, or one event in a thousand when there are more), and the as-of date
-- is the latest event at most 31 days past it, or as long past it as its k events before took
-- when the data is sparser. A stray date (a payment typed 2030 in data that ends in 2025) never
-- closes every statute window; events_beyond counts the events left past the as-of date.
-- A case opened is an event: the run that first sees a case in progress must see it open, or
-- the case stays in the lists.
create or replace table staging.as_of_date as
with events as (
    select filed_on as d from staging.stg_declarations
    union all
    select paid_on from staging.stg_payments
    union all
    select greatest(opened_on, closed_on) from staging.stg_audits
    union all
    select registered_on from staging.stg_taxpayers
    union all
    select greatest(registered_on, cancelled_on) from staging.stg_commerce_registry
),

daily as (
    select
        d,
        count(*) as n
    from events
    where d is not null
    group by d
),

ranked as (
    -- events on or after each date, and how many of the latest a horizon must have behind it
    select
        d,
        sum(n) over (order by d desc rows unbounded preceding) as at_or_after,
        greatest(10, ceil(sum(n) over () / 1000)) as k
    from daily
),

horizon as (
    -- the k-th latest event, and how long the k events before it took: the data's own pace
    select
        coalesce(max(d) filter (where at_or_after >= k), max(d)) as horizon,
        coalesce(max(d) filter (where at_or_after >= 2 * k), min(d)) as earlier,
        max(d) as latest
    from ranked
),

data_end as (
    -- the latest event within a month, or one pace if the data is sparser, past the horizon
    select
        h.horizon,
        h.latest,
        (
            select max(r.d) from ranked as r
            where r.d <= h.horizon + greatest(31, h.horizon - h.earlier)::integer
        )::date as as_of
    from horizon as h
)

select
    fi_as_of($as_of, e.as_of) as as_of,
    case
        when nullif($as_of, '') is not null then 'setting'
        when e.latest > e.as_of
            then
                'latest event in the data (events after ' || e.as_of::varchar
                || ' ignored: too far past the data''s horizon '
                || e.horizon::varchar || ')'
        else 'latest event in the data'
    end as as_of_source,
    (
        select coalesce(sum(dd.n), 0) from daily as dd
        where dd.d > fi_as_of($as_of, e.as_of)
    )::bigint as events_beyond
from data_end as e;
