"""Seeded synthetic municipality (Rionegro-like, DANE 05615) for the ICA pipeline.

Why: a tax office's real exports are confidential (ET art. 583), yet the pipeline, its data checks
and its audit-ranking models need a realistic landing folder to run on, and the models need a
ground truth to be evaluated against. This module writes both: the six landing sources in their
canonical form (``landing/<source>/...``) and, separately, the planted truth
(``truth_dir/tax_gap.csv`` and ``truth_dir/manifest.json``) that the pipeline must never read.

Design notes
- Everything is vectorised (numpy / polars); the only Python loops run over years, reference
  classes or short word lists, so the run time is linear in ``taxpayers``.
- Entity attributes are drawn once; each tax year is then simulated and written on its own
  (declarations, payments, withholdings, truth rows, audits), so memory is bounded by one year
  plus the entity table.
- Every random stream is seeded from ``(seed, stage[, year])``, so the same arguments give
  byte-identical files.
- Money is whole pesos. Form lines are rounded half-up to the nearest thousand pesos (national
  unified form); withholding bases and amounts are whole pesos.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl

from fiscal_intel.demo.worlds import WORLDS, World
from fiscal_intel.ingest.nit import WEIGHTS

# ----------------------------------------------------------------------------------------------
# Public constants
# ----------------------------------------------------------------------------------------------
FILING_DEADLINE_MONTH_DAY: tuple[int, int] = (4, 30)
"""The return for tax year Y is due on (Y+1)-04-30."""

DATA_END_MONTH_DAY: tuple[int, int] = (6, 30)
"""No date in any file is after (last_year+1)-06-30."""

LANDING_SOURCES: tuple[str, ...] = (
    "taxpayers",
    "declarations",
    "payments",
    "withholdings",
    "commerce_registry",
    "audits",
)
TRUTH_FILES: tuple[str, ...] = ("tax_gap.csv", "manifest.json")
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"

OTHER_MUNICIPALITIES: tuple[str, ...] = (
    "05001",  # Medellín
    "05376",  # La Ceja
    "05318",  # Guarne
    "05440",  # Marinilla
    "05607",  # El Retiro
    "05148",  # El Carmen de Viboral
    "05266",  # Envigado
    "05360",  # Itagüí
)
_OTHER_MUNI_P = np.array([0.40, 0.12, 0.12, 0.10, 0.08, 0.06, 0.07, 0.05])

# ----------------------------------------------------------------------------------------------
# Planted parameters (the manifest records the realised counts)
# ----------------------------------------------------------------------------------------------
P_JURIDICA = 0.80
UNREGISTERED_SHARE = 0.06  # RUES-only entities of the municipality, per RIT entity
UNREGISTERED_DORMANT_SHARE = 0.45
RIT_DORMANT_SHARE = 0.10
OTHER_MUNICIPALITY_ROW_SHARE = 0.15  # share of RUES rows that are establishments elsewhere
AGENTS_PER_15K = 40  # reteICA withholding agents per 15,000 RIT entities
BANDS: tuple[str, ...] = ("micro", "small", "medium", "large")
BAND_P_JURIDICA = (0.62, 0.26, 0.09, 0.03)
BAND_P_NATURAL = (0.92, 0.07, 0.01, 0.0)
BAND_MEDIAN_COP = (45e6, 700e6, 5e9, 35e9)  # annual income in first_year pesos
BAND_SIGMA = (0.9, 0.5, 0.5, 0.9)
P_EVADER_BY_BAND = (0.21, 0.25, 0.29, 0.32)
EVASION_KINDS: tuple[str, ...] = (
    "honest",
    "hidden_income",
    "income_outside",
    "inflated_deductions",
    "lower_rate_code",
)
# Among evaders, by size band: hidden income, income outside, inflated deductions, lower rate.
# Small firms hide sales; large ones (audited accounts, e-invoicing) plan: they move income
# "outside" the municipality or inflate deductions.
EVASION_KIND_P_BY_BAND = (
    (0.45, 0.15, 0.20, 0.20),
    (0.40, 0.20, 0.20, 0.20),
    (0.30, 0.30, 0.25, 0.15),
    (0.15, 0.40, 0.30, 0.15),
)
P_EVADE_IN_YEAR = 0.90  # an evader firm files honestly in ~10 % of its years
OMISO_KINDS: tuple[str, ...] = ("operating_registered", "operating_unregistered", "dormant_shell")
COMPLIANCE_TYPES: tuple[str, ...] = ("regular", "intermittent", "never")
P_FILE = (0.985, 0.50, 0.0)  # by compliance type
P_ON_TIME = (0.87, 0.55, 0.0)
P_CORRECTION = 0.03
P_SIGNBOARD = 0.85
P_BOMBERIL_BLANK = 0.02
AUDIT_RATE_INEXACTO = 0.04  # per filed return and year, at full audit maturity
AUDIT_RATE_OMISO = 0.06  # per non-filed (entity, year), at full audit maturity
RANDOM_AUDIT_SHARE = 0.10
AUDIT_MIN_GAP = 200_000
P_AUDIT_DETECTS = 0.90
# Cases still in progress at the data end, as a share of the closed audits: a third on the cases
# with the largest true gap (those an office's own list puts first), the rest drawn at random.
OPEN_CASE_SHARE = 0.03
OPEN_CASE_TOP_SHARE = 1 / 3
INFLATION = {
    2015: 0.068,
    2016: 0.058,
    2017: 0.041,
    2018: 0.032,
    2019: 0.038,
    2020: 0.016,
    2021: 0.056,
    2022: 0.131,
    2023: 0.093,
    2024: 0.052,
}
DEFAULT_INFLATION = 0.05

_NEVER = 10**7  # a day number far in the future: "not cancelled"
_NO_YEAR = 9999  # "never dormant"
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate` wrote, so callers (CLI, tests) can report it without re-reading."""

    landing: Path
    truth_dir: Path
    taxpayers: int
    seed: int
    rows: dict[str, int]


# ----------------------------------------------------------------------------------------------
# Small vectorised helpers
# ----------------------------------------------------------------------------------------------
def _day(y: int, m: int, d: int) -> int:
    return (date(y, m, d) - _EPOCH).days


def _jan1(years: np.ndarray) -> np.ndarray:
    y = (np.asarray(years, np.int64) - 1970).astype("datetime64[Y]")
    return y.astype("datetime64[D]").astype(np.int64)


def _year_of(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days, np.int64).astype("datetime64[D]")
    return d.astype("datetime64[Y]").astype(np.int64) + 1970


def _months_late(filed: np.ndarray, deadline: date) -> np.ndarray:
    """Months or fraction of a month after ``deadline`` (ET art. 641); 0 when on time."""
    d = np.asarray(filed, np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64) + 1
    dl_month = (deadline.year - 1970) * 12 + deadline.month - 1
    months = month.astype(np.int64) - dl_month + (dom > deadline.day)
    return np.maximum(months, 0)


def _r1000(x: np.ndarray) -> np.ndarray:
    """Round non-negative pesos half-up to the nearest thousand, as on the unified form."""
    return (np.floor(np.asarray(x, np.float64) / 1000.0 + 0.5) * 1000.0).astype(np.int64)


def _ica(taxable: np.ndarray, rate10: np.ndarray) -> np.ndarray:
    """taxable × (rate10 / 10) / 1000 rounded half-up to thousands, in exact integer math."""
    return (taxable * rate10 + 5_000_000) // 10_000_000 * 1000


def _pct(amount: np.ndarray, pct: np.ndarray | int) -> np.ndarray:
    """``pct`` % of ``amount`` rounded half-up to thousands, in exact integer math."""
    return (amount * pct + 50_000) // 100_000 * 1000


def _check_digits(nits: np.ndarray) -> np.ndarray:
    """Vectorised DIAN DV, the same rule as :func:`fiscal_intel.ingest.nit.check_digit`."""
    rest = np.asarray(nits, np.int64).copy()
    total = np.zeros(rest.shape, np.int64)
    for w in WEIGHTS:
        total += (rest % 10) * w
        rest //= 10
    r = total % 11
    return np.where(r <= 1, r, 11 - r)


def _gumbel_top(rng: np.random.Generator, logw: np.ndarray, k: int) -> np.ndarray:
    """A size-k sample without replacement with P ∝ exp(logw) (Gumbel top-k)."""
    k = int(min(k, logw.size))
    if k <= 0:
        return np.zeros(0, np.int64)
    key = -(logw + rng.gumbel(size=logw.size))
    top = np.argpartition(key, k - 1)[:k] if k < key.size else np.arange(key.size)
    return top[np.argsort(key[top], kind="stable")]


