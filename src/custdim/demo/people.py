"""The true population of the demo retailer: who the real people are, before any source system gets them wrong.

Faker is slow per call, so it only fills small pools (names, streets, localities, company domains); people are then
assembled by sampling the pools with numpy. Faker's own weighting survives: common names are common in the pools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from faker import Faker

IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]

# A fixed "today" so the output never depends on the clock (ages, "last 3 years" of orders, recent moves).
AS_OF = np.datetime64("2025-06-30T21:00:00", "s")
AS_OF_S = int(AS_OF.astype(np.int64))
DAY_S = 86_400

# Only these states have zips starting with 0 (New England and New Jersey); the others never do.
_ZERO_ZIP_STATES = ("MA", "CT", "NJ", "NH", "ME", "RI", "VT")
_OTHER_STATES = (
    "AL", "AZ", "AR", "CA", "CO", "DE", "FL", "GA", "IL", "IN", "IA", "KS", "KY", "LA", "MD", "MI", "MN", "MS",
    "MO", "NV", "NM", "NY", "NC", "OH", "OK", "OR", "PA", "SC", "TN", "TX", "UT", "VA", "WA", "WV", "WI",
)  # fmt: skip
ZERO_ZIP_SHARE = 0.10

_FREE_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "comcast.net",
                 "msn.com", "att.net", "verizon.net", "protonmail.com", "me.com")  # fmt: skip
_FREE_WEIGHTS = (0.38, 0.14, 0.09, 0.09, 0.08, 0.05, 0.04, 0.03, 0.03, 0.03, 0.02, 0.02)
_N_LOCAL_PATTERNS = 9
_NON_LETTERS = re.compile(r"[^a-z]")


@dataclass(frozen=True)
class Pools:
    """Small samples drawn from Faker once; people are assembled from them."""

    first: ObjArray
    last: ObjArray
    street_names: ObjArray
    cities: ObjArray
    zips: ObjArray
    companies: ObjArray


@dataclass(frozen=True)
class Population:
    """Ground truth per real person (index = person number - 1). Addresses come twice: home and after moving."""

    first: ObjArray
    last: ObjArray
    birth_day: IntArray
    """Days since 1970-01-01."""
    email: ObjArray
    work_email: ObjArray
    alt_email: ObjArray
    phone: IntArray
    """10-digit US number."""
    street: ObjArray
    city: ObjArray
    zip: ObjArray
    new_street: ObjArray
    new_city: ObjArray
    new_zip: ObjArray

    @property
    def size(self) -> int:
        """Number of real people."""
        return len(self.first)


def build_pools(fake: Faker, rng: np.random.Generator) -> Pools:
    """Draw the Faker pools. Sizes are fixed so the cost does not grow with the number of customers."""
    localities = 2500
    zero = int(localities * ZERO_ZIP_SHARE)
    states = [_ZERO_ZIP_STATES[i] for i in rng.integers(0, len(_ZERO_ZIP_STATES), zero)]
    states += [_OTHER_STATES[i] for i in rng.integers(0, len(_OTHER_STATES), localities - zero)]
    return Pools(
        first=_obj([fake.first_name() for _ in range(5000)]),
        last=_obj([fake.last_name() for _ in range(5000)]),
        street_names=_obj([fake.street_name() for _ in range(3000)]),
        cities=_obj([fake.city() for _ in range(localities)]),
        zips=_obj([fake.zipcode_in_state(s) for s in states]),
        companies=_obj(sorted({fake.domain_name() for _ in range(600)})),
    )


def make_population(n: int, pools: Pools, household_share: float, rng: np.random.Generator) -> Population:
    """Assemble ``n`` people; ``household_share`` of them live in two-person households sharing one e-mail."""
    fi = rng.integers(0, len(pools.first), n)
    li = rng.integers(0, len(pools.last), n)
    age_years = np.clip(rng.normal(44.0, 16.0, n), 18.0, 92.0)
    birth_day = (AS_OF_S // DAY_S - (age_years * 365.25).astype(np.int64)).astype(np.int64)
    phone = _phones(rng, n)

    loc = rng.integers(0, len(pools.cities), n)
    # A move within the same town keeps city and zip but changes the street; that is the harder case to spot.
    same_town = rng.random(n) < 0.4
    new_loc = np.where(same_town, loc, rng.integers(0, len(pools.cities), n))
    street = _obj(_streets(rng, n, pools.street_names))
    new_street = _obj(_streets(rng, n, pools.street_names))

    first, last = pools.first[fi], pools.last[li]
    city, zip_ = pools.cities[loc], pools.zips[loc]
    new_city, new_zip = pools.cities[new_loc], pools.zips[new_loc]

    email, work, alt = _emails(rng, pools, fi, li, birth_day)

    pairs = int(n * household_share) // 2
    if pairs:
        members = rng.permutation(n)[: 2 * pairs]
        a, b = members[:pairs], members[pairs:]
        email[b] = email[a]
        # Partners usually share the surname and always the home; keeps the shared e-mail plausible, and hard.
        same_surname = rng.random(pairs) < 0.6
        last[b[same_surname]] = last[a[same_surname]]
        for arr in (street, city, zip_, new_street, new_city, new_zip):
            arr[b] = arr[a]

    return Population(
        first, last, birth_day, email, work, alt, phone, street, city, zip_, new_street, new_city, new_zip
    )


def fmt_datetime(seconds: IntArray, sep: str = " ") -> list[str]:
    """Seconds since the epoch -> ``YYYY-MM-DD<sep>HH:MM:SS`` strings (vectorised; no time zone)."""
    text: list[str] = seconds.astype("datetime64[s]").astype(str).tolist()
    return text if sep == "T" else [t.replace("T", sep) for t in text]


def fmt_date(days: IntArray) -> list[str]:
    """Days since the epoch -> ``YYYY-MM-DD`` strings."""
    text: list[str] = days.astype("datetime64[D]").astype(str).tolist()
    return text


def _obj(values: list[str]) -> ObjArray:
    return np.array(values, dtype=object)


def _phones(rng: np.random.Generator, n: int) -> IntArray:
    area = rng.integers(201, 990, n)
    area = np.where(area % 100 == 11, area + 1, area)  # N11 codes are service numbers, not areas
    exchange = rng.integers(200, 1000, n)
    line = rng.integers(0, 10_000, n)
    return (area * 10_000_000 + exchange * 10_000 + line).astype(np.int64)


def _streets(rng: np.random.Generator, n: int, names: ObjArray) -> list[str]:
    # House numbers are mostly small; an apartment number on ~15% of addresses, like real address lists.
    house = np.minimum(rng.lognormal(5.5, 1.3, n).astype(np.int64) + 1, 99_999).tolist()
    name = names[rng.integers(0, len(names), n)].tolist()
    apt = np.where(rng.random(n) < 0.15, rng.integers(1, 999, n), 0).tolist()
    return [f"{h} {s} Apt. {a}" if a else f"{h} {s}" for h, s, a in zip(house, name, apt, strict=True)]


def _emails(
    rng: np.random.Generator, pools: Pools, fi: IntArray, li: IntArray, birth_day: IntArray
) -> tuple[ObjArray, ObjArray, ObjArray]:
    """Private, work and second private e-mail per person, unique across the whole population."""
    n = len(fi)
    first_clean = [_NON_LETTERS.sub("", s.lower()) or "x" for s in pools.first.tolist()]
    last_clean = [_NON_LETTERS.sub("", s.lower()) or "x" for s in pools.last.tolist()]
    f = [first_clean[i] for i in fi.tolist()]
    ln = [last_clean[i] for i in li.tolist()]
    year = (birth_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970).tolist()
    weights = np.array(_FREE_WEIGHTS) / sum(_FREE_WEIGHTS)
    dom = rng.choice(len(_FREE_DOMAINS), size=n, p=weights).tolist()
    alt_dom = rng.choice(len(_FREE_DOMAINS), size=n, p=weights).tolist()
    pattern = rng.integers(0, _N_LOCAL_PATTERNS, n).tolist()
    alt_pattern = rng.integers(0, _N_LOCAL_PATTERNS, n).tolist()
    digits = rng.integers(0, 1000, n).tolist()
    company = pools.companies[rng.integers(0, len(pools.companies), n)].tolist()

    used: set[str] = set()
    email, work, alt = [], [], []
    for i in range(n):
        email.append(_unique(_local(pattern[i], f[i], ln[i], year[i], digits[i]), _FREE_DOMAINS[dom[i]], used))
        work.append(_unique(f"{f[i]}.{ln[i]}", company[i], used))
        # The second private address is a different pattern on a different provider, as when people start over.
        p2 = (alt_pattern[i] + (1 if alt_pattern[i] == pattern[i] else 0)) % _N_LOCAL_PATTERNS
        d2 = _FREE_DOMAINS[alt_dom[i] if alt_dom[i] != dom[i] else (dom[i] + 1) % len(_FREE_DOMAINS)]
        alt.append(_unique(_local(p2, f[i], ln[i], year[i], digits[i] // 10), d2, used))
    return _obj(email), _obj(work), _obj(alt)


def _local(pattern: int, f: str, ln: str, year: int, num: int) -> str:
    if pattern == 0:
        return f"{f}.{ln}"
    if pattern == 1:
        return f"{f}{ln}"
    if pattern == 2:
        return f"{f[0]}{ln}"
    if pattern == 3:
        return f"{f}_{ln}"
    if pattern == 4:
        return f"{f}.{ln}{num % 100:02d}"
    if pattern == 5:
        return f"{f}{year % 100:02d}"
    if pattern == 6:
        return f"{ln}.{f}"
    if pattern == 7:
        return f"{f[0]}.{ln}{num}"
    return f"{f}{ln[0]}{year}"


def _unique(local: str, domain: str, used: set[str]) -> str:
    candidate = f"{local}@{domain}"
    k = 1
    while candidate in used:
        k += 1
        candidate = f"{local}{k}@{domain}"
    used.add(candidate)
    return candidate
