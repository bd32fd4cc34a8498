"""Dates written as text: parsing on every engine, the per-column day/month decision, reports, and matching."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custdim.config.unify import Condition
from custdim.engines.base import Engine
from custdim.errors import ConfigError
from custdim.project import Project
from custdim.report import StageReport
from custdim.semantic.dates import DateOrder, decide_order, parse_date, profile_metrics
from custdim.stages.unify.conditions import compile_condition
from tests.unify.projects import entity_rows, groups, make_project

DOB = "updated: Person.BirthDate"

D = dt.date

# (text, order, expected): every accepted form, with and without leading zeros and each separator.
FORMATS: list[tuple[str, DateOrder, dt.date | None]] = [
    ("1989-05-30", "mdy", D(1989, 5, 30)),
    ("1989-5-3", "mdy", D(1989, 5, 3)),
    ("1989-05-30T13:45:00", "dmy", D(1989, 5, 30)),
    ("1989-05-30 13:45:00.123", "mdy", D(1989, 5, 30)),
    ("1989/05/30", "dmy", D(1989, 5, 30)),
    ("1989.5.30", "mdy", D(1989, 5, 30)),
    ("19890530", "dmy", D(1989, 5, 30)),
    ("05/30/1989", "mdy", D(1989, 5, 30)),
    ("5/3/1989", "mdy", D(1989, 5, 3)),
    ("5-3-1989", "mdy", D(1989, 5, 3)),
    ("05.03.1989", "mdy", D(1989, 5, 3)),
    ("30/05/1989", "dmy", D(1989, 5, 30)),
    ("30.05.1989", "dmy", D(1989, 5, 30)),
    ("3.5.1989", "dmy", D(1989, 5, 3)),
    ("03-05-1989", "dmy", D(1989, 5, 3)),
    ("  30.05.1989 ", "dmy", D(1989, 5, 30)),
    ("89/05/30", "ymd", D(1989, 5, 30)),
    ("05/30/89", "mdy", D(1989, 5, 30)),
    ("30.5.89", "dmy", D(1989, 5, 30)),
]
# Two-digit years around the default pivot (30): below it is 20yy, at or above it 19yy.
PIVOT: list[tuple[str, DateOrder, dt.date | None]] = [
    ("1/2/00", "mdy", D(2000, 1, 2)),
    ("1/2/29", "mdy", D(2029, 1, 2)),
    ("1/2/30", "mdy", D(1930, 1, 2)),
    ("1/2/31", "mdy", D(1931, 1, 2)),
    ("1/2/99", "mdy", D(1999, 1, 2)),
]
INVALID: list[tuple[str, DateOrder, dt.date | None]] = [
    ("02/30/1990", "mdy", None),
    ("30/02/1990", "dmy", None),
    ("1990-02-30", "mdy", None),
    ("19900230", "mdy", None),
    ("13/30/1990", "mdy", None),
    ("30.05.1989", "mdy", None),  # read month first: month 30
    ("2/29/1991", "mdy", None),
    ("2/29/1992", "mdy", D(1992, 2, 29)),
    ("1/2/123", "mdy", None),
    ("89/05/3000", "ymd", None),
    ("unknown", "mdy", None),
    ("", "mdy", None),
    ("1989-05", "mdy", None),
]


def _parse(engine: Engine, values: list[str | None], order: DateOrder, pivot: int = 30) -> list[object]:
    t = ibis.memtable(pa.table({"v": pa.array(values, pa.string())}))
    out: list[object] = engine.to_arrow(t.select(d=parse_date(t.v, order, pivot)))["d"].to_pylist()
    return out


def test_every_format(engine: Engine) -> None:
    cases = FORMATS + PIVOT + INVALID
    got = {(text, order): _parse(engine, [text], order)[0] for text, order, _ in cases}
    assert got == {(text, order): expected for text, order, expected in cases}


@pytest.mark.parametrize(("text", "order", "expected"), FORMATS + PIVOT + INVALID)
def test_format_on_duckdb(text: str, order: DateOrder, expected: dt.date | None, tmp_path: Path) -> None:
    from custdim.engines import create_engine
    from custdim.lake import Lake

    engine = create_engine("duckdb", Lake(str(tmp_path / "lake")))
    try:
        assert _parse(engine, [text], order) == [expected]
    finally:
        engine.close()


def test_pivot_is_configurable_and_null_stays_null(engine: Engine) -> None:
    assert _parse(engine, ["1/2/49", "1/2/50", None], "mdy", pivot=50) == [D(2049, 1, 2), D(1950, 1, 2), None]


def test_typed_columns_are_kept(engine: Engine) -> None:
    t = ibis.memtable(pa.table({"d": [D(1989, 5, 30)], "ts": [dt.datetime(1989, 5, 30, 23, 59)]}))
    out = engine.to_arrow(t.select(a=parse_date(t.d), b=parse_date(t.ts))).to_pylist()
    assert out == [{"a": D(1989, 5, 30), "b": D(1989, 5, 30)}]


def test_profile_counts_evidence_formats_and_failures(engine: Engine) -> None:
    values = ["30.05.1989", "05/30/1989", "1/2/1990", "1989-05-30", "19890530", "1/2/89", "junk", "", None]
    t = ibis.memtable(pa.table({"v": pa.array(values, pa.string())}))
    row = engine.to_arrow(t.aggregate(**profile_metrics(t.v, "", ("mdy", "dmy"), 30))).to_pylist()[0]
    assert (row["rows"], row["nonempty"], row["dmy"], row["mdy"], row["short"]) == (9, 7, 1, 1, 4)
    assert [row[f"fmt{k}"] for k in range(5)] == [1, 0, 1, 3, 1]
    # junk fails either way; 30.05 fails month first, 05/30 day first.
    assert (row["ok_mdy"], row["ok_dmy"]) == (5, 5)


MIXED = "ambiguous ones read as {} (majority), the others the only way they can be"


@pytest.mark.parametrize(
    ("day_first", "month_first", "short", "country", "override", "order", "mixed", "reason"),
    [
        (5, 0, 9, "US", None, "dmy", False, "5 values have a day > 12 first"),
        (0, 4, 9, "GB", None, "mdy", False, "4 values have a day > 12 second"),
        (0, 0, 9, "US", None, "mdy", False, "ambiguous, assumed mdy (default country US)"),
        (0, 0, 9, "CA", None, "mdy", False, "ambiguous, assumed mdy (default country CA)"),
        (0, 0, 9, "DE", None, "dmy", False, "ambiguous, assumed dmy (default country DE)"),
        (0, 0, 0, "DE", None, "dmy", False, "no day/month values; assumed dmy (default country DE)"),
        (7, 2, 9, "US", None, "dmy", True, f"mixed: 7 day-first and 2 month-first values; {MIXED.format('dmy')}"),
        (2, 7, 9, "DE", None, "mdy", True, f"mixed: 2 day-first and 7 month-first values; {MIXED.format('mdy')}"),
        (5, 0, 9, "US", "mdy", "mdy", False, "configured (date_order)"),
    ],
)
def test_order_decision(
    day_first: int,
    month_first: int,
    short: int,
    country: str,
    override: str | None,
    order: str,
    mixed: bool,
    reason: str,
) -> None:
    d = decide_order(day_first, month_first, short, country, override)
    assert (d.order, d.mixed, d.reason) == (order, mixed, reason)


def _map_report(tmp_path: Path, tables: dict[str, str], unify_extra: str = "") -> StageReport:
    p = make_project(tmp_path, tables, extra_fields="updated: Person.BirthDate", unify_extra=unify_extra)
    report = p.run()
    stage = report.stage("map")
    assert stage is not None
    return stage


def _birth_dates(tmp_path: Path) -> dict[str, object]:
    rows = pq.read_table(tmp_path / "lake" / "work" / "unify" / "records").to_pylist()
    return {f"{r['_table']}:{r['_key']}": r["BirthDate"] for r in rows}


def test_columns_decide_their_own_order(tmp_path: Path) -> None:
    stage = _map_report(
        tmp_path,
        {
            "dmy": "1,Ann,Lee,,,,30/05/1989\n2,Bo,Ray,,,,01/02/1990\n3,Cy,Oz,,,,",
            "mdy": "1,Ann,Lee,,,,05/30/1989\n2,Bo,Ray,,,,01/02/1990",
            "amb": "1,Ann,Lee,,,,05/06/1989\n2,Bo,Ray,,,,1989-05-30",
        },
    )
    dates = stage.details["dates"]
    assert (dates["s.dmy.updated"]["order"], dates["s.mdy.updated"]["order"]) == ("dmy", "mdy")
    assert dates["s.amb.updated"]["reason"] == "ambiguous, assumed mdy (default country US)"
    assert dates["s.dmy.updated"] | {"formats": None} == {
        "field": "BirthDate",
        "order": "dmy",
        "reason": "1 values have a day > 12 first",
        "rows": 3,
        "empty": 1,
        "parsed": 2,
        "unparseable": 0,
        "day_first_values": 1,
        "month_first_values": 0,
        "formats": None,
    }
    assert dates["s.amb.updated"]["formats"] == {"YYYY-MM-DD": 1, "a/b/YYYY (or . -)": 1}
    assert not stage.warnings
    got = _birth_dates(tmp_path)
    assert got["dmy:2"] == D(1990, 2, 1) and got["mdy:2"] == D(1990, 1, 2) and got["amb:1"] == D(1989, 5, 6)
    assert got["dmy:3"] is None


def test_ambiguous_column_falls_back_to_the_country(tmp_path: Path) -> None:
    stage = _map_report(tmp_path, {"a": "1,Ann,Lee,,,,05/06/1989"}, unify_extra="  default_country: DE\n")
    assert stage.details["dates"]["s.a.updated"]["reason"] == "ambiguous, assumed dmy (default country DE)"
    assert _birth_dates(tmp_path)["a:1"] == D(1989, 6, 5)


def test_mixed_column_reads_each_value_the_way_it_can_and_warns(tmp_path: Path) -> None:
    # Two day-first values, one month-first, one ambiguous: the ambiguous one follows the majority (day first),
    # 05/30/1989 can only be month first and is read so; nothing is left unparsed.
    rows = "1,A,L,,,,30/05/1989\n2,B,L,,,,31/01/1990\n3,C,L,,,,05/30/1989\n4,D,L,,,,01/02/1990"
    stage = _map_report(tmp_path, {"a": rows})
    entry = stage.details["dates"]["s.a.updated"]
    assert (entry["order"], entry["parsed"], entry["unparseable"]) == ("dmy", 4, 0)
    assert any("mixes day-first and month-first" in w and "date_order" in w for w in stage.warnings)
    got = _birth_dates(tmp_path)
    assert (got["a:1"], got["a:3"], got["a:4"]) == (D(1989, 5, 30), D(1989, 5, 30), D(1990, 2, 1))


def test_a_configured_order_is_not_second_guessed(tmp_path: Path) -> None:
    # date_order: mdy says every value is month first: 30/05/1989 and 31/01/1990 are then impossible, counted and
    # left missing, not re-read the other way.
    make_project(tmp_path, {"a": "1,A,L,,,,30/05/1989\n2,B,L,,,,31/01/1990\n3,C,L,,,,05/30/1989"}, extra_fields=DOB)
    path = tmp_path / "custdim.yaml"
    path.write_text(path.read_text().replace("    - table: s.a\n", "    - table: s.a\n      date_order: mdy\n", 1))
    stage = Project.load(tmp_path).run().stage("map")
    assert stage is not None
    entry = stage.details["dates"]["s.a.updated"]
    assert (entry["order"], entry["parsed"], entry["unparseable"]) == ("mdy", 1, 2)


def test_date_order_override(tmp_path: Path) -> None:
    make_project(
        tmp_path, {"a": "1,Ann,Lee,,,,30/05/1989\n2,Bo,Ray,,,,05/06/1989"}, extra_fields="updated: Person.BirthDate"
    )
    text = (tmp_path / "custdim.yaml").read_text(encoding="utf-8")
    (tmp_path / "custdim.yaml").write_text(
        text.replace("      fields:", "      date_order: {updated: mdy}\n      fields:")
    )
    from custdim.project import Project

    stage = Project.load(tmp_path).run().stage("map")
    assert stage is not None
    entry = stage.details["dates"]["s.a.updated"]
    assert (entry["order"], entry["reason"], entry["parsed"], entry["unparseable"]) == (
        "mdy",
        "configured (date_order)",
        1,
        1,
    )
    assert _birth_dates(tmp_path) == {"a:1": None, "a:2": D(1989, 5, 6)}
    assert any("1 of 2 values are not dates" in w for w in stage.warnings)


def test_date_order_names_mapped_columns(tmp_path: Path) -> None:
    make_project(tmp_path, {"a": "1,Ann,Lee"}, extra_fields="updated: Person.BirthDate")
    text = (tmp_path / "custdim.yaml").read_text(encoding="utf-8")
    (tmp_path / "custdim.yaml").write_text(
        text.replace("      fields:", "      date_order: {born: mdy}\n      fields:")
    )
    from custdim.project import Project

    with pytest.raises(ConfigError, match="born"):
        Project.load(tmp_path)


DOB_RULE = """\
      - name: dob-last
        conditions:
          - {field: LastName, normalize: [lowercase]}
          - {field: BirthDate}
