"""``unify:`` — map columns to semantic types, deduplicate and match records with ordered rules, merge profiles."""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from custdim.config.base import Model
from custdim.semantic.dates import DATE_TYPES, DEFAULT_PIVOT, DateOrder
from custdim.semantic.normalizer_names import Normalizer
from custdim.semantic.types import check_semantic_type

PRECISIONS: dict[str, int] = {"exact": 100, "high": 80, "medium": 60, "low": 30}
Policy = Literal["importance", "most_recent", "least_recent", "most_filled"]
# Default caps of unify.max_frequency by semantic type. Shared email addresses and phone numbers are households and
# role accounts, not identities: a value held by more records than this (in the table, for a dedupe; in every table,
# for the match) links nobody. A real birth date is shared by about one record in 25,000 (some 40 at a million
# records, 400 at ten million); one held by more than 500 is a placeholder ('2007-07-01', '1900-01-01').
DEFAULT_FREQUENCY_CAPS = {"Identity.Service.Email": 10, "Identity.Service.Phone": 10, "Person.BirthDate": 500}


class UnifyTable(Model):
    """A source table taking part in unify, with its column -> semantic type map."""

    table: str = Field(description="'<source>.<table>'")
    fields: dict[str, str] = Field(min_length=1)
    date_order: DateOrder | dict[str, DateOrder] | None = Field(
        default=None,
        description="How short dates (a/b/year) are read: mdy, dmy or ymd, for every date column or per column; "
        "decided from the values when not given.",
    )
    date_country: str | None = Field(
        default=None,
        description="A column holding each row's country (ISO 3166 two-letter code, e.g. the store's): that row's "
        "short dates are read in its country's order (month first in the US and a few others, day first elsewhere); "
        "rows without a code are read in the column's decided order.",
    )

    @model_validator(mode="after")
    def _date_order_columns(self) -> UnifyTable:
        if self.date_country is not None and self.date_order is not None:
            raise ValueError(
                "set date_order (one order for the column) or date_country (each row's order from its country), "
                "not both"
            )
        if isinstance(self.date_order, dict):
            unknown = sorted(set(self.date_order) - set(self.fields))
            if unknown:
                raise ValueError(
                    f"date_order names columns not in fields: {', '.join(unknown)}; mapped: {', '.join(self.fields)}"
                )
        return self

    def date_order_for(self, column: str) -> DateOrder | None:
        """The configured order of a column's short dates, if any."""
        if isinstance(self.date_order, dict):
            return self.date_order.get(column)
        return self.date_order

    @field_validator("fields")
    @classmethod
    def _types(cls, v: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for column, type_name in v.items():
            field = check_semantic_type(type_name).field
            if field in seen:
                raise ValueError(
                    f"columns {seen[field]!r} and {column!r} both map to the field {field!r}; map one of them"
                )
            seen[field] = column
        return v

    def field_columns(self) -> dict[str, str]:
        """Unified field name -> source column."""
        return {check_semantic_type(t).field: c for c, t in self.fields.items()}

    def field_types(self) -> dict[str, str]:
        """Unified field name -> semantic type."""
        return {check_semantic_type(t).field: t for t in self.fields.values()}


class Condition(Model):
    """One comparison of a rule: a field, how it is normalized, and how close values must be."""

    field: str
    precision: Literal["exact", "high", "medium", "low"] | int = "exact"
    normalize: list[Normalizer] = Field(default_factory=list)
    method: Literal["levenshtein", "jaro_winkler"] = "levenshtein"
    negate: bool = Field(default=False, description="In exceptions: the condition holds when values DIFFER.")
    aliases: str | None = Field(default=None, description="CSV file of value,alias pairs that count as equal.")
    bypass: list[str] | str | None = Field(default=None, description="Values that never match, or a file of them.")
    swap_day_month: bool = Field(default=False, description="Dates: also equal when day and month are swapped.")
    max_days: int | None = Field(default=None, ge=0, description="Dates: equal when at most this many days apart.")
    max_frequency: int | None = Field(
        default=None,
        ge=2,
        description="Exact conditions: a value shared by more records than this is no evidence (no agreement, "
        "no blocking key). Defaults to unify.max_frequency for the field; null here turns it off.",
    )

    @field_validator("precision")
    @classmethod
    def _precision(cls, v: str | int) -> str | int:
        if isinstance(v, int) and not 1 <= v <= 100:
            raise ValueError(f"precision must be exact, high, medium, low or a number 1-100, got {v}")
        return v

    @model_validator(mode="after")
    def _method_needs_fuzzy(self) -> Condition:
        if self.method == "jaro_winkler" and self.is_exact:
            raise ValueError("method jaro_winkler needs a fuzzy precision (high, medium, low or 1-99)")
        if self.max_days is not None and self.threshold != 100:
            raise ValueError("max_days compares dates by distance; leave precision at exact")
        if self.max_frequency is not None and not self.is_exact:
            raise ValueError("max_frequency counts records per exact value; it needs precision exact (no max_days)")
        return self

    @property
    def threshold(self) -> int:
        """Minimum similarity in percent; 100 means the normalized values must be equal."""
        return PRECISIONS[self.precision] if isinstance(self.precision, str) else self.precision

    @property
    def is_exact(self) -> bool:
        # A max_days condition accepts different values, so it can be no blocking key.
        return self.threshold == 100 and self.max_days is None


class Rule(Model):
    """An AND of conditions; exact conditions are the rule's blocking keys. Exceptions veto a match."""

    name: str
    conditions: list[Condition] = Field(min_length=1)
    exceptions: list[list[Condition]] = Field(default_factory=list)
    tables: list[str] | None = Field(default=None, description="Apply to this pair of tables only.")
    min_match_weight: float | None = Field(
        default=None, description="Also require this Fellegi-Sunter match weight (after `custdim unify train`)."
    )

    @field_validator("tables")
    @classmethod
    def _pair(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(v) != 2:
            raise ValueError(f"tables names exactly two tables (a pair), got {len(v)}")
        return v

    @field_validator("exceptions")
    @classmethod
    def _non_empty(cls, v: list[list[Condition]]) -> list[list[Condition]]:
        if any(not e for e in v):
            raise ValueError("an exception needs at least one condition")
        return v

    @property
    def has_exact(self) -> bool:
        return any(c.is_exact for c in self.conditions)

    def all_conditions(self) -> list[Condition]:
        """The rule's conditions, then those of its exceptions."""
        return self.conditions + [c for ex in self.exceptions for c in ex]


def _unique_names(rules: list[Rule]) -> None:
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")


class Conflict(Model):
    """Records that contradict each other on every condition here are two people: the cluster stage keeps them in
    one profile only when a direct match links them (a chain of matches through others is not enough)."""

    name: str
    conditions: list[Condition] = Field(
        min_length=1, description="Each holds when both values exist and do NOT reach its precision."
    )

    @field_validator("conditions")
    @classmethod
    def _no_frequency(cls, v: list[Condition]) -> list[Condition]:
        if any(c.max_frequency is not None for c in v):
            raise ValueError("max_frequency weighs evidence for a match; a conflict condition cannot use it")
        return v


def default_conflicts(fields: list[str]) -> list[Conflict]:
    """Without a ``conflicts:`` section, each of these means a different person: a first name and a birth date that
    both differ; a first name unlike the other altogether, as written and after nickname folding (John and James,
    not Jon and John or Bill and William: below precision ``low``); a birth date (not merely day and month swapped)
    and a phone number that both differ."""
    have = set(fields)
    name: list[Normalizer] = ["name", "lowercase", "unicode"]
    birth = Condition(field="BirthDate")
    out: list[Conflict] = []
    if {"FirstName", "BirthDate"} <= have:
        first = Condition(field="FirstName", precision="high", normalize=name)
        out.append(Conflict(name="first-name-and-birth-date", conditions=[first, birth]))
    if "FirstName" in have:
        # Unlike both as written and after nickname folding: one canonical per nickname sometimes folds a name
        # away from its own family (annie -> stephanie), and Bill/William are alike only folded.
        folded = Condition(field="FirstName", precision="low", normalize=name)
        written = Condition(field="FirstName", precision="low", normalize=["lowercase", "unicode"])
        out.append(Conflict(name="first-name", conditions=[folded, written]))
    if {"BirthDate", "Phone"} <= have:
        swapped = Condition(field="BirthDate", swap_day_month=True)
        phone = Condition(field="Phone", normalize=["phone"])
        out.append(Conflict(name="birth-date-and-phone", conditions=[swapped, phone]))
    return out


class Dedupe(Model):
    """Deduplication within one table: every rule on every row, groups joined transitively, one winner each."""

    table: str
    preference: Literal["most_filled", "most_recent", "least_recent"] = "most_filled"
    by: str | None = Field(default=None, description="Date/number column for most_recent / least_recent.")
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _by(self) -> Dedupe:
        if self.preference != "most_filled" and not self.by:
            raise ValueError(f"preference {self.preference} needs `by`: the column that says how recent a row is")
        _unique_names(self.rules)
        return self


class Match(Model):
    """Cross-table matching: tables ranked by ``order``, rules tried in the order given."""

    order: list[str] | None = None
    rules: list[Rule] = Field(default_factory=list)
    always_match: str | None = Field(default=None, description="CSV of Table1,Table1Key,Table2,Table2Key")
    never_match: str | None = Field(default=None, description="CSV of Table1,Table1Key,Table2,Table2Key")
    mode: Literal["ordered", "all_rules"] = Field(
        default="ordered",
        description="ordered: a record matched by a rule is not offered to later rules (Customer Insights); "
        "all_rules: every rule's pairs are links, and the cluster guards keep chains in check.",
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Match:
        _unique_names(self.rules)
        return self


class FieldPolicy(Model):
    """How one unified field is chosen (or a new field is derived, for ``collect``)."""

    policy: Literal["importance", "most_recent", "least_recent", "most_filled", "collect"]
    by: str | None = None
    from_field: str | None = Field(default=None, alias="from")

    @model_validator(mode="after")
    def _checks(self) -> FieldPolicy:
        if self.policy in ("most_recent", "least_recent") and not self.by:
            raise ValueError(f"policy {self.policy} needs `by`: the column that says how recent a record is")
        return self


class FieldGroup(Model):
    """Fields taken together from one record (an address), chosen by one policy."""

    name: str
    fields: list[str] = Field(min_length=2, max_length=10)
    policy: Policy = "importance"
    by: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> FieldGroup:
        if self.policy in ("most_recent", "least_recent") and not self.by:
            raise ValueError(f"policy {self.policy} needs `by`")
        return self


class Merge(Model):
    """How unified fields are chosen from a profile's records."""

    default: Policy = "importance"
    by: str | None = Field(default=None, description="Recency column for a most_recent / least_recent default.")
    fields: dict[str, FieldPolicy] = Field(default_factory=dict)
    groups: list[FieldGroup] = Field(default_factory=list)
    rename: dict[str, str] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checks(self) -> Merge:
        if self.default in ("most_recent", "least_recent") and not self.by:
            raise ValueError(f"default policy {self.default} needs `by`")
        grouped = [f for g in self.groups for f in g.fields]
        dupes = sorted({f for f in grouped if grouped.count(f) > 1})
        if dupes:
            raise ValueError(f"fields in more than one group: {', '.join(dupes)}")
        return self


class Unify(Model):
    tables: list[UnifyTable] = Field(min_length=1)
    dedupe: list[Dedupe] = Field(default_factory=list)
    match: Match | None = None
    merge: Merge = Field(default_factory=Merge)
    default_country: str = Field(default="US", description="Country for phone numbers without a country code.")
    max_block_size: int = Field(default=1000, ge=2, description="Blocking keys shared by more records are skipped.")
    max_cluster_size: int = Field(default=50, ge=2, description="Larger profiles are split at their weakest links.")
    conflicts: list[Conflict] | None = Field(
        default=None,
        description="When records contradict each other (default: first name and birth date both differ); [] = off.",
    )
    max_frequency: dict[str, Annotated[int, Field(ge=2)]] | None = Field(
        default=None,
        description="Field -> N: exact agreement on a value shared by more than N records of a step is no evidence "
        "(default: 10 for email and phone fields, 500 for birth dates); {} = off.",
    )
    id_namespace: str | None = Field(default=None, description="Namespace of CustomerIds; defaults to the project.")
    two_digit_year_pivot: int = Field(
        default=DEFAULT_PIVOT,
        ge=0,
        le=100,
        description="Dates with 2-digit years: below the pivot is 20yy, at or above it 19yy (fixed, not today-based).",
    )

    @field_validator("default_country")
    @classmethod
    def _country(cls, v: str) -> str:
        # Checked here, not when a phone normalizer first needs it: a typo must fail before hours of ingest.
        import phonenumbers  # imported on use: the CLI loads config modules and phonenumbers is large

        region = v.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            close = ["GB"] if region == "UK" else difflib.get_close_matches(region, phonenumbers.SUPPORTED_REGIONS, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"unknown country {v!r}{hint}; use a two-letter ISO 3166 region code such as US, GB, DE, FR, CA, AU"
            )
        return region

    @model_validator(mode="after")
    def _max_days_on_dates(self) -> Unify:
        # Only known types are checked here; a custom field may still hold date columns, which the map stage checks.
        types = self.field_types()
        for field, where in self.max_days_uses():
            semantic = types.get(field)
            if semantic and semantic not in DATE_TYPES and not check_semantic_type(semantic).is_custom:
                raise ValueError(f"{where}.max_days: max_days needs a date field; {field} is {semantic}")
        return self

    @model_validator(mode="after")
    def _frequency_fields(self) -> Unify:
        # Field names from the tables as listed: match.order is checked by its own validator, maybe after this one.
        fields = list(dict.fromkeys(f for t in self.tables for f in t.field_columns()))
        unknown = sorted(set(self.max_frequency or {}) - set(fields))
        if unknown:
            raise ValueError(f"max_frequency: unknown field {', '.join(unknown)}; valid values: {', '.join(fields)}")
        return self

    def max_days_uses(self) -> list[tuple[str, str]]:
        """(field, config path of the condition) of every condition with ``max_days``."""
        groups: list[tuple[str, list[Condition]]] = []
        for i, d in enumerate(self.dedupe):
            for j, r in enumerate(d.rules):
                groups.append((f"unify.dedupe[{i}].rules[{j}].conditions", r.conditions))
                groups += [(f"unify.dedupe[{i}].rules[{j}].exceptions[{k}]", e) for k, e in enumerate(r.exceptions)]
        for j, r in enumerate(self.match.rules if self.match else []):
            groups.append((f"unify.match.rules[{j}].conditions", r.conditions))
            groups += [(f"unify.match.rules[{j}].exceptions[{k}]", e) for k, e in enumerate(r.exceptions)]
        for j, cf in enumerate(self.conflicts or []):
            groups.append((f"unify.conflicts[{j}].conditions", cf.conditions))
        return [
            (c.field, f"{path}[{n}]") for path, conds in groups for n, c in enumerate(conds) if c.max_days is not None
        ]

    def frequency_caps(self) -> dict[str, int]:
        """Field -> the most records an exact value may be shared by and still count (configured or default)."""
        if self.max_frequency is not None:
            return dict(self.max_frequency)
        return {f: DEFAULT_FREQUENCY_CAPS[t] for f, t in self.field_types().items() if t in DEFAULT_FREQUENCY_CAPS}

    def with_frequency_caps(self, rule: Rule) -> Rule:
        """``rule`` with every exact condition that sets no ``max_frequency`` of its own given its field's cap."""
        caps = self.frequency_caps()
        conditions = [
            c.model_copy(update={"max_frequency": caps[c.field]})
            if c.is_exact and c.field in caps and "max_frequency" not in c.model_fields_set
            else c
            for c in rule.conditions
        ]
        return rule.model_copy(update={"conditions": conditions})

    def conflict_rules(self) -> list[Conflict]:
        """The configured conflicts, or the default ones for the mapped fields."""
        return default_conflicts(self.fields()) if self.conflicts is None else self.conflicts

    def ordered_tables(self) -> list[UnifyTable]:
        """Tables in match order (the first one is the primary table)."""
        by_name = {t.table: t for t in self.tables}
        order = self.match.order if self.match and self.match.order else [t.table for t in self.tables]
        return [by_name[name] for name in order]

    def fields(self) -> list[str]:
        """All unified field names, in first-mapped order."""
        out: list[str] = []
        for t in self.ordered_tables():
            out.extend(f for f in t.field_columns() if f not in out)
        return out

    def field_types(self) -> dict[str, str]:
        """Unified field -> semantic type."""
        out: dict[str, str] = {}
        for t in self.tables:
            for f, st in t.field_types().items():
                out.setdefault(f, st)
        return out

    def all_rules(self) -> list[Rule]:
        return [r for d in self.dedupe for r in d.rules] + (self.match.rules if self.match else [])

    def recency_columns(self) -> list[str]:
        """Source columns that policies rank records by."""
        cols = [d.by for d in self.dedupe] + [self.merge.by]
        cols += [p.by for p in self.merge.fields.values()] + [g.by for g in self.merge.groups]
        out: list[str] = []
        for c in cols:
            if c and c not in out:
                out.append(c)
        return out
