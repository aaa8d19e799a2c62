-- Whom to inspect first, per program: open cases (within the statute, no audit case opened on
-- that NIT and year, closed or in progress: see marts.cases_in_progress) ranked by expected
-- money recovered (two significant figures: closer than that, cases are equal), and among
-- equals the case whose statute expires sooner comes first. Each case carries the action chosen
-- for it under the office's capacities (scoring.case_actions) and that action's expected net.
create or replace table marts.audit_ranking as
with scores as (
    select * from scoring.omiso_scores
    union all by name
    select * from scoring.inexacto_scores
)

select
    s.program,
    cast(row_number() over (
        partition by s.program
        order by s.expected_recovery desc, s.statute_expires_on asc, s.nit asc, s.tax_year asc
    ) as integer) as rank,
    s.nit,
    e.legal_name,
    cast(s.tax_year as integer) as tax_year,
    s.risk_score,
    s.expected_recovery,
    s.reasons,
    s.reason_codes,
    s.statute_expires_on,
    a.action,
    a.expected_net,
    s.predicted_amount,
    e.ciiu,
    s.ciiu_section,
    s.size_band,
    e.comuna,
    s.model_version
from scores as s
left join staging.stg_entities as e on s.nit = e.nit
left join scoring.case_actions as a
    on s.program = a.program and s.nit = a.nit and s.tax_year = a.tax_year
order by s.program, rank;
