"""CustomerId and the importance merge policy."""

from __future__ import annotations

import uuid
from pathlib import Path

import ibis
import pyarrow as pa

from custdim.engines.base import Engine
from custdim.stages.unify.ids import guid_of, with_guid
from tests.unify.projects import entity_rows, groups, make_project


def test_engine_guid_equals_the_python_reference(engine: Engine) -> None:
    names = ["crm|contacts|C001", "shop|accounts|A-ü-02", ""]
    t = ibis.memtable(pa.table({"n": names}))
    got = engine.to_arrow(with_guid(t, "g", "ns", t.n))["g"].to_pylist()
    assert got == [guid_of("ns", n) for n in names]
    for g in got:
        parsed = uuid.UUID(g)
        assert parsed.version == 3 and parsed.variant == uuid.RFC_4122


def test_importance_takes_the_first_non_null_in_match_order(tmp_path: Path, engine_name: str) -> None:
    rules = "      - name: email\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"
    p = make_project(
        tmp_path,
        {
            "crm": "9,,Lee,ann@x.com,,",
            "shop": "1,Annie,Leigh,ANN@x.com,555,01000\n0,Ann,Lea,ann@x.com,,02000",
        },
        rules,
        order=["crm", "shop"],
        engine=engine_name,
    )
    p.run()
    [customer] = entity_rows(p, "Customer")
    # LastName from crm (rank 0) though shop has values; FirstName missing in crm -> first shop record by key ("0").
    assert customer["LastName"] == "Lee"
    assert customer["FirstName"] == "Ann"
    assert customer["PostalCode"] == "02000"
    assert customer["Phone"] == "555"
    assert customer["SourceRecordCount"] == 3
    # The id is the GUID of the profile's first record in match order.
    assert customer["CustomerId"] == guid_of("custdim:t:customer", "s|crm|9")


def test_ids_are_stable_across_reruns_and_row_order(tmp_path: Path, engine_name: str) -> None:
    rules = "      - name: email\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"
    tables = {"a": "1,A,B,x@x.com,,\n2,C,D,y@x.com,,\n3,E,F,,,", "b": "5,A,B,X@x.com,,\n6,G,H,z@x.com,,"}
    p1 = make_project(tmp_path / "one", tables, rules, engine=engine_name)
    p1.run()
    first = {r["CustomerId"]: r for r in entity_rows(p1, "Customer")}
    p1.run()
    assert {r["CustomerId"] for r in entity_rows(p1, "Customer")} == set(first)
    shuffled = {"a": "3,E,F,,,\n2,C,D,y@x.com,,\n1,A,B,x@x.com,,", "b": "6,G,H,z@x.com,,\n5,A,B,X@x.com,,"}
    p2 = make_project(tmp_path / "two", shuffled, rules, engine=engine_name)
    p2.run()
    assert {r["CustomerId"] for r in entity_rows(p2, "Customer")} == set(first)
    assert groups(p1) == groups(p2)
