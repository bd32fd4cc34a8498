"""``predictions:`` — models fitted on the unified activities, each validated on held-out time.

Only the models named here run; ``predictions: {clv: {}}`` switches customer lifetime value on with its defaults.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from custdim.config.base import Model, check_identifier
from custdim.config.measures import parse_duration

ActivityType = Annotated[str, AfterValidator(lambda v: check_identifier(v, "activity type"))]
"""An activity type name (SalesOrder, SalesOrderLine ...), checked like every identifier the models put in SQL."""

TIME_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
"""Length of each time unit in days (a month is a twelfth of the average year)."""


class HighValue(Model):
    """Which customers are High value: the top ``top_percent`` by CLVScore, or the fewest customers holding
    ``revenue_share`` percent of the predicted value. Give one."""

    top_percent: float | None = Field(default=None, gt=0, lt=100)
    revenue_share: float | None = Field(default=None, gt=0, lt=100)

    @model_validator(mode="after")
    def _one(self) -> HighValue:
        if (self.top_percent is None) == (self.revenue_share is None):
            raise ValueError("give exactly one of top_percent or revenue_share")
        return self


class Clv(Model):
    """Customer lifetime value: BG/NBD (how often, and whether still active) times Gamma-Gamma (how much)."""

    activity: ActivityType = Field(
        default="SalesOrder", description="The amount-bearing activity type (orders, receipts)"
    )
    horizon: str = Field(default="12m", description="How far ahead to predict: 12m, 39w, 365d ...")
    time_unit: Literal["day", "week", "month"] = Field(
        default="week", description="The unit the fitted parameters are reported in"
    )
    high_value: HighValue = Field(default_factory=lambda: HighValue(top_percent=20))
    holdout: bool = Field(
        default=True,
        description="Also fit on the data up to as_of minus one horizon and score the prediction against what "
        "happened in the last horizon",
    )

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, v: str) -> str:
        parse_duration(v)
        return v


class Churn(Model):
    """Transactional churn: a customer with no purchase in the ``definition_days`` after a cut-off has churned."""

    activity: ActivityType = Field(default="SalesOrder", description="The purchase activity type (orders, receipts)")
    definition_days: int = Field(
        default=90, ge=7, le=730, description="No purchase in this many days after the cut-off means churned"
    )
    cutoffs: int = Field(
        default=4,
        ge=2,
        le=24,
        description="Training cut-offs at as_of minus 1, 2 ... cutoffs times definition_days; the latest one is "
        "held out for validation",
    )


class Affinity(Model):
    """First-party brand and interest affinity from the customers' own spend, as a smoothed lift over the
    population's share. Leave a field out (``null``) to skip that affinity."""

    activity: ActivityType = Field(
        default="SalesOrderLine", description="The activity type whose rows carry the fields"
    )
    brand_field: str | None = Field(default="Brand", description="UnifiedActivity column with the brand")
    interest_field: str | None = Field(default="Category", description="UnifiedActivity column with the interest")

    @model_validator(mode="after")
    def _some(self) -> Affinity:
        if self.brand_field is None and self.interest_field is None:
            raise ValueError("give brand_field, interest_field or both")
        return self


class Recommendations(Model):
    """Item-to-item co-purchase recommendations, evaluated on the last month held out against the most popular
    products."""

    activity: ActivityType = Field(default="SalesOrderLine", description="The activity type whose rows name a Product")
    items: int = Field(default=5, ge=1, le=100, description="Products recommended per customer")
    allow_repeat: bool = Field(
        default=False, description="Whether products the customer already bought may be recommended"
    )
    lookback: str | None = Field(
        default=None, description="Only purchases in this window before as_of count (12m, 26w ...); default: all"
    )
    holdout: str = Field(default="1m", description="The window held out for validation")

    @field_validator("lookback", "holdout")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v


class Predictions(Model):
    clv: Clv | None = None
    churn: Churn | None = None
    affinity: Affinity | None = None
    recommendations: Recommendations | None = None
