-- Is this source keeping up with the rest of the data? Its latest dated event is compared with
-- the latest event of any source (the data's own clock, so the answer does not depend on when
-- the check runs). A source that lags by more than its expected period is stale.
with latest as (
    select
        'taxpayers' as source,
        max(registered_on) as latest_on
    from raw.taxpayers
    union all
    select
        'declarations' as source,
        max(filed_on) as latest_on
    from raw.declarations
    union all
    select
        'payments' as source,
        max(paid_on) as latest_on
    from raw.payments
    union all
    select
        'withholdings' as source,
        max(last_day(make_date(tax_year::integer, period::integer * 2, 1))) as latest_on
    from raw.withholdings
    union all
    select
        'commerce_registry' as source,
        max(greatest(registered_on, coalesce(cancelled_on, registered_on))) as latest_on
    from raw.commerce_registry
    union all
    select
        'audits' as source,
        max(greatest(opened_on, closed_on)) as latest_on
    from raw.audits
),

clock as (
    select max(latest_on) as data_now from latest
),

this_source as (
    select
        l.latest_on,
        c.data_now,
        datediff('day', l.latest_on, c.data_now) as lag_days
    from latest as l
    cross join clock as c
    where l.source = $source
)

select
    coalesce(lag_days <= $max_lag_days, false) as passed,
    coalesce(lag_days, -1)::double as observed,
    case
        when latest_on is null then 'no dated rows'
        else
            'latest event ' || latest_on || ', ' || lag_days
            || ' days behind the latest event in the data (' || data_now
            || '); expected within ' || $max_lag_days
    end as detail
from this_source;
