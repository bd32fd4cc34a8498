"""Value profiles of mapped records: exact counts on a tiny records table, the same on every engine, and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from typer.testing import CliRunner

from custdim.cli.main import app
from custdim.project import Project
from custdim.stages.unify.profile import profile_records
from tests.conftest import write_example
from tests.unify.projects import make_project

RULES = """\
        - name: email
          conditions:
            - {field: Email, normalize: [whitespace, lowercase]}
        - name: phone
          conditions:
            - {field: Phone, normalize: [phone]}
"""

EMAILS = ["a@x.com", "A@X.com", "n/a", None, "  ", "b@y.org", "b@y.org", "c@z.net"]
PHONES = ["(555) 123-4567", "555.222.3333", "000-000-0000", "5551112222", None, "+15553334444", "555 444 5555", "abc"]
DATES = ["1989-05-30", "1989-05-30", "05/30/1989", "1990-01-02", None, "1991-02-03", "02/03/1991", "1992-03-04"]


def _records() -> pa.Table:
    n = len(EMAILS)
    return pa.table(
        {
            "_rid": list(range(n + 2)),
            "_source": ["s"] * (n + 2),
            "_table": ["a"] * n + ["b"] * 2,
            "_key": [str(i) for i in range(n + 2)],
            "_rank": [0] * n + [1] * 2,
            "FirstName": ["Ann"] * n + [None, "Bo"],
            "LastName": pa.array([None] * (n + 2), pa.string()),
            "Email": [*EMAILS, "b@y.org", None],
            "Phone": [*PHONES, None, "617-555-0100"],
            "PostalCode": ["02134"] * n + ["02134-1234", None],
            "BirthDate": [*DATES, None, None],
        }
    )


def _profile(engine: Any, tmp_path: Path) -> dict[str, Any]:
    project = make_project(
        tmp_path / "p",
        {"a": "1,a,b,,,,", "b": "1,a,b,,,,"},
        rules_yaml=RULES,
        extra_fields="updated: Person.BirthDate",
    )
    return profile_records(engine, engine.from_arrow(_records()), project.config)


def test_counts_per_table_and_field(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    profile = _profile(engine, tmp_path)
    a, b = profile["tables"]["s.a"], profile["tables"]["s.b"]
    assert (a["rows"], b["rows"]) == (8, 2)

    email = a["fields"]["Email"]
    # Missing: None and a blank; present: 6, of which 'n/a' is junk; 5 distinct as written.
    assert (email["nulls"], email["junk"], email["distinct"]) == (2, 1, 5)
    assert email["null_share"] == 0.25 and email["junk_share"] == round(1 / 6, 4)
    # Values held by one record only are not "common".
    assert email["top_values"] == [{"value": "b@y.org", "count": 2, "junk": False, "junk_candidate": False}]
    assert email["shapes"] == [
        {"shape": "a@a.a", "count": 5, "share": round(5 / 6, 4)},
        {"shape": "a/a", "count": 1, "share": round(1 / 6, 4)},
    ]
    [norm] = email["normalizers"]
    # 'A@X.com' is lowercased; 'n/a' is dropped as junk.
    assert (norm["normalize"], norm["changed"], norm["rejected"]) == (["lowercase", "whitespace"], 1, 1)

    phone = a["fields"]["Phone"]
    assert (phone["nulls"], phone["junk"], phone["distinct"], phone["distinct_shapes"]) == (1, 1, 7, 7)
    [norm] = phone["normalizers"]
    # Four national numbers become E.164, '+15553334444' already is; '000-000-0000' (junk) and 'abc' are rejected.
    assert (norm["changed"], norm["rejected"]) == (4, 2)
    assert norm["rejected_share"] == round(2 / 7, 4)

    dates = a["fields"]["BirthDate"]
    assert dates["top_values"] == [{"value": "1989-05-30", "count": 2, "junk": False, "junk_candidate": False}]
    assert dates["shapes"] == [
        {"shape": "9999-99-99", "count": 5, "share": round(5 / 7, 4)},
        {"shape": "99/99/9999", "count": 2, "share": round(2 / 7, 4)},
    ]
    assert dates["normalizers"] == []

    assert b["fields"]["PostalCode"]["shapes"] == [{"shape": "99999-9999", "count": 1, "share": 1.0}]
    assert b["fields"]["FirstName"]["nulls"] == 1
    assert a["fields"]["LastName"]["nulls"] == 8 and a["fields"]["LastName"]["shapes"] == []


def test_warnings(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    warnings = _profile(engine, tmp_path)["warnings"]
    assert "s.a.BirthDate mixes formats: 9999-99-99 (71%), 99/99/9999 (29%)" in warnings
    assert any(w.startswith("s.a.Phone: normalize [phone] rejects 28.6% of values (2;") for w in warnings)
    # A postcode written one way per table is not mixed; e-mail shapes are not expected to be uniform.
    assert not any("PostalCode" in w or "Email mixes" in w for w in warnings)


def test_junk_candidates_only_for_identifying_fields(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project(tmp_path / "p", {"a": "1,a,b,,,,"})
    n = 60
    records = pa.table(
        {
            "_source": ["s"] * n,
            "_table": ["a"] * n,
            "Email": ["shared@shop.example"] * n,
            "LastName": ["Smith"] * n,
        }
    )
    profile = profile_records(engine, engine.from_arrow(records), project.config)
    assert profile["tables"]["s.a"]["fields"]["Email"]["top_values"][0]["junk_candidate"] is True
    assert profile["tables"]["s.a"]["fields"]["LastName"]["top_values"][0]["junk_candidate"] is False
    assert profile["warnings"] == [
        "s.a.Email: 'shared@shop.example' is shared by 60 records (junk candidate; bypass it?)"
    ]


def test_run_report_and_cli(tmp_path: Path) -> None:
    root = write_example(tmp_path / "example")
    runner = CliRunner()
    result = runner.invoke(app, ["unify", "profile", "-p", str(root)])
    assert result.exit_code == 1 and "no mapped records" in result.output

    report = Project.load(root).run()
    mapped = report.stage("map")
    assert mapped is not None
    contacts = mapped.details["profile"]["tables"]["crm.contacts"]
    assert contacts["rows"] == 4 and contacts["fields"]["Phone"]["nulls"] == 1
    assert any(w.startswith("crm.contacts.Phone mixes formats") for w in mapped.warnings)

    result = runner.invoke(app, ["unify", "profile", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert "crm.contacts" in result.output and "shop.accounts" in result.output
    assert "(999) 999-9999" in result.output and "lowercase+whitespace" in result.output
    assert "crm.contacts.Phone mixes formats" in result.output
