"""Conditions compiled to comparison columns and score expressions.

A condition's normalized comparison column is computed once per record (the ``normalized`` work table); pairs
are then scored by comparing the left and right columns. Scores are percentages: 100 for equal values, the
Levenshtein similarity against the LONGER string (so the score is symmetric), or Jaro-Winkler x 100.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from custdim.config.unify import Condition, Rule
from custdim.stages.unify.normalize import Step, apply_steps, column_name, steps


@ibis.udf.scalar.builtin(name="jaro_winkler_similarity")  # type: ignore[untyped-decorator]
def _jaro_winkler(left: str, right: str) -> float:  # type: ignore[empty-body]
    """DuckDB's builtin; the Spark engine registers the same name (jellyfish, whose values equal DuckDB's)."""


@dataclass(frozen=True)
class CompiledCondition:
    condition: Condition
    column: str  # normalized comparison column
    swapped: str | None  # day/month-swapped date column, when the condition asks for it
    country: str

    @property
    def label(self) -> str:
        return self.condition.field

    @property
    def frequency(self) -> str:
        """Column holding how many records of the step share this record's value (see ``max_frequency``)."""
        return f"{self.column}__tf"

    def too_common(self, frequency: ir.IntegerValue) -> ir.BooleanValue:
        """True when the value is shared by more records than the condition's ``max_frequency`` allows."""
        cap = self.condition.max_frequency
        return ibis.literal(False) if cap is None else (frequency > cap).fill_null(False)

    def steps(self, base: str) -> list[Step]:
        """The transformations of a record's value: normalizers, then bypass values and aliases."""
        c = self.condition
        out = steps(c.normalize, self.country)
        bypass = sorted(read_values(c.bypass, base))
        if bypass:
            out.append(lambda v: ibis.ifelse(v.lower().isin(bypass), ibis.null("string"), v))
        aliases = read_aliases(c.aliases, base)
        if aliases:
            out.append(lambda v: v.lower().substitute(aliases, else_=v))
        return out

    def swapped_value(self, column: ir.StringValue) -> ir.StringValue:
        """'YYYY-MM-DD' -> 'YYYY-DD-MM' when the day could be a month, else null."""
        day = column.substr(8, 2)
        swapped = column.substr(0, 5) + day + "-" + column.substr(5, 2)
        return ibis.ifelse(
            column.re_search("^[0-9]{4}-[0-9]{2}-[0-9]{2}") & (day <= "12"), swapped, ibis.null("string")
        )

    def score(
        self, left: ir.StringValue, right: ir.StringValue, left_swapped: ir.StringValue | None = None
    ) -> ir.FloatingValue:
        """Similarity in percent (null when either value is missing)."""
        if self.condition.max_days is not None:
            # Comparison columns hold dates as ISO text; back to dates for portable day arithmetic.
            days = left.try_cast("date").delta(right.try_cast("date"), unit="day").abs()
            near = days <= self.condition.max_days
            if left_swapped is not None:
                near = near | (left_swapped == right)
            return ibis.ifelse(days.isnull(), ibis.null("float64"), ibis.ifelse(near.fill_null(False), 100.0, 0.0))
        if self.condition.is_exact:
            equal = left == right
            if left_swapped is not None:
                equal = equal | (left_swapped == right)
            return ibis.ifelse(
                left.isnull() | right.isnull(), ibis.null("float64"), ibis.ifelse(equal.fill_null(False), 100.0, 0.0)
            )
        if self.condition.method == "jaro_winkler":
            return _jaro_winkler(left, right).cast("float64") * 100
        return similarity(left, right)

    def holds(self, score: ir.FloatingValue) -> ir.BooleanValue:
        """True when the score reaches the threshold (a negated condition: when both values exist and do not)."""
        reached = score >= self.condition.threshold
        if self.condition.negate:
            return score.notnull() & ~reached
        return score.notnull() & reached


def similarity(left: ir.StringValue, right: ir.StringValue) -> ir.FloatingValue:
    """Percent similarity = (1 - levenshtein / length of the LONGER string) * 100; symmetric in its arguments."""
    longest = ibis.greatest(left.length(), right.length())
    return (1 - left.levenshtein(right).cast("float64") / longest.cast("float64")) * 100


def _options_key(c: Condition) -> str:
    if not (c.aliases or c.bypass):
        return ""
    return hashlib.sha1(repr((c.aliases, c.bypass)).encode()).hexdigest()[:8]  # noqa: S324 - a name, not security


def compile_condition(c: Condition, country: str = "US") -> CompiledCondition:
    column = column_name(c.field, c.normalize, _options_key(c))
    return CompiledCondition(c, column, f"{column}__swapped" if c.swap_day_month else None, country)


def compile_rule(rule: Rule, country: str = "US") -> list[CompiledCondition]:
    return [compile_condition(c, country) for c in rule.conditions]


def compile_exceptions(rule: Rule, country: str = "US") -> list[list[CompiledCondition]]:
    return [[compile_condition(c, country) for c in ex] for ex in rule.exceptions]


def compile_all(rule: Rule, country: str = "US") -> list[CompiledCondition]:
    """Every condition of the rule and of its exceptions: what needs a comparison column."""
    return [compile_condition(c, country) for c in rule.all_conditions()]


def normalized_table(rules: list[Rule], records: ir.Table, base: str, country: str) -> ir.Table:
    """_rid, _rank and every normalized column any rule or exception compares (plus swapped dates)."""
    columns: dict[str, tuple[ir.Value, list[Step]]] = {}
    swapped: dict[str, CompiledCondition] = {}
    for rule in rules:
        for c in compile_all(rule, country):
            if c.column not in columns:
                columns[c.column] = (records[c.condition.field], c.steps(base))
            if c.swapped:
                swapped[c.swapped] = c
    t = apply_steps(records.select("_rid", "_rank", *sorted({v.get_name() for v, _ in columns.values()})), columns)
    t = t.select("_rid", "_rank", *columns)
    if swapped:
        t = t.mutate(**{name: c.swapped_value(t[c.column]) for name, c in swapped.items()})
    return t


def read_values(spec: list[str] | str | None, base: str) -> set[str]:
    """Bypass values: a list in the project file, or a file with one value per line."""
    if spec is None:
        return set()
    if isinstance(spec, list):
        return {v.strip().lower() for v in spec}
    path = Path(base) / spec
    return {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def read_aliases(spec: str | None, base: str) -> dict[str, str]:
    """Alias pairs from a CSV (value,alias): both sides become the first value, as normalized text."""
    if spec is None:
        return {}
    out: dict[str, str] = {}
    with (Path(base) / spec).open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) >= 2 and row[0].strip() and not row[0].startswith("#"):
                out[row[1].strip().lower()] = row[0].strip().lower()
    return out
