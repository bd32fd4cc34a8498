"""``unify:`` — map columns to semantic types, match records with ordered rules, merge them into profiles."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from custdim.config.base import Model
from custdim.semantic.types import check_semantic_type

PRECISIONS: dict[str, int] = {"exact": 100, "high": 80, "medium": 60, "low": 30}
NORMALIZERS = ("whitespace", "lowercase", "unicode", "numerals", "symbols", "phone")
Normalizer = Literal["whitespace", "lowercase", "unicode", "numerals", "symbols", "phone"]


class UnifyTable(Model):
    """A source table taking part in unify, with its column -> semantic type map."""

    table: str = Field(description="'<source>.<table>'")
    fields: dict[str, str] = Field(min_length=1)

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


class Condition(Model):
    """One comparison of a rule: a field, how it is normalized, and how close values must be."""

    field: str
    precision: Literal["exact", "high", "medium", "low"] | int = "exact"
    normalize: list[Normalizer] = Field(default_factory=list)
    method: Literal["levenshtein"] = "levenshtein"

    @field_validator("precision")
    @classmethod
    def _precision(cls, v: str | int) -> str | int:
        if isinstance(v, int) and not 1 <= v <= 100:
            raise ValueError(f"precision must be exact, high, medium, low or a number 1-100, got {v}")
        return v

    @property
    def threshold(self) -> int:
        """Minimum similarity in percent; 100 means the normalized values must be equal."""
        return PRECISIONS[self.precision] if isinstance(self.precision, str) else self.precision

    @property
    def is_exact(self) -> bool:
        return self.threshold == 100


class Rule(Model):
    """An AND of conditions. Exact conditions are the rule's blocking keys."""

    name: str
    conditions: list[Condition] = Field(min_length=1)

    @model_validator(mode="after")
    def _needs_a_blocking_key(self) -> Rule:
        # Without an exact condition a rule would compare every record with every other one.
        if not any(c.is_exact for c in self.conditions):
            raise ValueError(
                f"rule {self.name!r} has only fuzzy conditions; give it at least one exact condition "
                "(its blocking key) so that it does not compare every record with every other one"
            )
        return self


class Match(Model):
    """Cross-table matching: tables ranked by ``order``, rules tried in the order given."""

    order: list[str] | None = None
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Match:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")
        return self


class Merge(Model):
    """How unified fields are chosen from a profile's records."""

    default: Literal["importance"] = "importance"


class Unify(Model):
    tables: list[UnifyTable] = Field(min_length=1)
    match: Match | None = None
    merge: Merge = Field(default_factory=Merge)

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
