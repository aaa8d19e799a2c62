-- Who responds to what: per measured campaign (window of 180 days, complete), arm and segment of
-- the case — seen by third parties (reteICA agents reported paying it that year) and
-- registered in the municipal registry (RIT) — the cases and how many filed and paid. The
-- uplift model (fiscal_intel.actions.uplift) learns the response per segment from it.
create or replace table marts.campaign_segments as
select
    o.campaign_id,
    o.program,
    o.action,
    o.arm,
    coalesce(t.base_amount > 0, false) as seen_by_third_party,
    r.nit is not null as registered,
    count(*) as cases,
    count(*) filter (where o.filed) as filed,
    count(*) filter (where o.paid > 0) as paid,
    sum(o.paid) as money_paid
from marts.campaign_outcomes as o
cross join staging.as_of_date as d
left join features.third_party_income as t on o.nit = t.nit and o.tax_year = t.tax_year
left join staging.stg_taxpayers as r on o.nit = r.nit
where o.window_days = 180 and o.sent_on + o.window_days <= d.as_of
group by all
order by all;
