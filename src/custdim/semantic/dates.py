"""Dates written as text: portable Ibis parsing, and the per-column choice between day-first and month-first.

Accepted forms (leading zeros optional, separators ``-``, ``/`` or ``.``, an optional time part dropped):
``YYYY-MM-DD`` (ISO 8601, also ``Y/m/d`` and ``Y.m.d``), ``YYYYMMDD``, and ``a/b/Y`` or ``a/b/yy`` whose order
(``mdy`` or ``dmy``; ``ymd`` reads ``yy/mm/dd``) is decided per source column. A column that mixes both (a POS
export from US and European stores) reads its ambiguous values in the majority's order and every other value the
only way it parses. Two-digit years use a FIXED pivot, so
a value parses the same whatever the date of the run: ``yy < pivot`` is 20yy, otherwise 19yy.

Parts are extracted with regexes that RE2 (DuckDB) and java.util.regex (Spark) read alike, assembled as
``YYYY-MM-DD`` and ``try_cast`` to a date: impossible dates (``02/30/1990``) become null on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import ibis.expr.types as ir

DateOrder = Literal["mdy", "dmy", "ymd"]

DATE_TYPES = frozenset({"Person.BirthDate", "Calendar.Date"})
DEFAULT_PIVOT = 30
# Countries whose short dates are usually written month first; everywhere else day first is the norm.
MONTH_FIRST_COUNTRIES = frozenset({"US", "CA", "PH", "PR", "GU", "AS", "VI", "MP", "UM", "FM", "MH", "PW"})

_TIME = "([T ].*)?$"
YMD = "^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})" + _TIME
COMPACT = "^([0-9]{4})([0-9]{2})([0-9]{2})$"
SHORT = "^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{1,4})" + _TIME


def _century(year: ir.StringValue, pivot: int) -> ir.StringValue:
    """A 2- or 4-digit year as 4 digits; other lengths are null."""
    import ibis  # imported on use: the config loads this module's constants and the CLI must start without Ibis

    yy = year.try_cast("int32")
    full = (yy + ibis.ifelse(yy < pivot, 2000, 1900)).cast("string")
    return ibis.cases((year.length() == 4, year), (year.length() == 2, full), else_=ibis.null("string"))


def parse_date(
    value: ir.Value, order: DateOrder = "mdy", pivot: int = DEFAULT_PIVOT, then: DateOrder | None = None
) -> ir.DateValue:
    """``value`` as a date: date columns as they are, timestamps truncated, text parsed (null when it does not).

    ``then``: a short date that is impossible in ``order`` (30/05/1989 read month first) is read in this order
    instead; for columns that mix both, where only the ambiguous values need the majority's order.
    """
    import ibis

    if then is not None and then != order:
        return ibis.coalesce(parse_date(value, order, pivot), parse_date(value, then, pivot))
    dtype = value.type()
    if dtype.is_date():
        return value
    if dtype.is_timestamp():
        return value.cast("date")
    s = value.cast("string").strip()
    iso, compact, short = s.re_search(YMD), s.re_search(COMPACT), s.re_search(SHORT)
    a, b, c = (s.re_extract(SHORT, i) for i in (1, 2, 3))
    # lpad cuts longer text to 2 characters, so a ymd day (matched as 1-4 digits) must be checked first.
    ymd_day = ibis.ifelse(c.length() <= 2, c, ibis.null("string"))
    positions = {"mdy": (c, a, b), "dmy": (c, b, a), "ymd": (a, b, ymd_day)}[order]
    y_short, m_short, d_short = positions
    null = ibis.null("string")
    year = ibis.cases((iso, s.re_extract(YMD, 1)), (compact, s.re_extract(COMPACT, 1)), (short, y_short), else_=null)
    month = ibis.cases((iso, s.re_extract(YMD, 2)), (compact, s.re_extract(COMPACT, 2)), (short, m_short), else_=null)
    day = ibis.cases((iso, s.re_extract(YMD, 3)), (compact, s.re_extract(COMPACT, 3)), (short, d_short), else_=null)
    text = _century(year, pivot) + "-" + month.lpad(2, "0") + "-" + day.lpad(2, "0")
    return text.try_cast("date")


def country_code(country: ir.Value) -> ir.StringValue:
    """A country column as an upper-case two-letter code; anything else (empty, 'USA', 'Germany') is null."""
    import ibis

    code = country.cast("string").strip().upper()
    return ibis.ifelse(code.re_search("^[A-Z]{2}$"), code, ibis.null("string"))


def parse_date_by_country(
    value: ir.Value, country: ir.Value, fallback: DateOrder, pivot: int = DEFAULT_PIVOT, then: DateOrder | None = None
) -> ir.DateValue:
    """``value`` parsed in the order of each row's country (see :func:`default_order`); rows without a two-letter
    code in ``country`` are read as :func:`parse_date` reads them with ``fallback`` and ``then``.

    A value impossible in its row's order (30/05/1989 in a US row) is read the only way it parses, as in a mixed
    column: a clerk's slip is likelier than a date that does not exist.
    """
    import ibis

    code = country_code(country)
    return ibis.cases(
        (code.isin(sorted(MONTH_FIRST_COUNTRIES)), parse_date(value, "mdy", pivot, then="dmy")),
        (code.notnull(), parse_date(value, "dmy", pivot, then="mdy")),
        else_=parse_date(value, fallback, pivot, then),
    )


def profile_metrics(value: ir.Value, prefix: str, orders: tuple[DateOrder, ...], pivot: int) -> dict[str, ir.Value]:
    """Aggregates of one text date column: the day/month evidence, formats seen and parse counts per order."""
    s = value.cast("string").strip().nullif("")
    short = s.re_search(SHORT)
    a = s.re_extract(SHORT, 1).try_cast("int32")
    b = s.re_extract(SHORT, 2).try_cast("int32")
    year_len = s.re_extract(SHORT, 3).length()
    out: dict[str, ir.Value] = {
        f"{prefix}rows": s.isnull().count(),
        f"{prefix}nonempty": s.count(),
        f"{prefix}dmy": s.count(where=short & (a > 12) & (b <= 12)),
        f"{prefix}mdy": s.count(where=short & (b > 12) & (a <= 12)),
        f"{prefix}short": s.count(where=short),
    }
    formats = {
        "YYYY-MM-DD": s.re_search("^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}" + _TIME),
        "YYYY/MM/DD or YYYY.MM.DD": s.re_search("^[0-9]{4}[/.][0-9]{1,2}[/.][0-9]{1,2}" + _TIME),
        "YYYYMMDD": s.re_search(COMPACT),
        "a/b/YYYY (or . -)": short & (year_len == 4),
        "a/b/YY (or . -)": short & (year_len == 2),
    }
    for i, cond in enumerate(formats.values()):
        out[f"{prefix}fmt{i}"] = s.count(where=cond)
    for order in orders:
        out[f"{prefix}ok_{order}"] = parse_date(s, order, pivot).count()
    if set(orders) == {"mdy", "dmy"}:
        out[f"{prefix}ok_either"] = parse_date(s, "mdy", pivot, then="dmy").count()
    return out


FORMAT_NAMES = (
    "YYYY-MM-DD",
    "YYYY/MM/DD or YYYY.MM.DD",
    "YYYYMMDD",
    "a/b/YYYY (or . -)",
    "a/b/YY (or . -)",
)


@dataclass(frozen=True)
class OrderDecision:
    """The order a column's short dates are read in, and why."""

    order: DateOrder
    reason: str
    mixed: bool = False

    @property
    def then(self) -> DateOrder | None:
        """For a mixed column: the order of the values impossible in ``order`` (each row is read the way it can)."""
        if not self.mixed:
            return None
        return "mdy" if self.order == "dmy" else "dmy"


