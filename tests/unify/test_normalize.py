"""Each normalizer, on every engine: the same input gives the same comparison value."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from custdim.stages.unify.normalize import column_name, normalize_column

CASES = [
    (["lowercase"], "  JoSé  ", "josé"),
    (["whitespace"], " a b\tc\u00a0d ", "abcd"),
    (["unicode"], "José Müller-Łukasz Æsir straße Øre", "Jose Muller-Lukasz AEsir strasse Ore"),
    (["unicode", "lowercase"], "ÆSIR", "aesir"),
    (["numerals"], "٩٨٣ ४५ ６７", "983 45 67"),
    (["symbols"], "O'Brien-Smith, Jr. (née “Ann”)", "OBrienSmith Jr née Ann"),
    (["symbols", "whitespace", "lowercase"], "  Mc Donald's ", "mcdonalds"),
    (["phone"], "+1 (617) 123-4567 ext. 89", "+16171234567"),
    (["phone"], "617.123.4567 x12", "+16171234567"),
    (["phone"], "0044 20 7946 0958", "+442079460958"),
    (["phone"], "000-000-0000", None),
    (["lowercase"], "N/A", None),
    (["name", "unicode"], "Dr. Bobby", "robert"),
    (["lowercase"], "   ", None),
    (["phone"], "n/a", None),
    ([], " keep Case ", "keep Case"),
]


@pytest.mark.parametrize(("names", "value", "expected"), CASES)
def test_normalizer(engine, names: list[str], value: str, expected: str | None) -> None:  # type: ignore[no-untyped-def]
    t = ibis.memtable(pa.table({"v": [value]}))
    out = engine.to_arrow(normalize_column(t, "v", names))
    assert out["v"].to_pylist() == [expected]


def test_null_stays_null(engine) -> None:  # type: ignore[no-untyped-def]
    t = ibis.memtable(pa.table({"v": pa.array([None], pa.string())}))
    assert engine.to_arrow(normalize_column(t, "v", ["lowercase", "phone"]))["v"].to_pylist() == [None]


def test_order_of_normalizers_does_not_matter() -> None:
    assert column_name("Email", ["whitespace", "lowercase"]) == column_name("Email", ["lowercase", "whitespace"])
    t = ibis.table({"v": "string"}, name="t")
    a = ibis.to_sql(normalize_column(t, "v", ["whitespace", "lowercase", "unicode"]), dialect="duckdb")
    b = ibis.to_sql(normalize_column(t, "v", ["unicode", "lowercase", "whitespace"]), dialect="duckdb")
    assert a == b
