"""Pattern recognisers for free text that presidio lacks: dates of birth, postcodes, addresses with
every component (street, house number, postcode, city, state), international phone numbers,
licence/passport/ID numbers after their keywords, national IDs with check digits, lone first names
and surnames after a title, cities in place context, user names.

Each function takes a text and returns :class:`Span` candidates; :class:`~.text.TextScanner` keeps
those of the wanted entities and resolves overlaps. Word lists come from Faker's locale providers
(first names, street words, city lists of many locales) and a few hand-written lists (months,
titles, keywords, world cities); common English words (Faker's ``lorem`` list) are never names or
cities on their own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from .national_ids import national_id_kind

#: Locales whose names, street words and city lists free-text detection knows in every job.
WORLD_LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_AU", "en_CA", "en_IN", "en_IE", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CH",
    "es_ES", "es_MX", "it_IT", "pt_BR", "pt_PT", "nl_NL", "nl_BE", "pl_PL", "sv_SE", "da_DK", "fi_FI",
    "cs_CZ", "hu_HU", "ro_RO", "tr_TR", "ja_JP",
)  # fmt: skip


@dataclass(frozen=True)
class Span:
    """One entity found in a text cell (character offsets)."""

    start: int
    end: int
    entity: str
    score: float
    source: str  # known_value | pattern | ner | gliner | lexicon

    @property
    def length(self) -> int:
        return self.end - self.start


# ----------------------------------------------------------------------------- word lists
def _words(text: str) -> list[str]:
    return text.split()


_MONTHS = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_WEEKDAYS = _words("monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun")
_NOT_NAMES = frozenset(
    _MONTHS
    + _WEEKDAYS
    + _words(
        "the this that these those there then thanks thank please dear hello hi hey yes no not ok okay "
        "customer client caller courier driver agent manager team support service account order invoice "
        "refund card passport licence license id dob date birth born mr mrs ms miss dr herr frau mme "
        "mlle sr sra monsieur madame sir madam new old north south east west street road avenue lane "
        "english french german spanish italian dutch polish swedish portuguese japanese chinese "
        "european american british canadian australian indian brazilian christmas easter covid email "
        "phone mobile pickup courier branch office contract records form file ticket profile login user "
        "ask send call called calls reach met visited moved spoke tax his her their its our "
        "your my we they he she it i you el la le les der die das des del de da do dos van von bank"
    )
)
_TITLES = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Herr|Frau|Hr|Fr|Mme|Mlle|M|Monsieur|Madame|Sr|Sra|Srta|"
    r"Señor|Señora|Don|Doña|Sig|Sig\.ra|Signor|Signora|Dhr|Mevr|Mevrouw|Meneer|Pan|Pani"
)
_CITY_CONNECTORS = r"(?:sur|sous|de|del|della|di|da|do|dos|das|des|du|la|le|les|am|an|der|im|upon|on|en|y|i|in|an der|am Main)"
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž](?:[a-zß-öø-ÿā-ž'’][\w'’]*\.?|t\.)"  # a capitalised word (or "St.")
CITY_WORDS = (
    r"(?:(?:da|do|dos|das|de|di|la|le|el|den|ter)\s+)?"
    + _CAP
    + r"(?:-[\wÀ-ÿ'’]+)*(?:[ -](?:"
    + _CITY_CONNECTORS
    + r"[ -])?"
    + _CAP
    + r"(?:-[\wÀ-ÿ'’]+)*){0,3}"
)
_WORLD_CITIES = (
    "London Paris Berlin Madrid Rome Amsterdam Brussels Vienna Zurich Geneva Lisbon Dublin Edinburgh "
    "Manchester Birmingham Glasgow Liverpool Leeds Bristol Cardiff Belfast Munich Hamburg Cologne Frankfurt "
    "Stuttgart Düsseldorf Leipzig Dresden Hanover Nuremberg Bremen Lyon Marseille Toulouse Nice Nantes "
    "Bordeaux Lille Strasbourg Barcelona Valencia Seville Bilbao Malaga Zaragoza Milan Naples Turin Florence "
    "Venice Bologna Genoa Palermo Rotterdam Utrecht Eindhoven Antwerp Ghent Copenhagen Stockholm Oslo "
    "Helsinki Gothenburg Malmo Warsaw Krakow Gdansk Wroclaw Poznan Prague Budapest Bucharest Athens "
    "Istanbul Ankara Moscow Kyiv Porto Luxembourg Monaco Toronto Montreal Vancouver Calgary Ottawa Edmonton "
    "Winnipeg Quebec Halifax Sydney Melbourne Brisbane Perth Adelaide Canberra Auckland Wellington "
    "Mumbai Delhi Bangalore Bengaluru Chennai Kolkata Hyderabad Pune Ahmedabad Jaipur Lucknow Kanpur "
    "Tokyo Osaka Kyoto Yokohama Nagoya Sapporo Kobe Fukuoka Seoul Beijing Shanghai Shenzhen Singapore "
    "Bangkok Jakarta Manila Dubai Cairo Lagos Nairobi Johannesburg Cape Town Casablanca Mexico City "
    "Guadalajara Monterrey Bogota Lima Santiago Buenos Aires Sao Paulo São Paulo Rio de Janeiro Brasilia "
    "Salvador Fortaleza Curitiba Recife Porto Alegre Belo Horizonte New York Los Angeles Chicago Houston "
    "Phoenix Philadelphia San Antonio San Diego Dallas San Jose Austin Jacksonville Columbus Charlotte "
    "Indianapolis San Francisco Seattle Denver Boston Nashville Detroit Portland Las Vegas Memphis "
    "Louisville Baltimore Milwaukee Albuquerque Tucson Fresno Sacramento Atlanta Miami Oakland Minneapolis "
    "Tulsa Cleveland Pittsburgh Cincinnati Orlando Tampa Springfield Honolulu Anchorage Omaha Raleigh"
)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from faker.providers.lorem.en_US import Provider as Lorem

    return frozenset(w.casefold() for w in Lorem.word_list) | _NOT_NAMES


def _faker_lists(family: str, attrs: tuple[str, ...]) -> set[str]:
    """String items of class attributes ``attrs`` of Faker's ``family`` providers in :data:`WORLD_LOCALES`
    (read from the provider classes: no Faker instance is built)."""
    import importlib

    out: set[str] = set()
    for locale in WORLD_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.{family}.{locale}").Provider
        except (ImportError, AttributeError):
            continue
        for attr in attrs:
            value = getattr(provider, attr, None)
            if isinstance(value, dict | list | tuple):
                out.update(str(v) for v in value if isinstance(v, str))
    return out


@lru_cache(maxsize=1)
def world_first_names() -> frozenset[str]:
    """First names of :data:`WORLD_LOCALES` (casefolded), minus common English words."""
    names = _faker_lists(
        "person", ("first_names", "first_names_male", "first_names_female", "first_romanized_names")
    )
    common = _common_words()
    return frozenset(
        n.casefold() for n in names if len(n) >= 3 and n.isalpha() and n.casefold() not in common
    )


@lru_cache(maxsize=1)
def world_cities() -> frozenset[str]:
    """City names of Faker's city lists and a hand-written list of large cities (casefolded)."""
    cities = _faker_lists("address", ("cities",)) | set(
        re.findall(r"[A-ZÀ-Þ][\w'’-]+(?: [A-Z][\w'’-]+)*", _WORLD_CITIES)
    )
    cities |= set(_WORLD_CITIES.split())
    common = _common_words()
    return frozenset(
        c.casefold() for c in cities if len(c) >= 4 and c[:1].isupper() and c.casefold() not in common
    )


