"""A night's changes to the demo retailer's customer tables: new, updated and deleted records.

Applied in place to a generated dataset (``custdim.demo.generate``) so that the next run sees what a nightly load
brings: customers who signed up (some already known to another system, so they match into existing profiles),
customers who changed their email, phone or last name, fixed a typo, or were deleted from the CRM (which holds
no activities, so no order or receipt loses its customer). Deterministic for a seed.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class _Table:
    path: str
    key: str
    first: str
    last: str
    email: str
    phone: str
    delimiter: str = ","
    deletable: bool = False


TABLES = (
    _Table("data/crm/contacts.csv", "contact_id", "first_name", "last_name", "email", "phone", deletable=True),
    _Table("data/shop/accounts.parquet", "account_id", "given_name", "family_name", "email_address", "phone"),
    _Table("data/pos/members.csv", "member_id", "first_name", "last_name", "email", "phone", delimiter=";"),
)


def _read(directory: Path, t: _Table) -> tuple[list[str], list[dict[str, str | None]], list[list[str]]]:
    """The header, the well-formed rows and the rows a source system garbled (kept as they are, never changed)."""
    path = directory / t.path
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return table.column_names, table.to_pylist(), []
    # The generated files are messy on purpose: undecodable bytes and malformed rows go back as they came.
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        reader = csv.reader(fh, delimiter=t.delimiter)
        header = next(reader)
        good, bad = [], []
        for fields in reader:
            if len(fields) == len(header):
                good.append(dict(zip(header, fields, strict=True)))
            else:
                bad.append(fields)
    return header, good, bad  # type: ignore[return-value]


def _write(
    directory: Path, t: _Table, header: list[str], rows: list[dict[str, str | None]], bad: list[list[str]]
) -> None:
    path = directory / t.path
    if path.suffix == ".parquet":
        schema = pq.read_schema(path)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        return
    with path.open("w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        writer = csv.writer(fh, delimiter=t.delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if r[c] is None else r[c] for c in header] for r in rows])
        writer.writerows(bad)


def _typo(value: str, rng: random.Random) -> str:
    if len(value) < 3:
        return value + "e"
    i = rng.randrange(1, len(value) - 1)
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


def apply_change_set(directory: Path, fraction: float = 0.01, seed: int = 0) -> Counter[str]:
    """Change ``fraction`` of every customer table's records in place; returns the counts per kind of change.

    Of the changed share a third is updated (email, phone, last name or a typo in the first name), a third is new
    (half of them copies of a person another table already holds, with a new key) and, in the CRM, a third is
    deleted (elsewhere that third is updated too)."""
    rng = random.Random(seed)  # noqa: S311 - fictional data, reproducible by seed
    read = {t.path: _read(directory, t) for t in TABLES}
    tables = {path: good for path, (_, good, _) in read.items()}
    counts: Counter[str] = Counter()
    for t in TABLES:
        rows = tables[t.path]
        n = max(3, round(len(rows) * fraction))
        picked = rng.sample(range(len(rows)), min(len(rows), n))
        third = len(picked) // 3
        deleted = set(picked[:third]) if t.deletable else set()
        updated = picked[third : 2 * third] if t.deletable else picked[: 2 * third]
        for i in updated:
            row = dict(rows[i])
            what = rng.choice(("email", "phone", "last", "typo"))
            if what == "email" or not row[t.email]:
                row[t.email] = (
                    f"{row[t.first] or 'x'}.{row[t.last] or 'y'}{rng.randrange(1000)}@newmail.example".lower()
                )
            elif what == "phone":
                row[t.phone] = f"({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}"
            elif what == "last":
                row[t.last] = rng.choice(rows)[t.last]
            else:
                row[t.first] = _typo(row[t.first] or "Sam", rng)
            rows[i] = row
            counts[f"{t.path}: updated"] += 1
        new = []
        others = [o for o in TABLES if o is not t]
        for k in range(n - 2 * third):
            template = dict(rng.choice(rows))
            if k % 2 == 0:  # a person another system knows: name, email and phone as that system holds them
                other = rng.choice(others)
                source = rng.choice(tables[other.path])
                template[t.first], template[t.last] = source[other.first], source[other.last]
                template[t.email], template[t.phone] = source[other.email], source[other.phone]
            else:  # someone new
                template[t.first] = rng.choice(rows)[t.first]
                template[t.last] = rng.choice(rows)[t.last]
                template[t.email] = f"new{k}.{seed}.{rng.randrange(10**6)}@shop.example"
                template[t.phone] = f"({rng.randrange(200, 999)}) 555-{rng.randrange(10000):04d}"
            template[t.key] = f"{str(rows[0][t.key])[0]}N{seed:03d}{k:07d}"
            new.append(template)
        counts[f"{t.path}: new"] += len(new)
        counts[f"{t.path}: deleted"] += len(deleted)
        tables[t.path] = [r for i, r in enumerate(rows) if i not in deleted] + new
    for t in TABLES:
        header, _, bad = read[t.path]
        _write(directory, t, header, tables[t.path], bad)
    return counts
