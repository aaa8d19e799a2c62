-- What each campaign earned, measured against its random control group: per campaign and
-- window (30, 90 and 180 days after the first sending), the filing rate, payment rate and money
-- paid per case in each arm, their difference with a 95 % interval (normal approximation,
-- unequal variances, each at least the pooled one), by intention to treat (every case counts
-- in the arm it was drawn into, sent or not), the extra money for the whole treatment group and the cost per peso of it.
-- Outcomes come only from returns and payments after the sending date, never from the office.
create or replace table marts.campaign_effects as
with costs as (
    -- what one sent action costs: a letter, or the inspector hours of a demand or request
    select
        $letter_cost as cost_per_letter,
        $hours_per_request * $inspector_hour_cost as cost_per_request
),

arms as (
    select
        campaign_id,
        program,
        action,
        sent_on,
        cases_sent,
        window_days,
        arm,
        count(*) as n,
        avg(filed::integer) as filing_rate,
        coalesce(var_samp(filed::integer), 0) as filing_var,
        avg((paid > 0)::integer) as payment_rate,
        coalesce(var_samp((paid > 0)::integer), 0) as payment_var,
        avg(paid) as money_paid,
        coalesce(var_samp(paid), 0) as money_var
    from marts.campaign_outcomes
    group by all
),

pooled as (
    -- both arms together: a floor for each arm's variance (fi_diff_se says why)
    select
        campaign_id,
        window_days,
        coalesce(var_samp(filed::integer), 0) as filing_var,
        coalesce(var_samp((paid > 0)::integer), 0) as payment_var,
        coalesce(var_samp(paid), 0) as money_var
    from marts.campaign_outcomes
    group by campaign_id, window_days
),

paired as (
    select
        t.campaign_id,
        t.program,
        t.action,
        t.sent_on,
        t.window_days,
        t.cases_sent,
        t.n as treatment_cases,
        c.n as control_cases,
        t.filing_rate as filing_rate_treatment,
        c.filing_rate as filing_rate_control,
        t.filing_rate - c.filing_rate as filing_rate_diff,
        fi_diff_se(t.filing_var, t.n, c.filing_var, c.n, p.filing_var) as filing_se,
        t.payment_rate as payment_rate_treatment,
        c.payment_rate as payment_rate_control,
        t.payment_rate - c.payment_rate as payment_rate_diff,
        fi_diff_se(t.payment_var, t.n, c.payment_var, c.n, p.payment_var) as payment_se,
        t.money_paid as money_paid_treatment,
        c.money_paid as money_paid_control,
        t.money_paid - c.money_paid as money_paid_diff,
        fi_diff_se(t.money_var, t.n, c.money_var, c.n, p.money_var) as money_se
    from arms as t
    inner join arms as c
        on
            t.campaign_id = c.campaign_id and t.window_days = c.window_days
            and t.arm = 'treatment' and c.arm = 'control'
    inner join pooled as p
        on t.campaign_id = p.campaign_id and t.window_days = p.window_days
)

select
    p.campaign_id,
    p.program,
    p.action,
    p.sent_on,
    p.window_days,
    p.sent_on + p.window_days <= d.as_of as window_complete,
    p.treatment_cases,
    p.control_cases,
    p.cases_sent,
    p.filing_rate_treatment,
    p.filing_rate_control,
    p.filing_rate_diff,
    p.filing_rate_diff - 1.96 * p.filing_se as filing_rate_diff_low,
    p.filing_rate_diff + 1.96 * p.filing_se as filing_rate_diff_high,
    p.payment_rate_treatment,
    p.payment_rate_control,
    p.payment_rate_diff,
    p.payment_rate_diff - 1.96 * p.payment_se as payment_rate_diff_low,
    p.payment_rate_diff + 1.96 * p.payment_se as payment_rate_diff_high,
    p.money_paid_treatment,
    p.money_paid_control,
    p.money_paid_diff,
    p.money_paid_diff - 1.96 * p.money_se as money_paid_diff_low,
    p.money_paid_diff + 1.96 * p.money_se as money_paid_diff_high,
    p.money_paid_diff * p.treatment_cases as extra_money,
    p.cases_sent * case when p.action = 'carta' then k.cost_per_letter else k.cost_per_request end
        as cost,
    -- the cost just above (DuckDB reads a column alias of the same select)
    case when p.money_paid_diff > 0 then cost / extra_money end as cost_per_peso
from paired as p
cross join staging.as_of_date as d
cross join costs as k
order by p.campaign_id, p.window_days;
