"""Intelligent mapping: column names and sampled values -> suggested semantic types, and the YAML snippet."""

from __future__ import annotations

import ast
import csv
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

import custdim.semantic.suggest as suggest_module
from custdim.config.unify import UnifyTable
from custdim.demo.generate import generate
from custdim.demo.project_file import TEMPLATE
from custdim.semantic.suggest import CUSTOM_SYNONYMS, NAME_SYNONYMS, Suggestion, suggest_mapping, suggestions_yaml
from custdim.semantic.types import KNOWN_TYPES, check_semantic_type

CRM_INTENDED = {
    "first_name": "Person.FirstName",
    "last_name": "Person.LastName",
    "email": "Identity.Service.Email",
    "phone": "Identity.Service.Phone",
    "street": "Location.Address.Street",
    "city": "Location.City",
    "zip": "Location.PostalCode",
    "birth_date": "Person.BirthDate",
}
SHOP_INTENDED = {
    "given_name": "Person.FirstName",
    "family_name": "Person.LastName",
    "email_address": "Identity.Service.Email",
    "phone": "Identity.Service.Phone",
    "postcode": "Location.PostalCode",
}
POS_INTENDED = {
    "card_number": "Loyalty.CardNumber",
    "first_name": "Person.FirstName",
    "last_name": "Person.LastName",
    "email": "Identity.Service.Email",
    "phone": "Identity.Service.Phone",
    "zip": "Location.PostalCode",
}


def mapping(suggestions: list[Suggestion], min_confidence: float = 0.5) -> dict[str, str]:
    return {s.column: s.semantic_type for s in suggestions if s.confidence >= min_confidence}


def by_column(suggestions: list[Suggestion]) -> dict[str, Suggestion]:
    return {s.column: s for s in suggestions}


def read_csv_as_strings(path: Path, delimiter: str = ",") -> pa.Table:
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter))
    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    data = generate(tmp_path_factory.mktemp("suggest_demo"), customers=300, seed=1)
    return {
        "crm.contacts": read_csv_as_strings(data.files["crm.contacts"]),
        "shop.accounts": pq.read_table(data.files["shop.accounts"]),
        "pos.members": read_csv_as_strings(data.files["pos.members"], ";"),
    }


# --- the demo data -----------------------------------------------------------------------------------------------


def test_intended_demo_mapping_is_the_demo_project_files_mapping() -> None:
    project = yaml.safe_load(TEMPLATE.format(dir="demo", engine="duckdb"))
    fields = {t["table"]: t["fields"] for t in project["unify"]["tables"]}
    assert fields == {"crm.contacts": CRM_INTENDED, "shop.accounts": SHOP_INTENDED, "pos.members": POS_INTENDED}


def test_demo_crm_contacts(demo_tables: dict[str, pa.Table]) -> None:
    suggestions = suggest_mapping(demo_tables["crm.contacts"])
    # updated_at is not unified by the demo project, but its name says what it is.
    assert mapping(suggestions) == {**CRM_INTENDED, "updated_at": "Measurement.Date.Modify"}
    assert "contact_id" not in by_column(suggestions)
    for column in ("email", "phone", "zip", "birth_date"):
        assert by_column(suggestions)[column].confidence >= 0.95, column


def test_demo_shop_accounts(demo_tables: dict[str, pa.Table]) -> None:
    suggestions = suggest_mapping(demo_tables["shop.accounts"])
    assert mapping(suggestions) == SHOP_INTENDED
    # A bare timestamp is offered as a generic date, below the default threshold.
    created = by_column(suggestions)["created_at"]
    assert created.semantic_type == "Calendar.Date"
    assert created.confidence < 0.5


def test_demo_pos_members(demo_tables: dict[str, pa.Table]) -> None:
    suggestions = suggest_mapping(demo_tables["pos.members"])
    assert mapping(suggestions) == POS_INTENDED
    assert "member_id" not in by_column(suggestions)


