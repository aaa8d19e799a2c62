-- How good each program's list is, per k: the share of the top k that truly owe tax
-- (precision_at_k) and the tax gap they hold over the most any k cases could hold
-- (recovery_at_k), for the model, the rule an analyst applies without one (third-party gap x
-- rate for inexacto, registry assets x rate for omiso) and random picks (their expectation).
-- Two grounds: 'truth_file' ranks the open cases of marts.audit_ranking against
-- evaluation.truth (only when a truth file was given); 'random_audits' ranks the randomly
-- selected audits opened after the backtest cut-off by what was predicted on the cut-off,
-- against what those audits assessed.
create or replace table marts.model_performance as
with ks as (
    select unnest([10, 25, 50, 100, 250, 500, 1000]) as k
),

rules as (
    select
        'omiso' as program,
        nit,
        tax_year,
        rule_score
    from features.omiso_features
    where is_candidate
    union all
    select
        'inexacto' as program,
        nit,
        tax_year,
        rule_score
    from features.inexacto_features
    where is_candidate
),

truth_programs as (
    select distinct program from evaluation.truth
),

cases as (
    select
        'truth_file' as evaluated_on,
        r.program,
        r.nit,
        r.tax_year,
        coalesce(t.true_gap, 0) as gap,
        r.rank as model_position,
        coalesce(u.rule_score, 0) as rule_score,
        r.statute_expires_on as tiebreak
    from marts.audit_ranking as r
    inner join truth_programs as p on r.program = p.program
    left join evaluation.truth as t
        on r.program = t.program and r.nit = t.nit and r.tax_year = t.tax_year
    left join rules as u
        on r.program = u.program and r.nit = u.nit and r.tax_year = u.tax_year
    union all
    select
        'random_audits' as evaluated_on,
        program,
        nit,
        tax_year,
        coalesce(assessed_amount, 0) as gap,
        row_number() over (
            partition by program order by expected_recovery desc, rank_then asc
        ) as model_position,
        coalesce(rule_score, 0) as rule_score,
        null::date as tiebreak
    from scoring.backtest
    where selection = 'random'
),

ranked as (
    select
        evaluated_on,
        program,
        'model' as method,
        gap,
        model_position as position
    from cases
    union all
    select
        evaluated_on,
        program,
        'rule' as method,
        gap,
        row_number() over (
            partition by evaluated_on, program
            order by rule_score desc, tiebreak asc, model_position asc
        ) as position
    from cases
),

best as (
    select
        evaluated_on,
        program,
        gap,
        row_number() over (partition by evaluated_on, program order by gap desc) as position
    from cases
),

totals as (
    select
        evaluated_on,
        program,
        count(*) as cases,
        count(*) filter (where gap > 0) as cases_with_gap,
        sum(gap) as total_gap
    from cases
    group by evaluated_on, program
),

best_at_k as (
    select
        b.evaluated_on,
        b.program,
        k.k,
        sum(b.gap) as best_possible
    from best as b
    inner join ks as k on b.position <= k.k
    group by b.evaluated_on, b.program, k.k
),

found_at_k as (
    select
        r.evaluated_on,
        r.program,
        r.method,
        k.k,
        count(*) filter (where r.gap > 0) as hits,
        sum(r.gap) as gap_found
    from ranked as r
    inner join ks as k on r.position <= k.k
    group by r.evaluated_on, r.program, r.method, k.k
),

methods as (
    select
        f.evaluated_on,
        f.program,
        f.method,
        f.k,
        f.hits::double / f.k as precision_at_k,
        f.gap_found
    from found_at_k as f
    union all
    -- random picks: the expectation of k cases drawn without replacement
    select
        t.evaluated_on,
        t.program,
        'random' as method,
        k.k,
        t.cases_with_gap::double / t.cases as precision_at_k,
        k.k * t.total_gap / t.cases as gap_found
    from totals as t
    cross join ks as k
)

select
    m.program,
    m.evaluated_on,
    m.method,
    m.k,
    t.cases,
    t.cases_with_gap,
    m.precision_at_k,
    m.gap_found / nullif(b.best_possible, 0) as recovery_at_k,
    m.gap_found,
    b.best_possible
from methods as m
inner join totals as t on m.evaluated_on = t.evaluated_on and m.program = t.program
inner join best_at_k as b
    on m.evaluated_on = b.evaluated_on and m.program = b.program and m.k = b.k
where m.k <= t.cases
order by m.program, m.evaluated_on, m.method, m.k;