_STREET_SUFFIXES = _words(
    "street st road rd avenue ave boulevard blvd lane ln drive dr court ct place pl square sq terrace way "
    "highway hwy parkway pkwy circle cir trail close crescent gardens grove mews row hill walk chowk marg "
    "nagar path gali colony ganj bazar bagh puram layout enclave vihar"
)
_STREET_PREFIXES = _words(
    "rue avenue av boulevard bd chemin allée impasse place quai route calle c/ avenida avda paseo plaza "
    "camino carrer ronda travesía via viale piazza corso largo vicolo strada rua travessa praça estrada "
    "alameda ul ulica al aleja pl plac os cañada pasadizo acceso callejón glorieta urbanización stretto "
    "incrocio contrada borgo residencial conjunto quadra vila setor rambla cuesta vía camí passeig "
    "carretera senda plazuela ruela beco viela favela vereda viaduto rodovia ladeira"
)
#: Street words written as the end of one word (``Hauptstraße``, ``Kerkstraat``, ``Ängsgatan``).
_COMPOUND_SUFFIXES = _words(
    "straße strasse str. weg gasse platz allee ring damm ufer chaussee steig pfad straat laan gracht plein "
    "kade steeg singel dijk gata gatan vägen vej gade torget stræde boulevard dreef baan hof markt park "
    "plantsoen pad"
)


