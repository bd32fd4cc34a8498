"""Write the fictional retailer's source files and the ground truth behind them.

Layout under ``root`` (all text is UTF-8, CSV lines end in ``\\n``)::

    data/crm/contacts.csv         CRM contacts, comma-delimited
    data/shop/accounts.parquet    web-shop accounts
    data/shop/orders.jsonl        web-shop orders, one JSON object per line
    data/pos/members.csv          loyalty members, semicolon-delimited
    data/pos/receipts.csv         store receipts
    data/pos/receipt_lines.csv    receipt lines (total of a receipt = sum of quantity * price of its lines)
    truth/truth.csv               source,table,key,person_id for every good customer record

Same ``(customers, seed, rates)`` -> byte-identical files.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from faker import Faker

from custdim.demo.activity import build_catalog, make_orders, make_receipts
from custdim.demo.corrupt import CorruptionRates
from custdim.demo.messy import STYLES, MessyRates, messy_population, with_birth_dates
from custdim.demo.people import build_pools, make_population
from custdim.demo.records import CustomerTable, crm_contacts, plan_sources, pos_members, shop_accounts

TABLE_PATHS: dict[str, str] = {
    "crm.contacts": "data/crm/contacts.csv",
    "shop.accounts": "data/shop/accounts.parquet",
    "shop.orders": "data/shop/orders.jsonl",
    "pos.members": "data/pos/members.csv",
    "pos.receipts": "data/pos/receipts.csv",
    "pos.receipt_lines": "data/pos/receipt_lines.csv",
}
TRUTH_PATH = "truth/truth.csv"
TRUTH_COLUMNS = ("source", "table", "key", "person_id")

_MESSY_STREAM = 0x6D657373
BAD_ROWS_MIN_CUSTOMERS = 1000
"""Smaller datasets get no broken rows, so tiny examples stay clean to read."""
BAD_ROWS_MAX_PER_FILE = 20
BAD_ROW_KINDS = ("missing_field", "empty_key", "duplicate_key", "extra_field")
"""Broken rows cycle through these kinds, so every CSV file with broken rows has each kind at least once."""


@dataclass(frozen=True)
class DemoDataset:
    """Where :func:`generate` put everything, and how much."""

    root: Path
    files: dict[str, Path]
    truth_path: Path
    people: int
    rows: dict[str, int]
    """Rows written per table, including deliberately broken rows (CSV header not counted)."""


def generate(
    root: Path,
    customers: int = 10_000,
    seed: int = 42,
    *,
    rates: CorruptionRates | None = None,
    style: str = "default",
) -> DemoDataset:
    """Generate the demo retailer under ``root``: ``customers`` real people spread over CRM, web shop and POS.

    Deterministic: the same ``customers``, ``seed``, ``rates`` and ``style`` always give byte-identical files.
    ``rates`` tunes the deliberate data-quality problems (default: :class:`CorruptionRates()`, realistic levels).
    ``style="messy"`` adds households, twins, colliding e-mails and text birth dates in every customer table (see
    :mod:`custdim.demo.messy`); the truth file is exact either way.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    rates = CorruptionRates() if rates is None else rates
    root = Path(root)
    # One independent stream per stage, so changing how one stage draws never shifts the others.
    streams = np.random.default_rng(seed).spawn(9)
    fake = Faker("en_US")
    fake.seed_instance(seed)

    pop = make_population(customers, build_pools(fake, streams[0]), rates.household_email, streams[1])
    # The messy style's own stream is seeded apart from the nine above, so the default style never shifts.
    messy_rng = np.random.default_rng([seed, _MESSY_STREAM]) if style == "messy" else None
    if messy_rng is not None:
        pop = messy_population(pop, MessyRates(), messy_rng)
    plan = plan_sources(customers, rates, streams[2])
    crm = crm_contacts(pop, *plan["crm"], rates, streams[3])
    shop = shop_accounts(pop, *plan["shop"], rates, streams[4])
    pos = pos_members(pop, *plan["pos"], rates, streams[5])
    if messy_rng is not None:
        shop = with_birth_dates(shop, pop, MessyRates(), messy_rng)
        pos = with_birth_dates(pos, pop, MessyRates(), messy_rng)
    orders = make_orders(shop.keys, shop.since_s, rates.orphan_order, streams[6])
    receipts, lines = make_receipts(pos.keys, pos.since_s, build_catalog(), streams[7])

    files = {table: root / rel for table, rel in TABLE_PATHS.items()}
    for path in [*files.values(), root / TRUTH_PATH]:
        path.parent.mkdir(parents=True, exist_ok=True)
    bad_rate = rates.bad_rows if customers >= BAD_ROWS_MIN_CUSTOMERS else 0.0
    bad_rng = streams[8]

    rows = {
        "crm.contacts": _write_csv(files["crm.contacts"], crm.columns, ",", bad_rate, bad_rng),
        "shop.accounts": _write_accounts(files["shop.accounts"], shop),
        "shop.orders": _write_orders(files["shop.orders"], orders),
        "pos.members": _write_csv(files["pos.members"], pos.columns, ";", bad_rate, bad_rng),
        "pos.receipts": _write_csv(files["pos.receipts"], receipts, ",", bad_rate, bad_rng),
        "pos.receipt_lines": _write_csv(files["pos.receipt_lines"], lines, ",", bad_rate, bad_rng),
    }
    truth_path = root / TRUTH_PATH
    _write_truth(truth_path, (crm, shop, pos), customers)
    return DemoDataset(root=root, files=files, truth_path=truth_path, people=customers, rows=rows)


