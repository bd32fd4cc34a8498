"""``measures:`` — customer attributes and business figures computed from the unified activities.

A measure is an aggregate over activities (optionally of some types, in a time window relative to the run's
``as_of`` date, filtered by ``where``), an arithmetic ``expression`` over other measures, or a built-in ``template``.
Customer measures give one value per customer (columns of CustomerMeasure and dim_customer); business measures
(``scope: business``) one value per group of ``group_by`` (the BusinessMeasure table).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from custdim.config.base import Model, check_identifier

AGGREGATES = ("sum", "avg", "count", "count_distinct", "min", "max", "first", "last", "argmax", "argmin")
Aggregate = Literal["sum", "avg", "count", "count_distinct", "min", "max", "first", "last", "argmax", "argmin"]
TIME_GROUPS = ("day", "week", "month", "quarter", "year")
"""Names ``group_by`` accepts besides activity columns: the activity's timestamp truncated to that period."""

# '30d', '12m', '2y', '8w': the last N whole days / weeks / months / years up to and including as_of.
DURATION = re.compile(r"^([1-9][0-9]{0,4})([dwmy])$")


def parse_duration(text: str) -> tuple[int, str]:
    """'30d' -> (30, 'd'); raises ValueError naming the accepted forms."""
    m = DURATION.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration; use a number and d, w, m or y (30d, 8w, 12m, 2y)")
    return int(m.group(1)), m.group(2)


class DateRange(Model):
    """A fixed window of calendar dates, both ends included; one end may be open."""

    from_date: dt.date | None = Field(default=None, alias="from")
    to_date: dt.date | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _order(self) -> DateRange:
        if self.from_date is None and self.to_date is None:
            raise ValueError("give from, to or both")
        if self.from_date and self.to_date and self.from_date > self.to_date:
            raise ValueError(f"from ({self.from_date}) is after to ({self.to_date})")
        return self


Window = str | DateRange


def check_window(value: Window) -> Window:
    if isinstance(value, str) and value != "all":
        parse_duration(value)
    return value


Op = Literal[
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "between",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "before",
    "after",
    "within",
    "is_null",
    "is_not_null",
    "is_true",
    "is_false",
    "exists",
    "not_exists",
]
OPS: tuple[str, ...] = Op.__args__  # type: ignore[attr-defined]
Value = bool | int | float | dt.datetime | dt.date | str | list[bool | int | float | dt.date | str] | None


class Filter(Model):
    """One condition on an activity column (``where:`` of a measure)."""

    field: str
    op: Op = "="
    value: Value = None


class Measure(Model):
    name: str | None = Field(default=None, description="Column name; templates default to their own")
    description: str | None = None
    template: (
        Literal[
            "average_transaction_value",
            "total_transaction_value",
            "transaction_count",
            "days_since_last_purchase",
            "active_lifespan",
        ]
        | None
    ) = Field(default=None, description="A built-in measure switched on by name")
    scope: Literal["customer", "business"] = "customer"
    aggregate: Aggregate | None = None
    of: str | None = Field(default=None, description="The activity column aggregated (Amount, Category, ...)")
    by: str | None = Field(default=None, description="argmax/argmin: the column whose value is returned")
    from_types: list[str] | None = Field(
        default=None, alias="from", description="Activity type(s) to aggregate; default: every activity"
    )
    window: Window = "all"
    where: list[Filter] = Field(default_factory=list, description="Conditions on activity columns; all must hold")
    default: float | int | str | None = Field(default=None, description="Value for customers without activities")
    expression: str | None = Field(default=None, description="Arithmetic over other customer measures")
    group_by: list[str] = Field(default_factory=list, description="Business measures: columns or day/week/month/year")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else check_identifier(v, "measure name")

    @field_validator("from_types", mode="before")
    @classmethod
    def _one_or_more(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("window")
    @classmethod
    def _window(cls, v: Window) -> Window:
        return check_window(v)

    @model_validator(mode="after")
    def _kind(self) -> Measure:
        kinds = [k for k, v in (("aggregate", self.aggregate), ("expression", self.expression),
                                ("template", self.template)) if v is not None]  # fmt: skip
        if len(kinds) != 1:
            raise ValueError("give exactly one of aggregate, expression or template")
        if self.template is None and self.name is None:
            raise ValueError("name is required (only templates have a default name)")
        if self.expression is not None:
            extra = [k for k in ("of", "by", "from_types", "where", "group_by") if getattr(self, k)]
            if extra or self.window != "all" or self.scope != "customer":
                raise ValueError("an expression measure combines other customer measures: no from/of/by/window/where")
        if self.aggregate in ("sum", "avg", "min", "max", "count_distinct", "first", "last") and self.of is None:
            raise ValueError(f"aggregate {self.aggregate} needs `of`: the activity column to aggregate")
        if self.aggregate in ("argmax", "argmin") and self.by is None:
            raise ValueError(f"aggregate {self.aggregate} needs `by`: the column whose value is returned")
        if self.scope == "business":
            if self.aggregate in ("argmax", "argmin", "first", "last") or self.template is not None:
                raise ValueError("business measures take sum, avg, count, count_distinct, min or max")
        elif self.group_by:
            raise ValueError("group_by is for scope: business; a customer measure is grouped by customer")
        return self

    @property
    def column(self) -> str:
        """The measure's output column name."""
        if self.name is not None:
            return self.name
        assert self.template is not None
        return "".join(part.capitalize() for part in self.template.split("_"))