"""


def test_same_birth_date_in_two_formats_matches(tmp_path: Path) -> None:
    # Separate rows give each table unambiguous evidence of its own order.
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,,,,1989-05-30\n2,Bo,Ray,,,,1970-01-02",
            "b": "1,Anne,Lee,,,,30.05.1989\n2,Cy,Oz,,,,31.12.1970\n3,Bo,Ray,,,,01.02.1970",
        },
        DOB_RULE,
        extra_fields="updated: Person.BirthDate",
    )
    p.run()
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"a:2"}), frozenset({"b:2"}), frozenset({"b:3"})}
    birth = {r["FirstName"]: r["BirthDate"] for r in entity_rows(p, "Customer")}
    assert birth["Ann"] == D(1989, 5, 30)  # a real date column in the golden profile


def test_max_days(engine: Engine) -> None:
    c = compile_condition(Condition(field="BirthDate", max_days=3))
    assert not c.condition.is_exact
    t = ibis.memtable(
        pa.table(
            {
                "l": ["1990-01-01", "1990-01-01", "1989-12-30", None, "1990-03-01"],
                "r": ["1990-01-04", "1990-01-05", "1990-01-02", "1990-01-01", "1990-02-26"],
            }
        )
    )
    assert engine.to_arrow(t.select(s=c.score(t.l, t.r)))["s"].to_pylist() == [100.0, 0.0, 100.0, None, 100.0]


NEAR_RULE = """\
      - name: near
        conditions:
          - {{field: LastName}}
          - {{field: {field}, max_days: 2}}
