-- Whether expected money means money: per program and decile of expected recovery (null decile:
-- the program's total), the yield predicted for the audits opened after the backtest cut-off
-- against what they realised (sum assessed), on all of them (held_out) and on the randomly
-- selected ones (random). correction_factor is realised / predicted over all held-out audits;
-- it is applied to the expected money the action choice uses (never to the ranking) when the
-- data show it: 30 held-out audits or more and a factor off by more than 10 %.
-- predicted_corrected shows the correction out of sample: each audit corrected by the factor
-- fitted on the other four fifths of the audits (five folds by a hash of NIT and year), close
-- to the factor the warehouse fits on all of them. factor_low / factor_high bound the factor
-- (90 %, delta method: the ratio's sampling spread), i.e. how far this many audits can judge
-- it: with a few hundred audits and a handful of large assessments it is wider than ±10 %.
create or replace table marts.calibration as
with held as (
    select
        program,
        selection,
        -- exact decimals: a parallel sum of doubles may differ in its last bits run to run
        expected_recovery::decimal(38, 4) as expected_recovery,
        coalesce(assessed_amount, 0)::decimal(38, 4) as realized,
        ('0x' || left(md5(nit || '/' || tax_year::varchar), 8))::bigint % 5 as fold,
        ntile(10) over (
            partition by program order by expected_recovery, nit, tax_year
        ) as decile
    from scoring.backtest
),

fold_sum as (
    select
        program,
        fold,
        sum(realized) as realized,
        sum(expected_recovery) as predicted
    from held
    group by program, fold
),

-- the ratio fitted without each fold, to correct that fold's audits
fold_ratio as (
    select
        program,
        fold,
        (sum(realized) over w - realized)
        / nullif(sum(predicted) over w - predicted, 0) as ratio
    from fold_sum
    window w as (partition by program)
),

factor as (
    select
        program,
        count(*) as held_out_audits,
        round(sum(realized) / nullif(sum(expected_recovery), 0), 6) as correction_factor
    from held
    group by program
),

spread as (
    select
        h.program,
        sqrt(
            sum(power(h.realized - f.correction_factor * h.expected_recovery, 2)::decimal(38, 2))
            * count(*) / nullif(count(*) - 1, 0)
        ) / nullif(sum(h.expected_recovery), 0) as factor_se
    from held as h
    inner join factor as f on h.program = f.program
    group by h.program
),

corrected as (
    select
        h.*,
        (h.expected_recovery * coalesce(r.ratio, 1))::decimal(38, 4) as corrected
    from held as h
    left join fold_ratio as r on h.program = r.program and h.fold = r.fold
),

samples as (
    select
        *,
        'held_out' as sample
    from corrected
    union all
    select
        *,
        'random' as sample
    from corrected
    where selection = 'random'
),

cells as (
    select
        program,
        sample,
        decile,
        count(*) as audits,
        sum(expected_recovery)::double as predicted,
        sum(corrected)::double as predicted_corrected,
        sum(realized)::double as realized
    from samples
    group by grouping sets ((program, sample, decile), (program, sample))
)

select
    c.program,
    c.sample,
    c.decile,
    c.audits,
    c.predicted,
    c.predicted_corrected,
    c.realized,
    c.predicted / nullif(c.realized, 0) as predicted_over_realized,
    c.predicted_corrected / nullif(c.realized, 0) as corrected_over_realized,
    f.correction_factor,
    round(f.correction_factor - 1.645 * s.factor_se, 6) as factor_low,
    round(f.correction_factor + 1.645 * s.factor_se, 6) as factor_high,
    coalesce(
        f.held_out_audits >= 30 and abs(f.correction_factor - 1) > 0.1, false
    ) as correction_applied
from cells as c
inner join factor as f on c.program = f.program
inner join spread as s on c.program = s.program
order by c.program, c.sample, c.decile nulls first;
