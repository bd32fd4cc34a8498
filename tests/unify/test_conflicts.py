"""Conflict-aware cluster repair: records that contradict each other stay together only through a direct match by a
rule that compared the contradicting fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from custdim.config.unify import default_conflicts
from custdim.errors import ConfigError
from custdim.project import Project
from tests.unify.projects import groups, make_project

# Email first (the stronger link), then a phone-only rule that chains households.
RULES = (
    "      - name: email\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"
    "      - name: phone\n        conditions:\n          - {field: Phone}\n"
)
DOB = "updated: Person.BirthDate"
# a:1 and b:1 are Anna (same email); b:1 shares the household phone with c:1, Bob, born another year.
HOUSEHOLD = {
    "a": "1,Anna,Lee,anna@x.com,,,1980-01-01",
    "b": "1,Anna,Lee,anna@x.com,555,,1980-01-01",
    "c": "1,Bob,Lee,,555,,1975-05-05",
}


def household(root: Path, unify_extra: str = "", tables: dict[str, str] | None = None) -> Project:
    return make_project(
        root, tables or HOUSEHOLD, RULES, order=["a", "b", "c"], extra_fields=DOB, unify_extra=unify_extra
    )


ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_chain_through_a_shared_phone_is_cut_between_contradicting_records(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    if engine == "spark":
        request.getfixturevalue("spark_session")
    p = household(tmp_path)
    report = p.run(engine=engine)
    # Anna and Bob differ in first name AND birth date, and only the phone rule, which compared neither, links
    # them (b:1-c:1 directly, a:1-c:1 through b:1): two people, two contradicting pairs.
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"c:1"})}
    cluster = report.stage("cluster")
    assert cluster is not None
    assert cluster.details["guards"] == {"oversize": 0, "never_match": 0, "conflicts": 1}
    assert cluster.details["contradicting_pairs"] == 2
    assert any("contradict each other" in w for w in cluster.warnings)


def test_switched_off_the_chain_stays(tmp_path: Path) -> None:
    p = household(tmp_path, unify_extra="  conflicts: []\n")
    report = p.run()
    assert groups(p) == {frozenset({"a:1", "b:1", "c:1"})}
    cluster = report.stage("cluster")
    assert cluster is not None and cluster.details["guards"]["conflicts"] == 0


def test_a_direct_match_that_never_looked_at_names_or_dates_does_not_overrule_them(tmp_path: Path) -> None:
    # c:1 now shares Anna's email too (a household address): the email rule links all three directly, but it
    # compared neither first names nor birth dates, so Bob is still a different person.
    tables = {**HOUSEHOLD, "c": "1,Bob,Lee,anna@x.com,555,,1975-05-05"}
    p = household(tmp_path, tables=tables)
    report = p.run()
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"c:1"})}
    cluster = report.stage("cluster")
    assert cluster is not None and cluster.details["guards"]["conflicts"] == 1
    assert cluster.details["contradicting_pairs"] == 2


def test_a_two_record_profile_is_judged_too(tmp_path: Path) -> None:
    tables = {"a": "1,Anna,Lee,home@x.com,,,1980-01-01", "b": "1,Bob,Lee,home@x.com,,,1975-05-05"}
    p = make_project(tmp_path, tables, RULES, order=["a", "b"], extra_fields=DOB)
    p.run()
    assert groups(p) == {frozenset({"a:1"}), frozenset({"b:1"})}


def test_a_direct_match_that_compared_first_names_keeps_contradicting_records_together(tmp_path: Path) -> None:
    # Kim/Kym: below the conflict's high precision but accepted by a rule that compared first names at medium
    # precision and weighed the difference itself; the birth dates differ too, and still the link stands.
    rules = (
        "      - name: email-first-name\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"
        "          - {field: FirstName, precision: medium, normalize: [lowercase]}\n"
    )
    tables = {"a": "1,Kim,Lee,kim@x.com,,,1980-01-01", "b": "1,Kym,Lee,kim@x.com,,,1981-01-01"}
    p = make_project(tmp_path, tables, rules, order=["a", "b"], extra_fields=DOB)
    report = p.run()
    assert groups(p) == {frozenset({"a:1", "b:1"})}
    cluster = report.stage("cluster")
    assert cluster is not None and cluster.details["guards"]["conflicts"] == 0


def test_agreeing_on_one_identifier_is_not_a_contradiction(tmp_path: Path) -> None:
    # Twins: same birth date, different first names. A nickname (Bob/Robert) with a typo'd birth date: same person.
    tables = {
        "a": "1,Robert,Lee,rob@x.com,,,1975-05-05",
        "b": "1,Robert,Lee,rob@x.com,555,,1975-05-05",
        "c": "1,Bob,Lee,,555,,1975-05-06",
    }
    p = household(tmp_path, tables=tables)
    p.run()
    assert groups(p) == {frozenset({"a:1", "b:1", "c:1"})}


def test_custom_conflicts_and_their_key_errors(tmp_path: Path) -> None:
    # Only the postal code is a strong identifier here: the chain is cut on it, whatever the names say.
    custom = "  conflicts:\n    - name: zip\n      conditions:\n        - {field: PostalCode}\n"
    tables = {
        "a": "1,Anna,Lee,anna@x.com,,02134,",
        "b": "1,Anna,Lee,anna@x.com,555,02134,",
        "c": "1,Anna,Lee,,555,99999,",
    }
    p = household(tmp_path, unify_extra=custom, tables=tables)
    p.run()
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"c:1"})}

    bad = custom.replace("PostalCode", "PostCode")
    with pytest.raises(ConfigError, match=r"unify\.conflicts\[0\]\.conditions\[0\]\.field: unknown unified field"):
        household(tmp_path / "bad", unify_extra=bad)


def test_a_first_name_unlike_the_other_is_a_contradiction_on_its_own(tmp_path: Path) -> None:
    # John and James share a birth date and a household phone: the default first-name conflict (below precision
    # low) still tells them apart, as it tells twins apart.
    tables = {
        "a": "1,John,Lee,john@x.com,,,1980-01-01",
        "b": "1,John,Lee,john@x.com,555,,1980-01-01",
        "c": "1,James,Lee,,555,,1980-01-01",
    }
    p = household(tmp_path, tables=tables)
    report = p.run()
    assert groups(p) == {frozenset({"a:1", "b:1"}), frozenset({"c:1"})}
    cluster = report.stage("cluster")
    assert cluster is not None and cluster.details["guards"]["conflicts"] == 1


def test_an_initial_or_a_short_form_is_not_a_contradiction(tmp_path: Path) -> None:
    # 'P' and 'Pat' are what is left of 'Patrick' in many forms: a prefix never contradicts, even with another
    # birth date on file (a typo is likelier than a stranger with the same household phone and name start).
    tables = {
        "a": "1,Patrick,Lee,pat@x.com,,,1980-01-01",
        "b": "1,Patrick,Lee,pat@x.com,555,,1980-01-01",
        "c": "1,P,Lee,,555,,1975-05-05",
        "d": "1,Pat,Lee,,555,,",
    }
    p = make_project(tmp_path, tables, RULES, order=["a", "b", "c", "d"], extra_fields=DOB)
    p.run()
    assert groups(p) == {frozenset({"a:1", "b:1", "c:1", "d:1"})}


@pytest.mark.parametrize(
    ("left", "right", "together"),
    [
        # Another birth date and another phone: someone else who shares the address's email.
        ("(555) 123-4567,,1980-03-04", "(555) 987-6543,,1975-05-05", False),
        # Day and month swapped is one birth date written two ways; the phone alone proves nothing.
        ("(555) 123-4567,,1980-03-04", "(555) 987-6543,,1980-04-03", True),
        # One phone in two formats: the birth date alone proves nothing.
        ("(555) 123-4567,,1980-03-04", "555.123.4567,,1975-05-05", True),
        # Nothing to compare on one side.
        ("(555) 123-4567,,1980-03-04", ",,1975-05-05", True),
    ],
)
def test_a_birth_date_and_a_phone_that_both_differ_are_a_contradiction(
    tmp_path: Path, left: str, right: str, together: bool
) -> None:
    email_only = "      - name: email\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"
    tables = {"a": f"1,Anna,Lee,home@x.com,{left}", "b": f"1,Anna,Lee,home@x.com,{right}"}
    p = make_project(tmp_path, tables, email_only, order=["a", "b"], extra_fields=DOB)
    p.run()
    expected = [{"a:1", "b:1"}] if together else [{"a:1"}, {"b:1"}]
    assert groups(p) == {frozenset(g) for g in expected}


def test_default_conflicts_follow_the_mapped_fields() -> None:
    def names(fields: list[str]) -> list[str]:
        return [c.name for c in default_conflicts(fields)]

    assert names(["FirstName", "BirthDate", "Phone"]) == [
        "first-name-and-birth-date",
        "first-name",
        "birth-date-and-phone",
    ]
    assert names(["FirstName"]) == ["first-name"]
    assert names(["BirthDate", "Phone", "Email"]) == ["birth-date-and-phone"]
    assert names(["Email", "LastName"]) == []