def default_order(country: str) -> DateOrder:
    """Month first in the US and the few countries that write dates like it, day first elsewhere."""
    return "mdy" if country.upper() in MONTH_FIRST_COUNTRIES else "dmy"


def decide_order(day_first: int, month_first: int, short: int, country: str, override: str | None) -> OrderDecision:
    """Choose the order from a column's unambiguous values (first part > 12: day first; second part > 12: month
    first): the majority when both occur, the country's habit when neither does; a configured order wins."""
    if override is not None:
        return OrderDecision(override, "configured (date_order)")  # type: ignore[arg-type]
    fallback = default_order(country)
    if day_first and month_first:
        order: DateOrder = "dmy" if day_first > month_first else "mdy" if month_first > day_first else fallback
        return OrderDecision(
            order,
            f"mixed: {day_first} day-first and {month_first} month-first values; ambiguous ones read as {order} "
            "(majority), the others the only way they can be",
            mixed=True,
        )
    if day_first:
        return OrderDecision("dmy", f"{day_first} values have a day > 12 first")
    if month_first:
        return OrderDecision("mdy", f"{month_first} values have a day > 12 second")
    if not short:
        return OrderDecision(fallback, f"no day/month values; assumed {fallback} (default country {country})")
    return OrderDecision(fallback, f"ambiguous, assumed {fallback} (default country {country})")
