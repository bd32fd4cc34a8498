"""Organization-name normalizer: lowercase, punctuation out, legal forms and noise words dropped
('The Acme Holdings Co., Ltd.' -> 'acme').

Words are dropped one by one after splitting on spaces (Ibis ``split`` / ``filter`` / ``join``: DuckDB
``list_filter``, Spark ``filter``), so a noise word only goes as a whole word ('cocoa' keeps its 'co') without ``\\b``,
which RE2 and java.util.regex read differently.
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


def normalize_organization(v: ir.StringValue) -> ir.StringValue:
    """Normalize an organization name for comparison.

    'The Acme Corporation' -> 'acme'; 'ACME, Inc.' -> 'acme'; 'Procter & Gamble Co.' -> 'procter gamble';
    'Siemens AG' -> 'siemens'. When every word is a noise word ('The Holding Company') the cleaned name is kept
    whole ('the holding company') rather than emptied, so such names still compare. Empty results are null.
    """
    cleaned = v.lower().re_replace(_JOINERS, "").re_replace(_SEPARATORS, " ")
    dropped = ibis.literal([*sorted(DROPPED_WORDS), ""])  # '' from leading/trailing separators
    # Spark joins an empty array to NULL and DuckDB to '': nullif makes both null.
    kept = cleaned.split(" ").filter(lambda w: ~dropped.contains(w)).join(" ").nullif("")
    return kept.coalesce(cleaned.strip()).nullif("")