@lru_cache(maxsize=1)
def street_words() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """``(suffixes, prefixes, compound suffixes)`` of street names in many locales (casefolded)."""
    faker_suffixes = _faker_lists("address", ("street_suffixes",))
    suffixes = faker_suffixes | set(_STREET_SUFFIXES)
    prefixes = _faker_lists("address", ("street_prefixes",)) | set(_STREET_PREFIXES)
    compound = {s for s in faker_suffixes if s[:1].islower()} | set(_COMPOUND_SUFFIXES)
    drop = {"street", "st"}  # "St." is also Saint before a city name; "Street" needs a number
    return (
        frozenset(s.casefold().rstrip(".") for s in suffixes if s),
        frozenset(p.casefold().rstrip(".") for p in prefixes if p) - drop,
        frozenset(
            {c.lower() for c in compound if len(c) > 2} | {c.casefold() for c in compound if len(c) > 2}
        ),
    )


# ----------------------------------------------------------------------------- dates
_D = r"(?:0?[1-9]|[12]\d|3[01])"
_M = r"(?:0?[1-9]|1[0-2])"
_Y = r"(?:19\d{2}|20\d{2})"
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_TEXT_DATE = re.compile(
    rf"(?<![\w./-])(?:{_D}[./-]{_M}[./-]{_Y}|{_M}/{_D}/{_Y}|{_Y}[./-]{_M}[./-]{_D}|"
    rf"{_D}{_ORD}(?:\s+of)?[\s-]+{_MONTH},?[\s-]+{_Y}|{_MONTH}\s+{_D}{_ORD},?\s+{_Y})(?![\w/-])",
    re.IGNORECASE,
)
_BIRTH_CONTEXT = re.compile(
    r"(?i)(born|birth|b\.|dob|d\.o\.b|bday|birthday|né|née|geb\.|geboren|nacid[oa]|nacimiento|nat[oa]|"
    r"nascid[oa]|naissance|age)\W*(?:\w+\W+){0,3}$"
)
MIN_BIRTH_AGE = 14  # a date at least this many years ago is treated as a date of birth


def date_spans(text: str) -> list[Span]:
    """Full dates: a date of birth when the words before say so or when it lies 14+ years back."""
    out: list[Span] = []
    this_year = dt.date.today().year
    for m in _TEXT_DATE.finditer(text):
        year = int(re.search(r"(19|20)\d{2}", m.group(0)).group(0))  # type: ignore[union-attr]
        birth = bool(_BIRTH_CONTEXT.search(text[max(0, m.start() - 40) : m.start()]))
        if birth or year <= this_year - MIN_BIRTH_AGE:
            out.append(Span(m.start(), m.end(), "date_of_birth", 0.85 if birth else 0.6, "pattern"))
    return out


# ----------------------------------------------------------------------------- phones
_INTL_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[\s.\-/]?\(0\))?(?:[\s.\-/]?\(?\d{1,5}\)?){1,6}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w])",
    re.IGNORECASE,
)
_NATIONAL_PHONE = re.compile(
    r"(?<![\w+(])(?:\(0\d{1,5}\)|0\d{1,5})(?:[\s.\-/]?\d{2,8})(?:[\s.\-/]\d{2,6}){0,4}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w])"
    r"|(?<![\w+])\(\d{2,5}\)[\s.-]?\d{3,8}(?:[\s.-]\d{2,6}){0,3}(?![\w])"
    r"|(?<![\w+])\d{3}[.\s-]\d{3}[.\s-]\d{4}(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?![\w])"
    r"|(?<![\w+])\d{2,4}[.\s-]\d{2,4}[.\s-]\d{2,4}[.\s-]\d{2,4}(?:[.\s-]\d{2,4})?(?![\w])",
    re.IGNORECASE,
)
_PHONE_CONTEXT = re.compile(
    r"(?i)(phone|tel|call|calls|called|mobile|cell|number|reach|contact|whats\s?app|sms|text|fax|ring|"
    r"rückruf|telefon|téléphone|teléfono|llam|numero|número)\W*(?:\w+\W+){0,4}$"
)
_BARE_PHONE = re.compile(r"(?<![\w+.-])\d{9,12}(?![\w.-])")
_GROUPED_PHONE = re.compile(r"(?<![\w+.-])\d{2,4}(?:[ -]\d{2,4}){2,4}(?![\w.-])")
_LOOKS_LIKE_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")


