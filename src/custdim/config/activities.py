"""``activities:`` — tables of customer events (orders, receipts, visits) linked to a customer source table."""

from __future__ import annotations

from pydantic import Field, field_validator

from custdim.config.base import Model, check_identifier


class ActivityCustomer(Model):
    """Which customer table an activity row belongs to, and the column holding that table's key."""

    table: str = Field(description="'<source>.<table>' of a table under unify.tables")
    foreign_key: str


class ActivityParent(Model):
    """The table an activity row belongs to (a receipt line's receipt): its columns (the customer key, the
    timestamp) are read through ``key``, a column of the activity table holding the parent's primary key."""

    table: str = Field(description="'<source>.<table>' of the parent rows")
    key: str = Field(description="Column of the activity table holding the parent's primary key")


ACTIVITY_TYPES = ("SalesOrder", "SalesOrderLine", "Loyalty", "Feedback", "WebVisit", "Subscription", "Other")


class Activity(Model):
    table: str = Field(description="'<source>.<table>' holding the activity rows")
    type: str = Field(description=f"{', '.join(ACTIVITY_TYPES)} or a custom name")
    customer: ActivityCustomer
    timestamp: str
    amount: str | None = None
    quantity: str | None = Field(default=None, description="A quantity column: Amount is amount x quantity")
    parent: ActivityParent | None = None
    title: str | None = Field(default=None, description="A column describing the activity")
    product: str | None = None
    brand: str | None = None
    category: str | None = None
    returns: str | None = Field(
        default=None,
        description="A column that marks returns (true/yes/1/returned); a negative amount is a return anyway",
    )
    name: str | None = Field(default=None, description="Defaults to the table's name")

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        return check_identifier(v, "activity type")
