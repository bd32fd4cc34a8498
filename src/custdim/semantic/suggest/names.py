"""Column-name evidence for mapping suggestions: words, synonyms, id-like and free-text names."""

import functools
import re
import unicodedata
from dataclasses import dataclass

from custdim.semantic.suggest.kinds import (
    _ANY_ADDRESS,
    ADDRESS,
    BIRTH,
    CARD,
    CITY,
    COUNTRY,
    COUNTY,
    DATE,
    EMAIL,
    FIRST,
    FULL,
    GENDER,
    GOV_ID,
    LAST,
    LAT,
    LON,
    LOYALTY_ID,
    MIDDLE,
    MODIFIED,
    ORG,
    PHONE,
    POSTAL,
    STATE,
    STREET,
)

# --------------------------------------------------------------------------------------------------------------------
# Column-name evidence
# --------------------------------------------------------------------------------------------------------------------

NAME_SYNONYMS: dict[str, tuple[str, str]] = {
    # type: (strong phrases, weak phrases), "|"-separated; words are separated by spaces and folded to ASCII.
    # Strong phrases also count inside longer names (billing_zip); weak ones only when they are the whole name.
    FIRST: ("first name|given name|fname|forename|vorname|prenom|christian name|first nm", "first|given"),
    LAST: ("last name|family name|surname|sur name|lname|nachname|familienname|zuname|last nm", "last|family"),
    MIDDLE: ("middle name|mname|middle initial|middle|zweitname", ""),
    FULL: ("full name|complete name|display name|vollstaendiger name", "name"),
    BIRTH: ("birth|birth date|date of birth|dob|birthday|born|bday|geburtsdatum|geburtstag|geb datum|geb dat", ""),
    GENDER: ("gender|sex|geschlecht", ""),
    EMAIL: ("email|e mail|email address|e mail address|emailadresse|mailadresse|e mail adresse", "mail"),
    PHONE: (
        "phone|telephone|tel|mobile|cell|cellphone|cell phone|mobile phone|phone number|phone no|telefon"
        "|telefonnummer|tel nr|handy|mobil|mobilnummer|handynummer",
        "",
    ),
    GOV_ID: (
        "ssn|national id|social security number|social security|tax id|government id|national insurance number"
        "|nino|steuer id|steuernummer|sozialversicherungsnummer",
        "",
    ),
    STREET: (
        "street|strasse|street address|street line|street name|strassenname|address 1|address line 1|addr 1"
        "|addr line 1",
        "str",
    ),
    ADDRESS: ("full address|complete address|postal address|mailing address|one line address", ""),
    _ANY_ADDRESS: ("", "address|addr|adresse|anschrift"),
    CITY: ("city|town|ort|stadt|wohnort|locality|municipality|gemeinde|ville|ciudad", ""),
    COUNTY: ("county|landkreis", ""),
    STATE: ("state|province|bundesland|state province", "region"),
    POSTAL: ("zip|zipcode|zip code|postcode|post code|postal code|plz|postleitzahl", "postal"),
    COUNTRY: ("country|country code|country name|ctry|cntry", "land|nation"),
    LAT: ("latitude|lat|breitengrad", ""),
    LON: ("longitude|lon|lng|laengengrad", "long"),
    ORG: (
        "company|company name|organization|organisation|organization name|employer|firma|firmenname|unternehmen"
        "|arbeitgeber|org name",
        "org",
    ),
    MODIFIED: (
        "updated|update|modified|updated at|updated on|last modified|modified at|modified on|date modified"
        "|modified date|modify date|update date|updated date|last updated|last update|changed at|last changed"
        "|geaendert|geaendert am|aenderungsdatum",
        "",
    ),
    DATE: ("", "date|datum"),
}
"""Column-name synonyms per semantic type."""

CUSTOM_SYNONYMS: dict[str, str] = {
    CARD: (
        "card number|card no|card nr|card num|card id|loyalty card|loyalty card number|loyalty card no"
        "|loyalty card id|member card|member card number|membership card|membership card number|kartennummer"
        "|karten nummer|kundenkarte|kundenkartennummer"
    ),
    LOYALTY_ID: "loyalty id|loyalty number|loyalty no|loyalty nr|loyalty num|loyalty account",
}
"""Custom types, suggested only when the whole (prefix-stripped) column name is one of these phrases."""