def phone_spans(text: str) -> list[Span]:
    """International (``+44 20 7946 0958``, ``0049 30 ...``) and national (``030 1234567``,
    ``(091)-9074833``, ``06 12 34 56 78``) phone numbers; bare digit runs only after a phone word."""
    out: list[Span] = []
    for pattern, score in ((_INTL_PHONE, 0.75), (_NATIONAL_PHONE, 0.55)):
        for m in pattern.finditer(text):
            value = m.group(0).rstrip(".-/ ")
            digits = sum(c.isdigit() for c in re.split(r"(?i)\s?(?:x|ext)", value)[0])
            if not 7 <= digits <= 15 or _LOOKS_LIKE_DATE.match(value):
                continue
            if (
                pattern is _NATIONAL_PHONE
                and digits < 9
                and not _PHONE_CONTEXT.search(text[: m.start()][-40:])
            ):
                continue
            out.append(Span(m.start(), m.start() + len(value), "phone_number", score, "pattern"))
    for pattern in (_BARE_PHONE, _GROUPED_PHONE):
        for m in pattern.finditer(text):
            if _PHONE_CONTEXT.search(text[: m.start()][-40:]):
                out.append(Span(m.start(), m.end(), "phone_number", 0.5, "pattern"))
    return out


# ----------------------------------------------------------------------------- identifiers after keywords
_ID_VALUE = r"(?P<v>[A-Z0-9](?:[A-Z0-9]|[ .\-/](?=[A-Z0-9])){3,24})"
# (entity, words matched in any case, acronyms matched in capitals only, digits the value needs)
_KEYWORDS: tuple[tuple[str, str, str, int], ...] = (
    (
        "drivers_license",
        r"driver'?s?'?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e|permis(?:\s+de\s+conduire)?|F[üu]hrerschein|"
        r"licencia(?:\s+de\s+conducir)?|carteira\s+de\s+motorista|rijbewijs|patente",
        r"DL",
        2,
    ),
    ("passport_number", r"passport|pasaporte|passeport|reisepass|passaporto|paspoort|passaporte", r"", 2),
    ("ssn", r"social\s+security", r"SSN", 4),
    (
        "tax_id",
        r"tax\s+(?:number|ID|no|file\s+number|code)|steuer-?id|steuernummer|codice\s+fiscale",
        r"TFN|PAN|CPF|NIF|VAT|TIN|EIN|ITIN|UTR",
        4,
    ),
    (
        "national_id",
        r"national\s+ID(?:\s+card)?|identity\s+(?:card|number|document)|national\s+insurance(?:\s+number)?|"
        r"social\s+insurance(?:\s+number)?|aadhaa?r|personnummer|my\s?number|ausweis(?:nummer)?|documento|"
        r"c[ée]dula|carte\s+d'identit[ée]|ID\s+card|ID",
        r"NINO|NI\s+number|SIN|DNI|NIE|NIR|BSN|PESEL|CPR|CURP",
        4,
    ),
    (
        "license_plate",
        r"(?:licen[cs]e|number|registration)\s+plate|plate|registration|reg\.?|vehicle|car|kennzeichen|"
        r"matr[ií]cula|immatriculation|targa|kenteken",
        r"",
        1,
    ),
)
_KEYWORD_RES = tuple(
    (
        entity,
        re.compile(
            r"(?<![\w-])(?:(?i:" + words + ")" + (f"|{acronyms}" if acronyms else "") + r")"
            r"(?i:\s+(?:number|no\.?|nr\.?|#|num\.?|code))?(?i:\s*(?:is|was|:|=|-|#)?)\s*[(\[]?\s*"
            + _ID_VALUE
            + r"(?![\w-])"
        ),
        min_digits,
    )
    for entity, words, acronyms, min_digits in _KEYWORDS
)
_USER_RE = re.compile(
    r"(?i)(?<![\w-])(?:user\s?name|user|login|handle|account\s+name)\s*(?:is|:|=)?\s*(?P<v>@?[\w.\-]{3,32})(?![\w@.-])"
)
_HANDLE_RE = re.compile(r"(?<![\w@.])@(?P<v>[A-Za-z0-9_.]{3,30})(?![\w@.])")


