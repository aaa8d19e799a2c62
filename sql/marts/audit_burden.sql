-- Who bears the audits, for leadership: per program and group (size band, CIIU section,
-- comuna), how many open cases there are, how many of the top $audit_capacity cases fall in
-- the group (selection_rate = selected / open cases), the precision the model expects of them
-- (mean risk score), the yield it expects, and what past audits in the group found (hit rate
-- and amounts of closed audits). Groups of fewer than $min_cell_taxpayers taxpayers are pooled
-- into '(other)' so no cell describes an identifiable taxpayer (tax secrecy, ET art. 583).
create or replace table marts.audit_burden as
with open_cases as (
    select
        r.program,
        r.nit,
        r.rank <= $audit_capacity as selected,
        r.risk_score,
        r.expected_recovery,
        coalesce(r.size_band, 'unknown') as size_band,
        coalesce(r.ciiu_section, '?') as ciiu_section,
        coalesce(r.comuna, '?') as comuna
    from marts.audit_ranking as r
),

past as (
    select
        'omiso' as program,
        f.nit,
        f.label_adjusted as adjusted,
        f.label_amount as assessed_amount,
        coalesce(f.size_band, 'unknown') as size_band,
        coalesce(e.ciiu_section, '?') as ciiu_section,
        coalesce(e.comuna, '?') as comuna
    from features.omiso_features as f
    left join staging.stg_entities as e on f.nit = e.nit
    where f.label_adjusted is not null
    union all
    select
        'inexacto' as program,
        f.nit,
        f.label_adjusted as adjusted,
        f.label_amount as assessed_amount,
        coalesce(f.size_band, 'unknown') as size_band,
        coalesce(e.ciiu_section, '?') as ciiu_section,
        coalesce(e.comuna, '?') as comuna
    from features.inexacto_features as f
    left join staging.stg_entities as e on f.nit = e.nit
    where f.label_adjusted is not null
),

-- one row per case and dimension
open_long as (
    select
        program,
        nit,
        selected,
        risk_score,
        expected_recovery,
        'size_band' as dimension,
        size_band as grp
    from open_cases
    union all
    select
        program,
        nit,
        selected,
        risk_score,
        expected_recovery,
        'ciiu_section' as dimension,
        ciiu_section as grp
    from open_cases
    union all
    select
        program,
        nit,
        selected,
        risk_score,
        expected_recovery,
        'comuna' as dimension,
        comuna as grp
    from open_cases
),

past_long as (
    select
        program,
        nit,
        adjusted,
        assessed_amount,
        'size_band' as dimension,
        size_band as grp
    from past
    union all
    select
        program,
        nit,
        adjusted,
        assessed_amount,
        'ciiu_section' as dimension,
        ciiu_section as grp
    from past
    union all
    select
        program,
        nit,
        adjusted,
        assessed_amount,
        'comuna' as dimension,
        comuna as grp
    from past
),

group_sizes as (
    select
        program,
        dimension,
        grp,
        count(distinct nit) as taxpayers
    from open_long
    group by program, dimension, grp
),

pooled_open as (
    select
        o.*,
        case when s.taxpayers >= $min_cell_taxpayers then o.grp else '(other)' end as cell
    from open_long as o
    inner join group_sizes as s
        on o.program = s.program and o.dimension = s.dimension and o.grp = s.grp
),

pooled_past as (
    select
        p.*,
        case
            when coalesce(s.taxpayers, 0) >= $min_cell_taxpayers then p.grp else '(other)'
        end as cell
    from past_long as p
    left join group_sizes as s
        on p.program = s.program and p.dimension = s.dimension and p.grp = s.grp
),

open_stats as (
    select
        program,
        dimension,
        cell,
        count(*) as open_cases,
        count(distinct nit) as taxpayers,
        count(*) filter (where selected) as selected,
        -- Sums of doubles taken in parallel differ in their last bits from run to run; as
        -- decimals (exact, so in any order) the same input gives the same table.
        avg(risk_score::decimal(38, 15)) filter (where selected)::double as expected_precision,
        coalesce(sum(expected_recovery::decimal(38, 4)) filter (where selected), 0)::double
            as expected_yield,
        sum(expected_recovery::decimal(38, 4))::double as expected_recovery_open
    from pooled_open
    group by program, dimension, cell
),

past_stats as (
    select
        program,
        dimension,
        cell,
        count(*) as past_audits,
        avg(adjusted::int) as past_hit_rate,
        sum(assessed_amount) as past_assessed
    from pooled_past
    group by program, dimension, cell
)

select
    o.program,
    o.dimension,
    o.cell as "group",
    o.open_cases,
    o.taxpayers,
    o.selected,
    o.selected::double / o.open_cases as selection_rate,
    o.expected_precision,
    o.expected_yield,
    o.expected_recovery_open,
    coalesce(p.past_audits, 0) as past_audits,
    p.past_hit_rate,
    coalesce(p.past_assessed, 0) as past_assessed
from open_stats as o
left join past_stats as p
    on o.program = p.program and o.dimension = p.dimension and o.cell = p.cell
order by o.program asc, o.dimension asc, o.expected_yield desc, o.cell asc;
