"""The run's ``as_of`` date and the time windows that count back from it.

Every window is computed here, in Python, into literal bounds: the same project gives the same bounds on every
engine, and no engine's date arithmetic (which differs at month ends) is involved. A window covers whole days:
``30d`` is the 30 days ending with ``as_of`` (``as_of`` included); ``12m`` starts on the same day of the month 12
months earlier (clamped to the month's last day); activities after ``as_of`` are in no window.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from custdim.config.measures import DateRange, Window, parse_duration

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.stages.insights.predicates import Where


@dataclass(frozen=True)
class AsOf:
    date: dt.date
    reason: str

    @property
    def end(self) -> dt.datetime:
        """The first instant after ``as_of``: windows end before it."""
        return dt.datetime.combine(self.date + dt.timedelta(days=1), dt.time())


def resolve_as_of(configured: dt.date | None, activity: ir.Table, to_arrow: Callable[[ir.Table], pa.Table]) -> AsOf:
    """``as_of`` from the project, else the date of the latest activity, else today's date (UTC).

    ``to_arrow`` runs a query: a run's engine, or the published views' reader.
    """
    if configured is not None:
        return AsOf(configured, "configured (as_of)")
    latest = to_arrow(activity.aggregate(latest=activity.ActivityTimeStamp.max()))["latest"][0].as_py()
    if latest is None:
        return AsOf(dt.datetime.now(dt.UTC).date(), "no activities: the run's date")
    return AsOf(latest.date(), "the latest activity")


def months_back(day: dt.date, months: int) -> dt.date:
    """``day`` moved back ``months`` calendar months, clamped to the target month's last day."""
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def window_start(as_of: AsOf, text: str, where: Where | None = None) -> dt.datetime:
    """The first instant of the duration window ``text`` ('30d', '8w', '12m', '2y') ending with ``as_of``."""
    try:
        n, unit = parse_duration(text)
    except ValueError as err:
        if where is None:
            raise
        raise where.error(str(err)) from None
    end = as_of.end
    if unit == "d":
        return end - dt.timedelta(days=n)
    if unit == "w":
        return end - dt.timedelta(weeks=n)
    months = n if unit == "m" else 12 * n
    return dt.datetime.combine(months_back(end.date(), months), dt.time())


def window_bounds(as_of: AsOf, window: Window) -> tuple[dt.datetime | None, dt.datetime]:
    """[start, end) of a measure window; ``start`` None means from the beginning."""
    if isinstance(window, DateRange):
        start = dt.datetime.combine(window.from_date, dt.time()) if window.from_date else None
        end = as_of.end
        if window.to_date is not None:
            end = min(end, dt.datetime.combine(window.to_date + dt.timedelta(days=1), dt.time()))
        return start, end
    if window == "all":
        return None, as_of.end
    return window_start(as_of, window), as_of.end


def in_window(ts: ir.TimestampValue, as_of: AsOf, window: Window) -> ir.BooleanValue:
    """Whether the timestamp falls in the window."""
    start, end = window_bounds(as_of, window)
    test = ts < ibis.literal(end, "timestamp")
    if start is not None:
        test = test & (ts >= ibis.literal(start, "timestamp"))
    return test.fill_null(False)
