"""Customer records per source system: who is where, and how each system (mis)records them.

Values are kept as strings with ``""`` for missing, in final row order, together with the person behind each row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custdim.demo.activity import make_ids
from custdim.demo.corrupt import CorruptionRates, apply_name_noise, email_case_space, format_phone, noisy_mask
from custdim.demo.people import AS_OF_S, DAY_S, IntArray, Population, fmt_date, fmt_datetime

BoolArray = npt.NDArray[np.bool_]

# Chance that a person is a customer of each system. A person drawn into none is then put into one, which lifts the
# shares to about 70% CRM, 55% shop and 45% POS: with 4% duplicates, about 1.75 records per person.
PRESENCE: dict[str, float] = {"crm": 0.67, "shop": 0.52, "pos": 0.42}

# Each system has its own habits for phone layouts (see corrupt.PHONE_FORMATS for the order).
_PHONE_LAYOUTS: dict[str, tuple[float, ...]] = {
    "crm": (0.45, 0.05, 0.05, 0.10, 0.30, 0.05),
    "shop": (0.10, 0.10, 0.30, 0.35, 0.12, 0.03),
    "pos": (0.15, 0.15, 0.05, 0.25, 0.37, 0.03),
}
_CRM_START_S = int(np.datetime64("2018-01-01", "s").astype(np.int64))
_SHOP_START_S = int(np.datetime64("2015-01-01", "s").astype(np.int64))
_POS_START_S = int(np.datetime64("2012-01-01", "s").astype(np.int64))
_RECENT_S = 270 * DAY_S  # a record showing a move was touched within the last ~9 months


@dataclass(frozen=True)
class CustomerTable:
    """One source table: string columns in header order, plus the truth and timing behind every row."""

    name: str
    columns: dict[str, list[str]]
    person: IntArray
    """Person index per row."""
    since_s: IntArray
    """Seconds since the epoch when the customer relationship started (shop, pos) or was last updated (crm)."""

    @property
    def keys(self) -> list[str]:
        """Primary keys (the first column)."""
        return next(iter(self.columns.values()))


def plan_sources(n: int, rates: CorruptionRates, rng: np.random.Generator) -> dict[str, tuple[IntArray, BoolArray]]:
    """Per source: person index per record and whether the record is the person's second one there."""
    p = np.array(list(PRESENCE.values()))
    present = rng.random((n, len(p))) < p
    lonely = np.flatnonzero(~present.any(axis=1))
    present[lonely, rng.choice(len(p), size=len(lonely), p=p / p.sum())] = True

    dup = np.flatnonzero(rng.random(n) < rates.duplicate)
    # The second record goes to one of the sources the person is already in, chosen uniformly.
    k = (rng.random(len(dup)) * present[dup].sum(axis=1)).astype(np.int64)
    dup_source = (present[dup].cumsum(axis=1) <= k[:, None]).sum(axis=1)

    plan: dict[str, tuple[IntArray, BoolArray]] = {}
    for s, name in enumerate(PRESENCE):
        first = np.flatnonzero(present[:, s])
        second = dup[dup_source == s]
        person = np.concatenate([first, second]).astype(np.int64)
        is_second = np.concatenate([np.zeros(len(first), np.bool_), np.ones(len(second), np.bool_)])
        plan[name] = (person, is_second)
    return plan


def crm_contacts(
    pop: Population, person: IntArray, is_second: BoolArray, rates: CorruptionRates, rng: np.random.Generator
) -> CustomerTable:
    """CRM contacts in contact_id order; ids carry no meaning, so rows are shuffled before numbering."""
    order = rng.permutation(len(person))
    person = person[order]
    first, last, email, phone = _identity(pop, person, "crm", np.zeros(len(person), np.bool_), rates, rng)
    street, city, zip_, moved = _address(pop, person, rates, rng)
    zero = np.fromiter((z.startswith("0") for z in zip_), np.bool_, len(zip_))
    # Spreadsheet round-trips turn "02134" into 2134; only some CRM rows went through one.
    for i in np.flatnonzero(zero & noisy_mask(rng, len(zip_), rates.zip_zero_dropped)).tolist():
        zip_[i] = zip_[i].lstrip("0")
    birth = _blank(fmt_date(pop.birth_day[person]), rates.field_missing, rng)
    updated = np.where(
        moved,
        AS_OF_S - (rng.random(len(person)) * _RECENT_S).astype(np.int64),
        _CRM_START_S + (rng.random(len(person)) * (AS_OF_S - _CRM_START_S)).astype(np.int64),
    ).astype(np.int64)
    columns = {
        "contact_id": make_ids("C", len(person), 7),
        "first_name": first, "last_name": last, "email": email, "phone": phone,
        "street": street, "city": city, "zip": zip_,
        "birth_date": birth, "updated_at": fmt_datetime(updated, " "),
    }  # fmt: skip
    return CustomerTable("crm.contacts", columns, person, updated)


def shop_accounts(
    pop: Population, person: IntArray, is_second: BoolArray, rates: CorruptionRates, rng: np.random.Generator
) -> CustomerTable:
    """Web-shop accounts numbered in sign-up order; a re-registration comes later and with another e-mail."""
    created = _since(person, is_second, _SHOP_START_S, rng)
    order = np.argsort(created, kind="stable")
    person, is_second, created = person[order], is_second[order], created[order]
    # The shop refuses a second account for the same e-mail, so re-registrations use another address.
    first, last, email, phone = _identity(pop, person, "shop", is_second, rates, rng)
    _, _, zip_, _ = _address(pop, person, rates, rng)
    columns = {
        "account_id": make_ids("A", len(person), 6),
        "given_name": first, "family_name": last, "email_address": email, "phone": phone,
        "postcode": zip_, "created_at": fmt_datetime(created, " "),
    }  # fmt: skip
    return CustomerTable("shop.accounts", columns, person, created)


