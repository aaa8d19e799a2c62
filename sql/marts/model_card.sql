-- One row per program: what the model behind the list is and how it did where it can be judged
-- without bias. Training window and labels come from scoring.risk_models; the backtest
-- (scoring.backtest) retrained the model as of a cut-off and scored the audits opened after it:
-- on the randomly selected ones, predicted yield (sum of expected recovery) is set against the
-- yield those audits realised (sum assessed), with the hit rate and the AUC of the risk score.
create or replace table marts.model_card as
with held_out as (
    select
        program,
        min(cutoff) as backtest_cutoff,
        count(*) as held_out_audits,
        count(*) filter (where adjusted) as held_out_adjusted,
        count(*) filter (where selection = 'random') as random_audits,
        count(*) filter (where selection = 'random' and adjusted) as random_adjusted,
        avg(risk_score) filter (where selection = 'random') as random_predicted_hit_rate,
        avg(adjusted::int) filter (where selection = 'random') as random_realised_hit_rate,
        sum(expected_recovery) filter (where selection = 'random') as random_predicted_yield,
        sum(assessed_amount) filter (where selection = 'random') as random_realised_yield,
        sum(expected_recovery) as held_out_predicted_yield,
        sum(assessed_amount) as held_out_realised_yield
    from scoring.backtest
    group by program
),

-- AUC of the risk score on the random audits (Mann-Whitney: ties count half)
random_ranks as (
    select
        program,
        adjusted,
        rank() over (partition by program order by risk_score) as r_low,
        count(*) over (partition by program, risk_score) as ties
    from scoring.backtest
    where selection = 'random'
),

auc as (
    select
        program,
        (
            sum(r_low + (ties - 1) / 2.0) filter (where adjusted)
            - count(*) filter (where adjusted) * (count(*) filter (where adjusted) + 1) / 2.0
        )
        / nullif(
            count(*) filter (where adjusted)::double * count(*) filter (where not adjusted), 0
        ) as random_auc
    from random_ranks
    group by program
),

importance as (
    select
        m.program,
        j.key as feature,
        j.value::double as share
    from scoring.risk_models as m, json_each(m.importance) as j
),

top_features as (
    select
        program,
        string_agg(
            feature || ' ' || round(share * 100, 1)::varchar || ' %', '; '
            order by share desc, feature asc
        ) as top_features
    from (
        select
            *,
            row_number() over (partition by program order by share desc, feature asc) as n
        from importance
    ) as ranked
    where n <= 10
    group by program
)

select
    m.program,
    m.model_version,
    m.as_of,
    m.trained_from,
    m.trained_to,
    m.train_rows as training_audits,
    m.positives as training_adjusted,
    m.random_rows as training_random_audits,
    m.random_positives as training_random_adjusted,
    m.base_rate as training_hit_rate,
    m.amount_source,
    m.amount_rows,
    -- past (NIT, year) rows the late-filing part learnt from (omiso; 0: no such part)
    m.late_filing_rows,
    h.backtest_cutoff,
    h.held_out_audits,
    h.held_out_adjusted,
    h.random_audits,
    h.random_adjusted,
    h.random_predicted_hit_rate,
    h.random_realised_hit_rate,
    a.random_auc,
    h.random_predicted_yield,
    h.random_realised_yield,
    h.random_realised_yield / nullif(h.random_predicted_yield, 0) as random_realised_to_predicted,
    h.held_out_predicted_yield,
    h.held_out_realised_yield,
    t.top_features
from scoring.risk_models as m
left join held_out as h on m.program = h.program
left join auc as a on m.program = a.program
left join top_features as t on m.program = t.program
order by m.program;
