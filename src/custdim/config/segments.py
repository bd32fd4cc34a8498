"""``segments:`` — named groups of customers, from a condition tree and set operations over other segments.

A condition tests a profile field or measure (``field:``) or the customer's activities in a time window
(``activity:``). ``all``/``any``/``not`` nest. Set operations name other segments as ``segment:<name>``;
``segment:all-customers`` is every profile.

Members are: the union of ``union`` (default: every customer), filtered by the conditions, intersected with each of
``intersect``, minus each of ``except``.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from custdim.config.base import Model
from custdim.config.measures import Op, Value, parse_duration

SEGMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ALL_CUSTOMERS = "all-customers"
"""The built-in segment every profile belongs to."""


class Condition(Model):
    """A leaf (``field`` or ``activity``) or a group (``all``, ``any``, ``not``)."""

    field: str | None = None
    activity: str | None = Field(default=None, description="Activity type; '*' for any")
    within: str | None = Field(default=None, description="Activity conditions: only the last N days/weeks/months")
    op: Op | None = None
    value: Value = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @field_validator("within")
    @classmethod
    def _within(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        kinds = [k for k in ("field", "activity", "all", "any", "not_") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a condition is exactly one of field, activity, all, any or not")
        if self.field is None and self.activity is None and (self.op or self.value is not None or self.within):
            raise ValueError("op, value and within belong to a field or activity condition")
        if self.field is not None and self.within is not None and self.op != "within":
            raise ValueError("`within` on a field condition: use op: within, value: 30d")
        if self.activity is not None and self.op is None:
            raise ValueError("an activity condition needs op: exists, not_exists or a count comparison (>=, ...)")
        if self.field is not None and self.op is None:
            raise ValueError("a field condition needs op")
        return self


class Segment(Model):
    name: str
    description: str | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    union: list[str] = Field(default_factory=list, description="segment:<name> references")
    intersect: list[str] = Field(default_factory=list)
    except_: list[str] = Field(default_factory=list, alias="except")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not SEGMENT_NAME.match(v):
            raise ValueError(f"segment name {v!r}: letters, digits, '-', '_' and '.' only, at most 100")
        return v

    @field_validator("union", "intersect", "except_")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not ref.startswith("segment:") or not SEGMENT_NAME.match(ref.removeprefix("segment:")):
                raise ValueError(f"{ref!r}: name another segment as segment:<name>")
        return v

    @model_validator(mode="after")
    def _something(self) -> Segment:
        if not (self.all or self.any or self.union or self.intersect or self.except_):
            raise ValueError("a segment needs conditions (all, any) or set operations (union, intersect, except)")
        return self

    def references(self) -> list[str]:
        """Names of the segments this one is built from."""
        return [r.removeprefix("segment:") for r in self.union + self.intersect + self.except_]
