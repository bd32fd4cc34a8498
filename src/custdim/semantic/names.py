"""First-name normalizer: lowercase, drop titles and suffixes, fold nicknames to one canonical first name.

``NICKNAMES`` is built once at import time from two CSV files shipped in ``custdim/semantic/data``, frozen copies
of third-party data made by ``scripts/build_name_data.py``: ``nicknames.csv``, the ``nicknames`` package's
genealogical data (a nickname lists several candidate canonicals), and ``given_names.csv``, Faker's census-weighted
``en_US`` first-name weights. Frozen, because the mapping makes match keys and so CustomerIds: upgrading Faker or
``nicknames`` must not change them. A comparison key needs ONE canonical per nickname; the choice is deterministic:

1. Candidates are ranked by how frequent they are as US given names (the Faker weights, male and female summed),
   then by how frequent they are as a canonical in the nickname data (number of nicknames), then alphabetically.
   That count alone picks archaic canonicals (bill -> robert, mike -> miguel, al -> jalen, chris -> christiana),
   hence frequency first.
2. A nickname that is itself a census given name is folded only if its choice is ``_FOLD_RATIO`` (4) times as
   frequent: 'jim' -> james, but 'john' (listed under jonathan), 'nathan', 'peter', 'erin' stay. ``_KEEP`` lists
   names the ratio still folds wrongly (ian -> john, leah -> ashley).
3. ``_OVERRIDES`` replaces the choice for common modern nicknames the data gets wrong (bill, liz, fred, ron) or the
   census hides (kathy, debbie, larry) or the package lacks (barb).
4. Chains are resolved (nate -> nathan, and nathan is not folded further; jack -> john), so a name and all its
   nicknames land on the same key and no canonical is itself a key. Names on a cycle stay as they are.

On the demo's formal-name/nickname table this folds 90 of 102 pairs to the same key (the nickname-count rule alone:
61); the misses are the ambiguous ones below.

One canonical per nickname cannot be right for ambiguous nicknames: ``pat`` (patrick/patricia), ``sam``, ``chris``,
``alex`` and ``kate`` (katherine/catherine/kathleen) fold to the single most frequent candidate.

The mapping is applied as a map-literal lookup (see ``_fold`` for the CASE formulations it beat).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from importlib import resources

import ibis
import ibis.expr.types as ir

# Titles, honorifics and generational/professional suffixes, dropped as whole words after dots and commas are
# turned into spaces (so 'Mr.' and 'Mr' both go). 'v' is left out: in a first-name field it is more often an initial.
TITLES: frozenset[str] = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "mister", "missus", "dr", "doctor", "prof", "professor", "sir", "dame",
        "lady", "lord", "madam", "madame", "mme", "mlle", "rev", "reverend", "fr", "hon", "herr", "frau",
        "jr", "jnr", "junior", "sr", "snr", "senior", "ii", "iii", "iv", "md", "phd", "esq", "dds", "rn", "cpa",
    }
)  # fmt: skip

# Given names in their own right that the package lists as a nickname of a much more frequent name (ian -> john,
# leah -> ashley, emma -> emily): never folded.
_KEEP: frozenset[str] = frozenset(
    {"angel", "carl", "cole", "daisy", "emma", "ian", "jay", "jody", "leah", "lee", "lynn", "molly", "randy", "rita"}
)
# Common modern nicknames the rule gets wrong: the package also lists an archaic canonical that is more frequent
# (bill -> robert), or the nickname is frequent enough in the census to be kept (kathy, debbie), or it is missing.
_OVERRIDES: dict[str, str] = {
    "alex": "alexander",
    "barb": "barbara",
    "bill": "william",
    "billy": "william",
    "brad": "bradley",
    "cindy": "cynthia",
    "debbie": "deborah",
    "fred": "frederick",
    "freddie": "frederick",
    "freddy": "frederick",
    "jerry": "gerald",
    "judy": "judith",
    "kathy": "katherine",
    "katie": "katherine",
    "larry": "lawrence",
    "liz": "elizabeth",
    "meg": "margaret",
    "robbie": "robert",
    "ron": "ronald",
    "ronnie": "ronald",
    "tina": "christina",
}
# A name that is itself a census given name is folded only when its canonical is at least this many times as
# frequent: 'jim' (1/52 of james) is a nickname, 'nathan' (1/2 of jonathan) is a name of its own.
_FOLD_RATIO = 4.0


def _read_data(filename: str, header: tuple[str, str]) -> list[tuple[str, str]]:
    """The rows of a shipped data file, after its '#' comment lines and its header (checked)."""
    text = resources.files("custdim.semantic").joinpath("data", filename).read_text(encoding="utf-8")
    rows = [tuple(row) for row in csv.reader(line for line in text.splitlines() if not line.startswith("#"))]
    # A mismatch means the file was made by a different version of scripts/build_name_data.py.
    if not rows or rows[0] != header or any(len(row) != len(header) for row in rows):
        raise ValueError(f"custdim/semantic/data/{filename}: expected columns {', '.join(header)}")
    return [(a, b) for a, b in rows[1:]]


def _given_name_frequency() -> dict[str, float]:
    # Written with repr by the script, so float() gives back the exact weights the ranking compares.
    return {name: float(freq) for name, freq in _read_data("given_names.csv", ("name", "frequency"))}


def build_nicknames() -> dict[str, str]:
    """The nickname -> canonical first name mapping (see the module docstring for how one canonical is chosen)."""
    canonicals: dict[str, set[str]] = {}  # nickname -> candidate canonicals
    nick_count: dict[str, int] = {}  # canonical -> number of its nicknames
    for canonical, nick in _read_data("nicknames.csv", ("canonical", "nickname")):
        canonicals.setdefault(nick, set()).add(canonical)
        nick_count[canonical] = nick_count.get(canonical, 0) + 1
    freq = _given_name_frequency()
    chosen: dict[str, str] = {}
    for nick in sorted(canonicals):
        if not re.fullmatch("[a-z]+", nick) or nick in TITLES:  # initials such as 'k.c.'; 'jr' -> junior
            continue
        best = min(canonicals[nick], key=lambda c: (-freq.get(c, 0.0), -nick_count.get(c, 0), c))
        own = freq.get(nick, 0.0)
        if nick in _KEEP or (own > 0.0 and freq.get(best, 0.0) < _FOLD_RATIO * own):
            continue
        chosen[nick] = best
    chosen.update(_OVERRIDES)
    resolved: dict[str, str] = {}
    for nick in chosen:
        seen, target = {nick}, chosen[nick]
        while target in chosen and target not in seen:
            seen.add(target)
            target = chosen[target]
        if target != nick:
            resolved[nick] = target
    return dict(sorted(resolved.items()))


NICKNAMES: dict[str, str] = build_nicknames()

# Dots, commas and every kind of whitespace separate words ('Mr.Bob' -> 'mr bob'). Real characters, not \u
# escapes: RE2 does not read \uXXXX inside a class.
_SEPARATORS = "[.,\t\r\n\f\u00a0 ]+"


def _fold(v: ir.StringValue, mapping: Mapping[str, str]) -> ir.StringValue:
    """Replace a whole value found in ``mapping``; other values pass through.

    A map literal lookup, not ``v.substitute(mapping)`` (a CASE): engines test a CASE's ~1,200 branches one by one
    and re-evaluate the input inside them. 1M names on DuckDB, title stripping included: map 0.8 s, flat CASE 5.1 s,
    CASE nested by first letter 4.8 s.
    """
    return ibis.map(dict(mapping)).get(v, v)


def fold_nickname(v: ir.StringValue) -> ir.StringValue:
    """Fold a value that is already lowercased and stripped of titles ('bob' -> 'robert'); others pass through.

    For a column computed beforehand (e.g. ``strip_titles`` stored in its own projection): a hash-set test comes
    first, so only nicknames pay the map lookup, which Spark does by a linear scan (200k names: 0.7 s vs 2.1 s;
    DuckDB 1M: 0.36 s vs 0.53 s). On an inline expression the test would make both engines evaluate it again.
    """
    return ibis.ifelse(v.isin(sorted(NICKNAMES)), _fold(v, NICKNAMES), v)


def strip_titles(v: ir.StringValue) -> ir.StringValue:
    """Lowercase, split into words on dots/commas/whitespace, drop ``TITLES`` words, rejoin; '' -> null."""
    # Word filtering instead of a ' (mr|mrs|...) ' regex on the padded value: no \b needed (RE2 and Java disagree on
    # it) and 2x faster on DuckDB (local Spark prefers the regex by about as much).
    words = v.lower().re_replace(_SEPARATORS, " ").split(" ")
    # isin, not array contains: Spark turns it into a hash-set lookup (2.5x faster there; DuckDB the same).
    kept = words.filter(lambda w: ~w.isin([*sorted(TITLES), ""]))
    # Spark joins an empty array to NULL and DuckDB to '': nullif makes both null.
    return kept.join(" ").nullif("")


def normalize_name(v: ir.StringValue) -> ir.StringValue:
    """Normalize a person's first name: 'Mr. Bob' -> 'robert', 'LIZ' -> 'elizabeth', 'Dr Debby Jr.' -> 'deborah'.

    Lowercases, removes titles/honorifics/suffixes (``TITLES``), then folds a nickname to its canonical name
    (``NICKNAMES``). Only a whole value is folded ('bob' but not 'bob lee'). Empty results are null.
    Accents are kept: compose with the 'unicode' normalizer first to fold them. Pipelines that can store
    ``strip_titles(v)`` in its own projection should apply ``fold_nickname`` to it instead (faster on both engines).
    """
    return _fold(strip_titles(v), NICKNAMES)