def test_demo_yaml_is_accepted_by_the_project_config(demo_tables: dict[str, pa.Table]) -> None:
    for name, table in demo_tables.items():
        snippet = suggestions_yaml(name, suggest_mapping(table))
        entry = yaml.safe_load("unify:\n  tables:\n" + snippet)["unify"]["tables"][0]
        parsed = UnifyTable.model_validate(entry)
        assert parsed.table == name
        assert parsed.fields == mapping(suggest_mapping(table))


# --- name evidence -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("FirstName", "Person.FirstName"),
        ("cust_fname", "Person.FirstName"),
        ("c_forename", "Person.FirstName"),
        ("customer-last-name", "Person.LastName"),
        ("Surname", "Person.LastName"),
        ("eMail", "Identity.Service.Email"),
        ("contactEmail", "Identity.Service.Email"),
        ("work_email", "Identity.Service.Email"),
        ("mobileNumber", "Identity.Service.Phone"),
        ("tel", "Identity.Service.Phone"),
        ("ZIPCode", "Location.PostalCode"),
        ("billing_postal_code", "Location.PostalCode"),
        ("town", "Location.City"),
        ("Province", "Location.State"),
        ("CountryCode", "Location.Country"),
        ("DateOfBirth", "Person.BirthDate"),
        ("sex", "Person.Gender"),
        ("employer", "Organization.Name"),
        ("customer_name", "Person.FullName"),
        ("lastModified", "Measurement.Date.Modify"),
        ("middle_name", "Person.MiddleName"),
        ("national_id", "Identity.GovernmentID"),
        ("ssn", "Identity.GovernmentID"),
        ("latitude", "Location.Latitude"),
        ("lng", "Location.Longitude"),
        ("AddressLine1", "Location.Address.Street"),
        ("Straße", "Location.Address.Street"),
        ("full_address", "Location.Address"),
        ("loyalty_card_number", "Loyalty.CardNumber"),
    ],
)
def test_column_names(column: str, expected: str) -> None:
    # No values: only the name speaks, and it says less than it would with agreeing values.
    table = pa.table({column: pa.array([None, None, None], pa.string())})
    [suggestion] = suggest_mapping(table)
    assert suggestion.semantic_type == expected
    assert 0.5 <= suggestion.confidence < 0.9
    assert "no values to check" in suggestion.reason


def test_every_synonym_means_one_type() -> None:
    seen: dict[str, str] = {}
    tables = [(t, strong + "|" + weak) for t, (strong, weak) in NAME_SYNONYMS.items()] + list(CUSTOM_SYNONYMS.items())
    for semantic_type, phrases in tables:
        for phrase in filter(None, phrases.split("|")):
            joined = phrase.replace(" ", "")
            assert seen.setdefault(joined, semantic_type) == semantic_type, phrase
            assert joined.isascii() and joined == joined.lower(), phrase
    for semantic_type in [*NAME_SYNONYMS, *CUSTOM_SYNONYMS]:
        if not semantic_type.startswith("?"):
            check_semantic_type(semantic_type)


@pytest.mark.parametrize(
    "column",
    [
        "email_opt_in", "email_verified", "phone_type", "updated_by", "created_at", "street_number",
        "credit_card_number", "member_id", "notes", "address_line_2", "last_login", "status",
    ],
)  # fmt: skip
def test_names_that_are_not_customer_attributes(column: str) -> None:
    table = pa.table({column: pa.array([None, None, None], pa.string())})
    assert suggest_mapping(table) == []


# --- value evidence ----------------------------------------------------------------------------------------------


