"""The landing contract as data: which columns each source has and how each is read.

The loader builds its typed-load query from these specs, so the contract in
``shared/contract/landing.md`` lives in exactly one place in the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "nit", "int", "money", "number", "date", "ciiu", "dane", "enum"]

SQL_TYPES: dict[str, str] = {
    "text": "varchar",
    "nit": "varchar",
    "int": "bigint",
    "money": "decimal(18, 2)",
    "number": "double",
    "date": "date",
    "ciiu": "varchar",
    "dane": "varchar",
    "enum": "varchar",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    optional: bool = False  # the column may be missing from a file
    nullable: bool = False  # a present column may hold empty values
    choices: tuple[str, ...] = ()  # allowed values of an enum, compared lower-cased
    min_value: float | None = None
    max_value: float | None = None
    # Said after a min/max reason, e.g. where the range comes from ("first_tax_year ...").
    range_note: str = ""
    # A negative value is a reversal, loaded only when the source's mapping declares reversals.
    reversible: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


@dataclass(frozen=True)
class RowRule:
    """A rule across columns: a row for which ``broken`` holds is quarantined with ``reason``.

    Both are SQL; ``{text[c]}`` stands for column ``c`` as read (text) and ``{value[c]}`` for its
    typed value. Only columns every file has (not ``optional``) may appear.
    """

    broken: str
    reason: str


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[Column, ...]
    description: str = ""
    optional_source: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    rules: tuple[RowRule, ...] = ()
    # The column naming one record (a receipt, a return): repeated within one file with other
    # values, both rows are quarantined.
    row_id: str | None = None

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.optional]


def _money(name: str, **kw) -> Column:
    return Column(name, "money", min_value=0, **kw)


_YEAR = {"min_value": 1990, "max_value": 2100}

# An audit case is closed when it has a closing date; then its outcome and assessed amount are
# known. A row without ``closed_on`` is a case in progress: no outcome and no amount yet (a 0,
# which case systems write for "nothing yet", counts as none). Anything in between is bad input.
_CASE_RULES = (
    RowRule(
        "fi_text({text[closed_on]}) is null and fi_text({text[outcome]}) is not null",
        "'outcome ''' || fi_trim({text[outcome]}) || ''' given but closed_on is empty "
        "(a case in progress has no outcome yet)'",
    ),
    RowRule(
        "fi_text({text[closed_on]}) is null and coalesce({value[assessed_amount]} <> 0, false)",
        "'assessed_amount ''' || fi_trim({text[assessed_amount]}) || ''' given but closed_on "
        "is empty (a case in progress has no amount yet)'",
    ),
    RowRule(
        "fi_text({text[closed_on]}) is not null and fi_text({text[outcome]}) is null",
        "'outcome is empty (a closed case needs its outcome)'",
    ),
    RowRule(
        "fi_text({text[closed_on]}) is not null and fi_text({text[assessed_amount]}) is null",
        "'assessed_amount is empty (a closed case needs it: 0 when no_finding)'",
    ),
)

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "taxpayers",
            (
                Column("nit", "nit"),
                Column("dv", "int", optional=True, nullable=True, min_value=0, max_value=9),
                Column("taxpayer_type", "enum", choices=("natural", "juridica")),
                Column("legal_name", "text"),
                Column("ciiu", "ciiu", nullable=True),
                Column("comuna", "text", optional=True, nullable=True),
                Column("registered_on", "date"),
                Column("status", "enum", choices=("active", "inactive", "cancelled")),
                Column(
                    "regime", "enum", optional=True, nullable=True, choices=("ordinario", "simple")
                ),
            ),
            "municipal tax registry (RIT)",
        ),
        Source(
            "declarations",
            (
                Column("declaration_id", "text"),
                Column("nit", "nit"),
                Column("tax_year", "int", **_YEAR),
                Column("filed_on", "date"),
                _money("gross_income"),
                _money("income_outside"),
                _money("deductions"),
                _money("taxable_income"),
                Column("ciiu", "ciiu"),
                Column("rate_per_mil", "number", min_value=0, max_value=100),
                _money("ica_tax"),
                _money("avisos_tableros"),
                _money("sobretasa_bomberil", optional=True, nullable=True),
                _money("total_tax"),
                _money("withholdings_credited"),
                _money("penalties", optional=True, nullable=True),
                _money("balance_due"),
            ),
            "annual ICA returns, corrections included",
            row_id="declaration_id",
        ),
        Source(
            "payments",
            (
                Column("payment_id", "text"),
                Column("nit", "nit"),
                Column("tax_year", "int", **_YEAR),
                Column("paid_on", "date"),
                Column(
                    "amount",
                    "money",
                    min_value=0,
                    reversible=True,
                    range_note="a reversal: declare reversals = true in the payments mapping",
                ),
            ),
            "money received at the bank or treasury",
            row_id="payment_id",
        ),
        Source(
            "withholdings",
            (
                Column("agent_nit", "nit"),
                Column("nit", "nit"),
                Column("tax_year", "int", **_YEAR),
                Column("period", "int", min_value=1, max_value=6),
                _money("base_amount"),
                _money("withheld_amount"),
            ),
            "reteICA reported by withholding agents",
        ),
        Source(
            "commerce_registry",
            (
                Column("matricula", "text"),
                Column("nit", "nit", nullable=True),
                # RUES exports carry the DV in its own column; checked like the RIT's.
                Column("dv", "int", optional=True, nullable=True, min_value=0, max_value=9),
                Column("legal_name", "text"),
                Column("organization_type", "text", optional=True, nullable=True),
                Column("ciiu", "ciiu", nullable=True),
                Column("ciiu_secondary", "ciiu", optional=True, nullable=True),
                Column("municipality_code", "dane"),
                # Names several departments share (RIONEGRO) resolve with it; see places.py.
                Column("department", "text", optional=True, nullable=True),
                Column("registered_on", "date"),
                Column("last_renewal_year", "int", nullable=True, **_YEAR),
                Column("status", "text"),
                Column("cancelled_on", "date", optional=True, nullable=True),
                _money("total_assets", optional=True, nullable=True),
                Column("employees", "int", optional=True, nullable=True, min_value=0),
            ),
            "chamber of commerce registry (RUES)",
        ),
        Source(
            "audits",
            (
                Column("case_id", "text"),
                Column("nit", "nit"),
                Column("tax_year", "int", **_YEAR),
                Column("program", "enum", choices=("omiso", "inexacto")),
                Column(
                    "selection", "enum", optional=True, nullable=True, choices=("risk", "random")
                ),
                Column("opened_on", "date"),
                # empty while the case is in progress (see _CASE_RULES)
                Column("closed_on", "date", nullable=True),
                Column("outcome", "enum", nullable=True, choices=("adjusted", "no_finding")),
                _money("assessed_amount", nullable=True),
            ),
            "audit cases: closed ones with their outcome, and cases in progress",
            rules=_CASE_RULES,
        ),
        Source(
            "actions",
            (
                Column("action_id", "text"),
                Column("nit", "nit"),
                Column("tax_year", "int", **_YEAR),
                Column("program", "enum", choices=("omiso", "inexacto")),
                Column(
                    "action", "enum", choices=("carta", "emplazamiento", "requerimiento")
                ),
                Column("sent_on", "date"),
                Column("campaign_id", "text", optional=True, nullable=True),
                Column("channel", "text", optional=True, nullable=True),
            ),
            "demands to file, requests and letters actually sent",
            optional_source=True,
        ),
        Source(
            "ciiu_rates",
            (
                Column("ciiu", "ciiu"),
                Column("description", "text", nullable=True),
                Column("rate_per_mil", "number", min_value=0, max_value=100),
            ),
            "the municipality's own tariff table",
            optional_source=True,
        ),
    )
}
