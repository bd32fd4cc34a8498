"""Merge policies, field groups, rename/exclude and provenance."""

from __future__ import annotations

from pathlib import Path

from tests.unify.projects import entity_rows, make_project

RULES = "      - name: email\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"


def test_policies_groups_collect_and_provenance(tmp_path: Path, engine_name: str) -> None:
    merge = (
        "  merge:\n    default: importance\n"
        "    fields:\n      Email: {policy: most_recent, by: updated}\n      Emails: {policy: collect, from: Email}\n"
        "      FirstName: {policy: most_filled}\n"
        "    groups:\n      - {name: Contact, fields: [Phone, PostalCode], policy: least_recent, by: updated}\n"
        "    rename: {LastName: Surname}\n"
    )
    p = make_project(
        tmp_path,
        {
            "a": "1,Ann,Lee,ann@x.com,,,2024-01-01",
            "b": "1,Annie,Leigh,ANN@x.com,555,,2025-01-01\n2,,Lea,ann@X.com,,02000,2023-01-01",
        },
        RULES,
        order=["a", "b"],
        unify_extra=merge,
        engine=engine_name,
    )
    p.run()
    [c] = entity_rows(p, "Customer")
    assert c["Email"] == "ANN@x.com"  # most recent (2025)
    assert c["Emails"] == ["ANN@x.com", "ann@X.com", "ann@x.com"]
    assert c["Surname"] == "Lee" and "LastName" not in c  # importance, renamed
    # Contact group from the least recent record having any of its fields: b:2 (2023): no phone, postcode 02000.
    assert (c["Phone"], c["PostalCode"]) == (None, "02000")
    assert c["FirstName"] == "Annie"  # b:1 fills 4 mapped fields, the others 3
    prov = {r["Field"]: (r["TableName"], r["SourceKey"], r["Policy"]) for r in entity_rows(p, "CustomerProvenance")}
    assert prov["Email"] == ("b", "1", "most_recent(updated)")
    assert prov["Surname"] == ("a", "1", "importance")
    assert prov["PostalCode"] == ("b", "2", "least_recent(updated)")
    assert "Phone" not in prov and "Emails" not in prov


def test_exclude_drops_a_field(tmp_path: Path, engine_name: str) -> None:
    p = make_project(
        tmp_path,
        {"a": "1,Ann,Lee,ann@x.com,555,01000"},
        unify_extra="  merge:\n    exclude: [Phone]\n",
        engine=engine_name,
    )
    p.run()
    [c] = entity_rows(p, "Customer")
    assert "Phone" not in c and c["PostalCode"] == "01000"