def bad_rows(columns: dict[str, list[str]], rate: float, rng: np.random.Generator) -> list[tuple[int, list[str]]]:
    """Broken rows to splice into a CSV table: ``(insert before good row i, fields)``, sorted by position.

    About ``rate`` per row, at least one of each kind in :data:`BAD_ROW_KINDS` and at most
    :data:`BAD_ROWS_MAX_PER_FILE`. A duplicate key is always inserted after the row that first used the key, and the
    other kinds get fresh keys past the end of the table, so "first occurrence of a non-empty key in a row with the
    right number of fields" is exactly the set of good rows.
    """
    keys = next(iter(columns.values()))
    n = len(keys)
    if rate <= 0 or n < 2:
        return []
    count = min(BAD_ROWS_MAX_PER_FILE, max(len(BAD_ROW_KINDS), round(n * rate)))
    prefix = keys[0].rstrip("0123456789")
    width = len(keys[0]) - len(prefix)
    values = list(columns.values())
    out: list[tuple[int, list[str]]] = []
    fresh = n
    for j in range(count):
        kind = BAD_ROW_KINDS[j % len(BAD_ROW_KINDS)]
        donor = int(rng.integers(0, n))
        row = [col[donor] for col in values]
        position = int(rng.integers(0, n + 1))
        if kind == "duplicate_key":
            original = int(rng.integers(0, n - 1))
            donor = donor if donor != original else original + 1
            row = [col[donor] for col in values]
            row[0] = keys[original]
            position = int(rng.integers(original + 1, n + 1))
        elif kind == "empty_key":
            row[0] = ""
        else:
            fresh += 1
            row[0] = f"{prefix}{fresh:0{width}d}"
            field = 1 + int(rng.integers(0, len(row) - 1))
            if kind == "missing_field":
                del row[field]
            else:
                # An unquoted delimiter inside a value is how real exports grow an extra column.
                value = row[field]
                cut = len(value) // 2
                row[field : field + 1] = [value[:cut], value[cut:]]
        out.append((position, row))
    out.sort(key=lambda item: item[0])
    return out


def _write_csv(
    path: Path, columns: dict[str, list[str]], delimiter: str, bad_rate: float, rng: np.random.Generator
) -> int:
    broken = bad_rows(columns, bad_rate, rng)
    good: Iterator[tuple[str, ...]] = zip(*columns.values(), strict=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(list(columns))
        done = 0
        for position, row in broken:
            writer.writerows(islice(good, position - done))
            done = position
            writer.writerow(row)
        writer.writerows(good)
    return len(next(iter(columns.values()))) + len(broken)


def _write_accounts(path: Path, shop: CustomerTable) -> int:
    arrays: list[pa.Array] = []
    names: list[str] = []
    for name, values in shop.columns.items():
        names.append(name)
        if name == "created_at":
            stamps = shop.since_s.astype("datetime64[s]").astype("datetime64[us]")
            arrays.append(pa.array(stamps, type=pa.timestamp("us")))
        else:
            arrays.append(pa.array([v if v else None for v in values], type=pa.string()))
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)
    return len(shop.person)


def _write_orders(path: Path, orders: dict[str, list[str]]) -> int:
    # Every value is generated ASCII without quotes or backslashes, so formatting beats json.dumps by far.
    template = '{{"order_id":"{}","account_id":"{}","ordered_at":"{}","total":{},"status":"{}","channel":"{}"}}\n'
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.writelines(_format_all(template, orders.values()))
    return len(orders["order_id"])


def _format_all(template: str, columns: Iterable[list[str]]) -> Iterator[str]:
    return (template.format(*row) for row in zip(*columns, strict=True))


def _write_truth(path: Path, tables: Iterable[CustomerTable], people: int) -> None:
    width = max(7, len(str(people)))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(TRUTH_COLUMNS)
        for table in tables:
            source, name = table.name.split(".")
            writer.writerows(
                (source, name, key, f"P{p + 1:0{width}d}")
                for key, p in zip(table.keys, table.person.tolist(), strict=True)
            )
