"""Phone numbers to E.164 ('+15551234567') with a default country, in pure Ibis, plus a phonenumbers reference.

The Ibis fast path reads its constants (calling code, trunk prefix, international prefixes, possible lengths of
national numbers) from phonenumbers' metadata when the expression is built; nothing runs in Python per row.

1. Extension dropped ('ext. 12', 'x12', '#12', ';ext=12'); only ASCII digits are read afterwards.
2. International form: a '+' before the first digit, or digits starting with '00' or the default country's own
   numeric international prefix ('011' for NANP). The result is '+' and the digits; a country's trunk prefix right
   after its calling code is dropped when the rest has a possible length ('+44 020 ...', '+44 (0)20 ...').
3. National form: a leading trunk prefix ('0' for GB, '1' for NANP) is dropped when what remains has a possible
   length; digits that start with the calling code and are too long are read as already carrying it
   ('44 20 7946 0958' with GB); then '+' + calling code + national number.
4. Null unless the national number has a possible length for its country (phonenumbers' ``possible_length``; the
   country of a '+' number is found from its calling code). Local-only lengths (7-digit NANP numbers) are null: they
   cannot be written in E.164 without an area code.

Known differences from ``e164_python`` (phonenumbers.parse; tests pin them):

- '00' is read as an international prefix for every default country; phonenumbers only knows the country's own
  ('0044 20 7946 0958' with US: fast path '+442079460958', phonenumbers None).
- Letters are ignored, not read as vanity digits ('1-800-FLOWERS': fast path None, phonenumbers '+18003569377').
- Only lengths are checked, not phonenumbers' per-country number patterns (which also decide whether a trunk
  prefix is dropped); non-ASCII digits are ignored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberFormat, ValidationResult

_EXTENSION = "[ \t]*(;ext=|ext[a-z]*[.]?|x|#)[ \t:.=]*[0-9]+[ \t]*$"
_PLUS_FIRST = "^[^0-9]*[+]"


@dataclass(frozen=True)
class CountryRules:
    """What the fast path needs to know about a default country."""

    calling_code: str
    trunk_prefix: str | None
    international_prefixes: tuple[str, ...]
    lengths: tuple[int, ...]


def _possible_lengths(md: PhoneMetadata | None) -> tuple[int, ...]:
    """Possible lengths of national numbers (local-only lengths excluded; -1 marks 'none')."""
    desc = md.general_desc if md else None
    return tuple(n for n in desc.possible_length if n > 0) if desc else ()


def _metadata(calling_code: int) -> PhoneMetadata | None:
    region = phonenumbers.region_code_for_country_code(calling_code)
    return PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)


@functools.cache
def country_rules(region: str) -> CountryRules:
    """Calling code, trunk prefix, international prefixes and possible national lengths of a region ('US', 'GB')."""
    md = PhoneMetadata.metadata_for_region(region.upper())
    if md is None:
        raise ValueError(f"unknown phone region {region!r}")
    idds = ["00"]
    for idd in (md.international_prefix, md.preferred_international_prefix):
        if idd and idd.isdigit() and idd not in idds:  # regex prefixes (AU '001[14-689]|...') are left out
            idds.append(idd)
    trunk = md.national_prefix if md.national_prefix and md.national_prefix.isdigit() else None
    lengths = _possible_lengths(md)
    return CountryRules(str(md.country_code), trunk, tuple(sorted(idds, key=len, reverse=True)), lengths)


def _length_class(lengths: tuple[int, ...]) -> str:
    """A regex for digit strings of exactly one of ``lengths`` ('[0-9]{7}|[0-9]{9,10}'), runs merged."""
    runs: list[list[int]] = []
    for n in sorted(set(lengths)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return "|".join(f"[0-9]{{{a}}}" if a == b else f"[0-9]{{{a},{b}}}" for a, b in runs)


@functools.cache
def international_patterns() -> tuple[str, dict[tuple[int, int], str]]:
    """Regexes over '+' and the digits of an international number.

    The first matches every possible number: calling code + a possible national length. The others, keyed by
    (calling code length, trunk prefix length), match numbers that carry their country's trunk prefix after the
    calling code and have a possible length without it ('+44 020 ...', '+44 (0)20 ...', '+33 0 1 ...').
    """
    possible: list[str] = []
    with_trunk: dict[tuple[int, int], list[str]] = {}
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        md = _metadata(code)
        lengths = _possible_lengths(md)
        if md is None or not lengths:
            continue
        possible.append(f"{code}({_length_class(lengths)})")
        trunk = md.national_prefix
        if trunk and trunk.isdigit():
            key = (len(str(code)), len(trunk))
            with_trunk.setdefault(key, []).append(f"{code}{trunk}({_length_class(lengths)})")
    # Calling codes are prefix-free, so at most one alternative can match a given number.
    return f"^[+]({'|'.join(possible)})$", {k: f"^[+]({'|'.join(v)})$" for k, v in sorted(with_trunk.items())}


def normalize_phone_e164(v: ir.StringValue, default_country: str = "US") -> ir.StringValue:
    """E.164 form of a phone number ('(555) 123-4567' -> '+15551234567'), or null when it cannot be one.

    Numbers without an international prefix are read in ``default_country`` (an ISO region code: 'US', 'GB').
    See the module docstring for the rules and the known differences from phonenumbers.
    """
    rules = country_rules(default_country)
    cc, trunk, lengths = rules.calling_code, rules.trunk_prefix, list(rules.lengths)
    s = v.lower().re_replace(_EXTENSION, "")
    # One string for every later test: '+' and digits for an international number, digits alone for a national
    # one. Ibis inlines an expression at each use, so few, small intermediate expressions keep the SQL small.
    marker = ibis.ifelse(s.re_search(_PLUS_FIRST), "+", "")
    k = marker.concat(s.re_replace("[^0-9]", "")).re_replace(f"^({'|'.join(rules.international_prefixes)})", "+")
    possible, with_trunk = international_patterns()
    plus = ibis.literal("+")
    branches = [
        (k.re_search(pattern), plus.concat(k.substr(1, code_len), k.substr(1 + code_len + trunk_len)))
        for (code_len, trunk_len), pattern in with_trunk.items()
    ]
    branches += [(k.re_search(possible), k), (k.startswith("+"), ibis.null("string"))]
    # National numbers, in the order phonenumbers tries them: trunk prefix dropped, as is, calling code included.
    national = ibis.literal("+" + cc)
    if trunk:
        dropped = k.startswith(trunk) & (k.length() - len(trunk)).isin(lengths)
        branches.append((dropped, national.concat(k.substr(len(trunk)))))
    branches.append((k.length().isin(lengths), national.concat(k)))
    branches.append((k.startswith(cc) & (k.length() - len(cc)).isin(lengths), plus.concat(k)))
    return ibis.cases(*branches, else_=ibis.null("string"))


def e164_python(raw: str, default_country: str) -> str | None:
    """Reference in plain Python: phonenumbers.parse + E.164, None unless the number has a possible length.

    Local-only numbers (IS_POSSIBLE_LOCAL_ONLY, e.g. 7-digit NANP) are None, as in the Ibis fast path.
    """
    try:
        number = phonenumbers.parse(raw, default_country.upper())
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
