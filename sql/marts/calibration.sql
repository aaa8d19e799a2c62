-- Whether expected money means money: per program and decile of expected recovery (null decile:
-- the program's total), the yield predicted for the audits opened after the backtest cut-off
-- against what they realised (sum assessed), on all of them (held_out) and on the randomly
-- selected ones (random). correction_factor is realised / predicted over all held-out audits;
-- it is applied to the expected money the action choice uses (never to the ranking) when the
-- data show it: 30 held-out audits or more and a factor off by more than 10 %.
-- predicted_corrected shows the correction out of sample: each audit corrected by the factor
-- fitted on the other half of the audits (two folds by a hash of NIT and year).
create or replace table marts.calibration as
with held as (
    select
        program,
        selection,
        expected_recovery,
        coalesce(assessed_amount, 0) as realized,
        ('0x' || left(md5(nit || '/' || tax_year::varchar), 8))::bigint % 2 as fold,
        ntile(10) over (
            partition by program order by expected_recovery, nit, tax_year
        ) as decile
    from scoring.backtest
),

fold_ratio as (
    select
        program,
        fold,
        sum(realized) / nullif(sum(expected_recovery), 0) as ratio
    from held
    group by program, fold
),

factor as (
    select
        program,
        count(*) as held_out_audits,
        -- rounded: a parallel sum of doubles may differ in its last bits from run to run
        round(sum(realized) / nullif(sum(expected_recovery), 0), 6) as correction_factor
    from held
    group by program
),

corrected as (
    select
        h.*,
        h.expected_recovery * coalesce(r.ratio, 1) as corrected
    from held as h
    left join fold_ratio as r on h.program = r.program and (1 - h.fold) = r.fold
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
        sum(expected_recovery) as predicted,
        sum(corrected) as predicted_corrected,
        sum(realized) as realized
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
    coalesce(
        f.held_out_audits >= 30 and abs(f.correction_factor - 1) > 0.1, false
    ) as correction_applied
from cells as c
inner join factor as f on c.program = f.program
order by c.program, c.sample, c.decile nulls first;