def pos_members(
    pop: Population, person: IntArray, is_second: BoolArray, rates: CorruptionRates, rng: np.random.Generator
) -> CustomerTable:
    """Loyalty members numbered in joining order, each with a unique 12-digit card number."""
    joined = (_since(person, is_second, _POS_START_S, rng) // DAY_S) * DAY_S
    order = np.argsort(joined, kind="stable")
    person, joined = person[order], joined[order]
    first, last, email, phone = _identity(pop, person, "pos", np.zeros(len(person), np.bool_), rates, rng)
    _, _, zip_, _ = _address(pop, person, rates, rng)
    joined_on = [f"{d[8:10]}.{d[5:7]}.{d[0:4]}" for d in fmt_date(joined // DAY_S)]
    columns = {
        "member_id": make_ids("M", len(person), 7),
        "card_number": _card_numbers(len(person), rng),
        "first_name": first, "last_name": last, "email": email, "phone": phone,
        "zip": zip_, "joined_on": joined_on,
    }  # fmt: skip
    return CustomerTable("pos.members", columns, person, joined)


def _identity(
    pop: Population,
    person: IntArray,
    source: str,
    force_other: BoolArray,
    rates: CorruptionRates,
    rng: np.random.Generator,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """First name, last name, e-mail and phone as this source has them."""
    n = len(person)
    first: list[str] = pop.first[person].tolist()
    last: list[str] = pop.last[person].tolist()
    apply_name_noise(first, last, rates, rng)

    other = noisy_mask(rng, n, rates.email_other) | force_other
    use_work = (rng.random(n) < 0.6) & ~force_other
    email_arr = np.where(other, np.where(use_work, pop.work_email[person], pop.alt_email[person]), pop.email[person])
    email: list[str] = email_arr.tolist()
    for i, v in zip(*_flagged(rng, n, rates.email_case_space, 6), strict=True):
        email[i] = email_case_space(email[i], v)
    for i in np.flatnonzero(noisy_mask(rng, n, rates.email_missing)).tolist():
        email[i] = ""

    layouts = np.array(_PHONE_LAYOUTS[source])
    layout = rng.choice(len(layouts), size=n, p=layouts / layouts.sum()).tolist()
    ext = rng.integers(10, 400, n).tolist()
    phone = [format_phone(d, f, e) for d, f, e in zip(pop.phone[person].tolist(), layout, ext, strict=True)]
    for i in np.flatnonzero(noisy_mask(rng, n, rates.phone_missing)).tolist():
        phone[i] = ""

    # A record with no name, no e-mail and no phone is useless to everyone; real systems would not keep it.
    for i in range(n):
        if not (first[i].strip() or last[i].strip() or email[i] or phone[i]):
            email[i] = str(pop.email[person[i]])
    return first, last, email, phone


def _address(
    pop: Population, person: IntArray, rates: CorruptionRates, rng: np.random.Generator
) -> tuple[list[str], list[str], list[str], BoolArray]:
    """Street, city and zip as recorded (home, or the newer address after a move) and the moved flags."""
    moved = noisy_mask(rng, len(person), rates.moved)
    street = np.where(moved, pop.new_street[person], pop.street[person]).tolist()
    city = np.where(moved, pop.new_city[person], pop.city[person]).tolist()
    zip_ = np.where(moved, pop.new_zip[person], pop.zip[person]).tolist()
    return (
        _blank(street, rates.field_missing, rng),
        _blank(city, rates.field_missing, rng),
        _blank(zip_, rates.field_missing, rng),
        moved,
    )


def _since(person: IntArray, is_second: BoolArray, start_s: int, rng: np.random.Generator) -> IntArray:
    """Start of each relationship; a person's second record always starts after their first one."""
    since = start_s + (rng.random(len(person)) * (AS_OF_S - DAY_S - start_s)).astype(np.int64)
    seconds = np.flatnonzero(is_second)
    if len(seconds):
        firsts = np.flatnonzero(~is_second)
        # Records of first occurrences are in ascending person order, so the first record is found by bisection.
        origin = firsts[np.searchsorted(person[firsts], person[seconds])]
        base = since[origin]
        since[seconds] = base + (rng.random(len(seconds)) * (AS_OF_S - base)).astype(np.int64)
    return since.astype(np.int64)


def _card_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """Unique 12-digit numbers as text; about one in ten starts with 0."""
    drawn = np.empty(0, dtype=np.int64)
    while len(drawn) < n:
        more = rng.integers(0, 10**12, n - len(drawn) + 16)
        both = np.concatenate([drawn, more])
        _, first_seen = np.unique(both, return_index=True)
        drawn = both[np.sort(first_seen)]
    return [f"{c:012d}" for c in drawn[:n].tolist()]


def _blank(values: list[str], rate: float, rng: np.random.Generator) -> list[str]:
    for i in np.flatnonzero(noisy_mask(rng, len(values), rate)).tolist():
        values[i] = ""
    return values


def _flagged(rng: np.random.Generator, n: int, rate: float, variants: int) -> tuple[list[int], list[int]]:
    idx = np.flatnonzero(noisy_mask(rng, n, rate))
    return idx.tolist(), rng.integers(0, variants, len(idx)).tolist()
