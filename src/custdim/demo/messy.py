"""The ``messy`` demo style: the problems real customer data has and the default demo leaves out.

On top of the default corruption (typos, nicknames, moves, phone layouts, gaps):

- households: people who share a surname, an address and often the landline and one e-mail;
- twins: same birth date, surname and address, different first names;
- name-derived e-mails (``jsmith@gmail.com``) that collide more the more people there are, as at real scale;
- birth dates in every customer table, written as text in each system's own formats: CRM ISO, shop ``yyyymmdd`` or
  ``m/d/yy``, POS ``dd.mm.yyyy`` in European stores and ``mm/dd/yyyy`` in US stores.

Measured on the customer records with seed 42 (distinct e-mails after lower/trim; shared = used by 2+ people): at 100k
records 57.9k distinct, 1.7k shared, none by 10+ (at most 6); at 1M records 567k distinct, 20k shared, 4.0k by 3+,
206 by 10+ (at most 40). Collisions grow faster than the data, as they do in real customer bases.

Everything here draws from its own random stream, so the default style never changes because of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from custdim.demo.corrupt import noisy_mask
from custdim.demo.people import IntArray, Population
from custdim.demo.records import CustomerTable

STYLES = ("default", "messy")


@dataclass(frozen=True)
class MessyRates:
    """How much of each extra problem the messy style adds."""

    household: float = 0.12
    """Share of people moved into another person's household (surname and address copied)."""
    household_phone: float = 0.5
    """Share of household members who give the shared landline."""
    household_email: float = 0.1
    """Share of household members who give the household's one e-mail."""
    twins: float = 0.01
    """Share of people who are the twin of another."""
    initial_email: float = 0.06
    """Share of people whose e-mail is first initial + surname at a free mail provider."""
    birth_date_missing: float = 0.08
    eu_store: float = 0.3
    """Share of loyalty members who joined in a European store (day-first dates)."""


_INITIAL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com")
_INITIAL_WEIGHTS = (0.5, 0.2, 0.12, 0.12, 0.06)
_NON_LETTERS = re.compile(r"[^a-z]")


def messy_population(pop: Population, rates: MessyRates, rng: np.random.Generator) -> Population:
    """The population with households, twins and name-derived e-mails; the truth (person numbers) is unchanged."""
    n = pop.size
    first, last = pop.first.copy(), pop.last.copy()
    birth, phone = pop.birth_day.copy(), pop.phone.copy()
    email = pop.email.copy()
    addr = {k: getattr(pop, k).copy() for k in ("street", "city", "zip", "new_street", "new_city", "new_zip")}

    def join(members: IntArray, heads: IntArray) -> None:
        last[members] = last[heads]
        for values in addr.values():
            values[members] = values[heads]

    if n >= 2:
        members = np.flatnonzero(noisy_mask(rng, n, rates.household))
        heads = rng.integers(0, n, len(members))
        keep = heads != members
        members, heads = members[keep], heads[keep]
        join(members, heads)
        landline = rng.random(len(members)) < rates.household_phone
        phone[members[landline]] = phone[heads[landline]]
        shared = rng.random(len(members)) < rates.household_email
        email[members[shared]] = email[heads[shared]]

        twins = np.flatnonzero(noisy_mask(rng, n, rates.twins))
        siblings = rng.integers(0, n, len(twins))
        keep = (siblings != twins) & (first[twins] != first[siblings])
        twins, siblings = twins[keep], siblings[keep]
        join(twins, siblings)
        birth[twins] = birth[siblings]

    # Initial + surname at a big provider: unique in a small town, shared by strangers at a million customers.
    initial = np.flatnonzero(noisy_mask(rng, n, rates.initial_email))
    domains = rng.choice(len(_INITIAL_DOMAINS), size=len(initial), p=np.array(_INITIAL_WEIGHTS))
    for i, d in zip(initial.tolist(), domains.tolist(), strict=True):
        local = _NON_LETTERS.sub("", f"{str(first[i])[:1]}{last[i]}".lower())
        if local:
            email[i] = f"{local}@{_INITIAL_DOMAINS[d]}"
    return replace(pop, first=first, last=last, birth_day=birth, phone=phone, email=email, **addr)


def with_birth_dates(
    table: CustomerTable, pop: Population, rates: MessyRates, rng: np.random.Generator
) -> CustomerTable:
    """Shop accounts and POS members with a text ``birth_date`` column in that system's formats (CRM unchanged)."""
    if table.name == "crm.contacts":
        return table
    days = pop.birth_day[table.person]
    ymd = days.astype("datetime64[D]").astype(str).tolist()
    n = len(ymd)
    missing = noisy_mask(rng, n, rates.birth_date_missing).tolist()
    columns = dict(table.columns)
    if table.name == "shop.accounts":
        # Older sign-up forms stored yyyymmdd; the newer one takes whatever the browser's US date picker gives.
        short = (rng.random(n) < 0.4).tolist()
        columns["birth_date"] = [
            "" if gone else (f"{int(d[5:7])}/{int(d[8:10])}/{d[2:4]}" if s else d.replace("-", ""))
            for d, s, gone in zip(ymd, short, missing, strict=True)
        ]
    else:
        eu = (rng.random(n) < rates.eu_store).tolist()
        columns["store_country"] = ["DE" if e else "US" for e in eu]
        columns["birth_date"] = [
            "" if gone else (f"{d[8:10]}.{d[5:7]}.{d[0:4]}" if e else f"{d[5:7]}/{d[8:10]}/{d[0:4]}")
            for d, e, gone in zip(ymd, eu, missing, strict=True)
        ]
    return replace(table, columns=columns)