def keyword_id_spans(text: str) -> list[Span]:
    """``licence number D1234567``, ``passport X66258517``, ``ID number AB123456``, ``vehicle (CB-X-175)``,
    ``user jsmith84``: the value after its keyword (upper-case letters and digits, with digits)."""
    out: list[Span] = []
    for entity, pattern, min_digits in _KEYWORD_RES:
        for m in pattern.finditer(text):
            value = m.group("v").rstrip(" .-/")
            if sum(c.isdigit() for c in value) < min_digits or value.islower():
                continue
            if entity == "license_plate" and (
                len(value) > 12 or not re.search(r"[A-Z]", value) and len(value) < 5
            ):
                continue
            if entity != "license_plate" and len(re.sub(r"\W", "", value)) < 5:
                continue
            out.append(Span(m.start("v"), m.start("v") + len(value), entity, 0.7, "pattern"))
    common = _common_words()
    for m in _USER_RE.finditer(text):
        value = m.group("v").rstrip(".-")
        if value.casefold() in common or (value.isalpha() and value.islower() and len(value) < 5):
            continue
        if not re.search(r"[\d._]", value) and value.casefold() in common:
            continue
        out.append(Span(m.start("v"), m.start("v") + len(value), "user_name", 0.6, "pattern"))
    for m in _HANDLE_RE.finditer(text):
        out.append(Span(m.start(), m.end(), "user_name", 0.6, "pattern"))
    return out


_NATIONAL_LAYOUTS = re.compile(
    r"(?<![\w.-])(?:"
    r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]"  # UK NINO
    r"|\d{3}\.\d{3}\.\d{3}-\d{2}"  # BR CPF
    r"|[A-Z]{5}\d{4}[A-Z]"  # IN PAN
    r"|[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]"  # IT codice fiscale
    r"|[XYZ]?\d{7,8}[- ]?[A-Z]"  # ES DNI/NIE
    r"|[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}"  # FR NIR
    r"|(?:19|20)?\d{6}[-+]\d{4}"  # SE personnummer
    r"|\d{6}[-+A]\d{3}[0-9A-Y]"  # FI HETU
    r"|756\.\d{4}\.\d{4}\.\d{2}"  # CH AHV
    r"|\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}"  # BE national number
    r"|\d{4} \d{4} \d{4}"  # IN Aadhaar, JP My Number
    r"|\d{3} \d{3} \d{3}"  # CA SIN, AU TFN
    r")(?![\w.-])"
)


def national_id_spans(text: str) -> list[Span]:
    """National identifiers in their written layouts, with valid check digits, anywhere in text."""
    out: list[Span] = []
    for m in _NATIONAL_LAYOUTS.finditer(text):
        if national_id_kind(m.group(0)):
            out.append(Span(m.start(), m.end(), "national_id", 0.75, "pattern"))
    return out


# ----------------------------------------------------------------------------- addresses
_POSTCODE = (
    r"(?:\d{5}-\d{3}|\d{5}(?:-\d{4})?|\d{4}-\d{3}|\d{2}-\d{3}|\d{3}-\d{4}|\d{6}|\d{4} ?[A-Z]{2}(?![a-z])|\d{4}|"
    r"\d{3} \d{2}|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d)"
)
_UNIT = r"(?:Flat|Apartment|Apt\.?|Unit|Studio|Suite|Ste\.?|Room|Floor|Fl\.?|H\.? ?No\.?|Plot|Block|Door|#)"


