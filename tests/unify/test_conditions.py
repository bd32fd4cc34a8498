"""Condition scores on every engine: Levenshtein on the longer string, Jaro-Winkler, exact, swapped dates."""

from __future__ import annotations

from pathlib import Path

import ibis
import jellyfish
import pyarrow as pa
import pytest

from custdim.config.unify import Condition
from custdim.engines.base import Engine
from custdim.stages.unify.conditions import compile_condition
from tests.unify.projects import groups, make_project

PAIRS = [("martha", "marhta"), ("dwayne", "duane"), ("ann", "anne"), ("jonathan", "jon"), ("zoë", "zoe"), ("a", "b")]


def scores(engine: Engine, condition: dict[str, object]) -> list[float | None]:
    c = compile_condition(Condition.model_validate(condition))
    t = ibis.memtable(pa.table({"l": [a for a, _ in PAIRS] + [None], "r": [b for _, b in PAIRS] + ["x"]}))
    out = engine.to_arrow(t.select(s=c.score(t.l, t.r)))
    return [None if v is None else round(v, 6) for v in out["s"].to_pylist()]


def test_levenshtein_uses_the_longer_string(engine: Engine) -> None:
    got = scores(engine, {"field": "FirstName", "precision": "high"})
    expected = [round((1 - jellyfish.levenshtein_distance(a, b) / max(len(a), len(b))) * 100, 6) for a, b in PAIRS]
    assert got == [*expected, None]
    assert got[2] == 75.0  # ann/anne: one edit over four letters


def test_jaro_winkler_is_the_same_on_every_engine(engine: Engine) -> None:
    got = scores(engine, {"field": "FirstName", "precision": "high", "method": "jaro_winkler"})
    expected = [round(jellyfish.jaro_winkler_similarity(a, b) * 100, 6) for a, b in PAIRS]
    assert got[-1] is None
    assert got[:-1] == pytest.approx(expected, abs=1e-6)


def test_exact_scores_100_or_0() -> None:
    con = ibis.duckdb.connect()
    c = compile_condition(Condition(field="Email"))
    t = ibis.memtable(pa.table({"l": ["a", "a", None], "r": ["a", "b", "a"]}))
    assert con.to_pyarrow(t.select(s=c.score(t.l, t.r)))["s"].to_pylist() == [100.0, 0.0, None]


def test_jaro_winkler_needs_a_fuzzy_precision() -> None:
    with pytest.raises(ValueError, match="jaro_winkler needs a fuzzy precision"):
        Condition.model_validate({"field": "FirstName", "method": "jaro_winkler"})


def test_day_month_swaps_match_when_asked(tmp_path: Path) -> None:
    header_rows = {"a": "1,Ann,Lee,,,,2001-03-04", "b": "1,Ann,Lee,,,,2001-04-03\n2,Ann,Lee,,,,2001-04-13"}
    rule = (
        "      - name: dob\n        conditions:\n          - {field: LastName}\n"
        "          - {field: BirthDate, swap_day_month: true}\n"
    )
    p = make_project(tmp_path, header_rows, rule, extra_fields="updated: Person.BirthDate")
    p.run()
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"b:2"})}
