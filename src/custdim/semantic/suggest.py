"""Intelligent mapping: suggest a semantic type for each column of a source table.

Two kinds of evidence are combined per column:

- **The column name.** It is split into words (camelCase, snake_case, kebab-case, digits), lower-cased, folded to
  ASCII (``Straße`` -> ``strasse``) and stripped of owner prefixes (``cust_``, ``customer_``, ``contact_``, ``c_``,
  ...). The words are looked up in a synonym table per type (:data:`NAME_SYNONYMS`). An exact match counts more than a
  synonym found inside a longer name (``billing_zip``); words such as ``opt_in``, ``verified`` or ``type`` cancel a
  match (``email_opt_in`` is not an e-mail address).
- **The values.** A sample of non-null values (as text) is checked for e-mail addresses, phone numbers, postal codes,
  dates, given names (the ``nicknames`` package's name list), full names, genders, countries, states, coordinates,
  street lines, one-line addresses and company names.

Name and value evidence that agree reinforce each other. Values that clearly disagree lower the name's confidence, and
clear value evidence can win over a misleading name (a column called ``contact`` holding e-mail addresses becomes
``Identity.Service.Email``). Some columns get no suggestion at all: key-like columns (an id-ish name such as
``contact_id``, ``kundennr``), free text (``notes``, long sentences) and columns of unsupported Arrow types.
A type (precisely: its unified field name) is suggested for at most one column of a table; the most confident column
keeps it.

Custom types are suggested only when the whole column name (after prefix stripping) is one of the phrases in
:data:`CUSTOM_SYNONYMS`, e.g. ``card_number`` / ``loyalty_card`` -> ``Loyalty.CardNumber`` and ``loyalty_id`` ->
``Loyalty.LoyaltyId``. Anything looser (``credit_card_number``, ``member_id``) gets no custom suggestion.

Pure: pyarrow, the standard library and ``nicknames`` only; no I/O beyond reading the package's name list once.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from nicknames import NickNamer

__all__ = ["CUSTOM_SYNONYMS", "NAME_SYNONYMS", "Suggestion", "suggest_mapping", "suggestions_yaml"]


@dataclass(frozen=True)
class Suggestion:
    """A suggested ``column: semantic_type`` entry, how sure we are (0..1) and why."""

    column: str
    semantic_type: str
    confidence: float
    reason: str


# --------------------------------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------------------------------

FIRST = "Person.FirstName"
LAST = "Person.LastName"
MIDDLE = "Person.MiddleName"
FULL = "Person.FullName"
BIRTH = "Person.BirthDate"
GENDER = "Person.Gender"
EMAIL = "Identity.Service.Email"
PHONE = "Identity.Service.Phone"
GOV_ID = "Identity.GovernmentID"
ADDRESS = "Location.Address"
STREET = "Location.Address.Street"
CITY = "Location.City"
COUNTY = "Location.County"
STATE = "Location.State"
POSTAL = "Location.PostalCode"
COUNTRY = "Location.Country"
LAT = "Location.Latitude"
LON = "Location.Longitude"
ORG = "Organization.Name"
DATE = "Calendar.Date"
MODIFIED = "Measurement.Date.Modify"
CARD = "Loyalty.CardNumber"
LOYALTY_ID = "Loyalty.LoyaltyId"

_ANY_ADDRESS = "?address"
"""Pseudo type of a bare ``address`` name: a full one-line address or just the street line, the values decide."""

_DATE_TYPES = frozenset({BIRTH, DATE, MODIFIED})

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
# Value evidence
# --------------------------------------------------------------------------------------------------------------------

_RE_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$"
_RE_PHONE_EXT = r"(?i)\s*(?:ext\.?|extension|x|#|durchwahl|dw\.?)\s*\d{1,6}$"
_RE_PHONE = r"^\+?[0-9\s().\-/]+$"
_RE_DECIMAL = r"^[+-]?\d+\.\d+$"
_RE_COORDINATE = r"^[+-]?\d{1,3}(?:\.\d+)?$"
_RE_ZIP5 = r"^\d{5}$"
_RE_SSN = r"^\d{3}-\d{2}-\d{4}$"
_RE_ZIP4 = r"^\d{4}$"
_RE_ZIP_PLUS4 = r"^\d{5}-\d{4}$"
_RE_UK = r"(?i)^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$"
_RE_CA = r"(?i)^[A-Z]\d[A-Z]\s?\d[A-Z]\d$"
_YEAR = r"(?:1[89]\d\d|2\d\d\d)"
_RE_DATE = (
    rf"^(?:{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
    rf"|(?:0?[1-9]|[12]\d|3[01])\.(?:0?[1-9]|1[0-2])\.{_YEAR}"
    rf"|(?:0?[1-9]|[12]\d|3[01])/(?:0?[1-9]|[12]\d|3[01])/{_YEAR})$"
)
# Letters (lower case): Latin with accents, Greek, Cyrillic, kana, CJK, Hangul. Explicit ranges, because RE2 takes
# about a millisecond to compile a Unicode class such as \pL, and Arrow compiles on every call.
_LETTERS = r"a-z\x{00c0}-\x{024f}\x{0370}-\x{03ff}\x{0400}-\x{04ff}\x{3040}-\x{30ff}\x{4e00}-\x{9fff}\x{ac00}-\x{d7af}"


def _letters(pattern: str) -> str:
    """Expand ``<L>`` to the letter ranges; patterns using it run on lower-cased values."""
    return pattern.replace("<L>", _LETTERS)


_RE_SINGLE_WORD = _letters(r"^[<L>][<L>'’\-]*\.?$")
_RE_MULTI_WORD = _letters(r"^[<L>][<L>'’.\-]*(?:\s+[<L>][<L>'’.\-]*){1,3}$")
_RE_ALPHA = _letters(r"^[<L>][<L>\s'’.\-]*$")
_RE_STREET = _letters(
    r"^(?:\d{1,6}[a-z]?(?:-\d+)?\s+[<L>][<L>\d\s.'’\-]*"  # 505 stephens club, 12b main st.
    r"|[<L>][<L>\s.'’\-]*\s+\d{1,5}\s?[a-z]?(?:[-/]\d+[a-z]?)?)$"  # hauptstraße 5, am markt 3a
)
_RE_FULL_ADDRESS = (
    r"(?i)^[^,]*\d[^,]*,.*(?:\b\d{4,5}\b|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b).*$"
)
_RE_ORG = (
    r"(?i)(?:\b(?:inc|llc|ltd|gmbh|ag|kg|ohg|ug|corp|corporation|co|plc|sa|s\.a|se|bv|nv|oy|ab|group|holding|"
    r"holdings|partners|company|limited|gbr|e\.?v)\.?|&\s*\S+|\band\s+[a-z]+)$"
)

_GENDERS = frozenset(
    {
        "m", "f", "w", "d", "x", "u", "male", "female", "man", "woman", "men", "women", "mann", "frau", "weiblich",
        "maennlich", "mannlich", "divers", "diverse", "other", "unknown", "non-binary", "nonbinary", "nb",
        "unspecified",
    }
)  # fmt: skip
_ISO2 = (
    "ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz "
    "ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo "
    "fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je "
    "jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo "
    "mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw "
    "py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm "
    "tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw uk"
)
_ISO3 = (
    "usa can mex bra arg chl col per ven ecu ury pry bol gbr irl fra deu aut che ita esp prt nld bel lux dnk nor swe "
    "fin isl pol cze svk hun rou bgr grc tur rus ukr blr ltu lva est svn hrv srb bih mne mkd alb cyp mlt lie mco and "
    "chn jpn kor prk ind pak bgd lka npl idn mys sgp tha vnm phl aus nzl zaf egy nga ken mar dza tun eth gha isr sau "
    "are qat kwt omn bhr irn irq jor lbn syr hkg twn"
)
_COUNTRY_NAMES = (
    "united states|united states of america|america|canada|mexico|brazil|argentina|chile|colombia|peru|venezuela|"
    "united kingdom|great britain|britain|england|scotland|wales|northern ireland|ireland|france|germany|deutschland|"
    "austria|osterreich|oesterreich|switzerland|schweiz|suisse|italy|italia|italien|spain|espana|spanien|portugal|"
    "netherlands|the netherlands|niederlande|holland|belgium|belgien|luxembourg|luxemburg|denmark|daenemark|danemark|"
    "norway|norwegen|sweden|schweden|finland|finnland|iceland|island|poland|polen|czech republic|czechia|tschechien|"
    "slovakia|slowakei|hungary|ungarn|romania|rumaenien|rumanien|bulgaria|bulgarien|greece|griechenland|turkey|"
    "turkiye|tuerkei|turkei|russia|russland|ukraine|belarus|lithuania|latvia|estonia|slovenia|croatia|kroatien|"
    "serbia|serbien|bosnia and herzegovina|albania|cyprus|malta|china|japan|south korea|korea|north korea|india|"
    "indien|pakistan|bangladesh|sri lanka|nepal|indonesia|malaysia|singapore|thailand|vietnam|viet nam|philippines|"
    "australia|australien|new zealand|neuseeland|south africa|suedafrika|sudafrika|egypt|aegypten|nigeria|kenya|"
    "morocco|algeria|tunisia|ethiopia|ghana|israel|saudi arabia|united arab emirates|uae|qatar|kuwait|iran|iraq|"
    "jordan|lebanon|hong kong|taiwan|vereinigte staaten|vereinigtes koenigreich|vereinigtes konigreich|kanada|"
    "mexiko|brasilien|frankreich|usa|u.s.a.|u.s.|uk|u.k."
)
_STATES = (
    "al ak az ar ca co ct de fl ga hi id il in ia ks ky la me md ma mi mn ms mo mt ne nv nh nj nm ny nc nd oh ok or pa "
    "ri sc sd tn tx ut vt va wa wv wi wy dc pr ab bc mb nb nl ns nt nu on pe qc sk yt|alabama|alaska|arizona|arkansas|"
    "california|colorado|connecticut|delaware|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|"
    "louisiana|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada|"
    "new hampshire|new jersey|new mexico|new york|north carolina|north dakota|ohio|oklahoma|oregon|pennsylvania|"
    "rhode island|south carolina|south dakota|tennessee|texas|utah|vermont|virginia|washington|west virginia|"
    "wisconsin|wyoming|district of columbia|alberta|british columbia|manitoba|new brunswick|newfoundland and labrador|"
    "nova scotia|ontario|quebec|saskatchewan|baden-wuerttemberg|baden-wurttemberg|bayern|bavaria|berlin|brandenburg|"
    "bremen|hamburg|hessen|mecklenburg-vorpommern|niedersachsen|nordrhein-westfalen|rheinland-pfalz|saarland|"
    "sachsen|sachsen-anhalt|schleswig-holstein|thueringen|thuringen"
)


@functools.cache
def _value_sets() -> dict[str, pa.Array]:
    """Lower-case, ASCII-folded lookup sets as Arrow arrays (built once)."""
    lookup = NickNamer.default_lookup()
    given = set(lookup) | {nick for nicks in lookup.values() for nick in nicks}
    iso = set(_ISO2.split()) | set(_ISO3.split())
    country_names = set(_COUNTRY_NAMES.split("|"))
    state_words = _STATES.split("|")
    states = set(state_words[0].split()) | set(state_words[1:])
    return {
        "given": pa.array(sorted(given), pa.string()),
        "gender": pa.array(sorted(_GENDERS), pa.string()),
        "country_code": pa.array(sorted(iso), pa.string()),
        "country": pa.array(sorted(iso | country_names), pa.string()),
        "state": pa.array(sorted(states), pa.string()),
    }


@dataclass(frozen=True)
class _Profile:
    """Shares (0..1) of sampled non-empty values that look like each kind of value."""

    n: int
    distinct: int
    temporal: bool
    type_name: str
    email: float = 0.0
    phone: float = 0.0
    phone_formatted: float = 0.0
    ssn: float = 0.0
    zip_exact: float = 0.0
    zip_distinctive: float = 0.0
    zip_compatible: float = 0.0
    zip_leading_zero: float = 0.0
    date: float = 0.0
    single_word: float = 0.0
    multi_word: float = 0.0
    alpha: float = 0.0
    given: float = 0.0
    gender: float = 0.0
    country: float = 0.0
    country_code: float = 0.0
    state: float = 0.0
    decimal: float = 0.0
    coordinate: float = 0.0
    max_abs: float = 0.0
    street: float = 0.0
    full_address: float = 0.0
    org: float = 0.0
    median_words: float = 0.0
    median_length: float = 0.0
    same_length: bool = False


def _share(mask: pa.Array) -> float:
    if len(mask) == 0:
        return 0.0
    return float(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0) / len(mask)


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(values, pattern)


def _median(values: pa.Array) -> float:
    return float(pc.approximate_median(values).as_py() or 0.0)


def _profile(values: pa.Array, *, temporal: bool, type_name: str) -> _Profile:
    """Measure the sampled values (trimmed, non-empty strings)."""
    n = len(values)
    distinct = int(pc.count_distinct(values).as_py())
    lengths = pc.utf8_length(values)
    min_max = pc.min_max(lengths)
    same_length = min_max["min"].as_py() == min_max["max"].as_py()
    if temporal:
        return _Profile(n, distinct, True, type_name, date=1.0, same_length=same_length)
    sets = _value_sets()
    lower = pc.utf8_lower(values)
    folded = pc.replace_substring_regex(pc.utf8_normalize(lower, "NFKD"), r"[\x{0300}-\x{036f}]", "")
    first_word = pc.list_element(pc.utf8_split_whitespace(folded, max_splits=1), 0)

    date = _matches(values, _RE_DATE)
    decimal = _matches(values, _RE_DECIMAL)
    zip_plus4 = _matches(values, _RE_ZIP_PLUS4)
    ssn = _matches(values, _RE_SSN)
    bare = pc.replace_substring_regex(values, _RE_PHONE_EXT, "")
    phone = pc.and_(_matches(bare, _RE_PHONE), pc.invert(pc.or_(pc.or_(date, decimal), pc.or_(zip_plus4, ssn))))
    if pc.any(phone).as_py():  # counting digits is the slowest step here; most columns hold no phone-like values
        digits = pc.utf8_length(pc.replace_substring_regex(bare, r"[^0-9]+", ""))
        phone = pc.and_(phone, pc.and_(pc.greater_equal(digits, 7), pc.less_equal(digits, 15)))
    formatted = pc.and_(phone, _matches(values, r"\D"))
    zip5 = _matches(values, _RE_ZIP5)
    distinctive = pc.or_(pc.or_(zip_plus4, _matches(values, _RE_UK)), _matches(values, _RE_CA))
    zip_exact = pc.or_(zip5, distinctive)

    max_abs = 0.0
    coordinate = _matches(values, _RE_COORDINATE)
    coordinate_share = _share(coordinate)
    if coordinate_share:
        numbers = pc.cast(pc.filter(values, coordinate), pa.float64())
        max_abs = float(pc.max(pc.abs(numbers)).as_py() or 0.0)

    words = pc.list_value_length(pc.utf8_split_whitespace(values))
    return _Profile(
        n=n,
        distinct=distinct,
        temporal=False,
        type_name=type_name,
        email=_share(_matches(values, _RE_EMAIL)),
        phone=_share(phone),
        phone_formatted=_share(formatted),
        ssn=_share(ssn),
        zip_exact=_share(zip_exact),
        zip_distinctive=_share(distinctive),
        zip_compatible=_share(pc.or_(zip_exact, _matches(values, _RE_ZIP4))),
        zip_leading_zero=_share(pc.and_(zip_exact, _matches(values, r"^0"))),
        date=_share(date),
        single_word=_share(_matches(lower, _RE_SINGLE_WORD)),
        multi_word=_share(_matches(lower, _RE_MULTI_WORD)),
        alpha=_share(_matches(lower, _RE_ALPHA)),
        given=_share(pc.is_in(first_word, value_set=sets["given"])),
        gender=_share(pc.is_in(folded, value_set=sets["gender"])),
        country=_share(pc.is_in(folded, value_set=sets["country"])),
        country_code=_share(pc.is_in(folded, value_set=sets["country_code"])),
        state=_share(pc.is_in(folded, value_set=sets["state"])),
        decimal=_share(decimal),
        coordinate=coordinate_share,
        max_abs=max_abs,
        street=_share(pc.and_(_matches(lower, _RE_STREET), pc.invert(_matches(values, ",")))),
        full_address=_share(_matches(values, _RE_FULL_ADDRESS)),
        org=_share(_matches(lower, _RE_ORG)),
        median_words=_median(words),
        median_length=_median(lengths),
        same_length=same_length,
    )


@dataclass(frozen=True)
class _Verdict:
    """What the values say about one type: support (strength 0..1), or contradiction (strength 0)."""

    strength: float
    text: str
    hard: bool = False
    """Hard evidence is distinctive enough to speak against other types (e-mails are nothing else)."""


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def _value_verdicts(p: _Profile) -> tuple[dict[str, _Verdict], dict[str, str]]:
    """Per type: supporting value evidence, and contradicting evidence (type -> explanation)."""
    support: dict[str, _Verdict] = {}
    against: dict[str, str] = {}
    few = p.n < 5  # too few values to contradict anything

    def check(semantic_type: str, share: float, what: str, *, need: float, deny: float, strength: float) -> bool:
        if share >= need:
            support[semantic_type] = _Verdict(strength, f"{_pct(share)} of values look like {what}")
            return True
        if share < deny and not few:
            against[semantic_type] = f"only {_pct(share)} of values look like {what}"
        return False

    # Dates (the phone pattern leaves them alone, see _profile).
    if p.temporal:
        for t in _DATE_TYPES:
            support[t] = _Verdict(1.0, f"column type is {p.type_name}", hard=True)
    else:
        for t in _DATE_TYPES:
            if check(t, p.date, "dates", need=0.8, deny=0.3, strength=p.date):
                support[t] = _Verdict(p.date, support[t].text, hard=True)
    if p.temporal:
        for t in (EMAIL, PHONE, POSTAL, GENDER, FIRST, LAST, FULL, CITY, STREET, COUNTRY, STATE, ORG, LAT, LON):
            against[t] = f"the column holds {p.type_name} values"
        return support, against

    if check(EMAIL, p.email, "e-mail addresses", need=0.8, deny=0.3, strength=p.email):
        support[EMAIL] = _Verdict(p.email, support[EMAIL].text, hard=True)
    # Unformatted digit strings are as likely to be account or card numbers as phones.
    phone_strength = p.phone if p.phone_formatted >= 0.2 * p.phone else p.phone * 0.5
    if check(PHONE, p.phone, "phone numbers", need=0.8, deny=0.3, strength=phone_strength):
        support[PHONE] = _Verdict(phone_strength, support[PHONE].text, hard=phone_strength >= 0.8)

    if p.ssn >= 0.8:
        support[GOV_ID] = _Verdict(p.ssn, f"{_pct(p.ssn)} of values look like US social security numbers", hard=True)

    if p.zip_exact >= 0.8 or (p.zip_compatible >= 0.9 and p.zip_exact >= 0.5):
        if p.zip_distinctive >= 0.5:
            strength = p.zip_exact
        else:
            # Five digits are also amounts or ids; leading zeros say "code".
            strength = p.zip_exact * (0.9 if p.zip_leading_zero >= 0.02 else 0.6)
        zeros = ", some with leading zeros" if p.zip_leading_zero >= 0.02 else ""
        support[POSTAL] = _Verdict(
            strength, f"{_pct(p.zip_exact)} of values look like postal codes{zeros}", hard=p.zip_distinctive >= 0.5
        )
    elif p.zip_compatible < 0.3 and not few:
        against[POSTAL] = f"only {_pct(p.zip_compatible)} of values look like postal codes"

    # Names: given names come from the nicknames package's (English-centric) name list.
    if p.multi_word >= 0.7:
        against[FIRST] = f"{_pct(p.multi_word)} of values have several words"
        if p.given >= 0.5:
            support[FULL] = _Verdict(min(p.multi_word, p.given), f"{_pct(p.multi_word)} of values look like full names")
    elif p.single_word >= 0.7 and not few:
        against[FULL] = f"{_pct(p.single_word)} of values are single words"
        if p.given >= 0.5:
            support[FIRST] = _Verdict(p.given, f"{_pct(p.given)} of values look like given names")
    if p.alpha < 0.3 and not few:
        for t in (FIRST, LAST, MIDDLE, FULL, CITY, COUNTY):
            against.setdefault(t, f"only {_pct(p.alpha)} of values are words")

    if p.gender >= 0.9 and p.distinct <= 10:
        support[GENDER] = _Verdict(p.gender, f"{_pct(p.gender)} of values are gender codes", hard=True)
    elif p.gender < 0.5 and not few:
        against[GENDER] = f"only {_pct(p.gender)} of values are gender codes"

    if max(p.country, p.state) >= 0.8:
        codes_only = p.country_code >= p.country - 0.01
        country = _Verdict(p.country * (0.75 if codes_only else 1.0), f"{_pct(p.country)} of values are countries")
        state = _Verdict(p.state * 0.75, f"{_pct(p.state)} of values are states or provinces")
        if p.country >= 0.8:
            support[COUNTRY] = country
        if p.state >= 0.8:
            support[STATE] = state
    else:
        if p.country < 0.2 and not few:
            against[COUNTRY] = f"only {_pct(p.country)} of values are countries"

    # Coordinates: numbers within ±180 (±90 for latitudes), mostly with decimals (whole floats print as "-74").
    if p.coordinate >= 0.95 and p.decimal >= 0.5 and p.max_abs <= 180:
        text = f"{_pct(p.coordinate)} of values are numbers within coordinate range"
        support[LON] = _Verdict(p.coordinate, text)
        if p.max_abs <= 90:
            support[LAT] = _Verdict(p.coordinate, text)
        else:
            against[LAT] = "values exceed ±90"
    elif not few:
        against[LAT] = against[LON] = f"only {_pct(min(p.coordinate, p.decimal))} of values are coordinates"

    if p.full_address >= 0.6:
        support[ADDRESS] = _Verdict(p.full_address, f"{_pct(p.full_address)} of values look like one-line addresses")
    if p.street >= 0.6:
        support[STREET] = _Verdict(p.street, f"{_pct(p.street)} of values look like street lines")
    if p.org >= 0.3:
        support[ORG] = _Verdict(p.org, f"{_pct(p.org)} of values look like company names")
    return support, against


_VALUE_ONLY_FACTOR: dict[str, float] = {
    EMAIL: 0.92, PHONE: 0.88, POSTAL: 0.8, FIRST: 0.85, FULL: 0.8, GENDER: 0.85, COUNTRY: 0.8, STATE: 0.75,
    GOV_ID: 0.6, LAT: 0.4, LON: 0.4, ADDRESS: 0.7, STREET: 0.55, ORG: 0.6, DATE: 0.45,
}  # fmt: skip
"""Confidence of value evidence without a name match, relative to its strength."""

_COMPATIBLE: tuple[frozenset[str], ...] = (
    _DATE_TYPES,
    frozenset({STREET, ADDRESS}),
    frozenset({FIRST, MIDDLE}),
    frozenset({COUNTRY, STATE}),
    frozenset({LAT, LON}),
)


def _compatible(a: str, b: str) -> bool:
    return a == b or any(a in group and b in group for group in _COMPATIBLE)


_MAX_CONFIDENCE = 0.99
_MIN_CONFIDENCE = 0.2
"""Candidates below this are not worth showing."""


def _candidates(column: str, values: pa.Array | None, temporal: bool, type_name: str) -> list[tuple[float, str, str]]:
    """(confidence, semantic type, reason) for one column, best first; empty for keys and free text."""
    words = _strip_prefixes(_name_words(column))
    if not words or set(words) & _FREE_TEXT_WORDS:
        return []
    custom = _custom_index().get("".join(words))
    hit = None if custom else _name_hit(words)
    id_name = custom is None and hit is None and _is_id_name(words)

    support: dict[str, _Verdict] = {}
    against: dict[str, str] = {}
    profile: _Profile | None = None
    if values is not None and len(values):
        profile = _profile(values, temporal=temporal, type_name=type_name)
        sentences = profile.median_words >= 7 and profile.full_address < 0.5
        if not temporal and (profile.median_length >= 100 or sentences):
            return []  # free text
        support, against = _value_verdicts(profile)
    if id_name and (profile is None or profile.distinct == profile.n):
        return []  # a primary key: an id-ish name and unique values
    hard = {t: v for t, v in support.items() if v.hard and v.strength >= 0.8}
    unchecked = "" if profile is not None else "; no values to check"
    unchecked_factor = 1.0 if profile is not None else 0.85

    out: dict[str, tuple[float, str]] = {}
    if custom is not None:
        semantic_type, phrase = custom
        conf, reason = 0.8 * unchecked_factor, f"name matches '{phrase}' (custom type){unchecked}"
        if hard:
            conf, reason = conf * 0.5, f"{reason} but {next(iter(hard.values())).text}"
        out[semantic_type] = (conf, reason)
    elif hit is not None:
        semantic_type = hit.semantic_type
        if semantic_type == _ANY_ADDRESS:
            semantic_type = ADDRESS if ADDRESS in support and support[ADDRESS].strength >= 0.5 else STREET
        if semantic_type == DATE and _birth_hint(words):
            semantic_type = BIRTH
        said = f"name {hit.how} '{hit.phrase}'"
        if semantic_type in support:
            v = support[semantic_type]
            conf = 1 - (1 - hit.score) * (1 - 0.9 * v.strength)
            reason = f"{said}; {v.text}"
        elif semantic_type in against:
            conf, reason = hit.score * 0.4, f"{said} but {against[semantic_type]}"
        elif clash := [t for t in hard if not _compatible(t, semantic_type)]:
            conf, reason = hit.score * 0.5, f"{said} but {support[clash[0]].text}"
        else:
            conf, reason = hit.score * unchecked_factor, f"{said}{unchecked}"
        out[semantic_type] = (conf, reason)

    name_type = next(iter(out), None)
    key_like = profile is not None and profile.n >= 50 and profile.distinct == profile.n and profile.same_length
    for semantic_type, v in support.items():
        if semantic_type in out or (name_type is not None and _compatible(semantic_type, name_type)):
            continue
        if semantic_type in (BIRTH, MODIFIED):
            continue  # only the name can say that a date is a birth date or a modification time
        if (id_name or key_like) and not v.hard:
            continue  # ids and codes (store_id, 10-digit account numbers) get only unmistakable value evidence
        conf = v.strength * _VALUE_ONLY_FACTOR[semantic_type]
        hint = f"name '{column}' says nothing" if name_type is None else f"name suggests {name_type}"
        out[semantic_type] = (conf, f"{v.text} ({hint})")

    ranked = [(min(c, _MAX_CONFIDENCE), t, r) for t, (c, r) in out.items() if c >= _MIN_CONFIDENCE]
    ranked.sort(key=lambda x: -x[0])
    return ranked


def _field(semantic_type: str) -> str:
    return semantic_type.rsplit(".", 1)[-1]


# --------------------------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------------------------


def _is_dated(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_date(data_type) or pa.types.is_timestamp(data_type))


def _is_supported(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
        or _is_dated(data_type)
    )


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    """Non-empty values as trimmed strings."""
    data_type = column.type
    if pa.types.is_dictionary(data_type):
        column = column.cast(data_type.value_type)
        data_type = column.type
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    array = pc.drop_null(array)
    array = pc.cast(array, pa.string())
    array = pc.utf8_trim_whitespace(array)
    return pc.filter(array, pc.not_equal(array, ""))


def _sample(table: pa.Table, sample_rows: int) -> pa.Table:
    """Evenly spread rows (deterministic), so sorted tables are not judged by their first rows only."""
    n = table.num_rows
    if n <= sample_rows:
        return table
    return table.take(pa.array([i * n // sample_rows for i in range(sample_rows)], pa.int64()))


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


def suggest_mapping(table: pa.Table, *, sample_rows: int = 2000) -> list[Suggestion]:
    """Suggest a semantic type for each column of ``table`` that looks like a customer attribute.

    Looks at column names and at up to ``sample_rows`` evenly spread rows (non-null values, as text). Returns
    suggestions in column order; a column gets at most one suggestion, a type (its unified field) at most one column.
    Low-confidence suggestions (down to 0.2) are included so that callers can show them; filter on ``confidence``
    (:func:`suggestions_yaml` does, at 0.5 by default). Key-like columns, free text and columns of nested or binary
    Arrow types get no suggestion.
    """
    if sample_rows < 1:
        raise ValueError(f"sample_rows must be at least 1, got {sample_rows}")
    sample = _sample(table, sample_rows)
    pool: list[tuple[float, int, str, str]] = []
    for index, field in enumerate(table.schema):
        value_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        values: pa.Array | None = None
        if _is_supported(value_type):
            values = _as_text(sample.column(index))
            if len(values) < min(50, sample_rows) and sample.num_rows < table.num_rows:
                # A sparse column: look further than the sample for enough values.
                values = _as_text(table.column(index).drop_null().slice(0, sample_rows))
        elif not pa.types.is_null(value_type):
            continue
        temporal = _is_dated(value_type)
        for conf, semantic_type, reason in _candidates(field.name, values, temporal, str(value_type)):
            pool.append((conf, index, semantic_type, reason))

    # Greedy: the most confident (column, type) pair first; each column and each unified field is used once.
    pool.sort(key=lambda c: (-c[0], c[1], c[2]))
    taken_columns: set[int] = set()
    taken_fields: set[str] = set()
    chosen: dict[int, Suggestion] = {}
    for conf, index, semantic_type, reason in pool:
        if index in taken_columns or _field(semantic_type) in taken_fields:
            continue
        taken_columns.add(index)
        taken_fields.add(_field(semantic_type))
        chosen[index] = Suggestion(table.schema.names[index], semantic_type, round(conf, 3), reason)
    return [chosen[i] for i in sorted(chosen)]


_PLAIN_YAML = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_YAML_SPECIAL = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def _yaml_key(text: str) -> str:
    if _PLAIN_YAML.match(text) and text.lower() not in _YAML_SPECIAL:
        return text
    return json.dumps(text, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def suggestions_yaml(table_name: str, suggestions: Sequence[Suggestion], min_confidence: float = 0.5) -> str:
    """Render suggestions as a ``unify.tables`` entry to paste into ``custdim.yaml``.

    Suggestions with ``confidence >= min_confidence`` become ``column: Type`` lines, each with a comment giving the
    confidence and the reason; weaker ones follow as commented-out lines, so the user sees them without mapping them.
    If no suggestion is confident enough, the whole entry is commented out (an entry needs at least one field).
    """
    active = [s for s in suggestions if s.confidence >= min_confidence]
    weak = [s for s in suggestions if s.confidence < min_confidence]
    entries = [(f"{_yaml_key(s.column)}: {s.semantic_type}", s, "") for s in active]
    entries += [(f"# {_yaml_key(s.column)}: {s.semantic_type}", s, f" (below {min_confidence:.2f})") for s in weak]
    width = max((len(e) for e, _, _ in entries), default=0)
    lines = [f"- table: {_yaml_key(table_name)}", "  fields:"]
    lines += [f"    {e:<{width}}  # {s.confidence:.2f}: {_one_line(s.reason)}{note}" for e, s, note in entries]
    if not active:
        note = f"# {_one_line(table_name)}: no suggestion reached confidence {min_confidence:.2f}"
        lines = [note, *(x if x.lstrip().startswith("#") else f"# {x}" for x in lines)]
    return "".join(f"    {x}\n" for x in lines)