@lru_cache(maxsize=1)
def _street_res() -> tuple[re.Pattern[str], ...]:
    suffixes, prefixes, compound = street_words()
    suffix = "|".join(sorted((re.escape(s) for s in suffixes if len(s) > 1), key=len, reverse=True))
    prefix = "|".join(sorted((re.escape(p) for p in prefixes if len(p) > 1), key=len, reverse=True))
    germanic = "|".join(sorted((re.escape(c) for c in compound), key=len, reverse=True))
    unit = rf"(?:{_UNIT}\s*[\w-]{{1,6}},?\s+)?"
    number = r"(?:H\.? ?No\.?\s*)?\d{1,6}[A-Za-z]?(?:\s*/\s*\d{1,5}[A-Za-z]?)?(?:\s*/)?"
    secondary = rf"(?:,?\s+{_UNIT}\s*[\w-]{{1,6}})?"
    return (
        # 12 Oak Street Apt. 5 / Flat 3, 27 Baker Street / H.No. 49, Tiwari Chowk
        re.compile(
            rf"(?<![\w-]){unit}{number},?\s+(?:(?-i:[A-ZÀ-Þ0-9][\w'’.-]*)\s+){{0,4}}(?:{suffix})\b\.?{secondary}",
            re.IGNORECASE,
        ),
        # Flat 6, Christian Roads (a unit, then a street without a number)
        re.compile(rf"(?<![\w-]){_UNIT}\s*[\w-]{{1,6}},?\s+(?:[A-Z][\w'’.-]*\s+){{1,3}}(?:{suffix})\b\.?"),
        # Hauptstraße 12a / Kerkstraat 12 / Ängsgatan 388
        re.compile(
            rf"(?<![\w-])[A-ZÀ-ÞÄÖÜ][\w'’.-]*(?:{germanic})\s*\d{{1,5}}\s?[a-zA-Z]?(?:\s*[-/]\s*\d{{1,5}}[a-z]?)?(?![\w])",
            re.IGNORECASE,
        ),
        # Calle Mayor 23, 2º B / Via Roma, 10 / Rua das Flores, 123 / ul. Królewska 36/07
        re.compile(
            rf"(?<![\w-])(?:{prefix})\.?\s+[^\d,\n.;:!?()]{{2,50}}?,?\s*\d{{1,4}}(?!\d)[a-zA-Z]?(?:\s*[/-]\s*\d{{1,5}}[a-zA-Z]?)?"
            r"(?:,?\s*\d{1,2}\s?[º°ª]\s?[A-Z]?\b)?(?:\s+(?:Piano|Apt\.?|Interno|Int\.?|Bloco|Casa)\s*\d+)?",
            re.IGNORECASE,
        ),
        # Vereda Machado, 11112-887 Siqueira (a street without a number, then the postcode)
        re.compile(
            rf"(?<![\w-])(?:{prefix})\.?\s+[^\d,\n.;:!?()]{{2,50}}?(?=,\s*(?:{_POSTCODE}|\d{{8}})\s)",
            re.IGNORECASE,
        ),
        # 70, rue de Lemoine / 98 avenue Lucie Fernandes
        re.compile(
            rf"(?<![\w-])\d{{1,5}}(?:\s?(?:bis|ter))?,?\s+(?:{prefix})\.?\s+[^\d,\n.;:!?()]{{2,50}}?(?=[,.;:!?()\n]|$|\s+\d)",
            re.IGNORECASE,
        ),
    )


_AFTER_STREET = re.compile(
    rf"^(?P<sep>,\s*|\s+)(?:(?P<pc1>{_POSTCODE}|\d{{8}})\s+(?P<city1>{CITY_WORDS})"
    rf"|(?P<city2>{CITY_WORDS}),\s*(?P<st>[A-Z]{{2,3}})\s+(?P<zip>{_POSTCODE})"
    rf"|(?P<city3>{CITY_WORDS})\s*[,-]?\s*(?P<pc3>{_POSTCODE})(?![\w])"
    rf"|(?P<city4>{CITY_WORDS})(?=\s*(?:[.,;:!?)\n]|$|\s+[—–-]|\s+[a-z])))"
)


def _head(value: str) -> str:
    """The first capitalised word of a name or city (``da Mota da Mata`` -> ``mota``), casefolded."""
    return next(
        (w for w in value.split() if w[:1].isupper()), value.split()[0] if value.split() else ""
    ).casefold()


#: First words of many city names that are common words on their own (``North Paulfort``, ``New York``).
_CITY_HEADS = frozenset(
    _words("north south east west new old lake port fort mount saint san santa st. great little")
)


def _common_city_head(value: str, common: frozenset[str]) -> bool:
    head = _head(value)
    return head in common and head not in _CITY_HEADS


def _strip_dot(value: str) -> str:
    """A city without the sentence's full stop (``St.`` keeps its own)."""
    return value[:-1] if value.endswith(".") and not re.search(r"\b[A-Z][a-z]?\.$", value) else value


