"""Properties of the demo retailer generator: files, truth, determinism and the deliberate data-quality problems."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faker import Faker

from custdim.demo.corrupt import NICKNAMES, CorruptionRates, add_accent, format_phone, typo
from custdim.demo.generate import BAD_ROWS_MAX_PER_FILE, DemoDataset, generate
from custdim.demo.people import build_pools, make_population
from custdim.demo.records import crm_contacts, plan_sources

HEADERS = {
    "crm.contacts": [
        "contact_id", "first_name", "last_name", "email", "phone", "street", "city", "zip", "birth_date", "updated_at",
    ],
    "pos.members": ["member_id", "card_number", "first_name", "last_name", "email", "phone", "zip", "joined_on"],
    "pos.receipts": ["receipt_id", "member_id", "store_id", "purchased_at", "total"],
    "pos.receipt_lines": [
        "line_id", "receipt_id", "product_id", "product", "brand", "category", "quantity", "price",
    ],
}  # fmt: skip
DELIMITERS = {"crm.contacts": ",", "pos.members": ";", "pos.receipts": ",", "pos.receipt_lines": ","}
ACCOUNT_COLUMNS = ["account_id", "given_name", "family_name", "email_address", "phone", "postcode", "created_at"]
ORDER_KEYS = ["order_id", "account_id", "ordered_at", "total", "status", "channel"]
# Per customer table: first name, last name, e-mail and phone columns.
CUSTOMER_TABLES = {
    "crm.contacts": ("first_name", "last_name", "email", "phone"),
    "shop.accounts": ("given_name", "family_name", "email_address", "phone"),
    "pos.members": ("first_name", "last_name", "email", "phone"),
}


# ---------------------------------------------------------------------------------------------------------- helpers


def read_csv(ds: DemoDataset, table: str) -> tuple[list[str], list[list[str]]]:
    """Header and all data rows, broken ones included, every value as text."""
    with ds.files[table].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=DELIMITERS[table]))
    return rows[0], rows[1:]


def good_rows(ds: DemoDataset, table: str) -> list[dict[str, str]]:
    """What an ingest should keep: right column count, non-empty key, first occurrence of each key."""
    header, rows = read_csv(ds, table)
    seen: set[str] = set()
    out = []
    for row in rows:
        if len(row) != len(header) or not row[0] or row[0] in seen:
            continue
        seen.add(row[0])
        out.append(dict(zip(header, row, strict=True)))
    return out


def accounts(ds: DemoDataset) -> list[dict[str, str]]:
    table = pq.read_table(ds.files["shop.accounts"])
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in table.to_pylist()]


def customer_rows(ds: DemoDataset, table: str) -> list[dict[str, str]]:
    return accounts(ds) if table == "shop.accounts" else good_rows(ds, table)


def truth(ds: DemoDataset) -> list[dict[str, str]]:
    with ds.truth_path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def truth_map(ds: DemoDataset) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for t in truth(ds):
        out[f"{t['source']}.{t['table']}"][t["key"]] = t["person_id"]
    return out


def cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    assert len(frac) == 2, text
    return int(whole) * 100 + int(frac)


def files_bytes(ds: DemoDataset) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in [*ds.files.items(), ("truth", ds.truth_path)]}


def one_edit_apart(a: str, b: str) -> bool:
    """True if b is a, with one letter swapped with its neighbour, deleted, inserted or replaced."""
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        i, j = diff[0], diff[-1]
        return len(diff) == 1 or (len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(long_) - len(short) != 1:
        return False
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> DemoDataset:
    """A dataset big enough to carry broken rows (customers >= 1000)."""
    return generate(tmp_path_factory.mktemp("demo2000"), customers=2000, seed=7)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoDataset:
    return generate(tmp_path_factory.mktemp("demo300"), customers=300, seed=3)


# ------------------------------------------------------------------------------------------------ shape and layout


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", customers=1000, seed=11)
    b = generate(tmp_path / "b", customers=1000, seed=11)
    c = generate(tmp_path / "c", customers=1000, seed=12)
    assert files_bytes(a) == files_bytes(b)
    assert a.rows == b.rows
    differing = [k for k, v in files_bytes(a).items() if files_bytes(c)[k] != v]
    assert sorted(differing) == sorted([*a.files, "truth"])


def test_dataset_describes_the_files(ds: DemoDataset) -> None:
    assert ds.people == 2000
    assert set(ds.files) == {*HEADERS, "shop.accounts", "shop.orders"}
    assert ds.truth_path == ds.root / "truth" / "truth.csv"
    assert ds.files["crm.contacts"] == ds.root / "data" / "crm" / "contacts.csv"
    assert not ds.truth_path.is_relative_to(ds.root / "data")
    for table in HEADERS:
        assert ds.rows[table] == len(read_csv(ds, table)[1])
    assert ds.rows["shop.accounts"] == pq.read_metadata(ds.files["shop.accounts"]).num_rows
    assert ds.rows["shop.orders"] == len(ds.files["shop.orders"].read_text(encoding="utf-8").splitlines())


def test_csv_headers_are_exact(ds: DemoDataset) -> None:
    for table, header in HEADERS.items():
        first_line = ds.files[table].read_text(encoding="utf-8").split("\n", 1)[0]
        assert first_line == DELIMITERS[table].join(header)


def test_accounts_parquet_schema(ds: DemoDataset) -> None:
    schema = pq.read_schema(ds.files["shop.accounts"])
    assert schema.names == ACCOUNT_COLUMNS
    for name in ACCOUNT_COLUMNS[:-1]:
        assert schema.field(name).type == pa.string(), name
    assert pa.types.is_timestamp(schema.field("created_at").type)
    assert all(re.fullmatch(r"A\d{6}", a["account_id"]) for a in accounts(ds))


def test_orders_are_json_lines_with_the_right_fields(ds: DemoDataset) -> None:
    lines = ds.files["shop.orders"].read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        order = json.loads(line)
        assert list(order) == ORDER_KEYS
        assert re.fullmatch(r"O\d{7}", order["order_id"])
        assert isinstance(order["account_id"], str)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", order["ordered_at"])
        assert isinstance(order["total"], float) and 5 <= order["total"] <= 400
        assert round(order["total"], 2) == order["total"]
        assert order["status"] in {"completed", "returned", "cancelled"}
        assert order["channel"] in {"web", "app"}
    assert min(json.loads(x)["ordered_at"] for x in lines) >= "2022-06-30"


def test_value_formats(ds: DemoDataset) -> None:
    for row in good_rows(ds, "crm.contacts"):
        assert re.fullmatch(r"C\d{7}", row["contact_id"])
        assert row["birth_date"] == "" or re.fullmatch(r"(19|20)\d\d-\d\d-\d\d", row["birth_date"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["updated_at"])
    for row in good_rows(ds, "pos.members"):
        assert re.fullmatch(r"\d{12}", row["card_number"])
        assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", row["joined_on"])
    cards = [r["card_number"] for r in good_rows(ds, "pos.members")]
    assert len(set(cards)) == len(cards)


# --------------------------------------------------------------------------------------------------------- truth


def test_truth_covers_every_good_customer_record_and_nothing_else(ds: DemoDataset) -> None:
    mapping = truth_map(ds)
    assert set(mapping) == set(CUSTOMER_TABLES)
    for table in CUSTOMER_TABLES:
        keys = [r[HEADERS.get(table, ACCOUNT_COLUMNS)[0]] for r in customer_rows(ds, table)]
        assert len(keys) == len(set(keys))
        assert set(keys) == set(mapping[table]), table
    rows = truth(ds)
    assert len(rows) == len({(r["source"], r["table"], r["key"]) for r in rows})
    # Every real person has at least one record, and no one else is in the truth.
    assert {r["person_id"] for r in rows} == {f"P{i:07d}" for i in range(1, ds.people + 1)}


def test_truth_keeps_the_first_of_a_duplicated_key(ds: DemoDataset) -> None:
    mapping = truth_map(ds)
    header, rows = read_csv(ds, "crm.contacts")
    counts = Counter(r[0] for r in rows if r[0])
    duplicated = [k for k, c in counts.items() if c > 1]
    assert duplicated
    for key in duplicated:
        same = [r for r in rows if r[0] == key and len(r) == len(header)]
        assert len(same) == 2 and same[0] != same[1]
        assert key in mapping["crm.contacts"]


def test_every_truth_record_has_a_name_an_email_or_a_phone(ds: DemoDataset, tmp_path: Path) -> None:
    # At default rates a record losing all four is rare, so also try rates where it would happen to 1 in 16.
    harsh = CorruptionRates(name_missing=0.5, email_missing=0.5, phone_missing=0.5)
    for data in (ds, generate(tmp_path, customers=400, seed=2, rates=harsh)):
        for table, (first, last, email, phone) in CUSTOMER_TABLES.items():
            rows = customer_rows(data, table)
            assert rows
            for row in rows:
                assert row[first].strip() or row[last].strip() or row[email].strip() or row[phone].strip(), row


# ------------------------------------------------------------------------------------------------ broken rows


def test_csv_files_carry_each_kind_of_broken_row(ds: DemoDataset) -> None:
    for table, header in HEADERS.items():
        _, rows = read_csv(ds, table)
        short = sum(len(r) < len(header) for r in rows)
        long_ = sum(len(r) > len(header) for r in rows)
        empty_key = sum(len(r) == len(header) and not r[0] for r in rows)
        counts = Counter(r[0] for r in rows if len(r) == len(header) and r[0])
        dup = sum(c - 1 for c in counts.values())
        assert short >= 1 and long_ >= 1 and empty_key >= 1 and dup >= 1, table
        assert short + long_ + empty_key + dup <= BAD_ROWS_MAX_PER_FILE, table
        assert ds.rows[table] == len(good_rows(ds, table)) + short + long_ + empty_key + dup


def test_small_datasets_have_no_broken_rows(small: DemoDataset) -> None:
    for table, header in HEADERS.items():
        _, rows = read_csv(small, table)
        assert all(len(r) == len(header) and r[0] for r in rows), table
        assert len({r[0] for r in rows}) == len(rows), table


# --------------------------------------------------------------------------------------- population and overlap


def test_leading_zeros_survive_as_text(ds: DemoDataset) -> None:
    crm = good_rows(ds, "crm.contacts")
    zips = [r["zip"] for r in crm if r["zip"]]
    assert 0.05 < sum(z.startswith("0") for z in zips) / len(zips) < 0.15
    # ...and a few CRM zips lost their zero on the way (4 digits left).
    assert 0.003 < sum(len(z) == 4 for z in zips) / len(zips) < 0.05
    assert all(re.fullmatch(r"\d{5}|[1-9]\d{3}", z) for z in zips)
    assert crm[0]["contact_id"].startswith("C000")
    cards = [r["card_number"] for r in good_rows(ds, "pos.members")]
    assert any(c.startswith("0") for c in cards)
    postcodes = [a["postcode"] for a in accounts(ds) if a["postcode"]]
    assert any(p.startswith("0") for p in postcodes) and all(len(p) == 5 for p in postcodes)
    assert any(a["account_id"].startswith("A000") for a in accounts(ds))


def test_presence_shares_and_duplicates_within_a_source(ds: DemoDataset) -> None:
    rows = truth(ds)
    people = ds.people
    assert 1.6 < len(rows) / people < 1.9
    per_source = Counter(r["source"] for r in rows)
    assert 0.64 < per_source["crm"] / people < 0.78
    assert 0.49 < per_source["shop"] / people < 0.62
    assert 0.39 < per_source["pos"] / people < 0.52
    twice = Counter((r["source"], r["person_id"]) for r in rows)
    dup_people = {p for (_, p), c in twice.items() if c > 1}
    assert 0.02 < len(dup_people) / people < 0.06
    assert {s for (s, _), c in twice.items() if c > 1} == {"crm", "shop", "pos"}


def test_some_household_members_share_an_email(ds: DemoDataset) -> None:
    mapping = truth_map(ds)
    owners: dict[str, set[str]] = defaultdict(set)
    for table, (_, _, email, _) in CUSTOMER_TABLES.items():
        key = HEADERS.get(table, ACCOUNT_COLUMNS)[0]
        for row in customer_rows(ds, table):
            if row[email].strip():
                owners[row[email].strip().lower()].add(mapping[table][row[key]])
    shared = [e for e, people in owners.items() if len(people) > 1]
    assert 5 <= len(shared) <= 0.05 * ds.people


# -------------------------------------------------------------------------------------------------- activities


def test_orders_mostly_reference_existing_accounts(ds: DemoDataset) -> None:
    known = {a["account_id"] for a in accounts(ds)}
    orders = [json.loads(x) for x in ds.files["shop.orders"].read_text(encoding="utf-8").splitlines()]
    orphans = [o for o in orders if o["account_id"] not in known]
    assert 0 < len(orphans) < 0.01 * len(orders)
    per_account = Counter(o["account_id"] for o in orders if o["account_id"] in known)
    assert max(per_account.values()) <= 12
    assert len(per_account) < len(known)  # some accounts never ordered
    assert len({o["order_id"] for o in orders}) == len(orders)


def test_receipt_totals_equal_the_sum_of_their_lines(ds: DemoDataset) -> None:
    receipts = good_rows(ds, "pos.receipts")
    lines = good_rows(ds, "pos.receipt_lines")
    summed: Counter[str] = Counter()
    n_lines: Counter[str] = Counter()
    for line in lines:
        summed[line["receipt_id"]] += int(line["quantity"]) * cents(line["price"])
        n_lines[line["receipt_id"]] += 1
    assert receipts
    for r in receipts:
        assert cents(r["total"]) == summed[r["receipt_id"]], r
        assert 1 <= n_lines[r["receipt_id"]] <= 5
        assert 5_00 <= cents(r["total"]) <= 400_00
    members = {m["member_id"] for m in good_rows(ds, "pos.members")}
    per_member = Counter(r["member_id"] for r in receipts)
    assert set(per_member) <= members and max(per_member.values()) <= 15
    catalog = {(x["product_id"], x["product"], x["brand"], x["category"]) for x in lines}
    assert len({c[0] for c in catalog}) == len(catalog)  # one name, brand and category per product
    assert 100 <= len(catalog) <= 150
    assert len({c[2] for c in catalog}) == 15 and len({c[3] for c in catalog}) == 8


# ------------------------------------------------------------------------------------------------ corruption


def test_observable_corruption_rates_are_near_the_defaults(ds: DemoDataset) -> None:
    rows = [(t, r) for t in CUSTOMER_TABLES for r in customer_rows(ds, t)]
    n = len(rows)

    def share(pred: Callable[[str, dict[str, str]], object]) -> float:
        return sum(bool(pred(t, r)) for t, r in rows) / n

    email = {t: c[2] for t, c in CUSTOMER_TABLES.items()}
    phone = {t: c[3] for t, c in CUSTOMER_TABLES.items()}
    names = {t: c[:2] for t, c in CUSTOMER_TABLES.items()}
    assert 0.07 < share(lambda t, r: not r[email[t]]) < 0.13
    assert 0.11 < share(lambda t, r: not r[phone[t]]) < 0.19
    assert 0.05 < share(lambda t, r: r[email[t]] and r[email[t]] != r[email[t]].strip().lower()) < 0.11
    assert 0.008 < share(lambda t, r: any(not r[c].isascii() for c in names[t])) < 0.035
    assert 0.01 < share(lambda t, r: all(r[c].isupper() for c in names[t] if len(r[c]) > 1)) < 0.045
    assert 0.006 < share(lambda t, r: any(r[c] != r[c].strip() for c in names[t])) < 0.04
    phones = [r[phone[t]] for t, r in rows if r[phone[t]]]
    layouts = [r"\(\d{3}\) \d{3}-\d{4}", r"\d{3}\.\d{3}\.\d{4}", r"\+1 \d{3} \d{3} \d{4}", r"\d{10}",
               r"\d{3}-\d{3}-\d{4}", r"\d{3}-\d{3}-\d{4} ext\. \d+"]  # fmt: skip
    found = Counter(next(i for i, p in enumerate(layouts) if re.fullmatch(p, x)) for x in phones)
    assert set(found) == set(range(len(layouts)))


def test_record_level_corruption_against_the_population() -> None:
    """Compare CRM rows with the people behind them: nicknames, typos and moves happen at about their rates."""
    rates = CorruptionRates()
    rng = np.random.default_rng(5).spawn(4)
    fake = Faker("en_US")
    fake.seed_instance(5)
    pop = make_population(4000, build_pools(fake, rng[0]), rates.household_email, rng[1])
    person, second = plan_sources(4000, rates, rng[2])["crm"]
    table = crm_contacts(pop, person, second, rates, rng[3])
    truth_first = pop.first[table.person].tolist()
    truth_last = pop.last[table.person].tolist()
    first, last = table.columns["first_name"], table.columns["last_name"]
    n = len(first)
    nick = sum(f in NICKNAMES.get(t, ()) for f, t in zip(first, truth_first, strict=True)) / n
    typos = (
        sum(
            (one_edit_apart(t, f.strip()) and f.isascii()) or (one_edit_apart(u, g.strip()) and g.isascii())
            for f, t, g, u in zip(first, truth_first, last, truth_last, strict=True)
        )
        / n
    )
    moved = (
        sum(s == str(pop.new_street[p]) for s, p in zip(table.columns["street"], table.person.tolist(), strict=True))
        / n
    )
    assert 0.035 < nick < 0.085
    assert 0.03 < typos < 0.075
    assert 0.03 < moved < 0.075


def test_clean_rates_give_clean_data(tmp_path: Path) -> None:
    ds = generate(tmp_path, customers=1000, seed=1, rates=CorruptionRates.none())
    for table, header in HEADERS.items():
        _, rows = read_csv(ds, table)
        assert all(len(r) == len(header) and r[0] for r in rows), table
    for table, (first, last, email, phone) in CUSTOMER_TABLES.items():
        for row in customer_rows(ds, table):
            assert row[first] and row[last] and row[phone]
            assert row[email] == row[email].strip().lower() and "@" in row[email]
            assert row[first].isascii() and row[first] == row[first].strip()
    known = {a["account_id"] for a in accounts(ds)}
    orders = [json.loads(x) for x in ds.files["shop.orders"].read_text(encoding="utf-8").splitlines()]
    assert all(o["account_id"] in known for o in orders)
    per_source = Counter((r["source"], r["person_id"]) for r in truth(ds))
    assert max(per_source.values()) == 1


# ------------------------------------------------------------------------------------------------- helpers


def test_typo_is_always_exactly_one_edit() -> None:
    for name in ["Robert", "Anna", "Li", "Müller", "Oconnor"]:
        for op in range(4):
            for pos in (0.0, 0.3, 0.99):
                for letter in (0, 4, 25):
                    assert one_edit_apart(name.lower(), typo(name, op, pos, letter).lower()), (name, op, pos)


def test_accents_phones_and_rates_validation() -> None:
    assert add_accent("Jose", 0.99, 0) == "José"
    assert add_accent("Muller", 0.3, 0) == "Müller"
    assert add_accent("Zoe", 0.99, 2) == "Zoë"
    assert add_accent("Xyz", 0.5, 0) == "Xÿz"
    assert add_accent("Bw", 0.5, 0) == "Bw"
    assert [format_phone(5551234567, f, 12) for f in range(6)] == [
        "(555) 123-4567", "555.123.4567", "+1 555 123 4567", "5551234567", "555-123-4567", "555-123-4567 ext. 12",
    ]  # fmt: skip
    assert format_phone(201_000_0042, 3) == "2010000042"
    assert len(NICKNAMES) >= 40 and NICKNAMES["Robert"][0] == "Bob"
    with pytest.raises(ValueError):
        CorruptionRates(email_missing=1.5)
    with pytest.raises(ValueError):
        generate(Path("unused"), customers=0)


def test_default_style_output_is_unchanged(tmp_path: Path) -> None:
    # The default style must keep writing exactly these files: recorded before the messy style existed, and again
    # (customer records and truth unchanged) when orders and receipts became buy-till-you-die purchase histories,
    # and when members got a favourite brand (which products their receipt lines hold, so fewer lines fit the
    # basket cap).
    ds = generate(tmp_path, customers=1500, seed=11)
    assert ds.rows == {
        "crm.contacts": 1087, "shop.accounts": 859, "shop.orders": 2201,
        "pos.members": 690, "pos.receipts": 2131, "pos.receipt_lines": 4172,
    }  # fmt: skip
    truth = ds.truth_path.read_bytes()
    assert len(truth.splitlines()) - 1 == 2628
    assert hashlib.sha256(truth).hexdigest() == "d3b703933d6b8e5b77b31a3beb12d82cc6afc6b2b27d1c1afdc29a964f28018e"
    digest = hashlib.sha256()
    for table in sorted(ds.files):
        digest.update(ds.files[table].read_bytes())
    assert digest.hexdigest() == "96f33f8344bbf47d8b4feae1c386af149ca61b72c45d9948c9efbfbcf395096c"


def test_messy_style_adds_text_birth_dates_twins_and_shared_emails(tmp_path: Path) -> None:
    ds = generate(tmp_path, customers=3000, seed=5, style="messy")
    truth = list(csv.DictReader(ds.truth_path.open(encoding="utf-8")))
    shop = pq.read_table(ds.files["shop.accounts"]).to_pylist()
    # The parquet table has no broken rows, so the truth lists exactly its accounts.
    assert sorted(r["key"] for r in truth if r["source"] == "shop") == sorted(r["account_id"] for r in shop)
    shop_dates = [r["birth_date"] for r in shop if r["birth_date"]]
    assert any(re.fullmatch(r"[0-9]{8}", d) for d in shop_dates)
    assert any(re.fullmatch(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}", d) for d in shop_dates)
    members = list(csv.DictReader(ds.files["pos.members"].open(encoding="utf-8"), delimiter=";"))
    for row in members:
        if row.get("birth_date") and row.get("store_country") == "DE":
            assert re.fullmatch(r"[0-9]{2}\.[0-9]{2}\.[0-9]{4}", row["birth_date"])
        elif row.get("birth_date") and row.get("store_country") == "US":
            assert re.fullmatch(r"[0-9]{2}/[0-9]{2}/[0-9]{4}", row["birth_date"])
    # Twins: two people with the same birth date, surname and zip but different first names, in the CRM.
    person = {(r["source"], r["key"]): r["person_id"] for r in truth}
    crm = [
        r for r in csv.DictReader(ds.files["crm.contacts"].open(encoding="utf-8")) if ("crm", r["contact_id"]) in person
    ]
    seen: dict[tuple[str, str, str], set[str]] = {}
    for r in crm:
        if r["birth_date"] and r["last_name"] and r["zip"]:
            seen.setdefault((r["birth_date"], r["last_name"], r["zip"]), set()).add(person["crm", r["contact_id"]])
    assert any(len(people) > 1 for people in seen.values())
    # Name-derived e-mails are shared by different people.
    owners: dict[str, set[str]] = {}
    for r in crm:
        if r["email"]:
            owners.setdefault(r["email"].strip().lower(), set()).add(person["crm", r["contact_id"]])
    assert sum(len(p) > 1 for p in owners.values()) > 10


def test_unknown_style_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="style"):
        generate(tmp_path, customers=10, style="tidy")


def test_project_file_variants(tmp_path: Path) -> None:
    from custdim.demo.project_file import TEMPLATE, write_project_file
    from custdim.project import Project

    default = write_project_file(tmp_path, "duckdb").read_text(encoding="utf-8")
    assert default == TEMPLATE.format(dir=tmp_path, engine="duckdb")
    generate(tmp_path, customers=50, seed=1, style="messy")
    nine = write_project_file(tmp_path, "duckdb", style="messy", rules="nine").read_text(encoding="utf-8")
    assert nine.count("birth_date: Person.BirthDate") == 3
    assert "zip-last-name-first-name" in nine and "same-email" not in nine
    unify = Project.load(tmp_path).config.unify
    assert unify is not None and unify.match is not None
    assert len(unify.match.rules) == 9 and all(len(d.rules) == 9 for d in unify.dedupe)
