"""Segments: every operator on hand-made profiles, activity conditions, set operations, history and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from custdim.errors import ConfigError
from custdim.project import Project
from custdim.report import RunReport
from tests.insights.projects import members, shop

MEASURES = """measures:
  - {template: total_transaction_value}
  - {template: transaction_count}
  - {template: days_since_last_purchase}
"""
# name -> (conditions YAML, expected members). A: Ann, Seattle, born 1980-05-01, spent 160 in 4 orders, last
# 2025-06-30; B: Bob, Portland, no email, born 1990-01-01, spent 30 in 2 orders, last 2025-05-01, visited the web
# shop 2025-06-20; C: Cy, Boston, nothing bought, no birth date.
CASES: dict[str, tuple[str, set[str]]] = {
    "gt": ('all: [{field: TotalTransactionValue, op: ">", value: 100}]', {"A"}),
    "ge": ('all: [{field: TotalTransactionValue, op: ">=", value: 30}]', {"A", "B"}),
    "lt": ('all: [{field: TotalTransactionValue, op: "<", value: 30}]', {"C"}),  # C: 0 (the template's default)
    "le": ('all: [{field: TransactionCount, op: "<=", value: 2}]', {"B", "C"}),
    "eq-number": ('all: [{field: TransactionCount, op: "=", value: 4}]', {"A"}),
    "ne-number": ('all: [{field: TransactionCount, op: "!=", value: 4}]', {"B", "C"}),
    "between": ("all: [{field: TotalTransactionValue, op: between, value: [20, 40]}]", {"B"}),
    "in-number": ("all: [{field: TransactionCount, op: in, value: [0, 2]}]", {"B", "C"}),
    "eq-text": ("all: [{field: City, op: '=', value: Seattle}]", {"A"}),
    "ne-text": ("all: [{field: City, op: '!=', value: Seattle}]", {"B", "C"}),
    "in-text": ("all: [{field: City, op: in, value: [Seattle, Portland]}]", {"A", "B"}),
    "not-in-text": ("all: [{field: City, op: not_in, value: [Seattle, Portland]}]", {"C"}),
    "contains": ("all: [{field: FirstName, op: contains, value: O}]", {"B"}),  # case-insensitive
    "starts-with": ("all: [{field: City, op: starts_with, value: bo}]", {"C"}),
    "ends-with": ("all: [{field: Email, op: ends_with, value: '@X.COM'}]", {"A", "C"}),
    "is-null": ("all: [{field: Email, op: is_null}]", {"B"}),
    "is-not-null": ("all: [{field: BirthDate, op: is_not_null}]", {"A", "B"}),
    "before": ("all: [{field: BirthDate, op: before, value: 1985-01-01}]", {"A"}),
    "after": ("all: [{field: BirthDate, op: after, value: 1985-01-01}]", {"B"}),
    "date-between": ("all: [{field: BirthDate, op: between, value: [1979-01-01, 1990-01-01]}]", {"A", "B"}),
    "any": ("any: [{field: City, op: '=', value: Boston}, {field: TransactionCount, op: '>', value: 3}]", {"A", "C"}),
    "not": ("all: [{not: {field: City, op: '=', value: Seattle}}]", {"B", "C"}),
    "nested": (
        "all: [{field: TransactionCount, op: '>', value: 0}, {any: [{field: City, op: '=', value: Portland},"
        " {field: Email, op: is_null}]}]",
        {"B"},
    ),
    "activity-exists": ("all: [{activity: WebVisit, op: exists}]", {"A", "B"}),
    "activity-within": ("all: [{activity: WebVisit, within: 30d, op: exists}]", {"B"}),
    "activity-not-exists": ("all: [{activity: SalesOrder, within: 90d, op: not_exists}]", {"C"}),
    # Counts only up to as_of: A's order of 2025-07-02 is not counted (4, not 5).
    "activity-count": ("all: [{activity: SalesOrder, op: '>=', value: 4}]", {"A"}),
    "activity-count-5": ("all: [{activity: SalesOrder, op: '>=', value: 5}]", set()),
    # Any type in 12m: A 3 orders and a visit (2024-12-01), B 2 orders and a visit.
    "any-activity": ("all: [{activity: '*', within: 12m, op: '=', value: 3}]", {"B"}),
    "recent-purchase": ("all: [{field: DaysSinceLastPurchase, op: '<=', value: 60}]", {"A", "B"}),
    # Set operations over the segments above.
    "union": ("union: [segment:gt, segment:is-null]", {"A", "B"}),
    "intersect": ("intersect: [segment:in-text, segment:ge]\n    union: [segment:all-customers]", {"A", "B"}),
    "except": ("union: [segment:all-customers]\n    except: [segment:gt]", {"B", "C"}),
    "filtered-union": ("union: [segment:in-text]\n    all: [{field: TransactionCount, op: '<', value: 3}]", {"B"}),
    "chained": ("union: [segment:except]\n    except: [segment:starts-with]", {"B"}),
}


def _segments_yaml() -> str:
    out = ["segments:"]
    for name, (body, _) in CASES.items():
        out.append(f"  - name: {name}\n    {body}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, RunReport]:
    p = shop(tmp_path_factory.mktemp("shop"), MEASURES + _segments_yaml())
    return p, p.run()


@pytest.mark.parametrize("name", list(CASES))
def test_segment(shop_run: tuple[Project, RunReport], name: str) -> None:
    assert members(shop_run[0]).get(name, set()) == CASES[name][1]


def test_report_sizes_and_warnings(shop_run: tuple[Project, RunReport]) -> None:
    stage = shop_run[1].stage("segments")
    assert stage is not None
    sizes = stage.details["segments"]
    assert list(sizes) == list(CASES)  # the project file's order
    assert sizes["gt"] == {"Members": 1, "Added": 1, "Removed": 0}
    assert any("segment 'activity-count-5' is empty" in w for w in stage.warnings)


def test_dim_customer_lists_segments(shop_run: tuple[Project, RunReport]) -> None:
    rows = (
        shop_run[0]
        .sql("SELECT k.SourceKey, d.Segments FROM dim_customer d JOIN AlternateKey k USING (CustomerId)")
        .to_pylist()
    )
    segments = {r["SourceKey"]: r["Segments"] for r in rows}
    assert segments["A"] == sorted(n for n, (_, keys) in CASES.items() if "A" in keys)


def test_history_counts_added_and_removed(tmp_path: Path) -> None:
    body = MEASURES + "segments:\n  - name: seattle\n    all: [{field: City, op: '=', value: Seattle}]\n"
    p = shop(tmp_path, body)
    p.run()
    people = tmp_path / "data" / "people.csv"
    people.write_text(
        people.read_text()
        .replace("Portland", "Seattle")
        .replace("Ann,Lee,ann@x.com,Seattle", "Ann,Lee,ann@x.com,Tacoma")
    )
    p.run()
    rows = p.sql(
        "SELECT RunId, SegmentName, Members, Added, Removed FROM SegmentHistory ORDER BY RunAt, RunId"
    ).to_pylist()
    assert [(r["Members"], r["Added"], r["Removed"]) for r in rows] == [(1, 1, 0), (1, 1, 1)]
    assert len({r["RunId"] for r in rows}) == 2


@pytest.mark.parametrize(
    ("segment", "key", "message"),
    [
        (
            "all: [{field: Citty, op: '=', value: Seattle}]",
            "segments[0].all[0].field",
            "unknown field 'Citty'; valid names: CustomerId",
        ),
        (
            "all: [{field: City, op: '>', value: 3}]",
            "segments[0].all[0].field",
            "op '>' does not apply to a string field; valid ops: =, !=, in, not_in, contains",
        ),
        ("all: [{field: TransactionCount, op: '>', value: many}]", "segments[0].all[0]", "value 'many' does not fit"),
        ("all: [{activity: SalesOrder, op: contains, value: x}]", "segments[0].all[0]", "valid ops: =, !="),
        ("all: [{activity: SalesOrder, op: '>', value: 2.5}]", "segments[0].all[0]", "whole number"),
        ("all: [{field: City, op: \"='x' OR 1=1 --\", value: 1}]", "segments[0].all[0].op", "Input should be"),
    ],
)
def test_errors_name_the_key_and_the_valid_values(tmp_path: Path, segment: str, key: str, message: str) -> None:
    body = MEASURES + f"segments:\n  - name: s\n    {segment}\n"
    with pytest.raises(ConfigError) as err:
        shop(tmp_path, body).run()
    assert key in str(err.value) and message in str(err.value)


def test_a_field_name_is_never_sql(tmp_path: Path) -> None:
    body = MEASURES + 'segments:\n  - name: s\n    all: [{field: "City) OR (1=1", op: is_null}]\n'
    with pytest.raises(ConfigError, match="unknown field"):
        shop(tmp_path, body).run()


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ("  - name: a\n    union: [segment:b]\n", "unknown segment 'segment:b'; valid values: all-customers, a"),
        ("  - name: a\n    union: [segment:b]\n  - name: b\n    except: [segment:a]\n", "cycle: a -> b -> a"),
        ("  - name: a\n    union: [b]\n", "segment:<name>"),
        ("  - name: a\n", "needs conditions"),
        ("  - name: a\n    all: [{field: City}]\n", "needs op"),
        ("  - name: a\n    all: [{field: City, activity: WebVisit, op: exists}]\n", "exactly one of"),
        ("  - name: a b\n    union: [segment:all-customers]\n", "segment name"),
        (
            "  - name: a\n    union: [segment:all-customers]\n  - name: a\n    union: [segment:all-customers]\n",
            "defined twice",
        ),
    ],
)
def test_config_errors(tmp_path: Path, segments: str, message: str) -> None:
    with pytest.raises(ConfigError, match="segments") as err:
        shop(tmp_path, MEASURES + "segments:\n" + segments)
    assert message in str(err.value)