VALUE_CASES: dict[str, list[str]] = {
    "Identity.Service.Email": ["ann@example.com", "BOB@EXAMPLE.ORG ", " c.d+x@mail.co.uk", "e_f@web.de", "g@h.io"],
    "Identity.Service.Phone": [
        "(617) 555-0101", "+49 30 1234567", "555.222.3333", "555-123-4567 ext. 12", "030/123456", "+1 206 555 0104",
    ],
    "Location.PostalCode/uk": ["SW1A 1AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH"],
    "Location.PostalCode/ca": ["K1A 0B1", "M5V 3L9", "H2X 1Y4", "V6B 4Y8", "T2P 1J9", "R3C 4T3"],
    "Location.PostalCode/zip+4": ["02134-1234", "10001-0001", "94105-2201", "60601-1111", "73301-0001"],
    "Location.PostalCode/leading-zeros": ["02134", "01970", "10115", "80331", "04109", "20095"],
    "Person.FirstName": ["Robert", "Mary", "Jennifer", "Michael", "Linda", "William", "Elizabeth", "Joe"],
    "Person.FullName": ["Robert Smith", "Mary Jones", "Jennifer Lopez", "Michael Brown", "Linda Hall", "Will Ford"],
    "Person.Gender": ["m", "f", "F", "M", "male", "Female"],
    "Location.Country": ["Germany", "France", "United States", "Österreich", "Spain", "Italy"],
    "Location.Address": [
        "12 Main St, Springfield, IL 62704", "5 Oak Ave, Boston, MA 02134", "9 Elm Rd, Austin, TX 73301",
        "77 Pine Ln, Denver, CO 80202", "3 Birch Ct, Miami, FL 33101", "1 Cedar Dr, Reno, NV 89501",
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", VALUE_CASES)
def test_values_speak_when_the_name_does_not(case: str) -> None:
    [suggestion] = suggest_mapping(pa.table({"field_7": VALUE_CASES[case]}))
    assert suggestion.semantic_type == case.split("/")[0]
    assert suggestion.confidence >= 0.5
    assert "name 'field_7' says nothing" in suggestion.reason


def test_dates_are_birth_dates_only_when_the_name_says_so() -> None:
    dates = ["24.12.1980", "01.03.1975", "03/15/1990", "1968-11-30", "2001-05-05", "12.02.1985"]
    birth = suggest_mapping(pa.table({"geb_datum": dates}))
    other = suggest_mapping(pa.table({"joined": dates}))
    assert [(s.semantic_type, s.confidence >= 0.9) for s in birth] == [("Person.BirthDate", True)]
    assert [(s.semantic_type, s.confidence < 0.5) for s in other] == [("Calendar.Date", True)]


def test_coordinates_need_the_name_and_the_range() -> None:
    table = pa.table(
        {
            "lat": [52.52, 48.137, -33.87, 40.71, 35.68, 51.5],
            "lon": [13.405, 11.575, 151.21, -74.0, 139.69, -0.12],  # -74.0 reads as "-74"
        }
    )
    found = by_column(suggest_mapping(table))
    assert found["lat"].semantic_type == "Location.Latitude" and found["lat"].confidence >= 0.95
    assert found["lon"].semantic_type == "Location.Longitude" and found["lon"].confidence >= 0.95
    # Beyond ±90 is no latitude, whatever the name says; numbers alone are too weak to call it a longitude.
    [beyond] = suggest_mapping(pa.table({"latitude": [120.5, 13.4, 151.2, -74.0, 139.7, -0.1]}))
    assert beyond.confidence < 0.5
    if beyond.semantic_type == "Location.Latitude":
        assert "±90" in beyond.reason


def test_arrow_types_are_read_as_text() -> None:
    table = pa.table(
        {
            "zip": pa.array([2134, 10115, 80331, 4109, 20095, 94105], pa.int64()),  # leading zeros lost
            "modified": pa.array(np.array(["2024-01-02T10:00", "2024-02-03T11:00"] * 3, dtype="datetime64[s]")),
            "country": pa.array(["DE", "FR", "DE", "US", "GB", "DE"]).dictionary_encode(),
            "vip": pa.array([True, False, True, False, True, False]),
        }
    )
    assert mapping(suggest_mapping(table)) == {
        "zip": "Location.PostalCode",
        "modified": "Measurement.Date.Modify",
        "country": "Location.Country",
    }


def test_unsupported_arrow_types_are_skipped_without_errors() -> None:
    n = 3
    table = pa.table(
        {
            "email_flag": pa.array([True, False, True]),
            "email_blob": pa.array([b"a@b.com"] * n, pa.binary()),
            "phones": pa.array([["555-123-4567"]] * n, pa.list_(pa.string())),
            "address": pa.array([{"street": "1 Main St"}] * n),
            "updated_time": pa.array([3600, 7200, 10800], pa.time32("s")),
            "age": pa.array([10, 20, 30], pa.duration("s")),
            "middle_name": pa.nulls(n),
            "city": pa.array(["Boston", "Austin", "Reno"], pa.large_string()),
            "lat": pa.array([52, 48, 40], pa.decimal128(8, 5)),  # decimals print as "52.00000"
        }
    )
    assert mapping(suggest_mapping(table)) == {
        "middle_name": "Person.MiddleName",
        "city": "Location.City",
        "lat": "Location.Latitude",
    }


# --- combining, conflicts, keys, custom types --------------------------------------------------------------------


def test_misleading_names() -> None:
    n = 8
    table = pa.table(
        {
            "customer_id": [f"{i:05d}" for i in range(n)],
            "contact": ["a.b@x.com", "c@y.org", "dd@z.net", "e.f@g.com", "h@i.de", "j@k.com", "l@m.io", "n@o.co.uk"],
            "name": ["James", "Mary", "Robert", "Linda", "Michael", "Susan", "David", "Karen"],
            "zip": ["Boston", "Austin", "Denver", "Seattle", "Miami", "Dallas", "Tampa", "Reno"],
            "info": [
                "(617) 555-0101", "512.555.0102", "+1 303 555 0103", "206-555-0104",
                "305 555 0105", "(214) 555-0106", "813-555-0107", "775.555.0108",
            ],
            "phone": [
                "1985-03-02", "1990-12-24", "1977-07-07", "2001-01-15",
                "1968-05-30", "1999-09-09", "1983-11-11", "1972-02-28",
            ],
            "email_opt_in": ["yes", "no", "yes", "yes", "no", "no", "yes", "no"],
            "notes": ["Called twice about the order and asked for a refund of the shipping fee"] * n,
        }
    )  # fmt: skip
    suggestions = suggest_mapping(table)
    assert mapping(suggestions) == {
        "contact": "Identity.Service.Email",  # values override a name that says nothing
        "name": "Person.FirstName",  # single given names, not full names
        "info": "Identity.Service.Phone",
    }
    found = by_column(suggestions)
    assert found["zip"].confidence < 0.5 and "0% of values look like postal codes" in found["zip"].reason
    assert found["phone"].semantic_type != "Identity.Service.Phone"  # it holds dates
    assert not {"customer_id", "email_opt_in", "notes"} & found.keys()


def test_german_column_names() -> None:
    table = pa.table(
        {
            "kundennr": ["K1001", "K1002", "K1003", "K1004", "K1005", "K1006"],
            "vorname": ["Jürgen", "Sabine", "Klaus", "Anna", "Björn", "Ute"],
            "nachname": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer"],
            "strasse": ["Hauptstraße 5", "Am Markt 3a", "Lindenallee 12", "Goethestr. 7", "Bahnhofstr. 101", "Weg 2"],
            "plz": ["01067", "10115", "80331", "20095", "50667", "04109"],
            "ort": ["Dresden", "Berlin", "München", "Hamburg", "Köln", "Leipzig"],
            "geburtsdatum": ["24.12.1980", "01.03.1975", "15.07.1990", "30.11.1968", "05.05.2001", "12.02.1985"],
            "telefon": ["+49 351 1234567", "030 98765432", "089/123456", "+49 40 5556667", "0221 334455", "0341-7788"],
            "E-Mail": ["j.mueller@web.de", "sabine@gmx.de", "klaus@online.de", "anna@posteo.de", "b@web.de", "u@x.de"],
            "geschlecht": ["m", "w", "m", "w", "m", "w"],
        }
    )  # fmt: skip
    suggestions = suggest_mapping(table)
    assert mapping(suggestions) == {
        "vorname": "Person.FirstName",
        "nachname": "Person.LastName",
        "strasse": "Location.Address.Street",
        "plz": "Location.PostalCode",
        "ort": "Location.City",
        "geburtsdatum": "Person.BirthDate",
        "telefon": "Identity.Service.Phone",
        "E-Mail": "Identity.Service.Email",
        "geschlecht": "Person.Gender",
    }
    assert by_column(suggestions)["plz"].confidence >= 0.95  # name and leading-zero codes agree


def test_a_type_goes_to_one_column_only() -> None:
    emails = ["a@x.com", "b@y.org", "c@z.net", "d@w.com", "e@v.de", "f@u.io"]
    phones = ["+1 206 555 0104"] * 6
    table = pa.table({"work_email": emails, "email": emails, "mobile": phones, "phone": phones})
    suggestions = suggest_mapping(table)
    assert [s.semantic_type for s in suggestions].count("Identity.Service.Email") == 1
    assert by_column(suggestions)["email"].semantic_type == "Identity.Service.Email"  # the exact name wins
    assert "work_email" not in by_column(suggestions)
    assert [s.semantic_type for s in suggestions].count("Identity.Service.Phone") == 1


def test_primary_keys_get_nothing_but_foreign_keys_may_show_hard_evidence() -> None:
    table = pa.table(
        {
            "contact_id": ["C001", "C002", "C003", "C004"],
            "kundennummer": ["1001", "1002", "1003", "1004"],
            "account_no": ["1234567890", "2345678901", "1234567890", "3456789012"],  # repeats: not a key, not a phone
            "login_id": ["a@x.com", "b@x.com", "c@x.com", "d@x.com"],  # a key, even if it holds e-mail addresses
        }
    )
    assert mapping(suggest_mapping(table), min_confidence=0.0) == {}


def test_custom_types_only_for_clear_names() -> None:
    cards = ["447987994214", "487547566375", "659495366019", "907462756269", "022106835716", "478126261378"]
    table = pa.table({"card_number": cards, "loyalty_id": ["L1", "L2", "L3", "L4", "L5", "L6"], "card": cards})
    suggestions = suggest_mapping(table)
    assert mapping(suggestions) == {"card_number": "Loyalty.CardNumber", "loyalty_id": "Loyalty.LoyaltyId"}
    # Bare 12-digit numbers might be phones, but nothing says so with confidence.
    assert all(s.confidence < 0.5 for s in suggestions if s.column == "card")


def test_suggested_types_are_valid_and_fields_unique(demo_tables: dict[str, pa.Table]) -> None:
    for table in demo_tables.values():
        suggestions = suggest_mapping(table)
        fields = [check_semantic_type(s.semantic_type).field for s in suggestions]
        assert len(fields) == len(set(fields))
        for s in suggestions:
            assert 0.0 < s.confidence <= 1.0 and s.reason
            assert s.semantic_type in KNOWN_TYPES or s.semantic_type.startswith("Loyalty.")


# --- sampling and speed ------------------------------------------------------------------------------------------


def test_sample_is_spread_over_the_table() -> None:
    # Sorted data: the first half is empty, the e-mails come later.
    values = [""] * 5000 + [f"user{i}@example.com" for i in range(5000)]
    [suggestion] = suggest_mapping(pa.table({"x": values}), sample_rows=100)
    assert suggestion.semantic_type == "Identity.Service.Email"


def test_sample_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="sample_rows"):
        suggest_mapping(pa.table({"email": ["a@b.com"]}), sample_rows=0)


def test_a_wide_sampled_table_is_mapped_column_by_column() -> None:
    # Speed belongs in benchmarks; this checks that sampling a wide, long table still maps each column.
    rng = np.random.default_rng(7)
    pools = {
        "first_name": ["James", "Mary", "Robert", "Linda", "Michael", "Susan", "Anna", "Jürgen"],
        "email": [f"user{i}@example.com" for i in range(500)],
        "phone": [f"({i % 900 + 100}) 555-{i:04d}" for i in range(500)],
        "zip": [f"{i:05d}" for i in range(0, 99999, 211)],
        "birth_date": [f"19{i % 90 + 10}-0{i % 9 + 1}-1{i % 9}" for i in range(500)],
        "notes": ["Asked for a refund of the shipping fee, then called again about the delivery date"] * 3,
        "amount": [f"{i / 7:.2f}" for i in range(500)],
        "city": ["Boston", "Austin", "Denver", "Köln", "Leipzig"],
        "street": [f"{i} Main Street" for i in range(1, 500)],
        "status": ["open", "closed"],
    }
    n = 100_000
    columns = {}
    for i in range(50):
        base = list(pools)[i % len(pools)]
        pool = pa.array(pools[base])
        columns[f"{base}_{i}"] = pool.take(pa.array(rng.integers(0, len(pool), n)))
    found = {s.column: s.semantic_type for s in suggest_mapping(pa.table(columns)) if s.confidence >= 0.5}
    # One column per field: the most confident column of each kind keeps it.
    assert sorted(c for c, t in found.items() if t == "Person.FirstName")[0].startswith("first_name_")
    assert found["email_1"] == "Identity.Service.Email"
    assert found["phone_2"] == "Identity.Service.Phone"
    assert found["zip_3"] == "Location.PostalCode"
    assert "notes_5" not in found and "amount_6" not in found and "status_9" not in found


# --- YAML --------------------------------------------------------------------------------------------------------


def test_yaml_snippet_layout() -> None:
    suggestions = [
        Suggestion("first_name", "Person.FirstName", 0.97, "name matches 'first_name'; 98% look like given names"),
        Suggestion("no", "Identity.Service.Email", 0.8, "a column called 'no'\nwith e-mails"),
        Suggestion("Post Code", "Location.PostalCode", 0.9, "name matches 'post_code'"),
        Suggestion("joined_on", "Calendar.Date", 0.45, "dates"),
    ]
    assert suggestions_yaml("crm.contacts", suggestions) == (
        "    - table: crm.contacts\n"
        "      fields:\n"
        "        first_name: Person.FirstName      # 0.97: name matches 'first_name'; 98% look like given names\n"
        "        \"no\": Identity.Service.Email      # 0.80: a column called 'no' with e-mails\n"
        "        \"Post Code\": Location.PostalCode  # 0.90: name matches 'post_code'\n"
        "        # joined_on: Calendar.Date        # 0.45: dates (below 0.50)\n"
    )
    parsed = yaml.safe_load("unify:\n  tables:\n" + suggestions_yaml("crm.contacts", suggestions))
    fields = {"first_name": "Person.FirstName", "no": "Identity.Service.Email", "Post Code": "Location.PostalCode"}
    assert parsed["unify"]["tables"] == [{"table": "crm.contacts", "fields": fields}]


def test_yaml_snippet_without_confident_suggestions_is_all_comments() -> None:
    snippet = suggestions_yaml("pos.receipts", [Suggestion("purchased_at", "Calendar.Date", 0.45, "dates")])
    assert all(line.lstrip().startswith("#") for line in snippet.splitlines())
    assert "purchased_at: Calendar.Date" in snippet
    assert yaml.safe_load("unify:\n  tables:\n" + snippet) == {"unify": {"tables": None}}


# --- purity ------------------------------------------------------------------------------------------------------


def test_module_imports_only_pyarrow_nicknames_and_the_standard_library() -> None:
    modules: set[str] = set()
    for path in Path(suggest_module.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
    own = {m for m in modules if m.startswith("custdim.semantic.suggest.")}
    roots = {m.split(".")[0] for m in modules - own}
    assert roots - set(sys.stdlib_module_names) <= {"pyarrow", "nicknames"}
