"""Organization-name normalizer: lowercase, punctuation out, legal forms and noise words dropped
('The Acme Holdings Co., Ltd.' -> 'acme').

Noise words go as whole words only ('cocoa' keeps its 'co'), matched between spaces on the space-padded name rather
than with ``\\b``, which RE2 and java.util.regex read differently. One regex with all the words is faster on both
engines than splitting into an array and filtering it (1M names: DuckDB 0.19 s vs 0.35 s; 200k on local Spark:
2.0 s vs 2.7 s).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

# Legal forms (after dots are removed: 'L.L.C.' -> 'llc', 'S.p.A.' -> 'spa') and words that say nothing about which
# organization it is. '&' needs no entry: it is punctuation and becomes a space.
LEGAL_FORMS: frozenset[str] = frozenset(
    {
        # English-speaking countries
        "inc", "incorporated", "corp", "corporation", "co", "cos", "company", "companies", "ltd", "limited",
        "llc", "llp", "lllp", "lp", "plc", "pllc", "pc", "pty", "pvt", "pte", "private",
        # Continental Europe and Latin America
        "gmbh", "mbh", "kg", "kgaa", "ohg", "ag", "se", "ev", "sa", "sas", "sarl", "sab", "sae", "bv", "nv",
        "oy", "oyj", "ab", "as", "asa", "aps", "spa", "srl", "sl", "lda", "ltda", "cv",
        # Asia
        "kk", "bhd", "sdn", "tbk",
    }
)  # fmt: skip
NOISE_WORDS: frozenset[str] = frozenset(
    {"the", "and", "und", "et", "group", "grp", "holding", "holdings", "international", "intl", "enterprises"}
)
DROPPED_WORDS: frozenset[str] = LEGAL_FORMS | NOISE_WORDS

# Dots and apostrophes join what they separate ('l.l.c.' -> 'llc', "macy's" -> 'macys'); other punctuation,
# including '&' and '-', separates words ('coca-cola' -> 'coca cola').
_JOINERS = "[.'`‘’]"
# Real characters, not \u escapes: RE2 does not read \uXXXX inside a class.
_SEPARATORS = r"""[!-/:-@\[-`{-~""“”–—…•·´¨ \t\r\n\f""" + "\u00a0]+"


_DROPPED_RE = "|".join(sorted(DROPPED_WORDS, key=lambda w: (-len(w), w)))


def normalize_organization(v: ir.StringValue) -> ir.StringValue:
    """Normalize an organization name for comparison.

    'The Acme Corporation' -> 'acme'; 'ACME, Inc.' -> 'acme'; 'Procter & Gamble Co.' -> 'procter gamble';
    'Siemens AG' -> 'siemens'. When every word is a noise word ('The Holding Company') the cleaned name is kept
    whole ('the holding company') rather than emptied, so such names still compare. Empty results are null.
    """
    cleaned = v.lower().re_replace(_JOINERS, "").re_replace(_SEPARATORS, " ")
    # Every word gets its own pair of spaces ('the  acme  co' padded), so ' (the|co|...) ' matches adjacent noise
    # words too: the match consumes the space on its right, and RE2 has no lookahead to avoid that.
    padded = ibis.literal(" ").concat(cleaned.replace(" ", "  "), ibis.literal(" "))
    kept = padded.re_replace(f" ({_DROPPED_RE}) ", " ").re_replace(" +", " ").strip().nullif("")
    return kept.coalesce(cleaned.strip()).nullif("")
