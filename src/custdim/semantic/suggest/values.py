"""Value evidence for mapping suggestions: what a sample of a column's values looks like."""

import functools
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from nicknames import NickNamer

from custdim.semantic.suggest.kinds import (
    _ANY_ADDRESS,
    _DATE_TYPES,
    ADDRESS,
    BIRTH,
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
    MIDDLE,
    MODIFIED,
    ORG,
    PHONE,
    POSTAL,
    STATE,
    STREET,
)
from custdim.semantic.suggest.names import (
    _FREE_TEXT_WORDS,
    _birth_hint,
    _custom_index,
    _is_id_name,
    _name_hit,
    _name_words,
    _strip_prefixes,
)

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
