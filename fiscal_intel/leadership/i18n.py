"""Words and number formats of the leadership report, in Spanish (default) and English."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("es", "en")

# CIIU Rev.4 A.C. sections (= ISIC Rev.4), short names a reader recognises.
SECTIONS = {
    "es": {
        "A": "Agropecuario y pesca", "B": "Minas y canteras", "C": "Industria manufacturera",
        "D": "Electricidad y gas", "E": "Agua y saneamiento", "F": "Construcción",
        "G": "Comercio y reparación de vehículos", "H": "Transporte y almacenamiento",
        "I": "Alojamiento y comida", "J": "Información y comunicaciones",
        "K": "Financieras y seguros", "L": "Inmobiliarias",
        "M": "Profesionales, científicas y técnicas", "N": "Servicios administrativos",
        "O": "Administración pública", "P": "Educación", "Q": "Salud y asistencia social",
        "R": "Arte y recreación", "S": "Otros servicios", "T": "Hogares empleadores",
        "U": "Organizaciones extraterritoriales",
    },
    "en": {
        "A": "Agriculture and fishing", "B": "Mining and quarrying", "C": "Manufacturing",
        "D": "Electricity and gas", "E": "Water and waste", "F": "Construction",
        "G": "Wholesale and retail trade", "H": "Transport and storage",
        "I": "Accommodation and food", "J": "Information and communication",
        "K": "Finance and insurance", "L": "Real estate", "M": "Professional and technical",
        "N": "Administrative services", "O": "Public administration", "P": "Education",
        "Q": "Health and social work", "R": "Arts and recreation", "S": "Other services",
        "T": "Households as employers", "U": "Extraterritorial bodies",
    },
}  # fmt: skip

TEXT = {
    "es": {
        "title": "Recaudo del impuesto de industria y comercio (ICA)",
        "subtitle": "Municipio DANE {municipality} · datos al {as_of}",
        "confidential_note": (
            "Solo cifras agregadas (reserva tributaria, art. 583 E.T.): ninguna cifra se construye "
            "con menos de {k} contribuyentes; las celdas pequeñas se agrupan como «reservado»."
        ),
        "kpi_collected": "Recaudo {year}",
        "kpi_growth": "nominal {nominal} · real {real}",
        "kpi_forecast": "Pronóstico {year}",
        "kpi_interval": "intervalo 95 %: {lo} – {hi}",
        "kpi_arrears": "Cartera declarada sin pagar",
        "kpi_arrears_sub": "{share} con 5 años o más (posible prescripción)",
        "kpi_gap": "Brecha tributaria estimada (mínimo), por año",
        "kpi_gap_sub": "{share} del potencial · muestra aleatoria de {n} auditorías",
        "kpi_filing": "Declaraciones a tiempo {year}",
        "kpi_filing_sub": "{rate} de los obligados declararon",
        "na": "s. d.",
        "charts": "Gráficos",
        "tables": "Tablas",
        "notes": "Notas de método",
        "trend": "1. Tendencia del recaudo",
        "trend_annual": "Recaudo por año calendario (nominal y a pesos constantes de {base})",
        "trend_monthly": "Recaudo mensual, últimos 36 meses",
        "nominal": "Nominal",
        "real": "Pesos constantes",
        "collected": "Recaudo",
        "sectors": "2. Mezcla sectorial y territorial",
        "sector_chart": "Impuesto declarado por sección CIIU, año gravable {year}",
        "comuna_chart": "Impuesto declarado por comuna, año gravable {year}",
        "compliance": "3. Cumplimiento",
        "compliance_chart": "Obligados a declarar por año gravable",
        "on_time": "A tiempo",
        "late": "Tarde",
        "non_filers": "Omisos",
        "filing_rate": "Tasa de declaración",
        "arrears": "4. Cartera",
        "arrears_chart": "Saldo declarado sin pagar por antigüedad",
        "arrears_sector_chart": "Saldo sin pagar por sección CIIU (todas las antigüedades)",
        "age": "Antigüedad",
        "years_suffix": "años",
        "audit_yield": "5. Rendimiento de la fiscalización",
        "yield_chart": "Impuesto liquidado por las auditorías cerradas, por año y programa",
        "organic_chart": "Crecimiento del recaudo: total y orgánico (sin fiscalización)",
        "omiso": "Omisos",
        "inexacto": "Inexactos",
        "total": "Total",
        "growth_total": "Crecimiento total",
        "growth_organic_real": "Orgánico real",
        "gap": "6. Brecha tributaria",
        "gap_chart": "Brecha estimada con la muestra aleatoria de auditorías (intervalo 95 %)",
        "mean_per_case": "Media por caso × población",
        "ratio_to_declared": "Razón al impuesto declarado",
        "forecast": "7. Pronóstico",
        "forecast_chart": "Recaudo anual y pronóstico (intervalo 95 %)",
        "actual": "Observado",
        "to_date": "Recaudado en el año a la fecha",
        "model": "Modelo",
        "naive": "Ingenuo (último año × crecimiento)",
        "backtest": "Error de pronóstico en años pasados (retroprueba)",
        "withheld": "Reservado (< {k} contribuyentes)",
        "unknown": "Sin actividad conocida",
        "no_comuna": "Sin comuna (no inscrito en el RIT)",
        "none": "Sin datos publicables para esta sección.",
        "monthly_forecast_chart": "Recaudo mensual: últimos 12 meses y pronóstico de los 12 "
        "siguientes (intervalo 80 %)",
        "monthly_forecast_note": "Los meses pronosticados de cada año, con lo ya recaudado, "
        "suman el pronóstico anual. El intervalo sale de los errores del modelo en los dos "
        "últimos años, así que cubre menos del 80 % de los meses cuando el calendario de pagos "
        "cambia (en Rionegro, diciembre pasó de ~10 % a 25-39 % del año en 2018).",
        "partial": "{year} (parcial)",
        "note_open_filing": "Año gravable {year}: el plazo venció el {deadline}, hace {months} "
        "meses. La mayoría de las declaraciones que faltan llegan tarde, no son omisiones: la "
        "tasa de declaración de ese año aún subirá.",
        "note_gap_cumulative": "El gráfico muestra la brecha acumulada de {first} a {last} (todos "
        "los años juntos); la tarjeta de arriba muestra el promedio por año.",
        "note_partial_year": "{year} está en curso: sus cifras cubren hasta el {as_of}.",
        # table headers
        "h_year": "Año", "h_tax_year": "Año gravable", "h_collected": "Recaudo",
        "h_real": "A pesos constantes", "h_growth": "Crec. nominal", "h_growth_real": "Crec. real",
        "h_organic_growth": "Crec. orgánico real", "h_section": "Sección CIIU",
        "h_comuna": "Comuna",
        "h_declared": "Impuesto declarado", "h_share": "Participación", "h_filers": "Declarantes",
        "h_obliged": "Obligados", "h_on_time": "A tiempo", "h_late": "Tarde",
        "h_non_filers": "Omisos", "h_filing_rate": "Tasa de declaración",
        "h_nonfiler_tax": "Impuesto estimado de omisos", "h_age": "Antigüedad (años)",
        "h_debtors": "Deudores", "h_outstanding": "Saldo sin pagar",
        "h_unpaid_share": "% sin pagar", "h_program": "Programa", "h_cases": "Casos cerrados",
        "h_adjusted": "Con hallazgo", "h_hit_rate": "Tasa de acierto",
        "h_assessed": "Liquidado", "h_enforcement": "Recaudo por fiscalización",
        "h_method": "Método", "h_years": "Años", "h_sample": "Muestra",
        "h_population": "Población", "h_estimate": "Estimado", "h_interval": "Intervalo 95 %",
        "h_gap_share": "% del potencial", "h_target": "Año", "h_origin": "Datos hasta",
        "h_forecast": "Pronóstico", "h_actual": "Observado", "h_error": "Error",
        "h_horizon": "Horizonte (meses)", "h_mape": "Error medio absoluto",
        "h_n": "Años probados",
        "method_notes": [
            "Recaudo: pagos recibidos, por mes de pago y por año calendario; «año gravable» es el "
            "año declarado. Pesos constantes y crecimiento real con el IPC de DANE (variación "
            "diciembre a diciembre).",
            "Reserva tributaria: toda celda con menos de {k} contribuyentes se agrupa con otras "
            "(«reservado») o se omite; los totales se conservan.",
            "Obligados: inscritos en el RIT, matrícula mercantil local abierta, o con pagos "
            "reportados por agentes de retención de ICA en el año. El impuesto de los omisos se "
            "estima con la media liquidada en las auditorías aleatorias de omisos.",
            "Cartera: saldo a pagar de las declaraciones vigentes menos los pagos aplicados a ese "
            "año; la acción de cobro prescribe a los 5 años (art. 817 E.T.).",
            "Brecha: la muestra aleatoria de auditorías es insesgada; el valor liquidado no "
            "incluye la evasión que la auditoría no detecta, así que la brecha es un mínimo. "
            "Pocos grandes contribuyentes en la muestra hacen el intervalo optimista.",
            "Pronóstico: el último año completo crece al ritmo real medio de los años anteriores "
            "más la inflación ya publicada; con parte del año recaudada se combina con el recaudo "
            "del año a la fecha dividido por la fracción que los años pasados llevaban a ese mes.",
        ],
    },
    "en": {
        "title": "Industry and commerce tax (ICA) revenue",
        "subtitle": "Municipality DANE {municipality} · data as of {as_of}",
        "confidential_note": (
            "Aggregates only (tax secrecy, Tax Statute art. 583): no figure is built from fewer "
            "than {k} taxpayers; small cells are pooled as “withheld”."
        ),
        "kpi_collected": "Collected {year}",
        "kpi_growth": "nominal {nominal} · real {real}",
        "kpi_forecast": "Forecast {year}",
        "kpi_interval": "95% interval: {lo} – {hi}",
        "kpi_arrears": "Declared but unpaid",
        "kpi_arrears_sub": "{share} is 5 years old or more (likely prescribed)",
        "kpi_gap": "Estimated tax gap (a floor), per year",
        "kpi_gap_sub": "{share} of potential · random sample of {n} audits",
        "kpi_filing": "Returns filed on time {year}",
        "kpi_filing_sub": "{rate} of those obliged filed",
        "na": "n/a",
        "charts": "Charts",
        "tables": "Tables",
        "notes": "Method notes",
        "trend": "1. Revenue trend",
        "trend_annual": "Collection per calendar year (nominal and in constant {base} pesos)",
        "trend_monthly": "Monthly collection, last 36 months",
        "nominal": "Nominal",
        "real": "Constant pesos",
        "collected": "Collected",
        "sectors": "2. Sector and district mix",
        "sector_chart": "Tax declared by CIIU section, tax year {year}",
        "comuna_chart": "Tax declared by district (comuna), tax year {year}",
        "compliance": "3. Compliance",
        "compliance_chart": "Taxpayers obliged to file, per tax year",
        "on_time": "On time",
        "late": "Late",
        "non_filers": "Non-filers",
        "filing_rate": "Filing rate",
        "arrears": "4. Arrears",
        "arrears_chart": "Declared but unpaid balance by age",
        "arrears_sector_chart": "Unpaid balance by CIIU section (all ages)",
        "age": "Age",
        "years_suffix": "years",
        "audit_yield": "5. Audit yield",
        "yield_chart": "Tax assessed by closed audits, per year and program",
        "organic_chart": "Collection growth: total and organic (without enforcement)",
        "omiso": "Non-filers",
        "inexacto": "Under-reporters",
        "total": "Total",
        "growth_total": "Total growth",
        "growth_organic_real": "Organic, real",
        "gap": "6. Tax gap",
        "gap_chart": "Gap estimated from the random audit sample (95% interval)",
        "mean_per_case": "Mean per case × population",
        "ratio_to_declared": "Ratio to declared tax",
        "forecast": "7. Forecast",
        "forecast_chart": "Annual collection and forecast (95% interval)",
        "actual": "Actual",
        "to_date": "Collected so far this year",
        "model": "Model",
        "naive": "Naive (last year × growth)",
        "backtest": "Forecast error on past years (backtest)",
        "withheld": "Withheld (< {k} taxpayers)",
        "unknown": "Activity unknown",
        "no_comuna": "No district (not in the tax registry)",
        "none": "No publishable data for this section.",
        "monthly_forecast_chart": "Monthly collection: the last 12 months and the forecast of "
        "the next 12 (80% interval)",
        "monthly_forecast_note": "The forecast months of each year, with what it has already "
        "collected, add up to the yearly forecast. The interval comes from the model's errors "
        "over the last two years, so it holds fewer than 80% of the months when the payment "
        "calendar moves (in Rionegro, December went from ~10% to 25-39% of the year in 2018).",
        "partial": "{year} (partial)",
        "note_open_filing": "Tax year {year}: the deadline was {deadline}, {months} months ago. "
        "Most missing returns are late, not omitted: that year's filing rate will still rise.",
        "note_gap_cumulative": "The chart shows the gap accumulated from {first} to {last} (all "
        "years together); the card above shows the average per year.",
        "note_partial_year": "{year} is in progress: its figures run to {as_of}.",
        "h_year": "Year", "h_tax_year": "Tax year", "h_collected": "Collected",
        "h_real": "Constant pesos", "h_growth": "Nominal growth", "h_growth_real": "Real growth",
        "h_organic_growth": "Organic real growth", "h_section": "CIIU section",
        "h_comuna": "District",
        "h_declared": "Tax declared", "h_share": "Share", "h_filers": "Filers",
        "h_obliged": "Obliged", "h_on_time": "On time", "h_late": "Late",
        "h_non_filers": "Non-filers", "h_filing_rate": "Filing rate",
        "h_nonfiler_tax": "Estimated non-filer tax", "h_age": "Age (years)",
        "h_debtors": "Debtors", "h_outstanding": "Unpaid balance", "h_unpaid_share": "% unpaid",
        "h_program": "Program", "h_cases": "Cases closed", "h_adjusted": "With findings",
        "h_hit_rate": "Hit rate", "h_assessed": "Assessed", "h_enforcement": "Enforcement revenue",
        "h_method": "Method", "h_years": "Years", "h_sample": "Sample",
        "h_population": "Population", "h_estimate": "Estimate", "h_interval": "95% interval",
        "h_gap_share": "% of potential", "h_target": "Year", "h_origin": "Data up to",
        "h_forecast": "Forecast", "h_actual": "Actual", "h_error": "Error",
        "h_horizon": "Horizon (months)", "h_mape": "Mean absolute error", "h_n": "Years tested",
        "method_notes": [
            "Collection: payments received, by month of payment and calendar year; “tax year” is "
            "the year declared. Constant pesos and real growth use DANE's CPI (December on "
            "December).",
            "Tax secrecy: every cell with fewer than {k} taxpayers is pooled with others "
            "(“withheld”) or left out; totals are kept.",
            "Obliged: in the municipal tax registry, an open local chamber-of-commerce "
            "registration, or paid by ICA withholding agents that year. Non-filers' tax is "
            "estimated with the mean assessed by random non-filer audits.",
            "Arrears: balance due on current returns minus the payments applied to that year; the "
            "collection action prescribes after 5 years (Tax Statute art. 817).",
            "Gap: the random audit sample is unbiased, but assessed amounts miss the evasion "
            "audits do not detect, so the gap is a floor. Few large taxpayers in the sample make "
            "the interval optimistic.",
            "Forecast: the last complete year grows at the mean real growth of past years plus "
            "the inflation already published; once part of the year is collected, it is combined "
            "with the year-to-date collection over the share past years had reached by that month.",
        ],
    },
}


@dataclass(frozen=True)
class Formats:
    """Numbers as a reader of the language writes them."""

    language: str

    def _group(self, text: str) -> str:
        # Python formats 1,234.5; Spanish (Colombia) writes 1.234,5.
        if self.language == "es":
            return text.replace(",", "_").replace(".", ",").replace("_", ".")
        return text

    def number(self, v: float | None, decimals: int = 0) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return TEXT[self.language]["na"]
        return self._group(f"{v:,.{decimals}f}")

    def money(self, v: float | None) -> str:
        """Short pesos: thousands of millions (es) / billions (en), or millions."""
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return TEXT[self.language]["na"]
        a = abs(v)
        if self.language == "es":
            if a >= 1e9:
                return f"$ {self.number(v / 1e9, 1)} mil M"
            if a >= 1e6:
                return f"$ {self.number(v / 1e6, 0)} M"
            return f"$ {self.number(v, 0)}"
        if a >= 1e9:
            return f"COP {self.number(v / 1e9, 1)} bn"
        if a >= 1e6:
            return f"COP {self.number(v / 1e6, 0)} m"
        return f"COP {self.number(v, 0)}"

    def axis_money(self, v: float) -> str:
        if abs(v) >= 1e9:
            return self.number(v / 1e9, 0 if v % 1e9 == 0 else 1) + (
                " mil M" if self.language == "es" else " bn"
            )
        if abs(v) >= 1e6:
            return self.number(v / 1e6, 0) + (" M" if self.language == "es" else " m")
        return self.number(v, 0)

    def date(self, d: Any) -> str:
        """A day as the reader writes it: 30/04/2025 (es), 2025-04-30 (en)."""
        return d.strftime("%d/%m/%Y") if self.language == "es" else d.isoformat()

    def pct(self, v: float | None, decimals: int = 1) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return TEXT[self.language]["na"]
        s = self.number(v * 100, decimals)
        return f"{s} %" if self.language == "es" else f"{s}%"
