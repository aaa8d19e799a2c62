"""The report finance leadership reads: one self-contained HTML file, charts first, tables second.

It is built from the leadership marts only (never from staging), so it shows exactly what the
shareable export shows and inherits its tax-secrecy suppression; it runs on the warehouse or on
an exported leadership file alike. No script, no external resource: a Content-Security-Policy
forbids the browser to fetch anything, so the file reads the same offline, emailed or printed.
Same marts in, same bytes out: nothing depends on the clock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from fiscal_intel.leadership.charts import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    SKY,
    VERMILION,
    Series,
    bar_list,
    column_chart,
)
from fiscal_intel.leadership.i18n import LANGUAGES, SECTIONS, TEXT, Formats
from fiscal_intel.published import reading

CSS = """
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; color: #222; margin: 0;
       background: #fff; line-height: 1.4; }
header { background: #0b3d5c; color: #fff; padding: 22px 32px 18px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 2px 0; color: #dce8f0; font-size: 14px; }
main { max-width: 1120px; margin: 0 auto; padding: 8px 32px 40px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px;
        margin: 18px 0 8px; }
.kpi { border: 1px solid #d5dde3; border-left: 5px solid #0072B2; border-radius: 4px;
       padding: 10px 12px; }
.kpi .label { font-size: 13px; color: #555; }
.kpi .value { font-size: 24px; font-weight: bold; margin: 2px 0; }
.kpi .sub { font-size: 12px; color: #555; }
h2 { border-bottom: 2px solid #0b3d5c; padding-bottom: 4px; margin-top: 34px; }
h3 { margin: 26px 0 6px; font-size: 18px; color: #0b3d5c; }
figure { margin: 10px 0 18px; }
svg.chart { max-width: 100%; height: auto; font-family: inherit; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e7ea; }
th { background: #f1f4f6; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; padding: 6px 0; }
.note { color: #555; font-size: 13px; }
footer { color: #777; font-size: 12px; padding: 16px 32px; border-top: 1px solid #ddd; }
.scroll, figure { overflow-x: auto; max-width: 100%; }
/* A phone (390 px): charts keep a readable width and scroll sideways inside their frame, with
   their text enlarged; tables scroll inside theirs; the page itself never overflows. */
@media (max-width: 640px) {
  header { padding: 14px 12px 12px; }
  header h1 { font-size: 20px; }
  main { padding: 4px 12px 24px; }
  footer { padding: 12px; }
  svg.chart { min-width: 700px; }
  svg.chart text { font-size: 16px; }
}
@media print { header { background: #fff; color: #000; } header p { color: #333; } }
"""

_PROGRAM_ORDER = {"omiso": 0, "inexacto": 1, "total": 2}

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


@dataclass
class ReportData:
    """What the report shows, read from the leadership marts."""

    as_of: date | None
    annual: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    monthly: list[dict[str, Any]]
    yearly: list[dict[str, Any]]
    compliance: list[dict[str, Any]]
    arrears: list[dict[str, Any]]
    yield_rows: list[dict[str, Any]]
    gap: list[dict[str, Any]]
    forecast: list[dict[str, Any]]
    monthly_forecast: list[dict[str, Any]]


def read_report_data(
    con: duckdb.DuckDBPyConnection, rounding_cop: int = 1_000_000
) -> ReportData:
    """Everything the report needs, from ``marts.*`` (plus the as-of date when staging exists),
    with the figures rounded as in the shareable export (tax secrecy: ``published_columns``)."""
    from fiscal_intel.leadership.export import published_columns

    catalog = con.execute("select current_database()").fetchall()[0][0]
    marts = {
        t: f"(select {published_columns(con, catalog, t, rounding_cop)} from marts.{t})"
        for t in ("revenue_forecast", "audit_yield", "revenue_monthly", "revenue_yearly",
                  "compliance_yearly", "arrears", "tax_gap")
    }  # fmt: skip
    monthly_forecast: list[dict[str, Any]] = []
    if _has_table(con, "marts", "revenue_forecast_monthly"):  # files exported before it: none
        cols = published_columns(con, catalog, "revenue_forecast_monthly", rounding_cop)
        monthly_forecast = _rows(
            con, f"select {cols} from marts.revenue_forecast_monthly order by month"
        )
    as_of = None
    if _has_table(con, "staging", "as_of_date"):
        as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    forecast = _rows(
        con, f"select * from {marts['revenue_forecast']} order by target_year, kind, method"
    )
    if as_of is None:
        origins = [r["origin"] for r in forecast if r["kind"] == "forecast"]
        as_of = max(origins) if origins else None
    return ReportData(
        as_of=as_of,
        annual=[r for r in forecast if r["kind"] == "actual"],
        totals=_rows(
            con, f"select * from {marts['audit_yield']} where program = 'total' order by year"
        ),
        monthly=_rows(
            con,
            f"select month, sum(collected) as collected from {marts['revenue_monthly']} "
            "where month is not null group by month order by month",
        ),
        yearly=_rows(con, f"select * from {marts['revenue_yearly']}"),
        compliance=_rows(con, f"select * from {marts['compliance_yearly']} order by tax_year"),
        arrears=_rows(con, f"select * from {marts['arrears']}"),
        yield_rows=_rows(
            con,
            f"select * from {marts['audit_yield']} where program != 'total' order by year, program",
        ),
        gap=_rows(con, f"select * from {marts['tax_gap']}"),
        forecast=[r for r in forecast if r["kind"] != "actual"],
        monthly_forecast=monthly_forecast,
    )


def _drawable(v: Any) -> bool:
    return v is not None and v == v and v != 0  # not null, not NaN, not zero


def _ranked_with_pool_last(sums: dict[Any, float]) -> list[tuple[Any, float]]:
    """Largest first; the pooled (withheld) row, if any, last."""
    ranked = sorted(((k, v) for k, v in sums.items() if k != "*"), key=lambda kv: -kv[1])
    return ranked + ([("*", sums["*"])] if "*" in sums else [])


class _Page:
    """Builds the HTML of one report in one language."""

    def __init__(self, data: ReportData, language: str, municipality: str, min_cell: int):
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        self.d, self.lang, self.muni, self.k = data, language, municipality, min_cell
        self.t = TEXT[language]
        self.f = Formats(language)

    # -- small helpers --------------------------------------------------------------------
    def tr(self, key: str, **kw: Any) -> str:
        return self.t[key].format(k=self.k, **kw)

    def section_name(self, code: str | None) -> str:
        if code == "*":
            return self.tr("withheld")
        if code is None:
            return self.tr("unknown")
        return f"{code} · {SECTIONS[self.lang].get(code, code)}"

    def comuna_name(self, comuna: str | None) -> str:
        if comuna == "*":
            return self.tr("withheld")
        if comuna is None:
            return self.tr("no_comuna")
        return f"Comuna {comuna}" if comuna.isdigit() else comuna

    def table(self, caption: str, headers: list[str], rows: list[list[str]],
              numeric: set[int]) -> str:  # fmt: skip
        if not rows:
            return f'<p class="note">{escape(caption)}: {escape(self.tr("none"))}</p>'
        head = "".join(f"<th>{escape(h)}</th>" for h in headers)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="n">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
                for i, c in enumerate(r)
            )
            + "</tr>"
            for r in rows
        )
        return (
            f'<div class="scroll"><table><caption>{escape(caption)}</caption><thead><tr>{head}'
            f"</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def note(self) -> str:
        return f'<p class="note">{escape(self.tr("none"))}</p>'

    def p_note(self, text: str) -> str:
        """A note under a figure: what it needs said to be read right."""
        return f'<p class="note fig-note">{escape(text)}</p>'

    def columns(self, categories: list[str], series: list[Series], **kw: Any) -> str:
        """A column chart in a figure, or a note when secrecy left nothing to draw."""
        if not any(_drawable(v) for s in series for v in s.values):
            return self.note()
        return f"<figure>{column_chart(categories, series, **kw)}</figure>"

    def bars(self, labels: list[str], values: list[float | None], **kw: Any) -> str:
        """Horizontal bars in a figure, or a note when secrecy left nothing to draw."""
        if not any(_drawable(v) for v in values):
            return self.note()
        return f"<figure>{bar_list(labels, values, **kw)}</figure>"

    # -- derived figures -------------------------------------------------------------------
    def annual_with_growth(self) -> list[dict[str, Any]]:
        """Calendar-year collection with its growth on the year before, nominal and real."""
        out, prev = [], None
        for r in self.d.annual:
            row = dict(r)
            consecutive = prev is not None and prev["target_year"] == r["target_year"] - 1
            for key, value in (("growth", "actual"), ("growth_real", "actual_real")):
                row[key] = (
                    r[value] / prev[value] - 1
                    if consecutive and r[value] and prev[value]
                    else None
                )
            out.append(row)
            prev = r
        return out

    def latest_tax_year(self) -> int | None:
        years = [r["tax_year"] for r in self.d.yearly if r["tax_year"] is not None]
        due = [r["tax_year"] for r in self.d.compliance]
        candidates = [y for y in years if y in due] or years
        return max(candidates) if candidates else None

    def settled_compliance_year(self) -> dict[str, Any] | None:
        """The latest tax year whose deadline is a year past: late filers are mostly in."""
        rows = self.d.compliance
        if not rows:
            return None
        if self.d.as_of is not None:
            settled = [r for r in rows if (self.d.as_of - r["filing_deadline"]).days >= 365]
            if settled:
                return settled[-1]
        return rows[-1]

    def gap_headline(self) -> dict[str, Any] | None:
        totals = {r["method"]: r for r in self.d.gap if r["program"] == "total"}
        return totals.get("ratio_to_declared") or totals.get("mean_per_case")

    # -- page parts ------------------------------------------------------------------------
    def kpis(self) -> str:
        f, cards = self.f, []
        annual = self.annual_with_growth()
        if annual:
            last = annual[-1]
            cards.append((
                self.tr("kpi_collected", year=last["target_year"]), f.money(last["actual"]),
                self.tr("kpi_growth", nominal=f.pct(last["growth"]),
                        real=f.pct(last["growth_real"])),
            ))  # fmt: skip
        for r in self.d.forecast:
            if r["kind"] == "forecast" and r["method"] == "model":
                cards.append((
                    self.tr("kpi_forecast", year=r["target_year"]), f.money(r["forecast"]),
                    self.tr("kpi_interval", lo=f.money(r["lower_95"]), hi=f.money(r["upper_95"])),
                ))  # fmt: skip
        outstanding = [r["outstanding"] for r in self.d.arrears if r["outstanding"] is not None]
        if outstanding:
            old = sum(r["outstanding"] or 0 for r in self.d.arrears if r["likely_prescribed"])
            total = sum(outstanding)
            cards.append((
                self.tr("kpi_arrears"), f.money(total),
                self.tr("kpi_arrears_sub", share=f.pct(old / total if total else None)),
            ))  # fmt: skip
        gap = self.gap_headline()
        if gap:
            cards.append((
                self.tr("kpi_gap"), f.money(gap["annual_gap"]),
                self.tr("kpi_gap_sub", share=f.pct(gap["gap_share"]), n=gap["sample_cases"]),
            ))  # fmt: skip
        c = self.settled_compliance_year()
        if c:
            cards.append((
                self.tr("kpi_filing", year=c["tax_year"]), f.pct(c["on_time_rate"]),
                self.tr("kpi_filing_sub", rate=f.pct(c["filing_rate"])),
            ))  # fmt: skip
        cards = [c for c in cards if c[1] != self.tr("na")]  # a withheld figure is no headline
        return '<div class="kpis">' + "".join(
            f'<div class="kpi"><div class="label">{escape(a)}</div>'
            f'<div class="value">{escape(b)}</div><div class="sub">{escape(s)}</div></div>'
            for a, b, s in cards
        ) + "</div>"

    def charts(self) -> str:
        f, parts = self.f, [f"<h2>{escape(self.tr('charts'))}</h2>"]
        money, pct = f.axis_money, (lambda v: f.pct(v, 0))

        # 1. Trend
        parts.append(f'<h3 id="trend">{escape(self.tr("trend"))}</h3>')
        annual = self.d.annual
        if annual:
            base = max((r["target_year"] for r in annual if r["actual_real"] is not None),
                       default=annual[-1]["target_year"])  # fmt: skip
            cats = [str(r["target_year"]) for r in annual]
            parts.append(self.columns(
                cats,
                [Series(self.tr("nominal"), [r["actual"] for r in annual], BLUE),
                 Series(self.tr("real"), [r["actual_real"] for r in annual], ORANGE,
                        kind="line")],
                title=self.tr("trend_annual", base=base), left_format=money,
            ))  # fmt: skip
        monthly = self.d.monthly[-36:]
        if monthly:
            parts.append(self.columns(
                [m["month"].strftime("%Y-%m") for m in monthly],
                [Series(self.tr("collected"), [m["collected"] for m in monthly], SKY)],
                title=self.tr("trend_monthly"), left_format=money, height=280,
            ))  # fmt: skip

        # 2. Sector and comuna mix of the latest tax year
        parts.append(f'<h3 id="sectors">{escape(self.tr("sectors"))}</h3>')
        year = self.latest_tax_year()
        if year is not None:
            for key, field, namer in (
                ("sector_chart", "ciiu_section", self.section_name),
                ("comuna_chart", "comuna", self.comuna_name),
            ):
                groups = self._sum_by(year, field)
                labels = [namer(k) for k, _ in groups]
                colors = [GREY if k == "*" else BLUE for k, _ in groups]
                parts.append(self.bars(
                    labels, [v for _, v in groups], title=self.tr(key, year=year),
                    value_format=f.money, colors=colors,
                ))  # fmt: skip

        # 3. Compliance
        parts.append(f'<h3 id="compliance">{escape(self.tr("compliance"))}</h3>')
        comp = self.d.compliance
        if comp:
            parts.append(self.columns(
                [str(r["tax_year"]) for r in comp],
                [Series(self.tr("on_time"), [r["on_time"] for r in comp], GREEN),
                 Series(self.tr("late"), [r["late"] for r in comp], ORANGE),
                 Series(self.tr("non_filers"), [r["non_filers"] for r in comp], VERMILION),
                 Series(self.tr("filing_rate"), [r["filing_rate"] for r in comp], BLUE,
                        kind="line", axis="right")],
                title=self.tr("compliance_chart"), left_format=lambda v: f.number(v),
                right_format=pct, stacked=True,
            ))  # fmt: skip
            for r in comp:  # a filing year still open: its missing returns are mostly late
                days = (self.d.as_of - r["filing_deadline"]).days if self.d.as_of else -1
                if 0 <= days < 365:
                    parts.append(self.p_note(self.tr(
                        "note_open_filing", year=r["tax_year"],
                        deadline=f.date(r["filing_deadline"]), months=days // 30,
                    )))  # fmt: skip

        # 4. Arrears
        parts.append(f'<h3 id="arrears">{escape(self.tr("arrears"))}</h3>')
        buckets = self._arrears_by_age()
        if buckets:
            parts.append(self.bars(
                [f"{label} {self.tr('years_suffix')}" if label != "*" else self.tr("withheld")
                 for label, _, _ in buckets],
                [v for _, v, _ in buckets], title=self.tr("arrears_chart"),
                value_format=f.money,
                colors=[VERMILION if old else ORANGE for _, _, old in buckets],
            ))  # fmt: skip
            by_section = self._arrears_by_section()
            parts.append(self.bars(
                [self.section_name(k) for k, _ in by_section], [v for _, v in by_section],
                title=self.tr("arrears_sector_chart"), value_format=f.money,
                colors=[GREY if k == "*" else ORANGE for k, _ in by_section],
            ))  # fmt: skip

        # 5. Audit yield and organic growth
        parts.append(f'<h3 id="audit_yield">{escape(self.tr("audit_yield"))}</h3>')
        years = sorted({r["year"] for r in self.d.yield_rows})
        if years:
            def assessed(program: str) -> list[float | None]:
                by_year = {r["year"]: r["assessed"] for r in self.d.yield_rows
                           if r["program"] == program}  # fmt: skip
                return [by_year.get(y) for y in years]

            complete_year = {r["year"]: r["complete_year"] for r in self.d.totals}
            labels = [str(y) if complete_year.get(y, True) else self.tr("partial", year=y)
                      for y in years]  # fmt: skip
            parts.append(self.columns(
                labels,
                [Series(self.tr("omiso"), assessed("omiso"), PURPLE),
                 Series(self.tr("inexacto"), assessed("inexacto"), BLUE)],
                title=self.tr("yield_chart"), left_format=money,
            ))  # fmt: skip
            for y in years:
                if not complete_year.get(y, True) and self.d.as_of is not None:
                    parts.append(self.p_note(self.tr(
                        "note_partial_year", year=y, as_of=f.date(self.d.as_of))))  # fmt: skip
        complete = [r for r in self.d.totals if r["complete_year"]]
        if complete:
            parts.append(self.columns(
                [str(r["year"]) for r in complete],
                [Series(self.tr("growth_total"), [r["collected_growth"] for r in complete], SKY),
                 Series(self.tr("growth_organic_real"),
                        [r["organic_growth_real"] for r in complete], GREEN, kind="line")],
                title=self.tr("organic_chart"), left_format=pct,
            ))  # fmt: skip

        # 6. Tax gap
        parts.append(f'<h3 id="gap">{escape(self.tr("gap"))}</h3>')
        if self.d.gap:
            programs = [p for p in ("inexacto", "omiso", "total")
                        if any(r["program"] == p for r in self.d.gap)]  # fmt: skip
            series = []
            for method, color in (("mean_per_case", BLUE), ("ratio_to_declared", ORANGE)):
                rows = {r["program"]: r for r in self.d.gap if r["method"] == method}
                if not rows:
                    continue
                series.append(Series(
                    self.tr(method), [rows.get(p, {}).get("estimate") for p in programs], color,
                    kind="point", lower=[rows.get(p, {}).get("lower_95") for p in programs],
                    upper=[rows.get(p, {}).get("upper_95") for p in programs],
                ))  # fmt: skip
            parts.append(self.columns(
                [self.tr(p) for p in programs], series, title=self.tr("gap_chart"),
                left_format=money,
            ))  # fmt: skip
            first = min((r["first_year"] for r in self.d.gap if r["first_year"]), default=None)
            last = max((r["last_year"] for r in self.d.gap if r["last_year"]), default=None)
            if first is not None and last is not None and last > first:
                parts.append(self.p_note(self.tr("note_gap_cumulative", first=first, last=last)))

        # 7. Forecast
        parts.append(f'<h3 id="forecast">{escape(self.tr("forecast"))}</h3>')
        targets = sorted({r["target_year"] for r in self.d.forecast if r["kind"] == "forecast"})
        if annual or targets:
            years = [r["target_year"] for r in annual] + targets
            actual = {r["target_year"]: r["actual"] for r in annual}
            fc = {(r["target_year"], r["method"]): r for r in self.d.forecast
                  if r["kind"] == "forecast"}  # fmt: skip
            model = [fc.get((y, "model")) for y in years]
            naive = [fc.get((y, "naive")) for y in years]
            to_date = [m["collected_to_date"] or None if m else None for m in model]
            parts.append(self.columns(
                [str(y) for y in years],
                [Series(self.tr("actual"), [actual.get(y) for y in years], GREY),
                 Series(self.tr("to_date"), to_date, SKY),
                 Series(self.tr("model"), [m and m["forecast"] for m in model], BLUE,
                        kind="point", lower=[m and m["lower_95"] for m in model],
                        upper=[m and m["upper_95"] for m in model]),
                 Series(self.tr("naive"), [m and m["forecast"] for m in naive], VERMILION,
                        kind="point")],
                title=self.tr("forecast_chart"), left_format=money, stacked=True,
            ))  # fmt: skip
        mf = self.d.monthly_forecast
        if mf:
            past = [m for m in self.d.monthly if m["month"] < mf[0]["month"]][-12:]
            cats = [m["month"].strftime("%Y-%m") for m in past] + [
                r["month"].strftime("%Y-%m") for r in mf
            ]
            pad = [None] * len(past)
            parts.append(self.columns(
                cats,
                [Series(self.tr("actual"), [m["collected"] for m in past] + [None] * len(mf),
                        GREY),
                 Series(self.tr("model"), pad + [r["forecast"] for r in mf], BLUE,
                        kind="point", lower=pad + [r["lower_80"] for r in mf],
                        upper=pad + [r["upper_80"] for r in mf])],
                title=self.tr("monthly_forecast_chart"), left_format=money, height=300,
            ))  # fmt: skip
            parts.append(self.p_note(self.tr("monthly_forecast_note")))
        # A heading with nothing under it (all withheld, or no data) says so.
        out: list[str] = []
        for i, part in enumerate(parts):
            if part == self.note() and out and out[-1] == part:
                continue
            out.append(part)
            if part.startswith("<h3") and (i + 1 == len(parts) or parts[i + 1].startswith("<h3")):
                out.append(self.note())
        return "".join(out)

    def _sum_by(self, year: int, field: str) -> list[tuple[str | None, float]]:
        sums: dict[str | None, float] = {}
        for r in self.d.yearly:
            if r["tax_year"] == year and r["declared_tax"] is not None:
                sums[r[field]] = sums.get(r[field], 0.0) + r["declared_tax"]
        return _ranked_with_pool_last(sums)

    def _arrears_by_age(self) -> list[tuple[str, float | None, bool]]:
        sums: dict[tuple[int, str], float | None] = {}
        old: dict[tuple[int, str], bool] = {}
        for r in self.d.arrears:
            key = (r["age_order"] if r["age_order"] is not None else 99, r["age_bucket"])
            if r["outstanding"] is not None:
                sums[key] = (sums.get(key) or 0.0) + r["outstanding"]
            else:
                sums.setdefault(key, None)  # withheld: shown without an amount
            old[key] = bool(r["likely_prescribed"])
        return [(label, sums[(o, label)], old[(o, label)]) for o, label in sorted(sums)]

    def _arrears_by_section(self) -> list[tuple[str | None, float]]:
        sums: dict[str | None, float] = {}
        for r in self.d.arrears:
            if r["outstanding"] is not None:
                sums[r["ciiu_section"]] = sums.get(r["ciiu_section"], 0.0) + r["outstanding"]
        return _ranked_with_pool_last(sums)

    def tables(self) -> str:
        f, parts = self.f, [f"<h2>{escape(self.tr('tables'))}</h2>"]
        organic = {r["year"]: r for r in self.d.totals}
        parts.append(self.table(
            self.tr("trend"),
            [self.tr(h) for h in ("h_year", "h_collected", "h_real", "h_growth", "h_growth_real",
                                  "h_organic_growth")],
            [[str(r["target_year"]), f.money(r["actual"]), f.money(r["actual_real"]),
              f.pct(r["growth"]), f.pct(r["growth_real"]),
              f.pct(organic.get(r["target_year"], {}).get("organic_growth_real"))]
             for r in self.annual_with_growth()],
            {1, 2, 3, 4, 5},
        ))  # fmt: skip
        year = self.latest_tax_year()
        if year is not None:
            for header, field, namer in (
                ("h_section", "ciiu_section", self.section_name),
                ("h_comuna", "comuna", self.comuna_name),
            ):
                groups = self._sum_by(year, field)
                total = sum(v for _, v in groups) or None
                parts.append(self.table(
                    f"{self.tr(header)} · {self.tr('h_tax_year')} {year}",
                    [self.tr(header), self.tr("h_declared"), self.tr("h_share")],
                    [[namer(k), f.money(v), f.pct(v / total if total else None)]
                     for k, v in groups],
                    {1, 2},
                ))  # fmt: skip
        parts.append(self.table(
            self.tr("compliance"),
            [self.tr(h) for h in ("h_tax_year", "h_obliged", "h_filers", "h_on_time", "h_late",
                                  "h_non_filers", "h_filing_rate", "h_nonfiler_tax")],
            [[str(r["tax_year"]), f.number(r["obliged"]), f.number(r["filers"]),
              f.number(r["on_time"]), f.number(r["late"]), f.number(r["non_filers"]),
              f.pct(r["filing_rate"]), f.money(r["non_filer_tax_estimate"])]
             for r in self.d.compliance],
            set(range(1, 8)),
        ))  # fmt: skip
        debtors: dict[str, int] = {}
        for r in self.d.arrears:
            debtors[r["age_bucket"]] = debtors.get(r["age_bucket"], 0) + (r["debtors"] or 0)
        parts.append(self.table(
            self.tr("arrears"),
            [self.tr("h_age"), self.tr("h_outstanding"), self.tr("h_debtors")],
            [[label if label != "*" else self.tr("withheld"), f.money(v),
              f.number(debtors.get(label))] for label, v, _ in self._arrears_by_age()],
            {1, 2},
        ))  # fmt: skip
        parts.append(self.table(
            self.tr("audit_yield"),
            [self.tr(h) for h in ("h_year", "h_program", "h_cases", "h_adjusted", "h_hit_rate",
                                  "h_assessed", "h_enforcement")],
            [[str(r["year"]), self.tr(r["program"]), f.number(r["cases_closed"]),
              f.number(r["adjusted_cases"]), f.pct(r["hit_rate"]), f.money(r["assessed"]),
              f.money(r["enforcement_collected"])]
             for r in sorted(self.d.yield_rows + self.d.totals,
                             key=lambda r: (r["year"], _PROGRAM_ORDER[r["program"]]))],
            {2, 3, 4, 5, 6},
        ))  # fmt: skip
        parts.append(self.table(
            self.tr("gap"),
            [self.tr(h) for h in ("h_program", "h_method", "h_years", "h_sample", "h_population",
                                  "h_estimate", "h_interval", "h_gap_share")],
            [[self.tr(r["program"]), self.tr(r["method"]), f"{r['first_year']}–{r['last_year']}",
              f.number(r["sample_cases"]), f.number(r["population_cases"]),
              f.money(r["estimate"]), f"{f.money(r['lower_95'])} – {f.money(r['upper_95'])}",
              f.pct(r["gap_share"])] for r in self.d.gap],
            {3, 4, 5, 6, 7},
        ))  # fmt: skip
        forecasts = [r for r in self.d.forecast if r["kind"] == "forecast"]
        parts.append(self.table(
            self.tr("forecast"),
            [self.tr(h) for h in ("h_target", "h_method", "h_origin", "h_forecast",
                                  "h_interval")],
            [[str(r["target_year"]), self.tr(r["method"]), r["origin"].isoformat(),
              f.money(r["forecast"]),
              f"{f.money(r['lower_95'])} – {f.money(r['upper_95'])}"
              if r["lower_95"] is not None else "—"] for r in forecasts],
            {3, 4},
        ))  # fmt: skip
        backtests = [r for r in self.d.forecast if r["kind"] == "backtest"]
        summary: dict[tuple[str, int], list[float]] = {}
        for r in backtests:
            if r["error_pct"] is not None:
                summary.setdefault((r["method"], r["horizon_months"]), []).append(
                    abs(r["error_pct"])
                )
        parts.append(self.table(
            self.tr("backtest"),
            [self.tr(h) for h in ("h_method", "h_horizon", "h_mape", "h_n")],
            [[self.tr(m), str(h), f.pct(sum(v) / len(v)), str(len(v))]
             for (m, h), v in sorted(summary.items(), key=lambda kv: (kv[0][1], kv[0][0]))],
            {1, 2, 3},
        ))  # fmt: skip
        parts.append(self.table(
            self.tr("backtest"),
            [self.tr(h) for h in ("h_target", "h_method", "h_origin", "h_forecast", "h_actual",
                                  "h_error")],
            [[str(r["target_year"]), self.tr(r["method"]), r["origin"].isoformat(),
              f.money(r["forecast"]), f.money(r["actual"]), f.pct(r["error_pct"])]
             for r in backtests],
            {3, 4, 5},
        ))  # fmt: skip
        return "".join(parts)

    def notes(self) -> str:
        items = "".join(f"<li>{escape(n.format(k=self.k))}</li>" for n in self.t["method_notes"])
        return f"<h2>{escape(self.tr('notes'))}</h2><ul class=\"note\">{items}</ul>"

    def html(self) -> str:
        as_of = self.d.as_of.isoformat() if self.d.as_of else self.tr("na")
        subtitle = self.tr("subtitle", municipality=self.muni, as_of=as_of)
        return (
            f'<!doctype html>\n<html lang="{self.lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{escape(self.tr('title'))}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>{escape(self.tr('title'))}</h1>"
            f"<p>{escape(subtitle)}</p>"
            f"<p>{escape(self.tr('confidential_note'))}</p></header>\n<main>\n"
            f"{self.kpis()}\n<section id=\"charts\">{self.charts()}</section>\n"
            f"<section id=\"tables\">{self.tables()}</section>\n"
            f"<section id=\"notes\">{self.notes()}</section>\n</main>\n"
            f"<footer>fiscal_intel · {escape(subtitle)}</footer>\n</body>\n</html>\n"
        )


def render_report(
    con: duckdb.DuckDBPyConnection,
    *,
    language: str = "es",
    municipality: str = "05615",
    min_cell_taxpayers: int = 5,
    rounding_cop: int = 1_000_000,
) -> str:
    """The report's HTML from the leadership marts ``con`` can read."""
    data = read_report_data(con, rounding_cop)
    return _Page(data, language, municipality, min_cell_taxpayers).html()


def write_report(html: str, out: Path) -> int:
    """Write atomically (a reader never sees half a report); returns the bytes written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    data = html.encode("utf-8")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return len(data)


def report_file(
    warehouse: Path, out: Path, *, language: str = "es", municipality: str = "05615",
    min_cell_taxpayers: int = 5, rounding_cop: int = 1_000_000,
) -> int:  # fmt: skip
    """Render the report from a warehouse (or an exported leadership file) into ``out``."""
    if not Path(warehouse).is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist: run fiscal-intel first")
    with reading(warehouse) as con:  # the published copy: never in a run's way
        html = render_report(
            con, language=language, municipality=municipality,
            min_cell_taxpayers=min_cell_taxpayers, rounding_cop=rounding_cop,
        )  # fmt: skip
    return write_report(html, out)