def _pick(
    rng: np.random.Generator, table: np.ndarray, counts: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """Uniform pick from a padded candidate table; rows without candidates get -1."""
    c = counts[rows]
    j = np.floor(rng.random(rows.size) * np.maximum(c, 1)).astype(np.int64)
    out = table[rows, np.minimum(j, table.shape[1] - 1)]
    return np.where(c > 0, out, -1)


def _segments(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand groups of ``sizes``: group of each element, rank in its group, group starts."""
    grp = np.repeat(np.arange(sizes.size), sizes)
    starts = np.cumsum(sizes) - sizes
    return grp, np.arange(grp.size) - starts[grp], starts


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(days, np.int64).astype("datetime64[D]"))


def _str(values: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(values, np.int64)).cast(pl.Utf8)


def _labels(values: tuple[str, ...] | np.ndarray, idx: np.ndarray) -> pl.Series:
    """Text column from integer codes, gathered in Rust (no numpy unicode round trip)."""
    return pl.Series([str(v) for v in values], dtype=pl.Utf8).gather(np.asarray(idx, np.int64))


def _ids(prefix: str, n: int, width: int = 6) -> pl.Series:
    width = max(width, len(str(n)))
    frame = pl.DataFrame({"n": np.arange(1, n + 1, dtype=np.int64)})
    expr = pl.concat_str([pl.lit(prefix), pl.col("n").cast(pl.Utf8).str.zfill(width)])
    return frame.select(expr.alias("id")).to_series()


def _choice(rng: np.random.Generator, n: int, p: tuple[float, ...] | np.ndarray) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, p.size - 1)


# ----------------------------------------------------------------------------------------------
# Reference data: CIIU classes, default tariff, sector behaviour
# ----------------------------------------------------------------------------------------------
# Share of entities per class for a mid-size Antioquia city (commerce and services heavy); the
# rest (RESIDUAL_CLASS_SHARE) is spread over all classes by sqrt(n_keywords).
CLASS_WEIGHTS: dict[str, float] = {
    "4711": 0.070, "4719": 0.020, "4771": 0.035, "4752": 0.020, "4773": 0.015, "4729": 0.015,
    "4724": 0.010, "4759": 0.008, "4754": 0.007, "4741": 0.007, "4774": 0.008, "4731": 0.003,
    "4723": 0.008, "4761": 0.004, "4772": 0.006, "5611": 0.050, "5613": 0.015, "5619": 0.008,
    "5630": 0.012, "5511": 0.010, "5514": 0.004, "4520": 0.020, "4530": 0.008, "4511": 0.002,
    "9602": 0.025, "9609": 0.004, "6810": 0.022, "6820": 0.008, "4921": 0.018, "4923": 0.015,
    "5229": 0.006, "5210": 0.003, "4111": 0.018, "4112": 0.007, "4290": 0.005, "4330": 0.010,
    "4321": 0.006, "6910": 0.016, "6920": 0.014, "7111": 0.010, "7112": 0.006, "7310": 0.006,
    "7020": 0.006, "7490": 0.005, "6201": 0.007, "6202": 0.005, "8621": 0.014, "8622": 0.010,
    "8610": 0.002, "8692": 0.004, "8699": 0.004, "8551": 0.005, "8559": 0.005, "0125": 0.010,
    "0145": 0.004, "0141": 0.006, "0113": 0.004, "1081": 0.012, "1011": 0.004, "1040": 0.004,
    "1089": 0.004, "1410": 0.012, "2229": 0.004, "2511": 0.004, "3110": 0.006, "1811": 0.004,
    "2395": 0.003, "4631": 0.010, "4659": 0.008, "4663": 0.010, "4669": 0.005, "4620": 0.005,
    "4645": 0.005, "4649": 0.006, "4641": 0.003, "8121": 0.006, "8010": 0.004, "7830": 0.004,
    "7710": 0.005, "8299": 0.004, "6492": 0.003, "6499": 0.002, "6621": 0.004, "9311": 0.003,
    "9312": 0.002, "9319": 0.002, "3514": 0.001, "3811": 0.002, "9200": 0.003, "9001": 0.002,
    "9601": 0.003, "9511": 0.003, "9524": 0.003,
}  # fmt: skip
RESIDUAL_CLASS_SHARE = 0.12
_EXCLUDED_SECTIONS = ("O", "T", "U")  # public administration, households, extraterritorial

SECTION_INCOME = {
    "A": 0.8, "B": 1.5, "C": 1.5, "D": 4.0, "E": 1.2, "F": 1.3, "G": 1.0, "H": 1.0, "I": 0.6,
    "J": 0.9, "K": 2.0, "L": 0.7, "M": 0.7, "N": 0.9, "P": 0.6, "Q": 0.9, "R": 0.6, "S": 0.45,
}  # fmt: skip
DIVISION_INCOME = {"45": 1.4, "46": 1.8, "47": 0.9}
SECTION_ASSETS = {
    "A": 1.5, "B": 1.5, "C": 0.9, "D": 2.0, "E": 1.0, "F": 1.0, "G": 0.45, "H": 0.8, "I": 0.5,
    "J": 0.5, "K": 3.0, "L": 3.0, "M": 0.35, "N": 0.4, "P": 0.7, "Q": 0.6, "R": 0.8, "S": 0.5,
}  # fmt: skip
SECTION_PRODUCTIVITY = {  # income per employee, pesos
    "A": 80e6, "C": 220e6, "F": 180e6, "G": 200e6, "H": 160e6, "I": 70e6, "J": 150e6,
    "M": 110e6, "N": 60e6, "Q": 90e6, "S": 50e6, "K": 300e6, "L": 250e6,
}  # fmt: skip
DIVISION_PRODUCTIVITY = {"46": 450e6, "47": 150e6, "45": 250e6}
B2B_SECTIONS = ("B", "C", "E", "F", "H", "J", "M", "N")
B2B_DIVISIONS = ("46",)
VISIBLE_DIVISIONS = ("45", "47", "55", "56", "96")
_DISGUISE_DIVISIONS = ("10", "46", "47")  # where a lower-rate code is sought as a last resort


@lru_cache(maxsize=1)
def _reference() -> SimpleNamespace:
    """CIIU classes joined to the default tariff, with per-class behaviour and candidate lists."""
    classes = pl.read_csv(
        REFERENCE_DIR / "ciiu_rev4ac_classes.csv",
        schema_overrides={"division": pl.Utf8, "group": pl.Utf8, "class": pl.Utf8},
    )
    rates = pl.read_csv(
        REFERENCE_DIR / "ciiu_rates_default.csv", schema_overrides={"ciiu": pl.Utf8}
    )
    t = (
        classes.join(rates.select("ciiu", "rate_per_mil"), left_on="class", right_on="ciiu")
        .sort("class")
        .with_columns(pl.col("class").str.zfill(4), pl.col("division").str.zfill(2))
    )
    code = t["class"].to_numpy().astype(str)
    section = t["section"].to_numpy().astype(str)
    division = t["division"].to_numpy().astype(str)
    rate = t["rate_per_mil"].to_numpy()
    rate10 = np.round(rate * 10).astype(np.int64)
    n = code.size
    index = {c: i for i, c in enumerate(code)}
    unknown = sorted(set(CLASS_WEIGHTS) - set(index))
    if unknown:
        raise RuntimeError(f"CLASS_WEIGHTS names classes missing from the reference: {unknown}")

    eligible = ~np.isin(section, _EXCLUDED_SECTIONS)
    resid = np.sqrt(t["n_keywords"].to_numpy().astype(np.float64) + 1.0) * eligible
    p = RESIDUAL_CLASS_SHARE * resid / resid.sum()
    explicit = np.zeros(n)
    for c, wgt in CLASS_WEIGHTS.items():
        explicit[index[c]] = wgt
    p += (1.0 - RESIDUAL_CLASS_SHARE) * explicit / explicit.sum()
    p /= p.sum()

    def by(table: dict[str, float], default: float) -> np.ndarray:
        return np.array([table.get(s, default) for s in section])

    income = by(SECTION_INCOME, 1.0)
    productivity = by(SECTION_PRODUCTIVITY, 120e6)
    for div, f in DIVISION_INCOME.items():
        income[division == div] = f
    for div, f in DIVISION_PRODUCTIVITY.items():
        productivity[division == div] = f

    # Candidate tables (loops over the 497 reference classes only).
    def padded(lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        counts = np.array([len(x) for x in lists], np.int64)
        table = np.full((n, max(1, counts.max())), -1, np.int64)
        for i, x in enumerate(lists):
            table[i, : len(x)] = x
        return table, counts

    disguise = np.isin(division, _DISGUISE_DIVISIONS)
    lower, same_rate, sibling, peer = [], [], [], []
    for i in range(n):
        same_div = (division == division[i]) & eligible
        same_sec = (section == section[i]) & eligible
        cand = np.flatnonzero(same_div & (rate10 < rate10[i]))
        if cand.size == 0:
            cand = np.flatnonzero(same_sec & (rate10 < rate10[i]))
        if cand.size == 0:
            cand = np.flatnonzero(disguise & (rate10 < rate10[i]))
        lower.append(cand)
        others = np.arange(n) != i
        same_rate.append(np.flatnonzero(same_div & others & (rate10 == rate10[i])))
        sibling.append(np.flatnonzero(same_div & others))
        peer.append(np.flatnonzero(same_sec & others))
    lower_t, lower_n = padded(lower)
    same_t, same_n = padded(same_rate)
    sib_t, sib_n = padded(sibling)
    peer_t, peer_n = padded(peer)
    return SimpleNamespace(
        n=n,
        code=code,
        section=section,
        division=division,
        rate10=rate10,
        p=p,
        income=income,
        assets=by(SECTION_ASSETS, 0.6),
        productivity=productivity,
        b2b=np.isin(section, B2B_SECTIONS) | np.isin(division, B2B_DIVISIONS),
        visible=np.isin(division, VISIBLE_DIVISIONS),
        covid=np.isin(division, VISIBLE_DIVISIONS) | np.isin(section, ("H", "I", "R", "S")),
        lower=lower_t,
        n_lower=lower_n,
        same_rate=same_t,
        n_same_rate=same_n,
        sibling=sib_t,
        n_sibling=sib_n,
        peer=peer_t,
        n_peer=peer_n,
    )


# ----------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------
_SECTION_PREFIX: dict[str, tuple[str, ...]] = {
    "A": ("AGROPECUARIA", "FLORES", "CULTIVOS", "HACIENDA", "AGRICOLA", "FLORICULTORA"),
    "B": ("MINERALES", "EXTRACCIONES", "CANTERAS"),
    "C": ("INDUSTRIAS", "MANUFACTURAS", "ALIMENTOS", "CONFECCIONES", "PLASTICOS", "PRODUCTOS"),
    "D": ("ENERGIA", "GENERADORA"),
    "E": ("RECICLAJES", "AMBIENTAL", "AGUAS"),
    "F": ("CONSTRUCTORA", "CONSTRUCCIONES", "INGENIERIA Y OBRAS", "PROYECTOS", "URBANIZADORA"),
    "G": ("COMERCIALIZADORA", "DISTRIBUIDORA", "ALMACEN", "SUPERMERCADO", "FERRETERIA",
          "IMPORTADORA", "AUTOSERVICIO", "DROGUERIA"),
    "H": ("TRANSPORTES", "LOGISTICA", "CARGA", "TRANSPORTADORA", "MUDANZAS"),
    "I": ("RESTAURANTE", "HOTEL", "CAFE", "ASADERO", "GASTROBAR", "HOSTAL", "PANADERIA Y CAFE"),
    "J": ("SOLUCIONES TECNOLOGICAS", "SOFTWARE", "COMUNICACIONES", "DATOS", "MEDIOS"),
    "K": ("INVERSIONES", "FINANCIERA", "CAPITAL", "SEGUROS"),
    "L": ("INMOBILIARIA", "PROPIEDADES", "ARRENDAMIENTOS", "INVERSIONES"),
    "M": ("CONSULTORES", "ASESORIAS", "ARQUITECTURA", "ESTUDIOS", "CONSULTORIA", "AUDITORES"),
    "N": ("SERVICIOS", "ASEO", "SEGURIDAD", "TEMPORALES", "ALQUILER DE EQUIPOS"),
    "P": ("INSTITUTO", "ACADEMIA", "CENTRO EDUCATIVO"),
    "Q": ("IPS", "CLINICA", "CENTRO MEDICO", "LABORATORIO CLINICO", "ODONTOLOGIA"),
    "R": ("EVENTOS", "CLUB", "ENTRETENIMIENTO", "GIMNASIO"),
    "S": ("SERVICIOS", "PELUQUERIA", "TALLER", "LAVANDERIA", "ESTETICA"),
}  # fmt: skip
_DEFAULT_PREFIX = ("INVERSIONES", "GRUPO", "SOCIEDAD")
_CORE_WORDS = (
    "ORIENTE", "RIONEGRO", "LLANOGRANDE", "SAN NICOLAS", "ANTIOQUIA", "EL RETIRO", "LA CEJA",
    "GUARNE", "MARINILLA", "CORDOVA", "SAN ANTONIO", "EL CARMEN", "LA AMISTAD", "ANDINA",
    "DEL NORTE", "LOS ANDES", "LA MONTAÑA", "EL PORVENIR", "SANTA ANA", "LA FLORESTA",
    "EL TABLAZO", "CABECERAS", "GUAYABITO", "FONTIBON", "RESTREPO", "GOMEZ", "ARANGO", "ZULUAGA",
    "OSPINA", "GIRALDO", "HENAO", "BOTERO", "MEJIA", "JARAMILLO", "CASTAÑO", "VELEZ",
    "ECHEVERRI", "OCHOA", "SALAZAR", "MONTOYA", "ALZATE", "GALLO", "RAMIREZ", "CARDONA",
    "QUINTERO", "VILLEGAS", "POSADA", "URIBE", "TORO", "AGUDELO", "MUNERA", "SIERRA",
    "PIEDRAS BLANCAS", "AEROPUERTO", "LAS PALMAS", "LOMA VERDE", "ALTOS DEL SOL", "PREMIUM",
    "GLOBAL", "INTEGRAL", "EXPRESS", "COLOMBIA", "LATAM", "MAGNOLIA", "EL ROSAL", "CAPIRO",
    "LA CONVENCION", "SAN JOAQUIN", "GUALANDAY", "LOS SAUCES", "ALTAVISTA", "EL PORTAL",
)  # fmt: skip
_SECOND_WORDS = (
    "& CIA", "HERMANOS", "DEL ORIENTE", "INTEGRALES", "Y ASOCIADOS", "GROUP", "PLUS", "J.R.",
    "M&M", "DE COLOMBIA", "INTERNACIONAL", "Y CIA", "2000", "EXPRESS", "SOLUCIONES",
)  # fmt: skip
# legal suffix, organization_type; two mixes: founded before 2008 (no SAS yet) and after
_SUFFIXES = (("S.A.S.", "SAS"), ("LTDA", "LTDA"), ("S.A.", "SA"), ("S. EN C.", "SCS"))
_SUFFIX_P_OLD = (0.45, 0.30, 0.18, 0.07)
_SUFFIX_P_NEW = (0.93, 0.03, 0.03, 0.01)
_FIRST_NAMES = (
    "JUAN", "CARLOS", "LUIS", "JORGE", "ANDRES", "JOSE", "DIEGO", "ALEJANDRO", "SANTIAGO",
    "JUAN DAVID", "JUAN PABLO", "MAURICIO", "SERGIO", "FELIPE", "DANIEL", "ESTEBAN", "JAIME",
    "HERNAN", "GUSTAVO", "OSCAR", "MARIA", "LUZ", "ANA", "CLAUDIA", "SANDRA", "PAULA", "LAURA",
    "DIANA", "CAROLINA", "ALEJANDRA", "MARTHA", "GLORIA", "ADRIANA", "CATALINA", "VALENTINA",
    "NATALIA", "MONICA", "BEATRIZ", "LILIANA", "ISABEL", "MARIA CAMILA", "SARA", "DANIELA",
    "LUZ MARINA", "BLANCA", "ROSA", "CAMILO", "MATEO", "SEBASTIAN", "NICOLAS",
)  # fmt: skip
_MIDDLE_NAMES = (
    "ANTONIO", "ALBERTO", "ENRIQUE", "FERNANDO", "DE JESUS", "EUGENIA", "ELENA", "CRISTINA",
    "PATRICIA", "FERNANDA", "ANDREA", "ESTELLA", "DARIO", "MARIO", "ALONSO", "HELENA",
)  # fmt: skip
_SURNAMES = (
    "RESTREPO", "GOMEZ", "ARANGO", "ZULUAGA", "OSPINA", "GIRALDO", "HENAO", "BOTERO", "MEJIA",
    "JARAMILLO", "CASTAÑO", "VELEZ", "ECHEVERRI", "OCHOA", "SALAZAR", "MONTOYA", "ALZATE",
    "GALLO", "RAMIREZ", "CARDONA", "QUINTERO", "VILLEGAS", "POSADA", "URIBE", "TORO", "AGUDELO",
    "MUNERA", "SIERRA", "LOPEZ", "GARCIA", "RODRIGUEZ", "MARTINEZ", "HERNANDEZ", "GONZALEZ",
    "PEREZ", "SANCHEZ", "RIOS", "VASQUEZ", "CORREA", "ORTIZ", "MARIN", "SUAREZ", "DUQUE",
    "ARISTIZABAL", "BETANCUR", "CARDENAS", "ESCOBAR", "FRANCO", "GUTIERREZ", "LONDOÑO",
    "MORALES", "OROZCO", "PATIÑO", "RENDON", "SOTO", "TABARES", "VALENCIA", "YEPES", "CIRO",
    "ATEHORTUA",
)  # fmt: skip
_COMUNAS = tuple(str(i) for i in range(1, 13)) + (
    "Corregimiento Norte",
    "Corregimiento Sur",
    "Corregimiento Centro",
    "Corregimiento Occidente",
)
_URBAN_P = (0.07, 0.09, 0.10, 0.08, 0.08, 0.09, 0.08, 0.07, 0.07, 0.06, 0.05, 0.04)
_RURAL_P = (0.3, 0.3, 0.2, 0.2)


def _words(values: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return _labels(values, idx)


def _null_where(values: pl.Series | np.ndarray, mask: np.ndarray) -> pl.Series:
    """``values`` with nulls where ``mask`` is true (blank cells in the CSV)."""
    frame = pl.DataFrame({"v": values, "m": np.asarray(mask, bool)})
    return frame.select(pl.when(pl.col("m")).then(None).otherwise(pl.col("v")).alias("v"))["v"]


def _names(
    rng: np.random.Generator,
    juridica: np.ndarray,
    section: np.ndarray,
    start_year: np.ndarray,
) -> tuple[pl.Series, pl.Series]:
    """Plausible legal names and RUES organization types, built column-wise."""
    n = juridica.size
    sections = np.array(sorted(_SECTION_PREFIX))
    prefix_lists = [_SECTION_PREFIX[s] for s in sections] + [_DEFAULT_PREFIX]
    row = np.searchsorted(sections, section).clip(0, sections.size - 1)
    row = np.where(sections[row] == section, row, sections.size)
    flat = tuple(w for lst in prefix_lists for w in lst)
    offsets = np.cumsum([0] + [len(lst) for lst in prefix_lists])
    counts = np.diff(offsets)
    prefix_idx = offsets[row] + np.floor(rng.random(n) * counts[row]).astype(np.int64)
    core = rng.integers(0, len(_CORE_WORDS), n)
    second = rng.integers(0, len(_SECOND_WORDS), n)
    has_second = rng.random(n) < 0.3
    old = start_year < 2008
    suffix = np.where(old, _choice(rng, n, _SUFFIX_P_OLD), _choice(rng, n, _SUFFIX_P_NEW)).astype(
        np.int64
    )
    first = rng.integers(0, len(_FIRST_NAMES), n)
    middle = rng.integers(0, len(_MIDDLE_NAMES), n)
    has_middle = rng.random(n) < 0.4
    s1 = rng.integers(0, len(_SURNAMES), n)
    s2 = rng.integers(0, len(_SURNAMES), n)
    frame = pl.DataFrame(
        {
            "j": juridica,
            "prefix": _words(flat, prefix_idx),
            "core": _words(_CORE_WORDS, core),
            "second": _words(_SECOND_WORDS, second),
            "has_second": has_second,
            "suffix": _words(tuple(s for s, _ in _SUFFIXES), suffix),
            "org": _words(tuple(o for _, o in _SUFFIXES), suffix),
            "first": _words(_FIRST_NAMES, first),
            "middle": _words(_MIDDLE_NAMES, middle),
            "has_middle": has_middle,
            "s1": _words(_SURNAMES, s1),
            "s2": _words(_SURNAMES, s2),
        }
    )
    company = pl.concat_str(
        [
            pl.col("prefix"),
            pl.lit(" "),
            pl.col("core"),
            pl.when(pl.col("has_second"))
            .then(pl.lit(" ") + pl.col("second"))
            .otherwise(pl.lit("")),
            pl.lit(" "),
            pl.col("suffix"),
        ]
    )
    person = pl.concat_str(
        [
            pl.col("first"),
            pl.when(pl.col("has_middle"))
            .then(pl.lit(" ") + pl.col("middle"))
            .otherwise(pl.lit("")),
            pl.lit(" "),
            pl.col("s1"),
            pl.lit(" "),
            pl.col("s2"),
        ]
    )
    out = frame.select(
        pl.when(pl.col("j")).then(company).otherwise(person).alias("name"),
        pl.when(pl.col("j")).then(pl.col("org")).otherwise(pl.lit("PERSONA NATURAL")).alias("org"),
    )
    return out["name"], out["org"]


def _name_variants(rng: np.random.Generator, names: pl.Series) -> pl.Series:
    """The RUES spelling of a name: the same, except a few case or punctuation differences."""
    u = rng.random(names.len())
    frame = pl.DataFrame({"name": names, "u": u})
    return frame.select(
        pl.when(pl.col("u") < 0.02)
        .then(pl.col("name").str.to_titlecase())
        .when(pl.col("u") < 0.04)
        .then(pl.col("name").str.replace_all(".", "", literal=True))
        .otherwise(pl.col("name"))
        .alias("name")
    )["name"]


def _draw_nits(
    rng: np.random.Generator,
    juridica: np.ndarray,
    start_year: np.ndarray,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Unique NITs: companies 800/900/901 + 6 digits by founding era; people a cédula.

    Each id block is sampled without replacement, so uniqueness costs one draw per block
    rather than rejection rounds (which crawl once a block is a third full, as at 1M entities).
    """
    n = juridica.size
    # blocks [lo, hi): company NIT prefixes, then cédulas of 6, 7, 8 and 10 digits
    lo = np.array([800, 900, 901], np.int64) * 1_000_000
    lo = np.concatenate([lo, [100_000, 1_000_000, 10_000_000, 1_000_000_000]])
    hi = np.concatenate([lo[:3] + 1_000_000, [1_000_000, 10_000_000, 100_000_000, 1_200_000_000]])
    era = np.where(start_year < 2006, 0, np.where(start_year < 2017, 1, 2))
    block = np.where(juridica, era, 3 + _choice(rng, n, (0.03, 0.10, 0.65, 0.22)))
    taken = np.zeros(0, np.int64) if exclude is None else np.unique(np.asarray(exclude, np.int64))
    nits = np.zeros(n, np.int64)
    for b in range(lo.size):
        members = np.flatnonzero(block == b)
        if members.size == 0:
            continue
        used = taken[(taken >= lo[b]) & (taken < hi[b])]
        space = int(hi[b] - lo[b])
        if members.size + used.size > space:
            raise ValueError("taxpayers is too large for the NIT id space of the demo")
        values = lo[b] + rng.choice(space, members.size + used.size, replace=False)
        if used.size:
            values = values[~np.isin(values, used)]
        nits[members] = values[: members.size]
    return nits


# ----------------------------------------------------------------------------------------------
# The world: entities and their registries
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Calendar:
    first_year: int
    last_year: int

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    @property
    def start(self) -> int:
        return _day(self.first_year, 1, 1)

    @property
    def end(self) -> int:
        return _day(self.last_year + 1, *DATA_END_MONTH_DAY)

    def deadline(self, year: int) -> date:
        return date(year + 1, *FILING_DEADLINE_MONTH_DAY)


def _build_world(
    ref: SimpleNamespace, cal: _Calendar, n_rit: int, seed: int, world: World | None = None
) -> SimpleNamespace:
    """Draw every entity of the municipality once: who they are, how they live and cheat."""
    world = world or World()
    rng = np.random.default_rng([seed, 1])
    n_contract = round(world.contractor_share * n_rit)
    n_unreg = max(2, round(UNREGISTERED_SHARE * n_rit)) + n_contract
    n = n_rit + n_unreg
    is_rit = np.arange(n) < n_rit
    years = np.array(cal.years)
    ny = years.size

    juridica = rng.random(n) < np.where(is_rit, P_JURIDICA, 0.55)
    p_cls = ref.p
    if world.section_weights:  # the municipality's own sector mix (demo/department.py)
        factor = dict(world.section_weights)
        p_cls = ref.p * np.array([factor.get(s, 1.0) for s in ref.section])
        p_cls = p_cls / p_cls.sum()
    cls = rng.choice(ref.n, size=n, p=p_cls)
    band = np.where(
        juridica, _choice(rng, n, BAND_P_JURIDICA), _choice(rng, n, BAND_P_NATURAL)
    ).astype(np.int64)
    band = np.where(is_rit, band, np.minimum(band, 1))  # the unregistered are small
    log_base = (
        np.log(np.array(BAND_MEDIAN_COP))[band]
        + np.log(ref.income[cls])
        + np.where(juridica, 0.0, np.log(0.7))
        + np.array(BAND_SIGMA)[band] * rng.standard_normal(n)
    )

    # Withholding agents: the biggest companies of the RIT (with noise), stable all period.
    n_agents = max(3, round(AGENTS_PER_15K * n_rit / 15_000))
    key = log_base + 4.0 * juridica - 1e9 * (~is_rit)
    agents = _gumbel_top(rng, key, n_agents)
    is_agent = np.zeros(n, bool)
    is_agent[agents] = True
    juridica[agents] = True
    band[agents] = 3
    log_base[agents] = np.maximum(log_base[agents], np.log(20e9))

    # Life cycle: founding, cancellation, dormancy (registered but not operating).
    pre = (rng.random(n) < 0.6) | is_agent
    pre_year = cal.first_year - 1 - np.floor(rng.exponential(7.0, n)).astype(np.int64)
    pre_year = np.where(is_agent, np.minimum(pre_year, cal.first_year - 3), pre_year)
    pre_year = np.maximum(pre_year, 1990)
    pre_day = _jan1(pre_year) + np.floor(rng.random(n) * 365).astype(np.int64)
    last_birth = _day(cal.last_year, 12, 31)
    in_day = cal.start + np.floor(rng.random(n) * (last_birth - cal.start + 1)).astype(np.int64)
    start = np.where(pre, pre_day, in_day)
    start_year = _year_of(start)
    life_years = np.where(juridica, 25.0, 15.0) * np.array([0.8, 1.0, 1.5, 2.5])[band]
    life = rng.exponential(1.0, n) * life_years * 365.25
    survives_to_period = rng.random(n) < 0.9
    before = start + rng.random(n) * (cal.start - start)
    end = np.where(pre, np.where(survives_to_period, cal.start + life, before), start + life)
    end = np.maximum(np.floor(end).astype(np.int64), start + 30)
    end = np.where((end > cal.end) | is_agent, _NEVER, end)

    dormant = rng.random(n) < np.where(is_rit, RIT_DORMANT_SHARE, UNREGISTERED_DORMANT_SHARE)
    dormant &= ~is_agent
    born_dormant = rng.random(n) < np.where(is_rit, 0.3, 0.6)
    low = np.maximum(start_year + 1, cal.first_year)
    span = cal.last_year + 1 - low
    later = low + np.floor(rng.random(n) * np.maximum(span, 1)).astype(np.int64)
    later = np.where(span > 0, later, _NO_YEAR)
    dormant_year = np.where(dormant, np.where(born_dormant, start_year, later), _NO_YEAR)

    # Income path: log-normal level, firm trend, inflation, COVID shock, yearly noise.
    infl = np.array([INFLATION.get(int(y), DEFAULT_INFLATION) for y in years])
    trend = rng.normal(0.02, 0.04, n)
    eps = rng.normal(0.0, 0.10, (n, ny))
    steps = infl[None, :] + trend[:, None] + eps
    hit = ref.covid[cls]
    for y, shock_hit, shock_other in ((2020, -0.22, -0.06), (2021, 0.15, 0.05)):
        if cal.first_year < y <= cal.last_year:
            steps[:, y - cal.first_year] += np.where(hit, shock_hit, shock_other)
    steps[:, 0] = eps[:, 0]
    inc_log = log_base[:, None] + np.cumsum(steps, axis=1)
    del eps, steps

    # Filing behaviour of registered entities.
    # Large companies are watched by everyone and have tax departments: they file (rarely late).
    p_ctype = np.where(
        (band >= 2)[:, None],
        np.array([0.97, 0.025, 0.005]),
        np.where(juridica[:, None], np.array([0.90, 0.07, 0.03]), np.array([0.78, 0.14, 0.08])),
    )
    ctype = (rng.random(n)[:, None] > np.cumsum(p_ctype, axis=1)).sum(axis=1).clip(0, 2)
    ctype[is_agent | (band == 3)] = 0
    p_file = np.array(P_FILE)[ctype]
    p_on_time = np.array(P_ON_TIME)[ctype]
    p_file[band == 3] = 0.995
    p_on_time[band == 3] = 0.97
    p_file[is_agent] = 1.0
    p_on_time[is_agent] = 1.0

    # Evasion: persistent kind per firm, yearly intensity drawn around a firm level.
    p_evader = np.array(P_EVADER_BY_BAND)
    if world.evader_rate != 1.0:
        p_evader = np.minimum(p_evader * world.evader_rate, 0.9)
    evader = is_rit & ~is_agent & (rng.random(n) < p_evader[band])
    kind_u = rng.random(n)[:, None] > np.cumsum(np.array(EVASION_KIND_P_BY_BAND)[band], axis=1)
    kind = np.where(evader, kind_u.sum(axis=1).clip(0, 3) + 1, 0)
    lower_cls = _pick(rng, ref.lower, ref.n_lower, cls)
    kind = np.where((kind == 4) & (lower_cls < 0), 1, kind)
    hide_s = rng.uniform(0.3, 0.8, n)
    out_m = rng.uniform(0.2, 0.7, n)
    ded_d = rng.uniform(0.2, 0.6, n)
    same = _pick(rng, ref.same_rate, ref.n_same_rate, cls)
    decl_cls = np.where((rng.random(n) < 0.02) & (same >= 0), same, cls)  # harmless code noise

    # Legitimate income outside the municipality and deductions.
    has_out = rng.random(n) < np.array([0.03, 0.12, 0.30, 0.50])[band]
    out_share = np.where(has_out, rng.uniform(0.05, 0.45, n), 0.0)
    ded_share = np.minimum(rng.exponential(0.02, n), 0.15)
    exporter = np.isin(ref.section[cls], ("A", "C")) & (rng.random(n) < 0.15)
    ded_share = ded_share + np.where(exporter, rng.uniform(0.05, 0.35, n), 0.0)
    signboard = (rng.random(n) < P_SIGNBOARD) | (band == 3)

    # Suppliers paid by withholding agents (reteICA) and their agents.
    p_sup = np.where(ref.b2b[cls], 0.55, 0.07) * np.array([0.55, 1.0, 1.15, 1.15])[band]
    supplier = (rng.random(n) < p_sup) & ~is_agent & (dormant_year > start_year)
    sup = np.flatnonzero(supplier)
    k = _choice(rng, sup.size, (0.4, 0.3, 0.2, 0.1)) + 1
    grp, _, _ = _segments(k)
    agent_w = np.exp(0.5 * (log_base[agents] - log_base[agents].max()))
    pair_agent = agents[_choice(rng, grp.size, agent_w)]
    pair_sup = sup[grp]
    keep = pair_agent != pair_sup
    pair_key = np.unique(pair_sup[keep] * n + pair_agent[keep])
    pair_sup, pair_agent = pair_key // n, pair_key % n
    pair_share = rng.gamma(1.5, size=pair_sup.size)
    pair_share /= np.bincount(pair_sup, pair_share, minlength=n)[pair_sup]
    sup_f = rng.uniform(0.2, 0.8, n)
    agent_iva = rng.random(n) < 0.20  # agents that report the base with VAT included

    contractor = np.zeros(n, bool)
    group = np.full(n, -1, np.int64)
    if world.plants_forms:
        # The world's own assumptions, on their own random stream (see demo/worlds.py).
        r2 = np.random.default_rng([seed, 40])
        contractor[n - n_contract :] = True
        if world.tail_df:
            shock = world.tail_scale * np.clip(r2.standard_t(world.tail_df, n), -3.0, 8.0)
            shock = np.where((band >= 1) & ~is_agent, shock, 0.0)
            inc_log += shock[:, None]
            log_base += shock
        cash = (
            np.isin(ref.division[cls], world.cash_divisions) & ~juridica & is_rit & ~is_agent
        )
        # Contractors: operating all period, paid here by the largest agents, no local record.
        c = np.flatnonzero(contractor)
        juridica[c] = r2.random(c.size) < 0.7
        band[c] = 1 + (r2.random(c.size) < 0.25)
        new_base = (
            np.log(np.array(BAND_MEDIAN_COP))[band[c]]
            + np.log(ref.income[cls[c]])
            + 0.6 * r2.standard_normal(c.size)
        )
        inc_log[c] += (new_base - log_base[c])[:, None]
        log_base[c] = new_base
        dormant_year[c] = _NO_YEAR
        end[c] = _NEVER
        cash &= ~contractor
        # Fragmented businesses: groups of 2-4 cash-sector natural persons, one business.
        pool = np.flatnonzero(cash)
        pool = pool[r2.permutation(pool.size)][: round(world.fragment_share * pool.size)]
        sizes = r2.integers(2, 5, max(1, pool.size // 3))
        sizes = sizes[np.cumsum(sizes) <= pool.size]
        members = pool[: sizes.sum()]
        gid, rank, first = _segments(sizes)
        leader = members[first][gid]
        group[members] = gid
        share = r2.gamma(2.0, size=members.size)
        share /= np.bincount(gid, share)[gid]
        whole = inc_log[leader] + np.log(sizes[gid])[:, None]  # the business is k pieces big
        inc_log[members] = whole + np.log(share)[:, None]
        cls[members] = cls[leader]
        start[members] = start[leader] + np.where(rank > 0, r2.integers(0, 90, members.size), 0)
        start_year = _year_of(start)
        end[members] = np.maximum(end[leader], start[members] + 30)
        dormant_year[members] = dormant_year[leader]
        # Who cheats: cash evaders hide income; every fragment hides part of its share.
        cheat = cash & (r2.random(n) < world.cash_evader_p)
        cheat[members] = True
        kind = np.where(cash, np.where(cheat, 1, 0), kind)
        hide = r2.uniform(*world.cash_hide, n)
        hide[members] = r2.uniform(0.4, 0.7, members.size)
        hide_s = np.where(cash, 1.0 - hide, hide_s)
        # No third party pays a cash business; the contractors' agents are the largest three.
        drop = cash[pair_sup] | contractor[pair_sup]
        top = agents[np.argsort(-log_base[agents], kind="stable")][:3]
        k = 1 + (r2.random(c.size) < 0.5)
        new_sup = np.repeat(c, k)
        new_agent = top[r2.integers(0, top.size, new_sup.size)]
        key = np.unique(
            np.concatenate([pair_sup[~drop] * n + pair_agent[~drop], new_sup * n + new_agent])
        )
        pair_sup, pair_agent = key // n, key % n
        pair_share = r2.gamma(1.5, size=pair_sup.size)
        pair_share /= np.bincount(pair_sup, pair_share, minlength=n)[pair_sup]
        supplier = np.zeros(n, bool)
        supplier[pair_sup] = True
        sup_f[c] = r2.uniform(0.5, 0.95, c.size)

    nit = _draw_nits(rng, juridica, start_year)
    name, org = _names(rng, juridica, ref.section[cls], start_year)
    if (group >= 0).any():
        # The pieces of one business share the leader's surnames (the name root).
        first_of = {}
        names = name.to_list()
        for i in np.flatnonzero(group >= 0):
            g = int(group[i])
            if g not in first_of:
                first_of[g] = " ".join(names[i].split()[-2:])
            else:
                names[i] = " ".join([*names[i].split()[:-2], first_of[g]])
        name = pl.Series(name.name, names)

    return SimpleNamespace(
        world=world,
        contractor=contractor,
        group=group,
        n=n,
        n_rit=n_rit,
        is_rit=is_rit,
        is_agent=is_agent,
        juridica=juridica,
        cls=cls,
        band=band,
        log_base=log_base,
        inc_log=inc_log,
        start=start,
        start_year=start_year,
        end=end,
        dormant_year=dormant_year,
        ctype=ctype,
        p_file=p_file,
        p_on_time=p_on_time,
        kind=kind,
        lower_cls=lower_cls,
        decl_cls=decl_cls,
        hide_s=hide_s,
        out_m=out_m,
        ded_d=ded_d,
        out_share=out_share,
        ded_share=ded_share,
        signboard=signboard,
        supplier=supplier,
        pair_sup=pair_sup,
        pair_agent=pair_agent,
        pair_share=pair_share,
        sup_f=sup_f,
        agent_iva=agent_iva,
        nit=nit,
        name=name,
        org=org,
    )


def _registries(
    ref: SimpleNamespace, cal: _Calendar, w: SimpleNamespace, seed: int, municipality: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The RIT export and the RUES export (this municipality plus establishments elsewhere)."""
    rng = np.random.default_rng([seed, 2])
    others = tuple(m for m in (*OTHER_MUNICIPALITIES, "05615") if m != municipality)[:8]
    others_p = _OTHER_MUNI_P[: len(others)] / _OTHER_MUNI_P[: len(others)].sum()
    n = w.n
    cur = cal.last_year + 1
    cancelled = w.end <= cal.end
    dormant_now = ~cancelled & (w.dormant_year <= cal.last_year)
    end_year = np.where(cancelled, _year_of(np.minimum(w.end, cal.end)), cur)

    # --- RIT -----------------------------------------------------------------------------
    lag = np.where(
        rng.random(n) < 0.70,
        rng.integers(0, 31, n),
        np.where(rng.random(n) < 0.83, rng.integers(30, 181, n), rng.integers(180, 721, n)),
    )
    rit_registered = np.minimum(w.start + lag, cal.end)
    inactive = dormant_now & (rng.random(n) < 0.4)
    status = np.where(cancelled, 2, inactive.astype(np.int64))  # active, inactive, cancelled
    simple = (w.band <= 1) & ~w.is_agent & (rng.random(n) < 0.065)
    p_rural = np.where(
        ref.section[w.cls] == "A", 0.8, np.where(ref.section[w.cls] == "C", 0.35, 0.1)
    )
    p_rural = np.where(w.band == 3, np.maximum(p_rural, 0.4), p_rural)
    comuna = np.where(
        rng.random(n) < p_rural,
        len(_URBAN_P) + _choice(rng, n, _RURAL_P),
        _choice(rng, n, _URBAN_P),
    )
    # A few RIT codes are stale (the firm changed activity within its section and declares the
    # new one), so a declared code that differs from the RIT is a signal, not a proof.
    stale = _pick(rng, ref.peer, ref.n_peer, w.cls)
    rit_cls = np.where((rng.random(n) < 0.04) & (stale >= 0) & (w.kind != 4), stale, w.cls)
    rit_idx = np.flatnonzero(w.is_rit)
    rit = (
        pl.DataFrame(
            {
                "nit": _str(w.nit[rit_idx]),
                "dv": _check_digits(w.nit[rit_idx]),
                "taxpayer_type": _labels(("natural", "juridica"), w.juridica[rit_idx]),
                "legal_name": w.name.gather(rit_idx),
                "ciiu": _labels(ref.code, rit_cls[rit_idx]),
                "comuna": _labels(_COMUNAS, comuna[rit_idx]),
                "registered_on": _dates(rit_registered[rit_idx]),
                "status": _labels(("active", "inactive", "cancelled"), status[rit_idx]),
                "regime": _labels(("ordinario", "simple"), simple[rit_idx]),
                "_order": w.nit[rit_idx],
            }
        )
        .sort("_order")
        .drop("_order")
    )

    # --- RUES: establishments in this municipality ---------------------------------------
    has_rues = ~w.is_rit | w.is_agent | (rng.random(n) < np.where(w.juridica, 0.93, 0.55))
    has_rues &= ~w.contractor  # registered in another municipality: no local record
    last_op = np.minimum(end_year, w.dormant_year - 1)
    ref_year = np.clip(last_op, cal.first_year, cal.last_year) - cal.first_year
    ref_income = np.exp(w.inc_log[np.arange(n), ref_year])
    operated = last_op >= w.start_year
    renewal_op = cur - _choice(rng, n, (0.85, 0.10, 0.05))
    renewal_dormant = np.where(
        rng.random(n) < 0.25, cur - rng.integers(0, 2, n), w.dormant_year - rng.integers(0, 2, n)
    )
    renewal_cancel = end_year - _choice(rng, n, (0.6, 0.4))
    renewal = np.where(
        cancelled, renewal_cancel, np.where(dormant_now, renewal_dormant, renewal_op)
    )
    renewal = np.clip(renewal, w.start_year, cur)
    ratio = ref.assets[w.cls] * np.exp(rng.normal(0.0, 0.6, n))
    assets_op = ref_income * ratio
    assets_dormant = np.where(
        rng.random(n) < 0.85,
        rng.uniform(0.5e6, 20e6, n),
        np.exp(rng.uniform(np.log(50e6), np.log(2e9), n)),
    )
    shell = dormant_now | ~operated
    assets = _r1000(np.where(shell, assets_dormant, assets_op))
    productivity = ref.productivity[w.cls] * np.exp(rng.normal(0.0, 0.5, n))
    staff = np.floor(ref_income / productivity * np.where(w.juridica, 1.0, 0.6) + rng.random(n))
    employees = np.where(shell, (rng.random(n) < 0.25).astype(np.int64), staff.astype(np.int64))
    sibling = _pick(rng, ref.sibling, ref.n_sibling, w.cls)
    rues_cls = np.where((rng.random(n) < 0.05) & (sibling >= 0) & (w.kind != 4), sibling, w.cls)
    peer = _pick(rng, ref.peer, ref.n_peer, w.cls)
    secondary = np.where((rng.random(n) < 0.25) & (peer >= 0), peer, -1)
    no_nit = w.is_rit & ~w.juridica & (rng.random(n) < 0.05)
    rues_name = _name_variants(rng, w.name)
    core = np.flatnonzero(has_rues)

    def rues_frame(
        idx: np.ndarray,
        nit: np.ndarray,
        name: pl.Series,
        org: pl.Series,
        cls_: np.ndarray,
        secondary_: np.ndarray,
        muni: np.ndarray,
        registered: np.ndarray,
        renewal_: np.ndarray,
        cancelled_on: np.ndarray,
        assets_: np.ndarray,
        employees_: np.ndarray,
    ) -> pl.DataFrame:
        m = idx.size
        null_assets = rng.random(m) < 0.02
        null_emp = rng.random(m) < 0.03
        sec_code = _null_where(_labels(ref.code, np.maximum(secondary_, 0)), secondary_ < 0)
        return pl.DataFrame(
            {
                "nit": _null_where(_str(nit), nit <= 0),
                "legal_name": name,
                "organization_type": org,
                "ciiu": _labels(ref.code, cls_),
                "ciiu_secondary": sec_code,
                "municipality_code": _labels((municipality, *others), muni),
                "registered_on": _dates(registered),
                "last_renewal_year": renewal_,
                "status": _labels(("ACTIVA", "CANCELADA"), cancelled_on < _NEVER),
                "cancelled_on": _null_where(
                    _dates(np.minimum(cancelled_on, cal.end)), cancelled_on >= _NEVER
                ),
                "total_assets": _null_where(np.asarray(assets_, np.int64), null_assets),
                "employees": _null_where(np.asarray(employees_, np.int64), null_emp),
                "_tiebreak": rng.random(m),
            }
        )

    parts = [
        rues_frame(
            core,
            np.where(no_nit, 0, w.nit)[core],
            rues_name.gather(core),
            w.org.gather(core),
            rues_cls[core],
            secondary[core],
            np.zeros(core.size, np.int64),
            w.start[core],
            renewal[core],
            np.where(cancelled, w.end, _NEVER)[core],
            assets[core],
            employees[core],
        )
    ]

    # --- RUES: establishments in other municipalities (context only) ---------------------
    n_other = round(core.size * OTHER_MUNICIPALITY_ROW_SHARE / (1 - OTHER_MUNICIPALITY_ROW_SHARE))
    n_linked = min(round(0.4 * n_other), int(w.is_rit.sum()))
    n_only = n_other - n_linked
    link_w = np.log(np.array([0.02, 0.08, 0.25, 0.5]))[w.band] + np.where(w.is_rit, 0, -1e9)
    linked = np.sort(_gumbel_top(rng, link_w + 2.0 * w.juridica, n_linked))
    branch_open = np.minimum(
        np.maximum(w.start[linked], cal.start - 3650)
        + np.floor(rng.random(linked.size) * 2900).astype(np.int64),
        cal.end - 1,
    )
    branch_open = np.maximum(np.minimum(branch_open, w.end[linked] - 1), w.start[linked])
    branch_close = np.where(cancelled[linked], np.maximum(w.end[linked], branch_open), _NEVER)
    parts.append(
        rues_frame(
            linked,
            np.where(no_nit, 0, w.nit)[linked],
            rues_name.gather(linked),
            w.org.gather(linked),
            w.cls[linked],
            np.full(linked.size, -1),
            1 + _choice(rng, linked.size, others_p),
            branch_open,
            np.clip(renewal[linked], _year_of(branch_open), cur),
            branch_close,
            _r1000(assets[linked] * rng.uniform(0.05, 0.3, linked.size)),
            np.floor(employees[linked] * rng.uniform(0.05, 0.3, linked.size)).astype(np.int64),
        )
    )

    juridica_o = rng.random(n_only) < 0.75
    cls_o = rng.choice(ref.n, size=n_only, p=ref.p)
    band_o = np.where(
        juridica_o, _choice(rng, n_only, BAND_P_JURIDICA), _choice(rng, n_only, BAND_P_NATURAL)
    ).astype(np.int64)
    income_o = np.exp(
        np.log(np.array(BAND_MEDIAN_COP))[band_o]
        + np.log(ref.income[cls_o])
        + np.array(BAND_SIGMA)[band_o] * rng.standard_normal(n_only)
    )
    start_o = _jan1(rng.integers(1995, cal.last_year + 1, n_only)) + rng.integers(0, 365, n_only)
    start_o = np.minimum(start_o, cal.end - 1)
    cancel_o = np.where(
        rng.random(n_only) < 0.15,
        start_o + np.floor(rng.random(n_only) * (cal.end - start_o)).astype(np.int64),
        _NEVER,
    )
    start_year_o = _year_of(start_o)
    renewal_o = np.where(
        cancel_o < _NEVER,
        _year_of(np.minimum(cancel_o, cal.end)) - rng.integers(0, 2, n_only),
        cur - _choice(rng, n_only, (0.8, 0.12, 0.08)),
    )
    nit_o = _draw_nits(rng, juridica_o, start_year_o, exclude=w.nit)
    nit_o = np.where(~juridica_o & (rng.random(n_only) < 0.05), 0, nit_o)
    name_o, org_o = _names(rng, juridica_o, ref.section[cls_o], start_year_o)
    staff_o = np.floor(income_o / ref.productivity[cls_o] + rng.random(n_only)).astype(np.int64)
    parts.append(
        rues_frame(
            np.arange(n_only),
            nit_o,
            name_o,
            org_o,
            cls_o,
            np.full(n_only, -1),
            1 + _choice(rng, n_only, others_p),
            start_o,
            np.clip(renewal_o, start_year_o, cur),
            cancel_o,
            _r1000(income_o * ref.assets[cls_o] * np.exp(rng.normal(0.0, 0.6, n_only))),
            staff_o,
        )
    )
    rues = pl.concat(parts).sort("registered_on", "_tiebreak").drop("_tiebreak")
    matricula = pl.Series(np.arange(100_001, 100_001 + rues.height, dtype=np.int64)).cast(pl.Utf8)
    rues = rues.with_columns(matricula.alias("matricula")).select(
        "matricula",
        "nit",
        "legal_name",
        "organization_type",
        "ciiu",
        "ciiu_secondary",
        "municipality_code",
        "registered_on",
        "last_renewal_year",
        "status",
        "cancelled_on",
        "total_assets",
        "employees",
    )
    # What staff can see about every entity when they pick omiso audits.
    w.has_rues = has_rues
    w.renewal = np.where(has_rues, renewal, 0)
    w.assets = np.where(has_rues, assets, 0)
    w.employees = np.where(has_rues, employees, 0)
    w.rit_cls = rit_cls
    return rit, rues


# ----------------------------------------------------------------------------------------------
# One tax year
# ----------------------------------------------------------------------------------------------
def _form(
    gross: np.ndarray,
    outside: np.ndarray,
    deductions: np.ndarray,
    rate10: np.ndarray,
    signboard: np.ndarray,
    bomberil_blank: np.ndarray,
) -> dict[str, np.ndarray]:
    """The tax lines of the unified form, always internally consistent."""
    taxable = gross - outside - deductions
    ica = _ica(taxable, rate10)
    avisos = np.where(signboard, _pct(ica, 15), 0)
    bomberil = np.where(bomberil_blank, 0, _pct(ica, 3))
    return {
        "gross_income": gross,
        "income_outside": outside,
        "deductions": deductions,
        "taxable_income": taxable,
        "ica_tax": ica,
        "avisos_tableros": avisos,
        "sobretasa_bomberil": bomberil,
        "total_tax": ica + avisos + bomberil,
    }


def _withholdings(
    rng: np.random.Generator,
    ref: SimpleNamespace,
    w: SimpleNamespace,
    year: int,
    act: np.ndarray,
    operating: np.ndarray,
    gross: np.ndarray,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """reteICA rows of one year plus the base and amount withheld per active entity."""
    m = act.size
    pos = np.full(w.n, -1, np.int64)
    pos[act] = np.arange(m)
    sp = pos[w.pair_sup]
    pp = np.flatnonzero(sp >= 0)
    sp = sp[pp]
    ok = operating[sp] & (gross[sp] > 0)
    pp, sp = pp[ok], sp[ok]
    ent = w.pair_sup[pp]
    agent = w.pair_agent[pp]
    k = pp.size
    share = np.clip(w.sup_f[ent] + rng.normal(0.0, 0.06, k), 0.05, 0.95)
    # Noise that keeps third-party evidence honest-but-imperfect: some agents report the base
    # with VAT included, and invoices and payments fall in different periods.
    noise = np.exp(rng.normal(0.0, 0.12, k)) * np.where(w.agent_iva[agent], 1.19, 1.0)
    total = share * gross[sp] * w.pair_share[pp] * noise
    months = np.arange(1, 13, 2)
    b_start = _day(year, 1, 1) + np.array([_day(year, mo, 1) - _day(year, 1, 1) for mo in months])
    b_end = np.append(b_start[1:], _day(year + 1, 1, 1)) - 1
    active_b = (w.start[ent][:, None] <= b_end[None, :]) & (w.end[ent][:, None] >= b_start[None, :])
    wts = rng.gamma(2.0, size=(k, 6)) * active_b * (rng.random((k, 6)) > 0.2)
    empty = wts.sum(axis=1) == 0
    wts[empty] = active_b[empty]
    wts /= np.maximum(wts.sum(axis=1, keepdims=True), 1e-12)
    base = np.floor(total[:, None] * wts * np.exp(rng.normal(0.0, 0.05, (k, 6))) + 0.5)
    r, b = np.nonzero(base >= 10_000)
    base = base[r, b].astype(np.int64)
    withheld = (base * ref.rate10[w.cls[ent[r]]] + 5000) // 10_000
    agent_nit, nit = w.nit[agent[r]], w.nit[ent[r]]
    order = np.lexsort((nit, agent_nit, b))  # as an agent exports it: period, agent, supplier
    frame = pl.DataFrame(
        {
            "agent_nit": _str(agent_nit[order]),
            "nit": _str(nit[order]),
            "tax_year": np.full(r.size, year, np.int64),
            "period": (b[order] + 1).astype(np.int64),
            "base_amount": base[order],
            "withheld_amount": withheld[order],
        }
    )
    base_sum = np.bincount(sp[r], base, minlength=m).round().astype(np.int64)
    amount_sum = np.bincount(sp[r], withheld, minlength=m).round().astype(np.int64)
    return frame, base_sum, amount_sum


def _payments(
    rng: np.random.Generator,
    year: int,
    data_end: int,
    nit: np.ndarray,
    amount: np.ndarray,
    anchor: np.ndarray,
    category: np.ndarray,
) -> pl.DataFrame:
    """Payments of one tax year: prompt (maybe in two parts), instalments, or arrears."""
    keep = amount > 0
    nit, amount, anchor, category = nit[keep], amount[keep], anchor[keep], category[keep]
    n = amount.size
    n_parts = np.select(
        [category == 0, category == 1],
        [1 + (rng.random(n) < 0.2), rng.integers(2, 5, n)],
        _choice(rng, n, (0.4, 0.4, 0.2)),
    ).astype(np.int64)
    to_pay = np.where(category == 2, _r1000(amount * rng.uniform(0.0, 0.7, n)), amount)
    first_gap = np.select(
        [category == 0, category == 1],
        [np.floor(rng.exponential(6.0, n)), rng.integers(20, 151, n)],
        rng.integers(30, 301, n),
    ).astype(np.int64)
    has = (n_parts > 0) & (to_pay > 0)
    nit, to_pay, anchor, category, n_parts, first_gap = (
        a[has] for a in (nit, to_pay, anchor, category, n_parts, first_gap)
    )
    grp, rank, starts = _segments(n_parts)
    later_gap = np.select(
        [category[grp] == 0, category[grp] == 1],
        [rng.integers(15, 91, grp.size), rng.integers(25, 76, grp.size)],
        rng.integers(30, 181, grp.size),
    )
    gap = np.where(rank == 0, first_gap[grp], later_gap)
    cs = np.cumsum(gap)
    paid_on = anchor[grp] + cs - (cs[starts] - gap[starts])[grp]
    wts = rng.gamma(2.0, size=grp.size)
    wts /= np.bincount(grp, wts)[grp]
    part = (np.floor(to_pay[grp] * wts / 1000.0) * 1000).astype(np.int64)
    last = rank == n_parts[grp] - 1
    others = np.bincount(grp, np.where(last, 0, part), minlength=n_parts.size).astype(np.int64)
    part = np.where(last, to_pay[grp] - others[grp], part)
    ok = np.flatnonzero((paid_on <= data_end) & (part > 0))
    ok = ok[np.lexsort((rank[ok], grp[ok], nit[grp[ok]], paid_on[ok]))]
    return pl.DataFrame(
        {
            "payment_id": _ids(f"P{year}-", ok.size, 7),
            "nit": _str(nit[grp[ok]]),
            "tax_year": np.full(ok.size, year, np.int64),
            "paid_on": _dates(paid_on[ok]),
            "amount": part[ok],
        }
    )


def _select_audits(
    rng: np.random.Generator,
    eligible: np.ndarray,
    score: np.ndarray,
    n_audits: int,
    random_share: float = RANDOM_AUDIT_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """Random-control sample plus staff (risk) picks; returns positions and is-random flags."""
    cand = np.flatnonzero(eligible)
    n_audits = min(n_audits, cand.size)
    n_random = 0 if n_audits < 3 else max(1, round(random_share * n_audits))
    rand = rng.choice(cand, n_random, replace=False) if n_random else np.zeros(0, np.int64)
    rest = cand[~np.isin(cand, rand)]
    risk = rest[_gumbel_top(rng, score[rest], n_audits - n_random)]
    picked = np.concatenate([rand, risk]).astype(np.int64)
    return picked, np.arange(picked.size) < n_random


def _audit_frame(
    rng: np.random.Generator,
    cal: _Calendar,
    year: int,
    program: str,
    nit: np.ndarray,
    gap: np.ndarray,
    open_lo: np.ndarray,
    open_hi: int,
    is_random: np.ndarray,
) -> pl.DataFrame:
    n = nit.size
    opened = open_lo + np.floor(rng.random(n) * (open_hi - open_lo + 1)).astype(np.int64)
    close_hi = np.minimum(opened + 426, cal.end)
    closed = opened + 61 + np.floor(rng.random(n) * (close_hi - opened - 61 + 1)).astype(np.int64)
    adjusted = (gap > AUDIT_MIN_GAP) & (rng.random(n) < P_AUDIT_DETECTS)
    assessed = np.where(adjusted, _r1000(gap * rng.uniform(0.8, 1.1, n)), 0)
    return pl.DataFrame(
        {
            "nit": _str(nit),
            "tax_year": np.full(n, year, np.int64),
            "program": _labels((program,), np.zeros(n, np.int64)),
            "selection": _labels(("risk", "random"), is_random),
            "opened_on": _dates(opened),
            "closed_on": _dates(closed),
            "outcome": _labels(("no_finding", "adjusted"), adjusted),
            "assessed_amount": assessed.astype(np.int64),
            "_n": nit,
        },
    )


def _open_case_pool(
    truth: pl.DataFrame, audits: list[pl.DataFrame], cal: _Calendar, year: int, seed: int
) -> pl.DataFrame:
    """The (nit, tax_year, program) of one year an office might have an audit in progress on at
    the data end: not audited, past the filing deadline by a month, still within the statute
    (3 years from the deadline for a return, 5 for a non-filer, 30 days to spare). Kept small:
    the largest true gaps of each program and an even sample, each as many rows as the year's
    truth has / 20 (at least 200). Its own random stream: the other files do not change."""
    end = cal.end - 30
    deadline = _day(year + 1, *FILING_DEADLINE_MONTH_DAY)
    statute = {p: _day(year + 1 + n, *FILING_DEADLINE_MONTH_DAY) for p, n in (("inexacto", 3),
                                                                            ("omiso", 5))}
    if deadline + 30 > end or truth.height == 0:
        return pl.DataFrame()
    audited = pl.concat([a.select("nit", "tax_year") for a in audits]) if audits else None
    pool = truth.select("nit", "tax_year", "program", "true_gap").filter(
        pl.col("program").replace_strict(statute, return_dtype=pl.Int64) > end
    )
    if audited is not None:
        pool = pool.join(audited, on=["nit", "tax_year"], how="anti")
    cap = max(200, truth.height // 20)
    top = (
        pool.sort(["true_gap", "nit"], descending=[True, False])
        .group_by("program", maintain_order=True)
        .head(cap)
        .select(pool.columns)
    )
    rng = np.random.default_rng([seed, 30, year])
    even = pool[np.sort(rng.choice(pool.height, min(cap, pool.height), replace=False))]
    return pl.concat([top, even]).unique(["nit", "tax_year"], keep="first", maintain_order=True)


def _open_cases(
    pool: pl.DataFrame, n_closed: int, cal: _Calendar, seed: int
) -> pl.DataFrame:
    """Audit cases in progress at the data end (no closed_on, outcome or amount yet): a share of
    the closed ones, a third on the largest true gaps of ``pool`` (half of them per program),
    the rest at random."""
    n = min(max(3, round(OPEN_CASE_SHARE * n_closed)), pool.height)
    if n == 0:
        return pl.DataFrame()
    rng = np.random.default_rng([seed, 31])
    n_top = round(OPEN_CASE_TOP_SHARE * n)
    gap, program = pool["true_gap"].to_numpy(), pool["program"].to_numpy()
    by_gap = np.argsort(-gap, kind="stable")
    top = np.concatenate(
        [
            by_gap[program[by_gap] == "inexacto"][: n_top - n_top // 2],
            by_gap[program[by_gap] == "omiso"][: n_top // 2],
        ]
    )
    rest = np.setdiff1d(np.arange(pool.height), top)
    picked = np.sort(np.concatenate([top, rng.choice(rest, n - n_top, replace=False)]))
    cases = pool[picked]
    years = cases["tax_year"].to_numpy()
    lo = np.maximum(
        cal.end - 365, np.array([_day(int(y) + 1, *FILING_DEADLINE_MONTH_DAY) + 30 for y in years])
    )
    hi = cal.end - 30
    opened = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    return pl.DataFrame(
        {
            "nit": cases["nit"],
            "tax_year": cases["tax_year"],
            "program": cases["program"],
            "selection": pl.Series(["risk"] * n),
            "opened_on": _dates(opened),
            "closed_on": pl.Series([None] * n, dtype=pl.Date),
            "outcome": pl.Series([None] * n, dtype=pl.Utf8),
            "assessed_amount": pl.Series([None] * n, dtype=pl.Int64),
        }
    ).sort("opened_on", "nit", "tax_year")


def _simulate_year(
    ref: SimpleNamespace,
    cal: _Calendar,
    w: SimpleNamespace,
    seed: int,
    year: int,
    filed_prev: np.ndarray,
) -> dict[str, Any]:
    """Operations, returns, withholdings, payments, truth and audits of one tax year."""
    rng = np.random.default_rng([seed, 10, year])
    yi = year - cal.first_year
    y0, y1 = _day(year, 1, 1), _day(year, 12, 31)
    deadline = cal.deadline(year)
    dl = _day(deadline.year, deadline.month, deadline.day)

    act = np.flatnonzero((w.start <= y1) & (w.end >= y0))  # registered during the year
    m = act.size
    operating = year < w.dormant_year[act]
    frac = (np.minimum(w.end[act], y1) - np.maximum(w.start[act], y0) + 1) / (y1 - y0 + 1)
    gross_t = np.where(operating, _r1000(np.exp(w.inc_log[act, yi]) * frac), 0)
    out_sh = np.minimum(w.out_share[act] * np.exp(rng.normal(0.0, 0.15, m)), 0.6)
    ded_sh = np.minimum(w.ded_share[act] * np.exp(rng.normal(0.0, 0.2, m)), 0.9 - out_sh)
    out_t = _r1000(gross_t * out_sh)
    ded_t = np.minimum(_r1000(gross_t * ded_sh), gross_t - out_t)
    cls_t = w.cls[act]
    sign = w.signboard[act]
    blank = rng.random(m) < P_BOMBERIL_BLANK
    true = _form(gross_t, out_t, ded_t, ref.rate10[cls_t], sign, blank)

    wh_frame, wh_base, wh_amount = _withholdings(rng, ref, w, year, act, operating, gross_t)

    # Who files, and when.
    is_rit = w.is_rit[act]
    files = is_rit & operating & (rng.random(m) < w.p_file[act])
    on_time = rng.random(m) < w.p_on_time[act]
    early = np.minimum(np.floor(rng.exponential(18.0, m)), dl - _day(year + 1, 1, 2))
    delay = np.clip(np.ceil(rng.lognormal(np.log(80.0), 0.9, m)), 1, 800)
    filed_day = np.where(on_time, dl - early, dl + delay).astype(np.int64)
    files &= filed_day <= cal.end
    f = np.flatnonzero(files)
    nf = f.size
    ent = act[f]

    # What they declare.
    kind = np.where(rng.random(nf) < P_EVADE_IN_YEAR, w.kind[ent], 0)
    g_t, o_t, d_t = gross_t[f], out_t[f], ded_t[f]
    spread = w.world.spread_p
    if spread and year > cal.last_year - len(spread):
        # The new form (demo/worlds.py): honest small filers start claiming exempt income.
        r3 = np.random.default_rng([seed, 41, year])
        small = ~w.juridica[ent] | (w.band[ent] <= 1)
        p = spread[year - (cal.last_year - len(spread)) - 1]
        kind = np.where((kind == 0) & small & (r3.random(nf) < p), len(EVASION_KINDS), kind)
        exempt = _r1000(r3.uniform(0.25, 0.55, nf) * g_t)
    s = np.clip(w.hide_s[ent] + rng.normal(0.0, 0.05, nf), 0.2, 0.95)
    mo = np.clip(w.out_m[ent] + rng.normal(0.0, 0.05, nf), 0.1, 0.85)
    dd = np.clip(w.ded_d[ent] + rng.normal(0.0, 0.05, nf), 0.1, 0.8)
    hid = kind == 1
    g_d = np.where(hid, _r1000(g_t * s), g_t)
    o_d = np.where(hid, _r1000(o_t * s), o_t)
    d_d = np.minimum(np.where(hid, _r1000(d_t * s), d_t), g_d - o_d)
    o_d = np.where(kind == 2, np.minimum(_r1000(o_t + mo * g_t), g_d - d_d), o_d)
    d_d = np.where(kind == 3, np.minimum(np.maximum(d_t, _r1000(dd * g_t)), g_d - o_d), d_d)
    if spread and year > cal.last_year - len(spread):
        d_d = np.where(
            kind == len(EVASION_KINDS), np.minimum(np.maximum(d_t, exempt), g_d - o_d), d_d
        )
    cls_d = np.where(kind == 4, w.lower_cls[ent], w.decl_cls[ent])
    rate_d = ref.rate10[cls_d]
    decl = _form(g_d, o_d, d_d, rate_d, sign[f], blank[f])
    months_late = _months_late(filed_day[f], deadline)
    late_pct = np.minimum(5 * months_late, 100)
    credited = np.minimum(wh_amount[f], decl["total_tax"])
    penalties = _pct(decl["total_tax"], late_pct)

    # Corrections: the earlier filing understates (or, rarely, overstates) the final one.
    corr_day = filed_day[f] + rng.integers(20, 421, nf)
    c = np.flatnonzero((rng.random(nf) < P_CORRECTION) & (corr_day <= cal.end))
    q = np.where(
        rng.random(c.size) < 0.8, rng.uniform(0.85, 0.99, c.size), rng.uniform(1.01, 1.1, c.size)
    )
    g_o = _r1000(g_d[c] * q)
    o_o = np.minimum(_r1000(o_d[c] * q), g_o)
    d_o = np.minimum(_r1000(d_d[c] * q), g_o - o_o)
    orig = _form(g_o, o_o, d_o, rate_d[c], sign[f][c], blank[f][c])
    credited_o = np.minimum(wh_amount[f][c], orig["total_tax"])
    penalties_o = _pct(orig["total_tax"], late_pct[c])
    balance_o = np.maximum(0, orig["total_tax"] + penalties_o - credited_o)
    penalties[c] += _pct(np.maximum(0, decl["total_tax"][c] - orig["total_tax"]), 10)
    balance = np.maximum(0, decl["total_tax"] + penalties - credited)
    final_day = filed_day[f].copy()
    final_day[c] = corr_day[c]

    # One row per filing: every final return plus the superseded originals of corrections.
    sel = np.concatenate([np.arange(nf), c])
    version = np.repeat([1, 0], [nf, c.size])
    day = np.concatenate([final_day, filed_day[f][c]])
    order = np.lexsort((version, w.nit[ent[sel]], day))
    sel, day = sel[order], day[order]

    def column(final: np.ndarray, original: np.ndarray) -> np.ndarray:
        return np.concatenate([final, original])[order]

    lines = {k: column(decl[k], orig[k]) for k in decl}
    decl_all = pl.DataFrame(
        {
            "declaration_id": _ids(f"D{year}-", sel.size),
            "nit": _str(w.nit[ent[sel]]),
            "tax_year": np.full(sel.size, year, np.int64),
            "filed_on": _dates(day),
            **{k: lines[k] for k in ("gross_income", "income_outside", "deductions")},
            "taxable_income": lines["taxable_income"],
            "ciiu": _labels(ref.code, cls_d[sel]),
            "rate_per_mil": ref.rate10[cls_d[sel]] / 10.0,
            "ica_tax": lines["ica_tax"],
            "avisos_tableros": lines["avisos_tableros"],
            "sobretasa_bomberil": _null_where(lines["sobretasa_bomberil"], blank[f][sel]),
            "total_tax": lines["total_tax"],
            "withholdings_credited": column(credited, credited_o),
            "penalties": column(penalties, penalties_o),
            "balance_due": column(balance, balance_o),
        }
    )

    # Payments: the original balance after the first filing, the difference after a correction.
    natural_micro = ~w.juridica[ent] & (w.band[ent] == 0)
    p_arrears = np.where(w.ctype[ent] == 1, 0.15, np.where(natural_micro, 0.10, 0.04))
    u = rng.random(nf)
    category = np.where(u < p_arrears, 2, np.where(u < p_arrears + 0.10, 1, 0))
    first_amount = balance.copy()
    first_amount[c] = np.minimum(balance_o, balance[c])
    pay = _payments(
        rng,
        year,
        cal.end,
        np.concatenate([w.nit[ent], w.nit[ent[c]]]),
        np.concatenate([first_amount, balance[c] - first_amount[c]]),
        np.concatenate([filed_day[f], corr_day[c]]),
        np.concatenate([category, category[c]]),
    )

    # Truth: every filed return (inexacto) and every registered entity that did not file (omiso).
    gap_f = np.maximum(0, true["total_tax"][f] - decl["total_tax"])
    o = np.flatnonzero(~files)
    omiso_kind = np.where(~operating[o], 2, np.where(is_rit[o], 0, 1))
    t_nit = np.concatenate([w.nit[ent], w.nit[act[o]]])
    t_program = np.repeat([0, 1], [nf, o.size])
    order = np.lexsort((t_nit, t_program))
    truth = pl.DataFrame(
        {
            "nit": _str(t_nit[order]),
            "tax_year": np.full(nf + o.size, year, np.int64),
            "program": _labels(("inexacto", "omiso"), t_program[order]),
            "true_income": np.concatenate([g_t, gross_t[o]])[order],
            "true_tax": np.concatenate([true["total_tax"][f], true["total_tax"][o]])[order],
            "declared_tax": np.concatenate([decl["total_tax"], np.zeros(o.size, np.int64)])[order],
            "true_gap": np.concatenate([gap_f, true["total_tax"][o]])[order],
            "kind": _labels(
                EVASION_KINDS + ("spread_exempt",) * bool(spread) + OMISO_KINDS,
                np.concatenate([kind, len(EVASION_KINDS) + bool(spread) + omiso_kind])[order],
            ),
        },
    )

    # Audits of this tax year (closed by the data end; none for the last year).
    audits = []
    open_lo = dl + 183
    open_hi = min(dl + 913, cal.end - 61)
    maturity = min(max(open_hi - open_lo, 0), 730) / 730
    if maturity > 0:
        last_filed = np.maximum(final_day, filed_day[f])
        lo_f = np.maximum(open_lo, last_filed + 30)
        gross_safe = g_d + 1e6
        assets_f = w.assets[ent]
        score_f = (
            w.world.audit_size_inexacto * np.log(gross_safe)
            + 1.6 * (wh_base[f] > g_d)
            + 0.8 * (o_d > 0.35 * g_d)
            + 0.6 * (d_d > 0.30 * g_d)
            + 0.4 * ref.visible[cls_t[f]]
            + 0.5 * (cls_d != w.rit_cls[ent])
            + 0.3 * np.log1p(assets_f / gross_safe)
            + rng.normal(0.0, 0.8, nf)
        )
        n_inex = round(AUDIT_RATE_INEXACTO * w.world.audit_rate * nf * maturity)
        picked, is_rand = _select_audits(
            rng, lo_f <= open_hi, score_f, n_inex, w.world.random_audit_share
        )
        audits.append(
            _audit_frame(
                rng,
                cal,
                year,
                "inexacto",
                w.nit[ent[picked]],
                gap_f[picked],
                lo_f[picked],
                open_hi,
                is_rand,
            )
        )
        eo = act[o]
        score_o = (
            w.world.audit_size_omiso * np.log(w.assets[eo] + 1e6)
            + 0.9 * (w.renewal[eo] >= year)
            + 1.2 * (wh_base[o] > 0)
            + 0.5 * (w.employees[eo] >= 3)
            + 0.6 * filed_prev[eo]
            + rng.normal(0.0, 0.8, o.size)
        )
        n_om = round(AUDIT_RATE_OMISO * w.world.audit_rate * o.size * maturity)
        picked, is_rand = _select_audits(
            rng, np.ones(o.size, bool), score_o, n_om, w.world.random_audit_share
        )
        audits.append(
            _audit_frame(
                rng,
                cal,
                year,
                "omiso",
                w.nit[eo[picked]],
                true["total_tax"][o][picked],
                np.full(picked.size, open_lo),
                open_hi,
                is_rand,
            )
        )

    filed_now = np.zeros(w.n, bool)
    filed_now[ent] = True
    return {
        "declarations": decl_all,
        "payments": pay,
        "withholdings": wh_frame,
        "truth": truth,
        "audits": audits,
        "filed": filed_now,
        "evader_firms": np.unique(ent[kind > 0]),
    }


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------
def _prepare(landing: Path, truth_dir: Path) -> None:
    """Refuse a truth folder inside landing; clear only the folders and files this module owns."""
    lr, tr = landing.resolve(), truth_dir.resolve()
    if tr == lr or tr.is_relative_to(lr):
        raise ValueError(f"truth_dir {truth_dir} must not be inside the landing folder {landing}")
    for source in LANDING_SOURCES:
        folder = lr / source
        if folder.is_dir():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    tr.mkdir(parents=True, exist_ok=True)
    for name in TRUTH_FILES:
        (tr / name).unlink(missing_ok=True)


def _date_range(frame: pl.DataFrame) -> tuple[date | None, date | None]:
    cols = [c for c, t in frame.schema.items() if t == pl.Date]
    if not cols or frame.height == 0:
        return None, None
    row = frame.select(
        pl.min_horizontal(pl.col(cols).min()).alias("lo"),
        pl.max_horizontal(pl.col(cols).max()).alias("hi"),
    ).row(0)
    return row[0], row[1]


def generate(
    landing: Path,
    truth_dir: Path,
    *,
    taxpayers: int = 15_000,
    seed: int = 42,
    first_year: int = 2018,
    last_year: int = 2024,
    municipality: str = "05615",
    world: str | World = "rionegro",
    past_campaign: bool = True,
    campaign_effect: float = 1.0,
) -> DemoSummary:
    """Write a seeded synthetic municipality to ``landing`` and its planted truth to ``truth_dir``.

    ``taxpayers`` is the number of RIT entities; every other population (unregistered entities,
    withholding agents, establishments elsewhere, audits) scales with it. Only the six source
    folders under ``landing`` and the two truth files are replaced; ``landing/ciiu_rates`` is never
    written, so the pipeline's default tariff (the true one here) applies. The same arguments
    always give byte-identical files. ``world`` names the assumptions (``demo/worlds.py``): the
    default ``rionegro`` is the original demo, ``llanura`` a municipality unlike it.
    """
    if isinstance(world, str) and world not in WORLDS:
        raise ValueError(f"unknown world {world!r}: one of {', '.join(WORLDS)}")
    if taxpayers < 50:
        raise ValueError("taxpayers must be at least 50")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    if not 1991 <= first_year <= last_year <= 2090:
        raise ValueError("need 1991 <= first_year <= last_year <= 2090")
    if len(municipality) != 5 or not municipality.isdigit():
        raise ValueError("municipality must be a 5-digit DANE code")
    landing, truth_dir = Path(landing), Path(truth_dir)
    _prepare(landing, truth_dir)

    ref = _reference()
    cal = _Calendar(first_year, last_year)
    spec = WORLDS[world] if isinstance(world, str) else world
    world = _build_world(ref, cal, taxpayers, seed, spec)
    rit, rues = _registries(ref, cal, world, seed, municipality)

    rows: dict[str, int] = {s: 0 for s in LANDING_SOURCES}
    lo_dates: list[date] = []
    hi_dates: list[date] = []

    def write(frame: pl.DataFrame, path: Path, source: str) -> None:
        frame.write_csv(path)
        rows[source] += frame.height
        lo, hi = _date_range(frame)
        if lo is not None:
            lo_dates.append(lo)
            hi_dates.append(hi)

    write(rit, landing / "taxpayers" / "taxpayers.csv", "taxpayers")
    write(rues, landing / "commerce_registry" / "commerce_registry.csv", "commerce_registry")
    del rit, rues  # keep memory bounded by one year from here on

    truth_counts: dict[str, dict[str, int]] = {"inexacto": {}, "omiso": {}}
    truth_gaps: dict[str, dict[str, int]] = {"inexacto": {}, "omiso": {}}
    truth_rows = 0
    audit_parts: list[pl.DataFrame] = []
    open_pools: list[pl.DataFrame] = []
    evader_firms: list[np.ndarray] = []
    filed_prev = np.zeros(world.n, bool)
    with open(truth_dir / "tax_gap.csv", "wb") as truth_file:
        for year in cal.years:
            out = _simulate_year(ref, cal, world, seed, year, filed_prev)
            filed_prev = out["filed"]
            write(out["declarations"], landing / "declarations" / f"declarations_{year}.csv",
                  "declarations")  # fmt: skip
            write(out["payments"], landing / "payments" / f"payments_{year}.csv", "payments")
            write(out["withholdings"], landing / "withholdings" / f"withholdings_{year}.csv",
                  "withholdings")  # fmt: skip
            truth = out["truth"]
            truth.write_csv(truth_file, include_header=truth_rows == 0)
            truth_rows += truth.height
            stats = truth.group_by("program", "kind").agg(
                pl.len().alias("n"), pl.col("true_gap").sum().alias("gap")
            )
            for program, kind, n, gap in stats.iter_rows():
                truth_counts[program][kind] = truth_counts[program].get(kind, 0) + n
                truth_gaps[program][kind] = truth_gaps[program].get(kind, 0) + int(gap)
            open_pools.append(_open_case_pool(truth, out["audits"], cal, year, seed))
            audit_parts.extend(out["audits"])
            evader_firms.append(out["evader_firms"])
            del out, truth

    audits = pl.concat(audit_parts).sort("opened_on", "_n", "tax_year", "program")
    audits = audits.select(_ids("C", audits.height).alias("case_id"), pl.exclude("_n"))
    # Cases in progress at the data end follow the closed ones in the same export, numbered
    # after them, so the closed cases keep their ids and rows.
    pools = [p for p in open_pools if p.height]
    open_cases = _open_cases(pl.concat(pools), audits.height, cal, seed) if pools else None
    if open_cases is not None and open_cases.height:
        ids = _ids("C", audits.height + open_cases.height)[audits.height :]
        audits = pl.concat(
            [audits, open_cases.select(ids.alias("case_id"), pl.all())], how="vertical_relaxed"
        )
    write(audits, landing / "audits" / "audits.csv", "audits")

    evaders = np.unique(np.concatenate(evader_firms))
    evader_kinds = np.bincount(world.kind[evaders], minlength=len(EVASION_KINDS))
    audit_stats = (
        audits.group_by("program", "selection", "outcome").agg(pl.len().alias("n")).sort(pl.all())
    )
    unreg = ~world.is_rit
    rit_dormant = world.is_rit & (world.dormant_year <= last_year)
    manifest = {
        "generator": "fiscal_intel.demo.generator",
        "seed": seed,
        "args": {
            "taxpayers": taxpayers,
            "seed": seed,
            "first_year": first_year,
            "last_year": last_year,
            "municipality": municipality,
            **({} if spec.is_default else {"world": spec.name}),
            **(
                {}
                if spec.is_default or spec.name in WORLDS
                else {"world_spec": {k: v for k, v in asdict(spec).items() if k != "name"}}
            ),
        },
        "date_range": {
            "period_start": date(first_year, 1, 1).isoformat(),
            "data_end": date(last_year + 1, *DATA_END_MONTH_DAY).isoformat(),
            "min_date_in_files": min(lo_dates).isoformat(),
            "max_date_in_files": max(hi_dates).isoformat(),
        },
        "filing_deadline_month_day": list(FILING_DEADLINE_MONTH_DAY),
        "rows": rows,
        "truth_rows": truth_rows,
        "truth_rows_by_program_kind": {p: dict(sorted(d.items())) for p, d in truth_counts.items()},
        "truth_gap_by_program_kind": {p: dict(sorted(d.items())) for p, d in truth_gaps.items()},
        "entities": {
            "rit": int(world.is_rit.sum()),
            "rit_juridica": int((world.is_rit & world.juridica).sum()),
            "rit_dormant_in_period": int(rit_dormant.sum()),
            "rit_by_compliance": {
                name: int((world.is_rit & (world.ctype == i)).sum())
                for i, name in enumerate(COMPLIANCE_TYPES)
            },
            "unregistered_operating": int((unreg & (world.dormant_year > last_year)).sum()),
            "unregistered_dormant": int((unreg & (world.dormant_year <= last_year)).sum()),
            "withholding_agents": int(world.is_agent.sum()),
            **(
                {}
                if spec.is_default
                else {
                    "contractors_registered_elsewhere": int(world.contractor.sum()),
                    "fragmented_businesses": int(world.group.max() + 1),
                    "fragment_nits": int((world.group >= 0).sum()),
                }
            ),
            "suppliers_with_withholding": int(world.supplier.sum()),
            "evader_firms_that_filed_by_kind": {
                EVASION_KINDS[i]: int(evader_kinds[i]) for i in range(1, len(EVASION_KINDS))
            },
        },
        "open_audit_cases": int(audits["closed_on"].null_count()),
        "audits_by_program_selection_outcome": [
            {"program": p, "selection": s, "outcome": o, "n": n}
            for p, s, o, n in audit_stats.iter_rows()
        ],
        "planted": {
            "p_evader_by_band": dict(zip(BANDS, P_EVADER_BY_BAND, strict=True)),
            "evasion_kind_p_by_band": {
                band: dict(zip(EVASION_KINDS[1:], p, strict=True))
                for band, p in zip(BANDS, EVASION_KIND_P_BY_BAND, strict=True)
            },
            "p_evade_in_year": P_EVADE_IN_YEAR,
            "p_correction": P_CORRECTION,
            "p_file_by_compliance": dict(zip(COMPLIANCE_TYPES, P_FILE, strict=True)),
            "p_on_time_by_compliance": dict(zip(COMPLIANCE_TYPES, P_ON_TIME, strict=True)),
            "audit_rate_inexacto": AUDIT_RATE_INEXACTO,
            "audit_rate_omiso": AUDIT_RATE_OMISO,
            "random_audit_share": RANDOM_AUDIT_SHARE,
            "audit_min_gap": AUDIT_MIN_GAP,
            "p_audit_detects": P_AUDIT_DETECTS,
            "open_case_share": OPEN_CASE_SHARE,
            "open_case_top_share": OPEN_CASE_TOP_SHARE,
            "rounding": "form lines half-up to thousands; withholdings whole pesos",
            "tariff": "fiscal_intel/reference/ciiu_rates_default.csv",
        },
    }
    (truth_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
        encoding="utf-8",
    )
    # A past letter campaign with a random control group (fiscal_intel.demo.campaign); its
    # register goes to truth_dir/campaign_register.csv for the demo to import.
    from fiscal_intel.demo.campaign import plant_campaign

    for name in ("campaign_register.csv", "campaign_truth.csv", "campaign_manifest.json"):
        (truth_dir / name).unlink(missing_ok=True)
    if past_campaign:
        plant_campaign(landing, truth_dir, seed=seed, last_year=last_year, effect=campaign_effect)
    elif (landing / "actions").is_dir():
        shutil.rmtree(landing / "actions")
    return DemoSummary(
        landing=landing, truth_dir=truth_dir, taxpayers=taxpayers, seed=seed, rows=rows
    )
