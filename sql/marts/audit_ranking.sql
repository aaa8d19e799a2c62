-- Whom to inspect first, per program: open cases (within the statute, no audit case opened on
-- that NIT and year, closed or in progress: see marts.cases_in_progress) ranked by expected
-- money recovered (two significant figures: closer than that, cases are equal), and among
-- equals the case whose statute expires sooner comes first.
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
    s.predicted_amount,
    e.ciiu,
    s.ciiu_section,
    s.size_band,
    e.comuna,
    s.model_version
from scores as s
left join staging.stg_entities as e on s.nit = e.nit
order by s.program, rank;
