"""Deliberate, realistic data-quality problems for the demo data: typos, nicknames, accents, odd formats, gaps.

Every function here is pure: randomness comes in as already drawn numbers, so the generator stays deterministic and
each helper can be tested on its own. :func:`noisy_mask` and friends draw from a caller-owned numpy Generator.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CorruptionRates:
    """Probabilities of each deliberate problem, per record unless noted otherwise.

    The defaults mimic a typical retailer; :meth:`none` gives perfectly clean data (useful to isolate one effect).
    """

    name_typo: float = 0.05
    """One edit (swap, delete, insert, replace) in the first or the last name."""
    nickname: float = 0.06
    """Share of all records whose first name is replaced by a nickname (only names in :data:`NICKNAMES` qualify, so
    the per-name chance is scaled up to reach this share)."""
    accent: float = 0.02
    """An accented letter added to the first or the last name (José, Zoë, Müller style)."""
    name_case_space: float = 0.05
    """Both names in UPPER or lower case, or one name with leading/trailing spaces."""
    name_missing: float = 0.02
    """Per name field: first name, resp. last name, left empty."""
    email_case_space: float = 0.08
    """E-mail with changed case and/or leading/trailing spaces."""
    email_missing: float = 0.10
    email_other: float = 0.08
    """The record carries another address of the same person (work address or a second private one)."""
    household_email: float = 0.03
    """Share of PEOPLE who share their e-mail with a household member (two different people, same address)."""
    phone_missing: float = 0.15
    field_missing: float = 0.06
    """Per other field (birth date, street, city, zip/postcode): left empty."""
    zip_zero_dropped: float = 0.2
    """CRM only: share of zips starting with 0 that lose the zero (about 10% of zips start with 0, so ~2% of rows)."""
    moved: float = 0.05
    """The record shows the person's newer, different address."""
    duplicate: float = 0.04
    """Share of PEOPLE with a second record in one of their sources (re-registration)."""
    orphan_order: float = 0.002
    """Orders whose account_id does not exist in the accounts table."""
    bad_rows: float = 1 / 2000
    """Broken rows per CSV row (wrong column count, empty key, duplicate key); only for customers >= 1000."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"CorruptionRates.{f.name} must be between 0 and 1, got {value!r}")

    @classmethod
    def none(cls) -> CorruptionRates:
        """Rates that leave every record clean (no duplicates, orphans or bad rows either)."""
        return cls(**{f.name: 0.0 for f in fields(cls)})


# Formal first name -> common nicknames. Only names that en_US Faker actually produces are worth listing.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Katherine": ("Kate", "Kathy", "Katie"),
    "Catherine": ("Cathy", "Kate"),
    "Kathleen": ("Kathy", "Kate"),
    "Michael": ("Mike", "Mikey"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Johnny", "Jack"),
    "Richard": ("Rick", "Rich", "Dick"),
    "Joseph": ("Joe", "Joey"),
    "Thomas": ("Tom", "Tommy"),
    "Charles": ("Charlie", "Chuck"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Donald": ("Don",),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Andrew": ("Andy", "Drew"),
    "Joshua": ("Josh",),
    "Kenneth": ("Ken", "Kenny"),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Timothy": ("Tim",),
    "Jonathan": ("Jon",),
    "Nicholas": ("Nick",),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Alexander": ("Alex",),
    "Gregory": ("Greg",),
    "Patrick": ("Pat",),
    "Raymond": ("Ray",),
    "Jeffrey": ("Jeff",),
    "Gerald": ("Jerry",),
    "Lawrence": ("Larry",),
    "Douglas": ("Doug",),
    "Zachary": ("Zach",),
    "Ronald": ("Ron",),
    "Frederick": ("Fred",),
    "Peter": ("Pete",),
    "Nathan": ("Nate",),
    "Vincent": ("Vince",),
    "Phillip": ("Phil",),
    "Walter": ("Walt",),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Jennifer": ("Jen", "Jenny"),
    "Susan": ("Sue", "Susie"),
    "Deborah": ("Debbie", "Deb"),
    "Rebecca": ("Becky",),
    "Jessica": ("Jess",),
    "Christine": ("Chris", "Tina"),
    "Kimberly": ("Kim",),
    "Victoria": ("Vicky", "Tori"),
    "Samantha": ("Sam",),
    "Alexandra": ("Alex",),
    "Abigail": ("Abby",),
    "Pamela": ("Pam",),
    "Cynthia": ("Cindy",),
    "Barbara": ("Barb",),
    "Jacqueline": ("Jackie",),
    "Theresa": ("Terri",),
    "Judith": ("Judy",),
    "Melissa": ("Missy", "Mel"),
    "Stephanie": ("Steph",),
    "Amanda": ("Mandy",),
    "Valerie": ("Val",),
}

# Letter -> accented look-alikes; lower- and upper-case so the first letter can be accented too (Émile, Özil).
_ACCENTS: dict[str, str] = {
    "a": "áä", "e": "éèë", "i": "í", "o": "öó", "u": "üú", "n": "ñ", "c": "ç", "y": "ÿ",
    "A": "ÁÄ", "E": "É", "O": "Ö", "U": "Ü",
}  # fmt: skip
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(name: str, op: int, pos: float, letter: int) -> str:
    """Apply one keyboard-style edit: ``op`` 0 swap neighbours, 1 delete, 2 insert, 3 replace.

    ``pos`` in [0, 1) picks the position, ``letter`` (0..25) the letter to insert or replace with. The result always
    differs from ``name`` (a no-op swap of equal letters falls back to a replacement). Names shorter than 2 characters
    are returned unchanged.
    """
    n = len(name)
    if n < 2:
        return name
    i = min(int(pos * n), n - 1)
    new = _LETTERS[letter % 26]
    if op == 0:
        j = i if i < n - 1 else i - 1
        if name[j].lower() != name[j + 1].lower():
            a, b = name[j], name[j + 1]
            # Keep the capital letter in front ("Anna" -> "Nana", not "nAna"): typists swap letters, not case.
            if j == 0 and a.isupper():
                a, b = a.lower(), b.upper()
            return name[:j] + b + a + name[j + 2 :]
        op = 3
    if op == 1 and n > 2:
        out = name[:i] + name[i + 1 :]
        return out[0].upper() + out[1:] if i == 0 and name[0].isupper() else out
    if op == 2:
        return name[: i + 1] + new + name[i + 1 :]
    old = name[i]
    if new == old.lower():
        new = _LETTERS[(letter + 1) % 26]
    return name[:i] + (new.upper() if old.isupper() else new) + name[i + 1 :]


def add_accent(name: str, pos: float, choice: int) -> str:
    """Replace one accentable letter (chosen by ``pos`` in [0, 1)) with an accented variant; unchanged if none."""
    candidates = [k for k, ch in enumerate(name) if ch in _ACCENTS]
    if not candidates:
        return name
    k = candidates[min(int(pos * len(candidates)), len(candidates) - 1)]
    options = _ACCENTS[name[k]]
    return name[:k] + options[choice % len(options)] + name[k + 1 :]


def nickname(name: str, choice: int) -> str:
    """Return a nickname of ``name`` from :data:`NICKNAMES`, or ``name`` itself if it has none."""
    options = NICKNAMES.get(name)
    return options[choice % len(options)] if options else name


def stray_spaces(value: str, variant: int) -> str:
    """Add whitespace the way copy-paste and sloppy forms do: 0 leading, 1 trailing, 2 both, 3 doubled trailing."""
    return (" " + value, value + " ", " " + value + " ", value + "  ")[variant % 4]


def email_case_space(email: str, variant: int) -> str:
    """Change case and/or add surrounding spaces; ``variant`` 0..5 picks the combination (always a change)."""
    if variant % 6 == 0:
        return email.upper()
    if variant % 6 == 1:
        return email[:1].upper() + email[1:]
    if variant % 6 == 2:
        local, _, domain = email.partition("@")
        return local.capitalize() + "@" + domain.upper()
    return stray_spaces(email, variant % 6 - 3)


# Index -> layout of a 10-digit US number. Index 5 is the dash layout with an extension.
PHONE_FORMATS = ("paren", "dots", "intl", "plain", "dash", "dash_ext")


def format_phone(number: int, fmt: int, ext: int = 0) -> str:
    """Render a 10-digit phone number in layout ``PHONE_FORMATS[fmt]``; ``ext`` is used by the extension layout."""
    d = f"{number:010d}"
    a, b, c = d[:3], d[3:6], d[6:]
    if fmt == 0:
        return f"({a}) {b}-{c}"
    if fmt == 1:
        return f"{a}.{b}.{c}"
    if fmt == 2:
        return f"+1 {a} {b} {c}"
    if fmt == 3:
        return d
    if fmt == 4:
        return f"{a}-{b}-{c}"
    return f"{a}-{b}-{c} ext. {ext}"


def noisy_mask(rng: np.random.Generator, n: int, rate: float) -> BoolArray:
    """Independent Bernoulli(rate) flags for ``n`` records."""
    return rng.random(n) < rate


def apply_name_noise(first: list[str], last: list[str], rates: CorruptionRates, rng: np.random.Generator) -> None:
    """Corrupt names in place: nicknames, typos, accents, case/space problems, then missing names.

    Each problem is decided independently per record, so a record can have several (a nicknamed, upper-case name).
    """
    n = len(first)
    eligible = np.fromiter((f in NICKNAMES for f in first), dtype=np.bool_, count=n)
    share = float(eligible.mean()) if n else 0.0
    p_nick = min(1.0, rates.nickname / share) if share > 0 else 0.0
    for i, c in _pick(rng, eligible & noisy_mask(rng, n, p_nick), 1):
        first[i] = nickname(first[i], int(c[0] * 6))

    for i, c in _pick(rng, noisy_mask(rng, n, rates.name_typo), 4):
        target = first if c[0] < 0.5 else last
        target[i] = typo(target[i], int(c[1] * 4), c[2], int(c[3] * 26))

    for i, c in _pick(rng, noisy_mask(rng, n, rates.accent), 3):
        target = first if c[0] < 0.5 else last
        target[i] = add_accent(target[i], c[1], int(c[2] * 4))

    for i, c in _pick(rng, noisy_mask(rng, n, rates.name_case_space), 3):
        if c[0] < 0.45:
            first[i], last[i] = first[i].upper(), last[i].upper()
        elif c[0] < 0.6:
            first[i], last[i] = first[i].lower(), last[i].lower()
        elif c[1] < 0.5:
            first[i] = stray_spaces(first[i], int(c[2] * 4))
        else:
            last[i] = stray_spaces(last[i], int(c[2] * 4))

    for i in np.flatnonzero(noisy_mask(rng, n, rates.name_missing)).tolist():
        first[i] = ""
    for i in np.flatnonzero(noisy_mask(rng, n, rates.name_missing)).tolist():
        last[i] = ""


def _pick(rng: np.random.Generator, mask: BoolArray, k: int) -> list[tuple[int, list[float]]]:
    """Indices where ``mask`` is set, each with ``k`` uniform numbers for the edit's own choices."""
    idx = np.flatnonzero(mask)
    draws = rng.random((len(idx), k)).tolist()
    return list(zip(idx.tolist(), draws, strict=True))
