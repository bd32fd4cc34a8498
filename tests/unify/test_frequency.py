"""The value-frequency guard: agreement on a value shared by too many records of a step is no evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from custdim.errors import ConfigError
from tests.unify.projects import groups, make_project

EMAIL = "{field: Email, normalize: [lowercase]}"
DEDUPE = "".join(
    f"    - table: s.{t}\n      rules:\n        - name: email\n          conditions: [{EMAIL}]\n" for t in ("a", "b")
)
# Six records of each table share a household address; Ann has one record in each table.
TABLES = {
    "a": "\n".join([f"{i},F{i},L{i},home@x.com,,01000" for i in range(6)] + ["6,Ann,Lee,ann@x.com,,02000"]),
    "b": "\n".join([f"{i},G{i},M{i},home@x.com,,01000" for i in range(10, 16)] + ["16,Ann,Lee,ann@x.com,,02000"]),
}
SHARED_A = frozenset(f"a:{i}" for i in range(6))
SHARED_B = frozenset(f"b:{i}" for i in range(10, 16))
ANN = frozenset({"a:6", "b:16"})


# The household's members have unlike first names, which the default conflicts would keep apart however they are
# linked: off here, where only the frequency guard is under test.
NO_CONFLICTS = "  conflicts: []\n"


def _project(tmp_path: Path, engine: str = "duckdb", extra: str = "", condition: str = "") -> object:
    rules = f"      - name: email\n        conditions: [{EMAIL[:-1]}{condition}}}]\n"
    unify_extra = "  dedupe:\n" + DEDUPE + NO_CONFLICTS + extra
    return make_project(tmp_path, TABLES, rules, ["a", "b"], unify_extra=unify_extra, engine=engine)


def test_a_value_shared_across_tables_beyond_the_default_cap_links_nobody(tmp_path: Path, engine_name: str) -> None:
    p = _project(tmp_path, engine_name)
    report = p.run()  # type: ignore[attr-defined]
    # Within each table the address is shared by 6 records (<= 10, the default for email fields): dedupe links
    # them. Across tables it is shared by 12: the match step ignores it, and only Ann's two records match.
    assert groups(p) == {SHARED_A, SHARED_B, ANN}
    match = report.stage("match")
    guard = {"field": "Email", "max_frequency": 10}
    assert match.details["frequent_values"] == {
        "dedupe": [guard | {"values": 0, "records": 0, "most_common": []}],
        "match": [guard | {"values": 1, "records": 12, "most_common": [["home@x.com", 12]]}],
    }
    assert match.details["rules"]["match:email"]["candidates"] == 1  # the shared value is no blocking key either
    assert any("1 Email values shared by more than 10 records (12 records)" in w for w in match.warnings)


def test_a_project_cap_applies_to_dedupe_within_each_table(tmp_path: Path) -> None:
    p = _project(tmp_path, extra="  max_frequency: {Email: 5}\n")
    p.run()  # type: ignore[attr-defined]
    singles = {frozenset({k}) for k in SHARED_A | SHARED_B}
    assert groups(p) == singles | {ANN}


def test_a_condition_turns_the_cap_off_for_itself(tmp_path: Path) -> None:
    # The dedupe rules keep the default cap (6 <= 10 links each table's household); the match rule opts out.
    p = _project(tmp_path, condition=", max_frequency: null")
    p.run()  # type: ignore[attr-defined]
    assert groups(p) == {SHARED_A | SHARED_B, ANN}


def test_caps_off_everywhere(tmp_path: Path) -> None:
    p = _project(tmp_path, extra="  max_frequency: {}\n")
    p.run()  # type: ignore[attr-defined]
    assert groups(p) == {SHARED_A | SHARED_B, ANN}


def test_unknown_field_names_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _project(tmp_path, extra="  max_frequency: {Emial: 5}\n")
    message = str(err.value)
    assert "max_frequency" in message and "Emial" in message and "Email" in message and "custdim.yaml" in message


def test_a_cap_on_a_fuzzy_condition_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _project(tmp_path, condition=", precision: high, max_frequency: 3")
    assert "max_frequency" in str(err.value) and "exact" in str(err.value)


def _postcode_veto(tmp_path: Path, cap: str) -> set[frozenset[str]]:
    """Profiles when an exception vetoes email matches whose postcodes differ (``cap``: its condition's option)."""
    rules = (
        f"      - name: email\n        conditions: [{EMAIL[:-1]}, max_frequency: null}}]\n"
        f"        exceptions:\n          - [{{field: PostalCode, negate: true{cap}}}]\n"
    )
    # The household's records: 01000 (6 records) in a, 09000 (6) in b. Ann's: 02000 and 03000, one each.
    tables = {"a": TABLES["a"], "b": TABLES["b"].replace("01000", "09000").replace("02000", "03000")}
    p = make_project(tmp_path, tables, rules, ["a", "b"], unify_extra="  dedupe:\n" + DEDUPE + NO_CONFLICTS)
    p.run()
    return groups(p)


def test_a_cap_in_an_exception_makes_a_common_value_veto_nothing(tmp_path: Path) -> None:
    # Unless the postcode is shared by more than 5 records of the step: then it says nothing (a placeholder or a
    # big building), and cannot veto either.
    assert _postcode_veto(tmp_path, ", max_frequency: 5") == {
        SHARED_A | SHARED_B,
        frozenset({"a:6"}),
        frozenset({"b:16"}),
    }


def test_without_the_cap_the_exception_vetoes_the_household_too(tmp_path: Path) -> None:
    assert _postcode_veto(tmp_path, "") == {SHARED_A, SHARED_B, frozenset({"a:6"}), frozenset({"b:16"})}
