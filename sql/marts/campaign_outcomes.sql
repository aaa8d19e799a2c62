-- What each case of each measured campaign did after the sending, per window (30, 90 and 180
-- days after the campaign's first sending): whether it filed a return for the campaign's year
-- and what it paid for that year, from returns and payments only. Taxpayer-level: the audit side
-- reads it (campaign effects, the uplift model), leadership never does.
create or replace table marts.campaign_outcomes as
with sent as (
    -- a campaign starts the day its first action went out; unsent campaigns are not measured
    select
        campaign_id,
        min(sent_on) as sent_on,
        count(distinct nit || '/' || tax_year) as cases_sent
    from staging.stg_actions
    where campaign_id is not null
    group by campaign_id
),

windows as (
    select unnest([30, 90, 180]) as window_days
),

cases as (
    select
        a.campaign_id,
        a.nit,
        a.tax_year,
        a.arm,
        c.program,
        c.action,
        s.sent_on,
        s.cases_sent,
        w.window_days
    from ops.campaign_assignments as a
    inner join ops.campaigns as c on a.campaign_id = c.campaign_id
    inner join sent as s on a.campaign_id = s.campaign_id
    cross join windows as w
),

filings as (
    select distinct
        k.campaign_id,
        k.nit,
        k.tax_year,
        k.window_days
    from cases as k
    inner join raw.declarations as d
        on
            k.nit = d.nit and k.tax_year = d.tax_year and k.sent_on < d.filed_on
            and k.sent_on + k.window_days >= d.filed_on
),

paid as (
    select
        k.campaign_id,
        k.nit,
        k.tax_year,
        k.window_days,
        sum(p.amount)::double as paid
    from cases as k
    inner join staging.stg_payments as p
        on
            k.nit = p.nit and k.tax_year = p.tax_year and k.sent_on < p.paid_on
            and k.sent_on + k.window_days >= p.paid_on
    group by all
),

outcomes as (
    select
        k.*,
        f.nit is not null as filed,
        coalesce(m.paid, 0) as paid
    from cases as k
    left join filings as f
        on
            k.campaign_id = f.campaign_id and k.nit = f.nit and k.tax_year = f.tax_year
            and k.window_days = f.window_days
    left join paid as m
        on
            k.campaign_id = m.campaign_id and k.nit = m.nit and k.tax_year = m.tax_year
            and k.window_days = m.window_days
)

select * from outcomes
order by campaign_id, window_days, nit, tax_year;