def street_spans(text: str) -> list[Span]:
    """Street lines (house number, street name, unit) in many layouts."""
    out: list[Span] = []
    for pattern in _street_res():
        for m in pattern.finditer(text):
            value = m.group(0).rstrip(" ,")
            if not re.search(r"[^\W\d_]{2}", value):
                continue
            out.append(Span(m.start(), m.start() + len(value), "street_address", 0.7, "pattern"))
    return out


def address_component_spans(text: str, streets: list[Span]) -> list[Span]:
    """City, state and postcode right after a street line (``, 75002 Paris``, ``, Springfield, IL 62704``)."""
    out: list[Span] = []
    common = _common_words()
    for street in streets:
        m = _AFTER_STREET.match(text[street.end : street.end + 120])
        if not m:
            continue
        base = street.end
        for group, entity in (
            ("pc1", "postcode"),
            ("city1", "city"),
            ("city2", "city"),
            ("st", "state"),
            ("zip", "postcode"),
            ("city3", "city"),
            ("pc3", "postcode"),
            ("city4", "city"),
        ):
            if m.group(group) is None:
                continue
            value = m.group(group)
            if entity == "city":
                value = _strip_dot(value)
                if _common_city_head(value, common):
                    continue
            out.append(
                Span(base + m.start(group), base + m.start(group) + len(value), entity, 0.7, "pattern")
            )
    return out


_POSTCODE_KEYWORD = re.compile(
    r"(?i)(post\s?code|postal\s+code|zip(?:\s?code)?|PLZ|CP|code\s+postal|CAP|CEP|pin\s?code|Postleitzahl|"
    r"código\s+postal|codice\s+postale)\W{0,3}(?:\w+\W+){0,2}$"
)
_UK_CA_POSTCODE = re.compile(
    r"(?<![\w-])(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}|[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d)(?![\w-])"
)
_ANY_POSTCODE = re.compile(rf"(?<![\w.,/-]){_POSTCODE}(?![\w/-]|[.,]\d)")
_CITY_AFTER = re.compile(rf"^\s+(?P<city>{CITY_WORDS})")
_CITY_BEFORE = re.compile(rf"(?P<city>{CITY_WORDS})\s*[,-]?\s*$")


def postcode_spans(text: str) -> list[Span]:
    """Postcodes: UK and Canadian layouts anywhere; other layouts after a postcode word or next to a
    city (``75002 Paris``, ``Kanpur 290404``, ``Dibrugarh-756508``)."""
    out: list[Span] = []
    for m in _UK_CA_POSTCODE.finditer(text):
        out.append(Span(m.start(), m.end(), "postcode", 0.7, "pattern"))
    common = _common_words()
    for m in _ANY_POSTCODE.finditer(text):
        value = m.group(0)
        keyword = bool(_POSTCODE_KEYWORD.search(text[max(0, m.start() - 30) : m.start()]))
        year_like = bool(re.fullmatch(r"(19|20)\d{2}", value))
        after = _CITY_AFTER.match(text[m.end() : m.end() + 60])
        before = _CITY_BEFORE.search(text[max(0, m.start() - 60) : m.start()])
        city_after = bool(after) and not _common_city_head(after.group("city"), common)  # type: ignore[union-attr]
        city_before = bool(before) and not _common_city_head(before.group("city"), common)  # type: ignore[union-attr]
        if keyword or (
            not year_like and (city_after or (city_before and "," in text[max(0, m.start() - 3) : m.start()]))
        ):
            out.append(Span(m.start(), m.end(), "postcode", 0.65 if keyword else 0.55, "pattern"))
            if city_after and after is not None:
                s = m.end() + after.start("city")
                out.append(Span(s, s + len(_strip_dot(after.group("city"))), "city", 0.55, "pattern"))
        elif (
            not year_like and city_before and before is not None and re.fullmatch(r"\d{6}|\d{5}-\d{3}", value)
        ):
            out.append(Span(m.start(), m.end(), "postcode", 0.5, "pattern"))
    return out


