"""Normalizers: engine-neutral Ibis string transformations used for comparisons only (data is not changed).

Each normalizer is a function StringValue -> StringValue. Regexes use only syntax that RE2 (DuckDB) and
java.util.regex (Spark) read the same way: explicit ASCII classes, no \\w or \\p{..}.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from custdim.semantic.address import normalize_address
from custdim.semantic.junk import canonical, is_junk_canonical
from custdim.semantic.names import normalize_name
from custdim.semantic.normalizer_names import NORMALIZER_NAMES
from custdim.semantic.organization import normalize_organization
from custdim.semantic.phone import normalize_phone_e164

ValueStep = Callable[[ir.StringValue], ir.StringValue]


@dataclass(frozen=True)
class Staged:
    """A step that first stores an intermediate column, so a form its check uses many times is computed once."""

    prepare: ValueStep
    finish: Callable[[ir.StringValue, ir.StringValue], ir.StringValue]


Step = ValueStep | Staged


def _unicode_tables() -> tuple[str, str, dict[str, str]]:
    """Characters of the Latin blocks that decompose to one ASCII letter, plus multi-letter ligatures."""
    src, dst = [], []
    for code in range(0x00C0, 0x0250):
        ch = chr(code)
        base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        if len(base) == 1 and base.isalpha():
            src.append(ch)
            dst.append(base)
    multi = {
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ł": "L",
        "ł": "l",
        "Þ": "Th",
        "þ": "th",
        "ı": "i",
    }
    for ch in multi:
        if ch in src:
            i = src.index(ch)
            del src[i], dst[i]
    return "".join(src), "".join(dst), multi


_UNI_FROM, _UNI_TO, _UNI_MULTI = _unicode_tables()
# Decimal digits of other scripts (Arabic-Indic, Devanagari, fullwidth, ...) -> 0-9.
_DIGIT_BLOCKS = (0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10)
_NUM_FROM = "".join(chr(b + d) for b in _DIGIT_BLOCKS for d in range(10))
_NUM_TO = "0123456789" * len(_DIGIT_BLOCKS)
# ASCII punctuation plus the typographic marks people paste from word processors.
_SYMBOLS = r"""[!-/:-@\[-`{-~''""‘’“”–—…•·´¨]"""


def lowercase(v: ir.StringValue) -> ir.StringValue:
    return v.lower()


def whitespace(v: ir.StringValue) -> ir.StringValue:
    """Remove all whitespace (leading, trailing and inside)."""
    # Real characters, not \u escapes: RE2 does not read \uXXXX inside a class.
    return v.re_replace("[ \t\r\n\f\u00a0]+", "")


def unicode_to_ascii(v: ir.StringValue) -> ir.StringValue:
    """Fold accented Latin letters to ASCII (José -> Jose, Müller -> Muller, straße -> strasse)."""
    out = v.translate(_UNI_FROM, _UNI_TO)
    for ch, rep in _UNI_MULTI.items():
        out = out.replace(ch, rep)
    # Most values are plain ASCII: a cheap test spares them the long translate (8 s per million rows on DuckDB).
    return ibis.ifelse(v.re_search("[^ -~]"), out, v)


def numerals(v: ir.StringValue) -> ir.StringValue:
    """Digits of other scripts to 0-9."""
    return v.translate(_NUM_FROM, _NUM_TO)


def symbols(v: ir.StringValue) -> ir.StringValue:
    """Strip punctuation and symbols."""
    return v.re_replace(_SYMBOLS, "")


def _phone(country: str) -> Step:
    def e164(v: ir.StringValue) -> ir.StringValue:
        """E.164 ('+15551234567') with the project's default country for national numbers."""
        return normalize_phone_e164(numerals(v), country)

    return e164


def _normalizers(country: str) -> dict[str, Step]:
    # Keyed by NORMALIZER_NAMES in its order: the config accepts exactly those names (a test checks the two agree).
    return {
        "numerals": numerals,
        "unicode": unicode_to_ascii,
        "lowercase": lowercase,
        "symbols": symbols,
        "whitespace": whitespace,
        "phone": _phone(country),
        "name": normalize_name,
        "address": normalize_address,
        "organization": normalize_organization,
    }


# Applied in this order whatever order the project file lists them in, so that results do not depend on it.
ORDER: list[str] = list(NORMALIZER_NAMES)


def ordered(names: Sequence[str]) -> list[str]:
    """The distinct normalizer names in application order."""
    return sorted(set(names), key=ORDER.index)


def blank_to_null(v: ir.StringValue) -> ir.StringValue:
    """Trim; empty results count as missing."""
    return v.strip().nullif("")


JUNK = Staged(canonical, lambda v, c: ibis.ifelse(is_junk_canonical(c), ibis.null("string"), v))


def steps(names: Sequence[str], country: str = "US") -> list[Step]:
    """The transformations of a comparison value, in order.

    Junk is recognized after normalizing ('N/A' -> 'na'), and for phones also as written ('000-000-0000', which
    E.164 would turn into '+10000000000').
    """
    functions = _normalizers(country)
    first = [JUNK] if "phone" in names else []
    return [*first, *[functions[name] for name in ordered(names)], blank_to_null, JUNK]


def apply_steps(t: ir.Table, columns: dict[str, tuple[ir.Value, list[Step]]]) -> ir.Table:
    """Add each column = its steps applied to its source value.

    Every step is its own projection over the previous one: steps reference their input several times, and
    composing them as one expression would repeat each input inside the next (exponential SQL).
    """
    work = {name: f"__step__{i}" for i, name in enumerate(columns)}
    aux = {name: f"__aux__{i}" for i, name in enumerate(columns)}
    out = t.mutate(**{work[name]: value.cast("string") for name, (value, _) in columns.items()})
    for k in range(max((len(fs) for _, fs in columns.values()), default=0)):
        at = {name: fs[k] for name, (_, fs) in columns.items() if k < len(fs)}
        staged = {name: f for name, f in at.items() if isinstance(f, Staged)}
        if staged:
            out = out.mutate(**{aux[name]: f.prepare(out[work[name]]) for name, f in staged.items()})
        out = out.mutate(
            **{
                work[name]: f.finish(out[work[name]], out[aux[name]]) if isinstance(f, Staged) else f(out[work[name]])
                for name, f in at.items()
            }
        )
        if staged:
            out = out.drop(*[aux[name] for name in staged])
    return out.rename({name: work[name] for name in columns})


def normalize_column(t: ir.Table, column: str, names: Sequence[str], country: str = "US") -> ir.Table:
    """``t`` with ``column`` replaced by its normalized comparison value."""
    return (
        apply_steps(t, {"__normalized": (t[column], steps(names, country))})
        .mutate(**{column: ibis._["__normalized"]})
        .drop("__normalized")
    )


def column_name(field: str, names: Sequence[str], options: str = "") -> str:
    """Deterministic name of a normalized comparison column."""
    suffix = f"__{options}" if options else ""
    return f"n__{field}__{'_'.join(ordered(names)) or 'raw'}{suffix}"