"""


def test_max_days_matches_near_birth_dates(tmp_path: Path) -> None:
    rule = NEAR_RULE.format(field="BirthDate")
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,,,,1989-05-30\n2,Bo,Ray,,,,1970-01-01",
            "b": "1,Ann,Lee,,,,06/01/1989\n2,Bo,Ray,,,,01/05/1970",
        },
        rule,
        extra_fields="updated: Person.BirthDate",
    )
    p.run()
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"a:2"}), frozenset({"b:2"})}


def test_max_days_needs_a_date_field(tmp_path: Path) -> None:
    rule = "      - name: near\n        conditions:\n          - {field: LastName, max_days: 2}\n"
    with pytest.raises(ConfigError, match="max_days"):
        make_project(tmp_path, {"a": "1,Ann,Lee"}, rule)


def test_max_days_on_a_custom_text_field_fails_in_map(tmp_path: Path) -> None:
    rule = NEAR_RULE.format(field="Code")
    p = make_project(tmp_path, {"a": "1,Ann,Lee,,,,x"}, rule, extra_fields="updated: Loyalty.Code")
    with pytest.raises(ConfigError, match=r"match\.rules\[0\]\.conditions\[1\]\.max_days"):
        p.run()


def test_max_days_needs_exact_precision() -> None:
    with pytest.raises(ValueError, match="max_days"):
        Condition(field="BirthDate", max_days=2, precision="high")


def test_swap_day_month_on_parsed_dates(tmp_path: Path) -> None:
    rule = (
        "      - name: dob\n        conditions:\n          - {field: LastName}\n"
        "          - {field: BirthDate, swap_day_month: true}\n"
    )
    # a is ISO; b is day first (its 30.05 says so) and holds a's 1989-03-04 with day and month swapped.
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,,,,1989-03-04\n2,Bo,Ray,,,,1989-03-14",
            "b": "1,Ann,Lee,,,,03.04.1989\n2,Bo,Ray,,,,03.12.1989\n3,Cy,Oz,,,,30.05.1989",
        },
        rule,
        extra_fields="updated: Person.BirthDate",
    )
    p.run()
    # b:2 is 1989-12-03: neither 1989-03-14 nor its swap.
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"a:2"}), frozenset({"b:2"}), frozenset({"b:3"})}


def _with_date_country(tmp_path: Path, rows: str, setting: str = "      date_country: zip\n") -> Project:
    # The zip column stands in for a store's country column.
    make_project(tmp_path, {"a": rows}, extra_fields=DOB)
    path = tmp_path / "custdim.yaml"
    path.write_text(path.read_text().replace("    - table: s.a\n", "    - table: s.a\n" + setting, 1))
    return Project.load(tmp_path)


def test_date_country_reads_each_row_in_its_countrys_order(tmp_path: Path) -> None:
    rows = (
        "1,A,L,,,US,03/04/1990\n"  # month first in the US
        "2,B,L,,,DE,03/04/1990\n"  # day first in Germany
        "3,C,L,,, us ,30/05/1989\n"  # impossible month first: read the only way it parses
        "4,D,L,,,,03/04/1990\n"  # no country: the column's order, day first by 30/05/1989
        "5,E,L,,,Germany,03/04/1990\n"  # not a two-letter code: the column's order
        "6,F,L,,,CA,1990-12-31\n"  # ISO needs no country
    )
    stage = _with_date_country(tmp_path, rows).run().stage("map")
    assert stage is not None
    entry = stage.details["dates"]["s.a.updated"]
    assert (entry["order"], entry["parsed"], entry["unparseable"]) == ("by country", 6, 0)
    assert entry["reason"] == (
        "per row, by the country in zip: 3 month-first rows, 1 day-first rows, 2 without a two-letter code "
        "(read as dmy: 1 values have a day > 12 first)"
    )
    assert not stage.warnings
    assert _birth_dates(tmp_path) == {
        "a:1": D(1990, 3, 4),
        "a:2": D(1990, 4, 3),
        "a:3": D(1989, 5, 30),
        "a:4": D(1990, 4, 3),
        "a:5": D(1990, 4, 3),
        "a:6": D(1990, 12, 31),
    }


def test_date_country_errors_name_the_key(tmp_path: Path) -> None:
    p = _with_date_country(tmp_path / "missing", "1,A,L,,,US,03/04/1990", "      date_country: store_country\n")
    with pytest.raises(ConfigError, match=r"unify\.tables\[0\]\.date_country.*'store_country' is not a column"):
        p.run()
    with pytest.raises(ConfigError, match=r"date_order.*date_country.*not both"):
        _with_date_country(
            tmp_path / "both", "1,A,L,,,US,03/04/1990", "      date_country: zip\n      date_order: mdy\n"
        )