# ----------------------------------------------------------------------------- persons and places
_WORD = re.compile(r"(?<![\w'’-])[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-ž'’]+(?:-[A-ZÀ-Þ][a-zß-ÿ'’]+)?(?![\w'’-])")
_TITLE_NAME = re.compile(
    rf"(?<![\w])(?:{_TITLES})\.?\s+(?P<name>(?:(?:van|von|de|da|del|di|le|la|du|dos|das|ter|ten|van der|van den)\s+)?[A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s+(?:van|von|de|del|della|di|da|dos|le|la|der|den|ter|van der|van den)?\s*[A-ZÀ-ÖØ-Þ][\w'’-]+)?)"
)
_PLACE_CONTEXT = re.compile(
    r"(?i)(?:\b(?:in|from|to|near|around|outside|towards|visited|at\s+the|lives\s+in|based\s+in|born\s+in|"
    r"moved\s+(?:from|to)|habite\s+(?:à|au|en)|vit\s+à|vive\s+en|wohnt\s+in|aus|nach|en|a|à|de)\s+)$"
)
_BRANCH = re.compile(
    rf"(?<![\w])the\s+(?P<city>{CITY_WORDS})\s+(?:branch|office|store|site|depot|warehouse|clinic)"
)


def lone_name_spans(text: str, first_names: frozenset[str]) -> list[Span]:
    """A capitalised first name on its own (``ask for Maria``, ``Thanks Liam!``), and a surname after a
    title (``Mr Smith``, ``Herr Müller``, ``Mme Villanueva``)."""
    common = _common_words()
    out: list[Span] = []
    for m in _WORD.finditer(text):
        word = m.group(0)
        folded = word.casefold()
        if folded in common or (folded not in first_names and folded not in world_first_names()):
            continue
        out.append(Span(m.start(), m.end(), "first_name", 0.5, "lexicon"))
    for m in _TITLE_NAME.finditer(text):
        name = m.group("name")
        entity = "name" if len(name.split()) > 1 and _head(name) in world_first_names() else "last_name"
        if _head(name) in common:
            continue
        out.append(Span(m.start("name"), m.end("name"), entity, 0.6, "lexicon"))
    return out


def city_spans(text: str, first_names: frozenset[str]) -> list[Span]:
    """Cities: known city names anywhere; capitalised words after a place word (``moved from X to Y``,
    ``lives in X``, ``the X branch``) unless they are common words or someone's first name."""
    common = _common_words()
    cities = world_cities()
    out: list[Span] = []
    for m in re.finditer(CITY_WORDS, text):
        value = m.group(0).rstrip(".")
        words = value.split()
        first = _head(value)
        if _common_city_head(value, common) or len(value) < 3:
            continue
        place = bool(_PLACE_CONTEXT.search(text[max(0, m.start() - 25) : m.start()]))
        if value.casefold() in cities or (
            place and first not in first_names and first not in world_first_names()
        ):
            out.append(Span(m.start(), m.start() + len(value), "city", 0.55, "lexicon"))
        elif len(words) > 1 and first in cities:
            out.append(Span(m.start(), m.start() + len(words[0]), "city", 0.5, "lexicon"))
        elif place and first in cities:
            out.append(Span(m.start(), m.start() + len(value), "city", 0.5, "lexicon"))
    for m in _BRANCH.finditer(text):
        value = m.group("city")
        if not _common_city_head(value, common):
            out.append(Span(m.start("city"), m.end("city"), "city", 0.5, "lexicon"))
    return out


# ----------------------------------------------------------------------------- bank and card numbers
_IBAN_TEXT = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,9}(?![\w])")
_CARD_TEXT = re.compile(r"(?<!\d)\d(?:[ -]?\d){11,18}(?!\d)")
_CARD_CONTEXT = re.compile(
    r"(?i)(card|credit|debit|visa|master\s?card|amex|american\s+express|maestro|jcb|discover|diners|"
    r"unionpay|cc|pan|tarjeta|carte|karte|carta|cart[aã]o)\W*(?:\w+\W+){0,4}$"
)


def iban_valid(text: str) -> bool:
    """ISO 13616 check (mod 97) of an IBAN written with or without spaces."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def bank_spans(text: str) -> list[Span]:
    """IBANs of any country (mod-97 check) and card numbers with a valid Luhn digit after a card word."""
    from .formats import luhn_valid

    out: list[Span] = []
    for m in _IBAN_TEXT.finditer(text):
        if iban_valid(m.group(0)):
            out.append(Span(m.start(), m.end(), "iban", 0.85, "pattern"))
    for m in _CARD_TEXT.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if luhn_valid(digits) and _CARD_CONTEXT.search(text[max(0, m.start() - 40) : m.start()]):
            out.append(Span(m.start(), m.end(), "credit_debit_card", 0.8, "pattern"))
    return out