_PREFIXES = frozenset({"c", "cust", "customer", "contact", "client", "kunde", "kunden", "kd"})
_JOINED_PREFIXES = ("customer", "contact", "client", "kunden", "cust")
_ID_WORDS = frozenset(
    {"id", "key", "pk", "uuid", "guid", "nr", "no", "num", "number", "nummer", "ident", "identifier", "ref"}
)
_ID_JOINED = re.compile(
    r"^(?:customer|contact|account|member|user|client|person|party|record|row|cust|kunden?|kd|mitglieds?)"
    r"(?:id|key|nr|no|num|number|nummer|uuid|guid)$"
)
_ID_WORDS_ALLOWED = frozenset({PHONE, GOV_ID})
"""Types whose names legitimately carry a number word (phone_number, national_id)."""
_QUALIFIERS = frozenset(
    {
        "home", "work", "private", "privat", "personal", "business", "office", "primary", "main", "default",
        "preferred", "current", "alt", "alternate", "alternative", "secondary", "other", "billing", "shipping",
        "delivery", "mailing", "invoice", "contact", "customer", "cust", "kunde", "kunden", "line", "address",
        "adresse", "addr", "at", "on", "am", "date", "time", "ts", "dt", "timestamp", "datum", "of", "the", "code",
        "iso", "name", "full", "last", "std", "geschaeftlich",
    }
)  # fmt: skip
_NEGATING = frozenset(
    {
        "opt", "optin", "optout", "consent", "flag", "verified", "valid", "validated", "is", "has", "type", "status",
        "count", "cnt", "hash", "hashed", "domain", "bounce", "bounced", "format", "source", "length", "len",
        "score", "by", "sent", "confirmed", "subscribed", "unsubscribed", "permission", "allowed", "pref",
        "preference", "template", "provider", "area", "ext", "extension", "fax", "place", "geburtsort", "prefix",
        "suffix", "verification", "quality",
    }
)  # fmt: skip
_FREE_TEXT_WORDS = frozenset(
    {
        "note", "notes", "comment", "comments", "description", "desc", "remark", "remarks", "memo", "text",
        "message", "bemerkung", "bemerkungen", "notiz", "notizen", "kommentar", "feedback", "body", "details",
    }
)  # fmt: skip

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _fold(text: str) -> str:
    """Lower-case ASCII: German umlauts spelled out (ä -> ae), other accents dropped (é -> e)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFC", text).casefold().translate(_GERMAN))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _name_words(column: str) -> tuple[str, ...]:
    """Split a column name into folded words: ``"custEMailAddress_1"`` -> ``("cust", "e", "mail", "address", "1")``."""
    spaced = _LETTER_DIGIT.sub(" ", _fold(_CAMEL.sub(" ", column)))
    return tuple(w for w in _NON_WORD.split(spaced) if w)


def _strip_prefixes(words: tuple[str, ...]) -> tuple[str, ...]:
    while len(words) > 1 and words[0] in _PREFIXES:
        words = words[1:]
    return words


@dataclass(frozen=True)
class _NameHit:
    semantic_type: str
    score: float
    how: str  # "matches", "contains" or "ends with"
    phrase: str  # display form, words joined by "_"


_EXACT_STRONG = 0.9
_EXACT_WEAK = 0.8
_PARTIAL_QUALIFIED = 0.8
_PARTIAL_OTHER = 0.65


@functools.cache
def _synonym_index() -> tuple[dict[str, tuple[str, float, str]], list[tuple[tuple[str, ...], str]]]:
    """(joined phrase -> (type, exact score, display phrase), [(strong phrase words, type)])."""
    exact: dict[str, tuple[str, float, str]] = {}
    strong: list[tuple[tuple[str, ...], str]] = []
    for semantic_type, (strong_phrases, weak_phrases) in NAME_SYNONYMS.items():
        for phrases, score in ((strong_phrases, _EXACT_STRONG), (weak_phrases, _EXACT_WEAK)):
            for phrase in filter(None, phrases.split("|")):
                words = tuple(phrase.split())
                exact.setdefault("".join(words), (semantic_type, score, "_".join(words)))
                if score == _EXACT_STRONG:
                    strong.append((words, semantic_type))
    return exact, strong


@functools.cache
def _custom_index() -> dict[str, tuple[str, str]]:
    return {
        "".join(phrase.split()): (semantic_type, "_".join(phrase.split()))
        for semantic_type, phrases in CUSTOM_SYNONYMS.items()
        for phrase in phrases.split("|")
    }


def _find_window(words: tuple[str, ...], phrase: tuple[str, ...]) -> int:
    k = len(phrase)
    for i in range(len(words) - k + 1):
        if words[i : i + k] == phrase:
            return i
    return -1


def _name_hit(words: tuple[str, ...]) -> _NameHit | None:
    """The best synonym match for a prefix-stripped name, or None (also when two types match equally well)."""
    exact, strong = _synonym_index()
    joined = "".join(words)
    if joined in exact:
        semantic_type, score, phrase = exact[joined]
        return _NameHit(semantic_type, score, "matches", phrase)
    if len(words) == 1:
        for prefix in _JOINED_PREFIXES:
            rest = joined.removeprefix(prefix)
            if rest != joined and rest in exact:
                semantic_type, score, phrase = exact[rest]
                return _NameHit(semantic_type, score, "matches", phrase)
    if set(words) & _NEGATING:
        return None
    best: list[tuple[float, int, _NameHit]] = []
    for synonym, semantic_type in strong:
        start = _find_window(words, synonym)
        if start < 0:
            continue
        extras = words[:start] + words[start + len(synonym) :]
        if set(extras) & _ID_WORDS and semantic_type not in _ID_WORDS_ALLOWED:
            continue
        qualified = all(w in _QUALIFIERS or w.isdigit() or w in _ID_WORDS for w in extras)
        score = _PARTIAL_QUALIFIED if qualified else _PARTIAL_OTHER
        best.append((score, len(synonym), _NameHit(semantic_type, score, "contains", "_".join(synonym))))
    if not best and len(words) == 1:
        # A compound word ending in a synonym: homephone, kundenemail, privattelefon.
        for synonym, semantic_type in strong:
            if len(synonym) == 1 and len(synonym[0]) >= 5 and joined.endswith(synonym[0]):
                hit = _NameHit(semantic_type, _PARTIAL_OTHER, "ends with", synonym[0])
                best.append((_PARTIAL_OTHER, 1, hit))
    if not best:
        return None
    best.sort(key=lambda b: (-b[0], -b[1]))
    top = best[0]
    rivals = {b[2].semantic_type for b in best if b[0] == top[0] and b[1] == top[1]}
    return top[2] if len(rivals) == 1 else None


def _is_id_name(words: tuple[str, ...]) -> bool:
    joined = "".join(words)
    return words[-1] in _ID_WORDS or bool(_ID_JOINED.match(joined))


def _birth_hint(words: tuple[str, ...]) -> bool:
    return any("birth" in w or "geburt" in w or w in {"dob", "bday", "born", "geb"} for w in words)


# --------------------------------------------------------------------------------------------------------------------
