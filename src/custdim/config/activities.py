"""``activities:`` — tables of customer events (orders, receipts, visits) linked to a customer source table."""

from __future__ import annotations

from pydantic import Field, field_validator

from custdim.config.base import Model, check_identifier


class ActivityCustomer(Model):
    """Which customer table an activity row belongs to, and the column holding that table's key."""

    table: str = Field(description="'<source>.<table>' of a table under unify.tables")
    foreign_key: str


class Activity(Model):
    table: str = Field(description="'<source>.<table>' holding the activity rows")
    type: str = Field(description="SalesOrder, SalesOrderLine, Loyalty, Feedback, Subscription, Other or custom")
    customer: ActivityCustomer
    timestamp: str
    amount: str | None = None
    name: str | None = Field(default=None, description="Defaults to the table's name")

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        return check_identifier(v, "activity type")
