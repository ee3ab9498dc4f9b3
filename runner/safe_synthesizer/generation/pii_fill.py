"""Fill the PII columns of a synthetic table with fresh, realistic, row-consistent fake values.

The synthesis engine models only the statistical columns. The columns the PII stage replaced
(names, emails, phones, SSNs, addresses, card numbers, ...) carry no signal beyond their *format*,
so they are learned as a :class:`PiiColumnSpec` (formats and shares only, never a value) and
generated here after the statistical columns exist::

    entities = pii_column_entities(pii_result.column_stats)       # column -> entity
    specs = learn_pii_specs(train_frame, entities)                  # JSON-ready via specs_to_dict
    ...
    synthetic = fill_pii_columns(synthetic, specs, seed=seed, column_order=train_columns)

What a spec holds (all aggregate, learned from the already PII-replaced training column):

* the missing / blank share, the storage type (``str`` / ``int`` / ``float`` / ``datetime``), the
  string-length range, the letter case and whether the text is Latin script;
* for format entities (phones, SSNs, IDs, card numbers, IBANs, postcodes, unknown entities): value
  *shapes* such as ``"+1 $## $## ####"`` or ``"###-##-####"`` with their shares. A shape keeps the
  separators; every digit and letter is a placeholder, except a character that is identical in all
  of at least ten distinct values of that shape (a country prefix, a fixed ``"ID-"``), which is kept;
* for emails: the shares of local-part styles (``first.last``, ``flast``, ...), of trailing digit
  counts and of *common public free-mail domains* (any other domain is counted as ``"*"``);
* for names: the shares of ``Last, First``, middle names, middle initials, prefixes and suffixes;
* for dates of birth: the date format and the 2nd..98th percentile birth years.

Generation is consistent within a row: all name and email columns use one person per row (a first
name that fits the row's sex/gender column when there is one), all address columns use one place per
row, and the Faker locale of a row follows its country column when there is one (``"Germany"`` ->
``de_DE``). Rows without a known country get the locale learned from the name columns (the most
common training country, else the locale whose name lists explain the names best), else ``en_US``.
Phones and IDs follow the learned shapes (per country when the training data showed
country-dependent formats). Everything is vectorised over pools drawn once per
locale, and deterministic for a given ``seed``. Nothing here logs or stores a value.

Template placeholders: ``#`` any digit, ``%`` digit 1-9, ``$`` digit 2-9, ``@`` upper-case letter,
``?`` lower-case letter, ``&`` / ``*`` lower / upper-case hex digit (MACs, UUIDs, hashes); ``\\``
escapes a literal placeholder character.

Entities without a dedicated generator (the PII stage may add more) are filled from their learned
shapes, so any ID-like column keeps its format.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import re
import string
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd
from faker import Faker
from faker.config import AVAILABLE_LOCALES

__all__ = [
    "DEFAULT_LOCALE",
    "PiiColumnSpec",
    "detect_country_column",
    "detect_sex_column",
    "fill_pii_columns",
    "learn_pii_column_spec",
    "learn_pii_specs",
    "locale_for_country",
    "pii_column_entities",
    "specs_from_dict",
    "specs_to_dict",
    "template_regex",
]

SPEC_VERSION = 1
DEFAULT_LOCALE = "en_US"

#: A character is kept literally in a shape only when it is the same in this many distinct values.
MIN_LITERAL_DISTINCT = 10
#: Shapes are learned per locale (country) only from groups with at least this many values.
MIN_LOCALE_VALUES = 20
MAX_SHAPES = 32
MAX_TEMPLATE_LENGTH = 128
_POOL_SIZE = 512
_POOL_SEED = 73_406_251  # fixed: pools are the same in every job; the job seed drives the sampling

SHAPE_ENTITIES = frozenset(
    {"phone_number", "fax_number", "ssn", "national_id", "tax_id", "credit_debit_card", "iban", "postcode"}
)
NAME_ENTITIES = frozenset({"first_name", "last_name", "name"})
PLACE_ENTITIES = frozenset({"street_address", "address", "city", "state", "postcode"})
_CASED_ENTITIES = NAME_ENTITIES | frozenset({"street_address", "address", "city", "state"})

#: Faker method whose output shapes stand in when a column has no learned shape for a locale.
_FAKER_SHAPE_METHOD: dict[str, tuple[str, ...]] = {
    "phone_number": ("phone_number",),
    "fax_number": ("phone_number",),
    "ssn": ("ssn",),
    "national_id": ("ssn",),
    "tax_id": ("itin", "ssn"),
    "credit_debit_card": ("credit_card_number",),
    "iban": ("iban",),
    "postcode": ("postcode",),
}

EMAIL_STYLES: tuple[str, ...] = (
    "first.last",
    "first_last",
    "first-last",
    "firstlast",
    "last.first",
    "last_first",
    "lastfirst",
    "f.last",
    "flast",
    "first.l",
    "firstl",
    "first",
    "last",
)
_DEFAULT_EMAIL_STYLES = {"first.last": 0.3, "last.first": 0.1, "first": 0.2, "flast": 0.2, "firstlast": 0.2}
_DEFAULT_EMAIL_DIGITS = {"0": 0.6, "2": 0.3, "4": 0.1}

_NAME_PREFIXES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "rev", "fr", "herr", "frau"}
)
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "md", "phd", "dds", "dvm", "esq", "cpa"})
_SUFFIX_POOL = ("Jr.", "Sr.", "II", "III", "MD", "PhD")

#: Common public free-mail domains: the only domain names a spec may hold.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.de",
        "yahoo.fr",
        "yahoo.es",
        "yahoo.it",
        "yahoo.co.in",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.de",
        "hotmail.fr",
        "hotmail.es",
        "hotmail.it",
        "outlook.com",
        "outlook.de",
        "live.com",
        "live.de",
        "msn.com",
        "aol.com",
        "aol.de",
        "icloud.com",
        "me.com",
        "mac.com",
        "protonmail.com",
        "proton.me",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "gmx.at",
        "web.de",
        "t-online.de",
        "freenet.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "wanadoo.fr",
        "sfr.fr",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "rediffmail.com",
        "zoho.com",
        "example.com",
        "example.org",
        "example.net",
    }
)

# ---------------------------------------------------------------------------------------------------
# the spec


@dataclass(frozen=True)
class PiiColumnSpec:
    """Format facts of one PII column, learned from the (PII-replaced) training column.

    Holds shares and formats only, never a value (domain names only from :data:`FREE_MAIL_DOMAINS`).

    Attributes:
        entity: the PII stage's entity name (``email``, ``phone_number``, ...).
        dtype: how the column was stored: ``str``, ``int``, ``float`` or ``datetime``.
        missing_share: share of missing cells; ``blank_share``: share of empty / blank strings.
        length_range: shortest and longest value (characters), or ``None`` without values.
        case: ``upper`` / ``lower`` when at least 90 % of the values are so, else ``mixed``.
        latin: the letters are Latin script (then non-Latin locales use romanised or en_US pools).
        shapes: ``(template, share)`` pairs (see the module doc for placeholders); format entities.
        locale_shapes: per-locale shapes, stored only when the formats depend on the country.
        locale_dependent: the training rows showed a different dominant shape per country.
        check: ``luhn`` (card numbers, IMEIs: digits of which >= 90 % pass Luhn), ``iban`` (>= 90 %
            valid IBANs) or ``""``; the generated values then pass the same check.
        features: entity-specific shares: ``style:<s>`` and ``digits:<k>`` (email, user_name),
            ``comma``, ``middle``, ``initial``, ``prefix``, ``suffix`` (name), ``abbr`` (state),
            ``multiline`` (address), ``https``, ``http``, ``www``, ``path`` (url), ``www``
            (domain_name), ``v6``, ``private`` (ip_address).
        domains: email domain shares; ``"*"`` stands for all non-free-mail domains.
        date_format: ``strftime`` format of a text date of birth, or the ``%m/%y``-like format of a
            card expiry date (``None``: datetime or unknown).
        year_range: 2nd and 98th percentile year (birth or expiry).
        position: the column's index in the training table (where it is inserted back).
        locale: name columns only: the most common row locale when the table has a country column,
            else the locale under whose name frequencies the values are most likely (``None`` when
            unclear); the default locale of rows without a known country.
    """

    entity: str
    dtype: str = "str"
    missing_share: float = 0.0
    blank_share: float = 0.0
    length_range: tuple[int, int] | None = None
    case: str = "mixed"
    latin: bool = True
    shapes: tuple[tuple[str, float], ...] = ()
    locale_shapes: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    locale_dependent: bool = False
    check: str = ""
    features: Mapping[str, float] = field(default_factory=dict)
    domains: Mapping[str, float] = field(default_factory=dict)
    date_format: str | None = None
    year_range: tuple[int, int] | None = None
    position: int | None = None
    locale: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists instead of tuples), with a format version."""
        return {
            "version": SPEC_VERSION,
            "entity": self.entity,
            "dtype": self.dtype,
            "missing_share": self.missing_share,
            "blank_share": self.blank_share,
            "length_range": list(self.length_range) if self.length_range else None,
            "case": self.case,
            "latin": self.latin,
            "shapes": [[t, s] for t, s in self.shapes],
            "locale_shapes": {loc: [[t, s] for t, s in sh] for loc, sh in self.locale_shapes.items()},
            "locale_dependent": self.locale_dependent,
            "check": self.check,
            "features": dict(self.features),
            "domains": dict(self.domains),
            "date_format": self.date_format,
            "year_range": list(self.year_range) if self.year_range else None,
            "position": self.position,
            "locale": self.locale,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PiiColumnSpec:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on an unknown version or a bad field."""
        version = int(data.get("version", SPEC_VERSION))
        if version > SPEC_VERSION:
            raise ValueError(f"PII column spec version {version} is newer than this code ({SPEC_VERSION})")
        if not isinstance(data.get("entity"), str):
            raise ValueError("PII column spec without an entity")

        def shapes(raw: Any) -> tuple[tuple[str, float], ...]:
            return tuple((str(t), float(s)) for t, s in (raw or ()))

        def pair(raw: Any) -> tuple[int, int] | None:
            return (int(raw[0]), int(raw[1])) if raw else None

        return cls(
            entity=data["entity"],
            dtype=str(data.get("dtype", "str")),
            missing_share=float(data.get("missing_share", 0.0)),
            blank_share=float(data.get("blank_share", 0.0)),
            length_range=pair(data.get("length_range")),
            case=str(data.get("case", "mixed")),
            latin=bool(data.get("latin", True)),
            shapes=shapes(data.get("shapes")),
            locale_shapes={str(k): shapes(v) for k, v in (data.get("locale_shapes") or {}).items()},
            locale_dependent=bool(data.get("locale_dependent", False)),
            check=str(data.get("check", "")),
            features={str(k): float(v) for k, v in (data.get("features") or {}).items()},
            domains={str(k): float(v) for k, v in (data.get("domains") or {}).items()},
            date_format=data.get("date_format"),
            year_range=pair(data.get("year_range")),
            position=None if data.get("position") is None else int(data["position"]),
            locale=_valid_locale(data.get("locale")),
        )


def _valid_locale(value: Any) -> str | None:
    return value if isinstance(value, str) and value in AVAILABLE_LOCALES else None


def specs_to_dict(specs: Mapping[str, PiiColumnSpec]) -> dict[str, dict[str, Any]]:
    """``column -> spec dict`` (JSON-ready), e.g. to save next to the trained model."""
    return {column: spec.to_dict() for column, spec in specs.items()}


def specs_from_dict(data: Mapping[str, Mapping[str, Any]]) -> dict[str, PiiColumnSpec]:
    """Inverse of :func:`specs_to_dict`."""
    return {str(column): PiiColumnSpec.from_dict(raw) for column, raw in data.items()}


class _ColumnStatsLike(Protocol):
    entity: str | None
    free_text: bool
    dropped: bool
    renamed_to: str | None


def pii_column_entities(column_stats: Mapping[str, _ColumnStatsLike]) -> dict[str, str]:
    """Whole-cell PII columns of a PII stage result: output column name -> entity.

    Takes ``PiiResult.column_stats``; leaves out free-text columns (PII spans inside text, modelled by
    the engine), dropped columns and protected columns (kept as they were).
    """
    out: dict[str, str] = {}
    for column, stats in column_stats.items():
        if not stats.entity or stats.free_text or stats.dropped or getattr(stats, "protected", False):
            continue
        out[stats.renamed_to or column] = stats.entity
    return out


# ---------------------------------------------------------------------------------------------------
# context columns: country -> locale, sex/gender


def _norm_token(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value)).casefold().strip()
    text = re.sub(r"[-_./,()&]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.removeprefix("the ")


_COUNTRY_TABLE: dict[str, tuple[str, ...]] = {
    "en_US": (
        "united states",
        "united states of america",
        "us",
        "usa",
        "u s",
        "u s a",
        "america",
        "outlying us guam usvi etc",
        "jamaica",
    ),
    "en_CA": ("canada", "ca", "can"),
    "en_GB": (
        "united kingdom",
        "uk",
        "gb",
        "gbr",
        "great britain",
        "britain",
        "england",
        "scotland",
        "wales",
    ),
    "en_IE": ("ireland", "ie", "irl", "eire"),
    "en_AU": ("australia", "au", "aus"),
    "en_NZ": ("new zealand", "nz", "nzl"),
    "en_IN": ("india", "in", "ind", "bharat"),
    "en_PH": ("philippines", "ph", "phl"),
    "en_NG": ("nigeria", "ng", "nga"),
    "en_KE": ("kenya", "ke", "ken"),
    "en_PK": ("pakistan", "pk", "pak"),
    "de_DE": ("germany", "deutschland", "de", "deu", "ger", "west germany", "east germany"),
    "de_AT": ("austria", "österreich", "osterreich", "at", "aut"),
    "de_CH": ("switzerland", "schweiz", "suisse", "ch", "che"),
    "fr_FR": ("france", "fr", "fra", "haiti", "ht"),
    "fr_BE": ("belgium", "belgique", "belgië", "be", "bel"),
    "nl_NL": ("netherlands", "holland", "holand netherlands", "nederland", "nl", "nld"),
    "it_IT": ("italy", "italia", "it", "ita"),
    "es_ES": ("spain", "españa", "espana", "es", "esp"),
    "es_MX": (
        "mexico",
        "méxico",
        "mx",
        "mex",
        "guatemala",
        "honduras",
        "el salvador",
        "nicaragua",
        "cuba",
        "dominican republic",
        "puerto rico",
        "peru",
        "ecuador",
        "venezuela",
        "bolivia",
        "paraguay",
        "uruguay",
        "costa rica",
        "panama",
    ),
    "es_CO": ("colombia", "columbia", "co", "col"),
    "es_AR": ("argentina", "ar", "arg"),
    "es_CL": ("chile", "cl", "chl"),
    "pt_PT": ("portugal", "pt", "prt"),
    "pt_BR": ("brazil", "brasil", "br", "bra"),
    "pl_PL": ("poland", "polska", "pl", "pol"),
    "cs_CZ": ("czech republic", "czechia", "cz", "cze"),
    "sk_SK": ("slovakia", "sk", "svk"),
    "hu_HU": ("hungary", "hu", "hun"),
    "ro_RO": ("romania", "ro", "rou"),
    "hr_HR": ("croatia", "hr", "hrv", "yugoslavia"),
    "el_GR": ("greece", "gr", "grc"),
    "tr_TR": ("turkey", "türkiye", "turkiye", "tr", "tur"),
    "ru_RU": ("russia", "russian federation", "ru", "rus"),
    "uk_UA": ("ukraine", "ua", "ukr"),
    "sv_SE": ("sweden", "se", "swe"),
    "no_NO": ("norway", "no", "nor"),
    "da_DK": ("denmark", "dk", "dnk"),
    "fi_FI": ("finland", "fi", "fin"),
    "zh_CN": ("china", "prc", "cn", "chn", "hong kong", "hong", "hk"),
    "zh_TW": ("taiwan", "tw", "twn"),
    "ja_JP": ("japan", "jp", "jpn"),
    "ko_KR": ("south korea", "korea", "kr", "kor"),
    "vi_VN": ("vietnam", "viet nam", "vn", "vnm"),
    "th_TH": ("thailand", "th", "tha", "laos", "cambodia"),
    "id_ID": ("indonesia", "id", "idn"),
    "fa_IR": ("iran", "ir", "irn"),
    "he_IL": ("israel", "il", "isr"),
    "ar_EG": ("egypt", "eg", "egy"),
    "ar_SA": ("saudi arabia", "sa", "sau"),
    "zu_ZA": ("south africa", "za", "zaf"),
}
_COUNTRY_LOCALE: dict[str, str] = {
    name: locale for locale, names in _COUNTRY_TABLE.items() if locale in AVAILABLE_LOCALES for name in names
}


def locale_for_country(value: Any) -> str | None:
    """The Faker locale for a country name or ISO code (``'United-States'``, ``'DE'``), else ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _COUNTRY_LOCALE.get(_norm_token(value))


_MALE = frozenset(
    {"male", "m", "man", "men", "boy", "mann", "männlich", "maennlich", "mannlich", "homme", "h", "masculin"}
    | {"masculine", "masculino", "hombre", "varon", "varón", "maschio", "uomo", "masc", "mr"}
)
_FEMALE = frozenset(
    {"female", "f", "woman", "women", "girl", "frau", "weiblich", "w", "femme", "féminin", "feminin"}
    | {"feminine", "femenino", "femenina", "mujer", "femmina", "donna", "fem", "mrs", "ms"}
)
_SEX_NAME = re.compile(
    r"(?:^|[^a-z])(sex|gender|geschlecht|sexe|sexo|genere|genero|género|kön|geslacht)(?:[^a-z]|$)"
)
_COUNTRY_NAME_TOKENS = frozenset(
    {
        "country",
        "nation",
        "nationality",
        "citizenship",
        "land",
        "pays",
        "pais",
        "país",
        "staat",
        "herkunftsland",
    }
)


def _sex_code(value: Any) -> int:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -1
    token = _norm_token(value).rstrip(".")
    if token in _MALE:
        return 0
    if token in _FEMALE:
        return 1
    return -1


def _name_tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return [t for t in re.split(r"[^0-9a-zà-ÿ]+", spaced.casefold()) if t]


def _distinct_share(series: pd.Series, func: Callable[[Any], Any]) -> float:
    counts = series.value_counts(dropna=True)
    if counts.empty:
        return 0.0
    hits = sum(int(c) for v, c in counts.items() if func(v) not in (None, -1))
    return hits / float(counts.sum())


def detect_sex_column(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> str | None:
    """A column named like sex/gender/geschlecht/sexe whose values are mostly Male/Female/M/F/...."""
    for column in frame.columns:
        if column in exclude or not _SEX_NAME.search(str(column).casefold()):
            continue
        if _distinct_share(frame[column], _sex_code) >= 0.8:
            return str(column)
    return None


def detect_country_column(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> str | None:
    """A column named like country/nationality whose values mostly map to a Faker locale."""
    best: tuple[float, str] | None = None
    for column in frame.columns:
        if column in exclude:
            continue
        tokens = _name_tokens(str(column))
        if not (_COUNTRY_NAME_TOKENS & set(tokens) or "country" in str(column).casefold()):
            continue
        share = _distinct_share(frame[column], locale_for_country)
        if share >= 0.5 and (best is None or share > best[0]):
            best = (share, str(column))
    return best[1] if best else None


def _row_locales(frame: pd.DataFrame, column: str | None, default: str = DEFAULT_LOCALE) -> np.ndarray:
    """Per-row locale (object array of strings); ``default`` where the country is missing or unknown."""
    n = len(frame)
    if column is None:
        return np.full(n, default, dtype=object)
    values = frame[column].astype(object)
    mapping = {v: (locale_for_country(v) or default) for v in pd.unique(values.dropna())}
    return values.map(mapping).fillna(default).to_numpy(dtype=object)


def _row_sex(frame: pd.DataFrame, column: str | None) -> np.ndarray:
    n = len(frame)
    if column is None:
        return np.full(n, -1, dtype=np.int8)
    values = frame[column].astype(object)
    mapping = {v: _sex_code(v) for v in pd.unique(values.dropna())}
    return values.map(mapping).fillna(-1).to_numpy(dtype=np.int8)


# ---------------------------------------------------------------------------------------------------
# text helpers


def _slug(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (accents folded, other characters dropped)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if not unicodedata.combining(c)))


def _is_latin(text: str) -> bool:
    return all(not c.isalpha() or ord(c) < 0x250 or 0x1E00 <= ord(c) <= 0x1EFF for c in text)


def _mostly_latin(values: Sequence[str]) -> bool:
    sample = list(values)[:300]
    return not sample or sum(_is_latin(v) for v in sample) >= 0.9 * len(sample)


def _apply_case(values: np.ndarray, case: str) -> np.ndarray:
    if case == "upper":
        return np.array([v.upper() if isinstance(v, str) else v for v in values], dtype=object)
    if case == "lower":
        return np.array([v.lower() if isinstance(v, str) else v for v in values], dtype=object)
    return values


def _stable_seed(seed: int, *parts: str) -> np.random.Generator:
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    words += [zlib.crc32(p.encode("utf-8", "surrogatepass")) for p in parts]
    return np.random.default_rng(np.random.SeedSequence(words))


def _choice(shares: Mapping[str, float], n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """The keys of ``shares`` with positive share, and ``n`` indices into them drawn by share."""
    keys = [k for k, v in shares.items() if v > 0]
    if not keys:
        return [""], np.zeros(n, dtype=np.intp)
    weights = np.array([shares[k] for k in keys], dtype=np.float64)
    cdf = np.cumsum(weights / weights.sum())
    return keys, np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(keys) - 1)


# ---------------------------------------------------------------------------------------------------
# shapes: learn, compile, render

_CLS_DIGIT, _CLS_UPPER, _CLS_LOWER = "\ue000", "\ue001", "\ue002"
_CLS_HEX_LOWER, _CLS_HEX_UPPER = "\ue003", "\ue004"
_CLASS_CHARS = frozenset({_CLS_DIGIT, _CLS_UPPER, _CLS_LOWER, _CLS_HEX_LOWER, _CLS_HEX_UPPER})
_KIND_TRANS = str.maketrans(
    {
        **dict.fromkeys(string.digits, _CLS_DIGIT),
        **dict.fromkeys(string.ascii_uppercase, _CLS_UPPER),
        **dict.fromkeys(string.ascii_lowercase, _CLS_LOWER),
    }
)
_SPECIAL = frozenset("#%$@?&*\\")
# kinds: 0 literal, 1 digit 0-9, 2 digit 1-9, 3 digit 2-9, 4 upper letter, 5 lower letter,
# 6 lower-case hex digit, 7 upper-case hex digit
_PLACEHOLDER_KIND = {"#": 1, "%": 2, "$": 3, "@": 4, "?": 5, "&": 6, "*": 7}
_KIND_BASE = np.array([0, 48, 49, 50, 65, 97, 0, 0], dtype=np.uint32)
_KIND_MOD = np.array([1, 10, 9, 8, 26, 26, 16, 16], dtype=np.uint32)
_HEX_CODES = (
    np.frombuffer(b"0123456789abcdef", dtype=np.uint8).astype(np.uint32),
    np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8).astype(np.uint32),
)
_DRAW_HIGH = 65520  # divisible by 8, 9, 10, 16 and 26: every placeholder draw is unbiased
_HEX_VALUE = re.compile(r"[0-9a-f:._ -]+|[0-9A-F:._ -]+")


def _is_hex_value(value: str) -> bool:
    """Hex-looking (MAC, UUID, hash): >= 8 hex digits, one letter case, letters after a digit."""
    if not _HEX_VALUE.fullmatch(value):
        return False
    alnum = "".join(c for c in value if c.isalnum())
    letters = sum(c.isalpha() for c in alnum)
    # letters mixed in among digits (not a leading code such as an IBAN's country)
    return len(alnum) >= 8 and letters >= 2 and bool(re.search(r"\d[^\d]*[a-fA-F]", alnum))


def _kind_key(value: str, hex_column: bool = False) -> str:
    """Per-character classes of ``value``; hex digits as one class in a hex column."""
    key = value.translate(_KIND_TRANS)
    if hex_column and _HEX_VALUE.fullmatch(value) and sum(c.isalnum() for c in value) >= 8:
        upper = any("A" <= c <= "F" for c in value)
        cls = _CLS_HEX_UPPER if upper else _CLS_HEX_LOWER
        return "".join(cls if k in _CLASS_CHARS else k for k in key)
    if value.isascii():
        return key
    out = []
    for c, k in zip(value, key, strict=True):
        if k in _CLASS_CHARS:
            out.append(k)
        elif c.isdigit():
            out.append(_CLS_DIGIT)
        elif c.isalpha():
            out.append(_CLS_UPPER if c.isupper() else _CLS_LOWER)
        else:
            out.append(c)
    return "".join(out)


def _escape(c: str) -> str:
    return "\\" + c if c in _SPECIAL else c


def _template_for_group(key: str, values: list[str]) -> str:
    """The template of one shape group: placeholders, constant characters kept when shared widely."""
    length = len(key)
    matrix = np.array(values, dtype=f"<U{length}").view(np.uint32).reshape(len(values), length)
    wide = len(values) >= MIN_LITERAL_DISTINCT
    lo = matrix.min(axis=0)
    hi = matrix.max(axis=0)
    out: list[str] = []
    for i, k in enumerate(key):
        if k not in _CLASS_CHARS:
            out.append(_escape(k))
        elif wide and lo[i] == hi[i]:
            out.append(_escape(chr(int(lo[i]))))
        elif k == _CLS_DIGIT:
            low = int(lo[i]) - 48 if wide and 48 <= lo[i] <= 57 else 0
            out.append("$" if low >= 2 else "%" if low == 1 else "#")
        elif k in (_CLS_HEX_LOWER, _CLS_HEX_UPPER):
            out.append("&" if k == _CLS_HEX_LOWER else "*")
        else:
            out.append("@" if k == _CLS_UPPER else "?")
    return "".join(out)


def _learn_shapes(values: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """``(template, share)`` pairs of the most common shapes of ``values`` (strings)."""
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    groups: dict[str, list[str]] = {}
    totals: dict[str, int] = {}
    distinct = [v for v in counts if v and len(v) <= MAX_TEMPLATE_LENGTH]
    hex_column = bool(distinct) and sum(_is_hex_value(v) for v in distinct) >= 0.5 * len(distinct)
    for value, count in counts.items():
        if not value or len(value) > MAX_TEMPLATE_LENGTH:
            continue
        key = _kind_key(value, hex_column)
        groups.setdefault(key, []).append(value)
        totals[key] = totals.get(key, 0) + count
    if not totals:
        return ()
    top = sorted(totals, key=lambda k: (-totals[k], k))[:MAX_SHAPES]
    merged: dict[str, int] = {}
    for key in top:
        template = _template_for_group(key, groups[key])
        merged[template] = merged.get(template, 0) + totals[key]
    total = float(sum(merged.values()))
    return tuple((t, round(c / total, 6)) for t, c in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))


def _parse_template(template: str) -> tuple[list[int], list[int]]:
    chars: list[int] = []
    kinds: list[int] = []
    escaped = False
    for c in template:
        if escaped:
            chars.append(ord(c))
            kinds.append(0)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in _PLACEHOLDER_KIND:
            chars.append(0)
            kinds.append(_PLACEHOLDER_KIND[c])
        else:
            chars.append(ord(c))
            kinds.append(0)
    return chars, kinds


def template_regex(template: str) -> re.Pattern[str]:
    """A regex matching exactly the values a template can produce (for checks and tests)."""
    parts: list[str] = []
    escaped = False
    classes = {
        "#": r"\d",
        "%": "[1-9]",
        "$": "[2-9]",
        "@": "[A-Z]",
        "?": "[a-z]",
        "&": "[0-9a-f]",
        "*": "[0-9A-F]",
    }
    for c in template:
        if escaped:
            parts.append(re.escape(c))
            escaped = False
        elif c == "\\":
            escaped = True
        else:
            parts.append(classes.get(c) or re.escape(c))
    return re.compile("".join(parts))


@dataclass(frozen=True)
class _Compiled:
    """Templates as padded matrices: ``chars`` (P, W) code points, ``kinds`` (P, W), weights ``cdf``."""

    chars: np.ndarray
    kinds: np.ndarray
    cdf: np.ndarray

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        idx = np.searchsorted(self.cdf, rng.random(n), side="right")
        return np.minimum(idx, len(self.cdf) - 1)

    def render(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The uint32 character matrix of the templates ``idx`` with placeholders drawn."""
        chars = self.chars[idx]
        kinds = self.kinds[idx]
        mask = kinds > 0
        k = kinds[mask]
        draws = rng.integers(0, _DRAW_HIGH, size=k.size, dtype=np.uint32)
        drawn = _KIND_BASE[k] + draws % _KIND_MOD[k]
        for kind, codes in ((6, _HEX_CODES[0]), (7, _HEX_CODES[1])):
            hexes = k == kind
            if hexes.any():
                drawn[hexes] = codes[drawn[hexes]]
        chars[mask] = drawn
        return np.ascontiguousarray(chars, dtype=np.uint32)


def _matrix_strings(matrix: np.ndarray) -> np.ndarray:
    if matrix.shape[0] == 0:
        return np.empty(0, dtype=object)
    width = matrix.shape[1]
    return matrix.view(f"<U{width}").ravel().astype(object)


def _compile(templates: Sequence[tuple[str, float]]) -> _Compiled:
    parsed = [_parse_template(t) for t, _ in templates]
    width = max(1, max((len(c) for c, _ in parsed), default=1))
    chars = np.zeros((len(parsed), width), dtype=np.uint32)
    kinds = np.zeros((len(parsed), width), dtype=np.uint8)
    for i, (c, k) in enumerate(parsed):
        chars[i, : len(c)] = c
        kinds[i, : len(k)] = k
    weights = np.array([max(float(s), 0.0) for _, s in templates], dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones(len(templates))
    return _Compiled(chars, kinds, np.cumsum(weights / weights.sum()))


@lru_cache(maxsize=256)
def _compiled(templates: tuple[tuple[str, float], ...]) -> _Compiled:
    return _compile(templates)


def _digit_template(value: str) -> str:
    """A pool value as a template: its digits redrawn (a run's first digit stays non-zero)."""
    out: list[str] = []
    previous_digit = False
    for c in value:
        if "0" <= c <= "9":
            out.append("%" if not previous_digit and c != "0" else "#")
            previous_digit = True
        else:
            out.append(_escape(c))
            previous_digit = False
    return "".join(out)


@lru_cache(maxsize=256)
def _digit_pool(locale: str, method: str) -> _Compiled | None:
    pool = _method_pool(locale, method)
    if not pool:
        return None
    return _compile([(_digit_template(v), 1.0) for v in pool])


def _luhn_fix(digits: np.ndarray) -> None:
    """Set the last column of ``digits`` (m, k) to the Luhn check digit of the others (in place)."""
    payload = digits[:, :-1].astype(np.int64)
    k = payload.shape[1]
    doubled = ((k - 1 - np.arange(k)) % 2) == 0
    values = np.where(doubled, payload * 2, payload)
    values = np.where(values > 9, values - 9, values)
    digits[:, -1] = (10 - values.sum(axis=1) % 10) % 10


def _ssn_fix(digits: np.ndarray, rng: np.random.Generator) -> None:
    """Valid US SSN digits: area 001-899 without 666, group 01-99, serial 0001-9999 (in place)."""
    m = digits.shape[0]
    area = rng.integers(1, 900, size=m)
    area[area == 666] = 665
    group = rng.integers(1, 100, size=m)
    serial = rng.integers(1, 10000, size=m)
    number = area * 1_000_000 + group * 10_000 + serial
    for j in range(9):
        digits[:, j] = (number // 10 ** (8 - j)) % 10


def _iban_fix(value: str) -> str:
    compact = re.sub(r"\s", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{4,30}", compact):
        return value
    numeric = "".join(str(int(c, 36)) for c in compact[4:] + compact[:2] + "00")
    check = f"{98 - int(numeric) % 97:02d}"
    pos = [i for i, c in enumerate(value) if not c.isspace()]
    chars = list(value)
    chars[pos[2]], chars[pos[3]] = check[0], check[1]
    return "".join(chars)


def _render_shapes(
    templates: tuple[tuple[str, float], ...], n: int, rng: np.random.Generator, entity: str, check: str
) -> np.ndarray:
    compiled = _compiled(templates)
    idx = compiled.draw(n, rng)
    matrix = compiled.render(idx, rng)
    fix_ssn = entity == "ssn"
    if fix_ssn or check == "luhn":
        for t in np.unique(idx):
            kinds, chars = compiled.kinds[t], compiled.chars[t]
            literal_digit = (kinds == 0) & (chars >= 48) & (chars <= 57)
            positions = np.flatnonzero(np.isin(kinds, (1, 2, 3)) | literal_digit)
            if (
                not len(positions)
                or (fix_ssn and len(positions) != 9)
                or (check == "luhn" and len(positions) < 2)
            ):
                continue
            rows = np.flatnonzero(idx == t)
            digits = matrix[np.ix_(rows, positions)] - 48
            if fix_ssn:
                _ssn_fix(digits, rng)
            else:
                _luhn_fix(digits)
            matrix[np.ix_(rows, positions)] = digits + 48
    out = _matrix_strings(matrix)
    if check == "iban":
        out = np.array([_iban_fix(v) for v in out], dtype=object)
    return out


# ---------------------------------------------------------------------------------------------------
# Faker pools (drawn once per locale, from a fixed seed)


@lru_cache(maxsize=64)
def _faker(locale: str) -> Faker:
    return Faker(locale if locale in AVAILABLE_LOCALES else DEFAULT_LOCALE)


_PROVIDER_FAMILIES = ("person", "address", "internet")


@lru_cache(maxsize=512)
def _provider_class(family: str, locale: str) -> Any:
    """Faker's provider class of ``family`` for ``locale`` (en_US's, then the generic one, when absent).

    Reading class attributes (name lists, formats) avoids building a whole ``Faker`` per locale.
    """
    for candidate in (locale, DEFAULT_LOCALE):
        try:
            return importlib.import_module(f"faker.providers.{family}.{candidate}").Provider
        except ModuleNotFoundError:
            continue
    return importlib.import_module(f"faker.providers.{family}").Provider


@lru_cache(maxsize=2048)
def _provider_attr(locale: str, name: str) -> Any:
    """A non-empty list / tuple / dict attribute of the locale's person, address or internet provider."""
    for family in _PROVIDER_FAMILIES:
        value = getattr(_provider_class(family, locale), name, None)
        if isinstance(value, dict | list | tuple) and value:
            return value
    return None


@lru_cache(maxsize=512)
def _method_pool(locale: str, method: str, size: int = _POOL_SIZE) -> tuple[str, ...]:
    """Distinct outputs of Faker ``method`` for ``locale`` from a fixed seed (empty when unknown)."""
    fake = _faker(locale)
    try:
        func = getattr(fake, method)
    except AttributeError:
        return ()
    if not callable(func):
        return ()
    fake.seed_instance(_POOL_SEED)
    return tuple(dict.fromkeys(str(func()) for _ in range(size)))


@lru_cache(maxsize=128)
def _faker_shapes(locale: str, entity: str) -> tuple[tuple[str, float], ...]:
    for method in _FAKER_SHAPE_METHOD.get(entity, ()):
        pool = _method_pool(locale, method)
        if pool:
            return _learn_shapes(pool)
    return ()


@dataclass(frozen=True)
class _Weighted:
    """A weighted pool: values, their slugs and a cumulative distribution."""

    values: np.ndarray
    slugs: np.ndarray
    cdf: np.ndarray

    @classmethod
    def build(cls, source: Any) -> _Weighted | None:
        if isinstance(source, dict):
            items = [(str(k), float(v)) for k, v in source.items()]
        elif source:
            items = [(str(v), 1.0) for v in source if isinstance(v, str)]
        else:
            items = []
        items = [(v, w) for v, w in items if v.strip() and w > 0]
        if not items:
            return None
        weights = np.array([w for _, w in items], dtype=np.float64)
        values = np.array([v for v, _ in items], dtype=object)
        slugs = np.array([_slug(v) for v, _ in items], dtype=object)
        return cls(values, slugs, np.cumsum(weights / weights.sum()))

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, rng.random(n), side="right"), len(self.cdf) - 1)


@dataclass(frozen=True)
class _NamePools:
    first: tuple[_Weighted, _Weighted]  # male, female
    last: tuple[_Weighted, _Weighted]
    prefixes: tuple[tuple[str, ...], tuple[str, ...]]


def _pool_or_method(locale: str, attr: str, method: str) -> _Weighted | None:
    source = _provider_attr(locale, attr)
    if source is not None and len(source) >= 5:
        return _Weighted.build(source)
    pool = _method_pool(locale, method)
    return _Weighted.build(pool) if len(pool) >= 5 else None


@lru_cache(maxsize=128)
def _name_pools(locale: str, latin: bool) -> _NamePools:
    """Given-name pools by sex and surname pools for ``locale`` (romanised / en_US for Latin data)."""
    first_all = _pool_or_method(locale, "first_names", "first_name")
    last_all = _pool_or_method(locale, "last_names", "last_name")
    if first_all is None or last_all is None:
        if locale != DEFAULT_LOCALE:
            return _name_pools(DEFAULT_LOCALE, latin)
        raise RuntimeError("Faker has no en_US person names")
    if latin and not (_mostly_latin(list(first_all.values)) and _mostly_latin(list(last_all.values))):
        first_rom = _Weighted.build(_provider_attr(locale, "first_romanized_names"))
        last_rom = _Weighted.build(_provider_attr(locale, "last_romanized_names"))
        if first_rom is None or last_rom is None or locale == DEFAULT_LOCALE:
            return _name_pools(DEFAULT_LOCALE, latin)
        return _NamePools((first_rom, first_rom), (last_rom, last_rom), (("Mr.",), ("Ms.",)))
    male = _Weighted.build(_provider_attr(locale, "first_names_male")) or first_all
    female = _Weighted.build(_provider_attr(locale, "first_names_female")) or first_all
    last_male = _Weighted.build(
        _provider_attr(locale, "last_names_male") or _provider_attr(locale, "male_last_names")
    )
    last_female = _Weighted.build(
        _provider_attr(locale, "last_names_female") or _provider_attr(locale, "female_last_names")
    )
    if last_male is not None and last_female is None:  # e.g. Polish: feminine forms come from a method
        last_female = _pool_or_method(locale, "", "last_name_female")
    last_male = last_male or last_all
    last_female = last_female or last_all

    def prefixes(attr: str, default: str) -> tuple[str, ...]:
        raw = _provider_attr(locale, attr) or ()
        found = tuple(str(p) for p in raw if str(p).strip() and (not latin or _is_latin(str(p))))
        return found or (default,)

    return _NamePools(
        (male, female),
        (last_male, last_female),
        (prefixes("prefixes_male", "Mr."), prefixes("prefixes_female", "Ms.")),
    )


@lru_cache(maxsize=1)
def _name_slug_sets() -> tuple[frozenset[str], frozenset[str]]:
    """Slugs of common Latin-script given names and surnames (to read email local parts)."""
    firsts: set[str] = set()
    lasts: set[str] = set()
    for locale in ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "es_MX", "it_IT", "en_IN", "nl_NL", "pt_BR"):
        if locale not in AVAILABLE_LOCALES:
            continue
        pools = _name_pools(locale, True)
        for pool in pools.first:
            firsts.update(s for s in pool.slugs if len(s) >= 2)
        for pool in pools.last:
            lasts.update(s for s in pool.slugs if len(s) >= 2)
    return frozenset(firsts), frozenset(lasts)


@lru_cache(maxsize=128)
def _locale_is_latin(locale: str) -> bool:
    return _mostly_latin(_method_pool(locale, "city", 64)) and _mostly_latin(
        _method_pool(locale, "street_name", 64)
    )


def _place_locale(locale: str, latin: bool) -> str:
    return locale if not latin or _locale_is_latin(locale) else DEFAULT_LOCALE


@lru_cache(maxsize=128)
def _state_pools(locale: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Parallel tuples (names, abbreviations); abbreviations repeat the names when there are none."""
    for attr in ("states", "provinces", "regions", "administrative_units", "prefectures"):
        raw = _provider_attr(locale, attr)
        if raw is None:
            continue
        entries = list(raw)
        if all(isinstance(e, tuple) and len(e) == 2 for e in entries):
            return tuple(str(e[1]) for e in entries), tuple(str(e[0]) for e in entries)
        names = tuple(str(e) for e in entries if isinstance(e, str))
        abbrs_raw = _provider_attr(locale, f"{attr}_abbr")
        abbrs = _align_abbreviations(names, tuple(str(a) for a in abbrs_raw) if abbrs_raw else ())
        return names, abbrs
    for method in ("state", "administrative_unit", "region", "province", "prefecture", "county"):
        pool = _method_pool(locale, method, 256)
        if pool:
            return pool, pool
    return ("",), ("",)


def _align_abbreviations(names: tuple[str, ...], abbrs: tuple[str, ...]) -> tuple[str, ...]:
    """Match abbreviations to names in order (first letter equal, second letter in the name)."""
    out: list[str] = []
    j = 0
    for name in names:
        upper = name.upper()
        while j < len(abbrs) and not (
            abbrs[j][:1] == upper[:1] and (len(abbrs[j]) < 2 or abbrs[j][1] in upper[1:])
        ):
            j += 1
        if j >= len(abbrs):
            return names
        out.append(abbrs[j])
        j += 1
    return tuple(out)


_TOKEN = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@lru_cache(maxsize=128)
def _address_formats(locale: str) -> tuple[tuple[tuple[str, ...], ...], np.ndarray]:
    """The locale's address formats (split into literal / token parts) and their cumulative weights."""
    raw = _provider_attr(locale, "address_formats")
    if isinstance(raw, dict):
        items = [(str(k), float(v)) for k, v in raw.items()]
    elif raw:
        items = [(str(v), 1.0) for v in raw]
    else:
        items = []
    items = [(f, w) for f, w in items if "military" not in f and "{{" in f]
    if not items:
        items = [("{{street_address}}\n{{postcode}} {{city}}", 1.0)]
    parts = tuple(tuple(_TOKEN.split(f)) for f, _ in items)
    weights = np.array([w for _, w in items], dtype=np.float64)
    return parts, np.cumsum(weights / weights.sum())


# ---------------------------------------------------------------------------------------------------
# learning


def _present_strings(series: pd.Series) -> tuple[list[str], str, int, int]:
    """Non-missing values as strings, the storage dtype, the missing count and the blank count."""
    missing = series.isna()
    present = series[~missing]
    if pd.api.types.is_datetime64_any_dtype(series):
        return [v.isoformat() for v in present], "datetime", int(missing.sum()), 0
    if pd.api.types.is_bool_dtype(series):
        return [str(v) for v in present], "str", int(missing.sum()), 0
    if pd.api.types.is_integer_dtype(series):
        return [str(int(v)) for v in present], "int", int(missing.sum()), 0
    if pd.api.types.is_float_dtype(series):
        values = [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in present]
        return values, "float", int(missing.sum()), 0
    values = [v if isinstance(v, str) else str(v) for v in present]
    blank = [v for v in values if not v.strip()]
    return [v for v in values if v.strip()], "str", int(missing.sum()), len(blank)


def _case_of(values: Sequence[str]) -> str:
    cased = [v for v in values if any(c.isalpha() for c in v)]
    if not cased:
        return "mixed"
    if sum(v.isupper() for v in cased) >= 0.9 * len(cased):
        return "upper"
    if sum(v.islower() for v in cased) >= 0.9 * len(cased):
        return "lower"
    return "mixed"


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 6) if flags else 0.0


def _email_style(local: str) -> tuple[str, int]:
    """(style, trailing digit count) of an email local part."""
    m = re.match(r"^(.*?)(\d*)$", local.lower())
    core, digits = (m.group(1), len(m.group(2))) if m else (local.lower(), 0)
    firsts, lasts = _name_slug_sets()
    parts = [p for p in re.split(r"([._-])", core) if p]
    words = [p for p in parts if p not in "._-"]
    sep = next((p for p in parts if p in "._-"), "")
    if len(words) >= 2:
        a, b = words[0], words[-1]
        if len(a) == 1:
            return ("f.last" if sep == "." else "flast"), digits
        if len(b) == 1:
            return ("first.l" if sep == "." else "firstl"), digits
        if a in lasts and a not in firsts and b in firsts:
            return {".": "last.first", "_": "last_first"}.get(sep, "lastfirst"), digits
        return {".": "first.last", "_": "first_last", "-": "first-last"}.get(sep, "firstlast"), digits
    word = words[0] if words else ""
    if word in firsts:
        return "first", digits
    if word in lasts:
        return "last", digits
    if word[1:] in lasts:
        return "flast", digits
    for i in range(2, len(word) - 1):
        if word[:i] in firsts and word[i:] in lasts:
            return "firstlast", digits
        if word[:i] in lasts and word[i:] in firsts:
            return "lastfirst", digits
    if word[:-1] in firsts:
        return "firstl", digits
    return "firstlast", digits


def _learn_email(values: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    styles: dict[str, int] = {}
    digit_counts: dict[str, int] = {}
    domains: dict[str, int] = {}
    parsed = 0
    for value in values:
        local, at, host = value.strip().rpartition("@")
        if not at or not local:
            continue
        parsed += 1
        style, digits = _email_style(local)
        styles[style] = styles.get(style, 0) + 1
        key = str(min(digits, 4))
        digit_counts[key] = digit_counts.get(key, 0) + 1
        host = host.casefold().strip(".")
        domain = host if host in FREE_MAIL_DOMAINS else "*"
        domains[domain] = domains.get(domain, 0) + 1
    if not parsed:
        return {}, {}
    features = {f"style:{k}": round(v / parsed, 6) for k, v in sorted(styles.items())}
    features.update({f"digits:{k}": round(v / parsed, 6) for k, v in sorted(digit_counts.items())})
    return features, {k: round(v / parsed, 6) for k, v in sorted(domains.items())}


def _learn_local_parts(values: Sequence[str]) -> dict[str, float]:
    """Style and trailing-digit shares of user names (read like email local parts)."""
    styles: Counter[str] = Counter()
    digit_counts: Counter[str] = Counter()
    for value in values:
        style, digits = _email_style(value.strip())
        styles[style] += 1
        digit_counts[str(min(digits, 4))] += 1
    total = float(len(values))
    features = {f"style:{k}": round(v / total, 6) for k, v in sorted(styles.items())}
    features.update({f"digits:{k}": round(v / total, 6) for k, v in sorted(digit_counts.items())})
    return features


_MONTH_YEAR = re.compile(r"^(\d{1,2})(\s*[/.-]\s*)(\d{2}|\d{4})$")


def _learn_month_year(values: Sequence[str]) -> tuple[str | None, tuple[int, int] | None]:
    """``MM/YY``-like card expiry dates: the format (``%m/%y`` ...) and the 2nd..98th percentile year."""
    matches = [m for m in (_MONTH_YEAR.match(v.strip()) for v in values) if m and 1 <= int(m.group(1)) <= 12]
    if len(matches) < 0.9 * len(values) or not matches:
        return None, None
    sep = Counter(m.group(2) for m in matches).most_common(1)[0][0]
    long_year = sum(len(m.group(3)) == 4 for m in matches) >= len(matches) / 2
    padded = sum(len(m.group(1)) == 2 for m in matches) >= len(matches) / 2
    years = pd.Series([int(m.group(3)) + (0 if len(m.group(3)) == 4 else 2000) for m in matches])
    fmt = ("%m" if padded else "%-m") + sep + ("%Y" if long_year else "%y")
    return fmt, (int(years.quantile(0.02)), int(years.quantile(0.98)))


_WORD = re.compile(r"[^\W\d_]+(?:['’.][^\W\d_]+)*\.?", re.UNICODE)


def _learn_name(values: Sequence[str]) -> dict[str, float]:
    comma, middle, initial, prefix, suffix = [], [], [], [], []
    for value in values:
        tokens = _WORD.findall(value)
        core = [t for t in tokens if t.casefold().rstrip(".") not in _NAME_PREFIXES | _NAME_SUFFIXES]
        prefix.append(bool(tokens) and tokens[0].casefold().rstrip(".") in _NAME_PREFIXES)
        suffix.append(len(tokens) > 1 and tokens[-1].casefold().rstrip(".") in _NAME_SUFFIXES)
        comma.append("," in value)
        inner = core[1:-1] if not comma[-1] else core[2:]
        initial.append(any(len(t.rstrip(".")) == 1 for t in inner))
        middle.append(any(len(t.rstrip(".")) > 1 for t in inner))
    return {
        "comma": _share(comma),
        "middle": _share(middle),
        "initial": _share(initial),
        "prefix": _share(prefix),
        "suffix": _share(suffix),
    }


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y%m%d",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
)


def _learn_date(
    series: pd.Series, values: Sequence[str], dtype: str
) -> tuple[str | None, tuple[int, int] | None]:
    if dtype == "datetime":
        years = series.dropna().dt.year
    else:
        distinct = list(dict.fromkeys(values))[:500]
        fmt = None
        for candidate in _DATE_FORMATS:
            ok = 0
            for value in distinct:
                try:
                    dt.datetime.strptime(value.strip(), candidate)
                    ok += 1
                except ValueError:
                    pass
            if distinct and ok >= 0.9 * len(distinct):
                fmt = candidate
                break
        if fmt is None:
            return None, None
        parsed = pd.to_datetime(pd.Series(values).str.strip(), format=fmt, errors="coerce").dropna()
        years = parsed.dt.year
        if years.empty:
            return None, None
        return fmt, (int(years.quantile(0.02)), int(years.quantile(0.98)))
    if years.empty:
        return None, None
    return None, (int(years.quantile(0.02)), int(years.quantile(0.98)))


def _learn_locale_shapes(
    values: Sequence[str], locales: Sequence[str] | None
) -> tuple[dict[str, tuple[tuple[str, float], ...]], bool]:
    if locales is None:
        return {}, False
    by_locale: dict[str, list[str]] = {}
    for value, locale in zip(values, locales, strict=True):
        by_locale.setdefault(str(locale), []).append(value)
    learned = {
        loc: _learn_shapes(vals) for loc, vals in sorted(by_locale.items()) if len(vals) >= MIN_LOCALE_VALUES
    }
    learned = {loc: sh for loc, sh in learned.items() if sh}
    # Compared with every digit placeholder as '#': a group of 20 values often shows no 0 or 1 in
    # some position by chance (a '$' or '%' placeholder), which is not a different national format.
    dominant = {re.sub(r"(?<!\\)[%$]", "#", sh[0][0]) for sh in learned.values()}
    dependent = len(learned) >= 2 and len(dominant) >= 2
    return (learned if dependent else {}), dependent


_LATIN_NAME_LOCALES = (
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pt_PT",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "no_NO",
    "fi_FI",
    "cs_CZ",
    "sk_SK",
    "hu_HU",
    "ro_RO",
    "hr_HR",
    "tr_TR",
    "en_IN",
)
_OTHER_NAME_LOCALES = (
    "ru_RU",
    "uk_UA",
    "bg_BG",
    "el_GR",
    "hi_IN",
    "th_TH",
    "fa_IR",
    "he_IL",
    "ar_SA",
    "ko_KR",
)


@lru_cache(maxsize=64)
def _name_probabilities(locale: str) -> tuple[dict[str, float], dict[str, float]]:
    """Given-name and surname probabilities of a locale's (native) name lists, keyed case-folded."""

    def probs(pools: tuple[_Weighted, _Weighted]) -> dict[str, float]:
        out: dict[str, float] = {}
        for pool in pools:
            p = np.diff(pool.cdf, prepend=0.0) / len(pools)
            for value, share in zip(pool.values, p, strict=True):
                key = value.casefold()
                out[key] = out.get(key, 0.0) + float(share)
        return out

    pools = _name_pools(locale, False)
    return probs(pools.first), probs(pools.last)


_UNSEEN_NAME = 1e-7


def _infer_locale(values: Sequence[str], entity: str, latin: bool) -> str | None:
    """The candidate locale under whose name frequencies the name tokens are most likely.

    Needs at least 30 % of the tokens in that locale's lists; ``None`` otherwise.
    """
    tokens = [t.casefold().rstrip(".") for v in values[:2000] for t in _WORD.findall(v)]
    tokens = [t for t in tokens if len(t) >= 2 and t not in _NAME_PREFIXES | _NAME_SUFFIXES]
    if not tokens:
        return None
    counts = Counter(tokens)
    best: tuple[float, str] | None = None
    for locale in _LATIN_NAME_LOCALES if latin else _OTHER_NAME_LOCALES:
        if locale not in AVAILABLE_LOCALES:
            continue
        firsts, lasts = _name_probabilities(locale)
        loglik = 0.0
        covered = 0
        for token, count in counts.items():
            if entity == "first_name":
                p = firsts.get(token, 0.0)
            elif entity == "last_name":
                p = lasts.get(token, 0.0)
            else:
                p = 0.5 * firsts.get(token, 0.0) + 0.5 * lasts.get(token, 0.0)
            covered += count if p > 0 else 0
            loglik += count * math.log(max(p, _UNSEEN_NAME))
        if covered >= 0.3 * len(tokens) and (best is None or loglik > best[0] + 1e-9):
            best = (loglik, locale)
    return best[1] if best is not None else None


def learn_pii_column_spec(
    series: pd.Series,
    entity: str,
    *,
    row_locales: Sequence[str] | np.ndarray | None = None,
    position: int | None = None,
) -> PiiColumnSpec:
    """Learn the format facts of one (already PII-replaced) training column. Stores no value.

    ``row_locales`` (one Faker locale per row, e.g. from the country column) lets phone / ID shapes be
    learned per country; they are kept only when the dominant shape differs between countries.
    """
    n = len(series)
    locales_all = None if row_locales is None else np.asarray(row_locales, dtype=object)
    if locales_all is not None and len(locales_all) != n:
        raise ValueError("row_locales must have one entry per row")
    values, dtype, n_missing, n_blank = _present_strings(series)
    present_locales = None
    if locales_all is not None:
        mask = ~series.isna().to_numpy()
        if dtype == "str":
            mask &= np.array([not (isinstance(v, str) and not v.strip()) for v in series], dtype=bool)
        present_locales = list(locales_all[mask])
    lengths = [len(v) for v in values]
    base: dict[str, Any] = {
        "entity": entity,
        "dtype": dtype,
        "missing_share": round(n_missing / n, 6) if n else 0.0,
        "blank_share": round(n_blank / n, 6) if n else 0.0,
        "length_range": (min(lengths), max(lengths)) if lengths else None,
        "case": _case_of(values),
        "latin": _mostly_latin(values),
        "position": position,
    }
    if not values:
        return PiiColumnSpec(**base)
    if entity == "email":
        features, domains = _learn_email(values)
        return PiiColumnSpec(**base, features=features, domains=domains)
    if entity in NAME_ENTITIES:
        features = _learn_name(values) if entity == "name" else {}
        if locales_all is not None and n:
            locale = str(Counter(locales_all.tolist()).most_common(1)[0][0])
        else:
            locale = _infer_locale(values, entity, base["latin"])
        return PiiColumnSpec(**base, features=features, locale=locale)
    if entity == "state":
        abbr = [v.strip().isupper() and len(v.strip()) <= 3 for v in values]
        return PiiColumnSpec(**base, features={"abbr": _share(abbr)})
    if entity == "address":
        return PiiColumnSpec(**base, features={"multiline": _share(["\n" in v for v in values])})
    if entity in ("street_address", "city"):
        return PiiColumnSpec(**base)
    if entity == "url":
        low = [v.strip().lower() for v in values]
        hosts = [re.sub(r"^[a-z]+://", "", v) for v in low]
        features = {
            "https": _share([v.startswith("https://") for v in low]),
            "http": _share([v.startswith("http://") for v in low]),
            "www": _share([h.startswith("www.") for h in hosts]),
            "path": _share(["/" in h and h.split("/", 1)[1].strip("/") != "" for h in hosts]),
        }
        return PiiColumnSpec(**base, features=features)
    if entity == "ip_address":
        v6 = [":" in v for v in values]
        v4 = [v for v in values if ":" not in v]
        private = [bool(re.match(r"^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|127\.)", v)) for v in v4]
        return PiiColumnSpec(**base, features={"v6": _share(v6), "private": _share(private)})
    if entity == "date_of_birth":
        fmt, years = _learn_date(series, values, dtype)
        if years is not None:
            return PiiColumnSpec(**base, date_format=fmt, year_range=years)
    if entity == "card_expiry":
        fmt, years = _learn_month_year(values)
        if years is not None:
            return PiiColumnSpec(**base, date_format=fmt, year_range=years)
    if entity == "user_name":
        return PiiColumnSpec(**base, features=_learn_local_parts(values))
    if entity == "domain_name":
        www = _share([v.strip().lower().startswith("www.") for v in values])
        return PiiColumnSpec(**base, features={"www": www})
    shapes = _learn_shapes(values)
    locale_shapes, dependent = _learn_locale_shapes(values, present_locales)
    check = ""
    numbers = [v for v in values if re.fullmatch(r"[\d\s-]+", v)]
    if len(numbers) >= 0.9 * len(values):
        digit_values = [re.sub(r"\D", "", v) for v in numbers]
        ok = [len(d) >= 12 and _luhn_ok(d) for d in digit_values]
        check = "luhn" if sum(ok) >= 0.9 * len(values) else ""
    if not check and _share([_iban_ok(v) for v in values]) >= 0.9:
        check = "iban"
    return PiiColumnSpec(
        **base, shapes=shapes, locale_shapes=locale_shapes, locale_dependent=dependent, check=check
    )


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    compact = re.sub(r"\s", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{4,30}", compact):
        return False
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def learn_pii_specs(
    frame: pd.DataFrame, entities: Mapping[str, str], *, country_column: str | None = None
) -> dict[str, PiiColumnSpec]:
    """Specs for the PII columns ``entities`` (column -> entity) of the PII-replaced training frame.

    The country column (``country_column``, else detected by name and values) supplies per-row
    locales for country-dependent shapes. Columns missing from ``frame`` are skipped.
    """
    country = country_column or detect_country_column(frame, exclude=list(entities))
    locales = _row_locales(frame, country) if country is not None else None
    columns = list(frame.columns)
    return {
        column: learn_pii_column_spec(
            frame[column], entity, row_locales=locales, position=columns.index(column)
        )
        for column, entity in entities.items()
        if column in frame.columns
    }


# ---------------------------------------------------------------------------------------------------
# generation


@dataclass
class _Person:
    first: np.ndarray
    last: np.ndarray
    first_slug: np.ndarray
    last_slug: np.ndarray
    middle: np.ndarray
    prefix: np.ndarray


@dataclass
class _Place:
    street: np.ndarray
    city: np.ndarray
    state: np.ndarray
    state_abbr: np.ndarray
    postcode: np.ndarray
    address: np.ndarray


class _Rows:
    """Per-row context of one fill: locale groups, sex, lazily drawn person and place."""

    def __init__(
        self,
        frame: pd.DataFrame,
        specs: Mapping[str, PiiColumnSpec],
        seed: int,
        country_column: str | None = None,
        sex_column: str | None = None,
    ) -> None:
        exclude = list(specs)
        self.n = len(frame)
        self.seed = seed
        self.specs = specs
        country = country_column or detect_country_column(frame, exclude=exclude)
        self.has_country = country is not None
        detected = Counter(s.locale for s in specs.values() if s.locale)
        self.default_locale = detected.most_common(1)[0][0] if detected else DEFAULT_LOCALE
        locales = _row_locales(frame, country, self.default_locale)
        self.groups: list[tuple[str, np.ndarray]] = [
            (str(loc), np.flatnonzero(locales == loc)) for loc in sorted(set(locales.tolist()))
        ]
        self.sex = _row_sex(frame, sex_column or detect_sex_column(frame, exclude=exclude))
        name_specs = [s for s in specs.values() if s.entity in NAME_ENTITIES | {"email"}]
        self.name_latin = all(s.latin for s in name_specs)
        self.place_latin = all(s.latin for s in specs.values() if s.entity in PLACE_ENTITIES)
        self._person: _Person | None = None
        self._place: _Place | None = None

    def rng(self, *parts: str) -> np.random.Generator:
        return _stable_seed(self.seed, *parts)

    # -------------------------------------------------------------- person
    def person(self) -> _Person:
        if self._person is None:
            self._person = self._draw_person()
        return self._person

    def _draw_person(self) -> _Person:
        rng = self.rng("person")
        n = self.n
        out = {k: np.empty(n, dtype=object) for k in ("first", "last", "fs", "ls", "middle", "prefix")}
        sex = self.sex.copy()
        unknown = sex < 0
        sex[unknown] = (rng.random(int(unknown.sum())) < 0.5).astype(np.int8)
        for locale, rows in self.groups:
            pools = _name_pools(locale, self.name_latin)
            for g in (0, 1):
                sub = rows[sex[rows] == g]
                if not len(sub):
                    continue
                first, last = pools.first[g], pools.last[g]
                fi = first.draw(len(sub), rng)
                li = last.draw(len(sub), rng)
                mi = first.draw(len(sub), rng)
                out["first"][sub] = first.values[fi]
                out["fs"][sub] = first.slugs[fi]
                out["last"][sub] = last.values[li]
                out["ls"][sub] = last.slugs[li]
                out["middle"][sub] = first.values[mi]
                prefixes = np.array(pools.prefixes[g], dtype=object)
                out["prefix"][sub] = prefixes[rng.integers(0, len(prefixes), size=len(sub))]
        return _Person(out["first"], out["last"], out["fs"], out["ls"], out["middle"], out["prefix"])

    # -------------------------------------------------------------- place
    def place(self) -> _Place:
        if self._place is None:
            self._place = self._draw_place()
        return self._place

    def _draw_place(self) -> _Place:
        rng = self.rng("place")
        n = self.n
        parts = {
            k: np.empty(n, dtype=object) for k in ("street", "city", "state", "abbr", "postcode", "address")
        }
        postcode_spec = next((s for s in self.specs.values() if s.entity == "postcode"), None)
        for locale, rows in self.groups:
            loc = _place_locale(locale, self.place_latin)
            m = len(rows)
            street = _digit_pool(loc, "street_address")
            parts["street"][rows] = _matrix_strings(street.render(street.draw(m, rng), rng)) if street else ""
            cities = np.array(_method_pool(loc, "city") or ("",), dtype=object)
            parts["city"][rows] = cities[rng.integers(0, len(cities), size=m)]
            names, abbrs = _state_pools(loc)
            si = rng.integers(0, len(names), size=m)
            parts["state"][rows] = np.array(names, dtype=object)[si]
            parts["abbr"][rows] = np.array(abbrs, dtype=object)[si]
            if postcode_spec is not None:
                codes = self.shaped(postcode_spec, locale, m, rng)
                parts["postcode"][rows] = np.array(
                    [c if isinstance(c, str) else "" for c in codes], dtype=object
                )
            else:
                codes = _digit_pool(loc, "postcode")
                parts["postcode"][rows] = (
                    _matrix_strings(codes.render(codes.draw(m, rng), rng)) if codes else ""
                )
            parts["address"][rows] = self._compose_address(loc, rows, parts, rng)
        return _Place(
            parts["street"], parts["city"], parts["state"], parts["abbr"], parts["postcode"], parts["address"]
        )

    def _compose_address(
        self, loc: str, rows: np.ndarray, parts: dict[str, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        formats, cdf = _address_formats(loc)
        choice = np.minimum(np.searchsorted(cdf, rng.random(len(rows)), side="right"), len(cdf) - 1)
        out = np.empty(len(rows), dtype=object)
        token_source = {
            "street_address": "street",
            "city": "city",
            "city_name": "city",
            "state": "state",
            "state_name": "state",
            "administrative_unit": "state",
            "province": "state",
            "region": "state",
            "state_abbr": "abbr",
            "province_abbr": "abbr",
            "postcode": "postcode",
            "zipcode": "postcode",
            "postalcode": "postcode",
            "postal_code": "postcode",
        }
        for f, pieces in enumerate(formats):
            local = np.flatnonzero(choice == f)
            if not len(local):
                continue
            sub = rows[local]
            text = np.full(len(sub), "", dtype=object)
            for i, piece in enumerate(pieces):
                if i % 2 == 0:
                    text = text + piece if piece else text
                elif piece in token_source:
                    text = text + parts[token_source[piece]][sub]
                else:
                    pool = _digit_pool(loc, piece)
                    if pool is not None:
                        text = text + _matrix_strings(pool.render(pool.draw(len(sub), rng), rng))
            out[local] = text
        return out

    # -------------------------------------------------------------- shapes
    def shapes_for(self, spec: PiiColumnSpec, locale: str) -> tuple[tuple[str, float], ...]:
        own = spec.locale_shapes.get(locale)
        if own:
            return tuple(own)
        if spec.shapes and not (spec.locale_dependent and self.has_country):
            return tuple(spec.shapes)
        return _faker_shapes(locale, spec.entity) or tuple(spec.shapes)

    def shaped(self, spec: PiiColumnSpec, locale: str, m: int, rng: np.random.Generator) -> np.ndarray:
        templates = self.shapes_for(spec, locale)
        if not templates:
            return np.full(m, None, dtype=object)
        return _render_shapes(templates, m, rng, spec.entity, spec.check)


_EMAIL_BUILDERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "first.last": lambda f, last: f + "." + last,
    "first_last": lambda f, last: f + "_" + last,
    "first-last": lambda f, last: f + "-" + last,
    "firstlast": lambda f, last: f + last,
    "last.first": lambda f, last: last + "." + f,
    "last_first": lambda f, last: last + "_" + f,
    "lastfirst": lambda f, last: last + f,
    "f.last": lambda f, last: _initials(f) + "." + last,
    "flast": lambda f, last: _initials(f) + last,
    "first.l": lambda f, last: f + "." + _initials(last),
    "firstl": lambda f, last: f + _initials(last),
    "first": lambda f, last: f.copy(),
    "last": lambda f, last: last.copy(),
}


def _initials(values: np.ndarray) -> np.ndarray:
    return np.array([v[:1] for v in values], dtype=object)


def _local_parts(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    """Email local parts / user names from the row's person, in the learned styles."""
    person = rows.person()
    n = rows.n
    styles = {k[6:]: v for k, v in spec.features.items() if k.startswith("style:")}
    styles = {k: v for k, v in styles.items() if k in _EMAIL_BUILDERS} or _DEFAULT_EMAIL_STYLES
    digit_shares = {
        k[7:]: v for k, v in spec.features.items() if k.startswith("digits:")
    } or _DEFAULT_EMAIL_DIGITS
    f = np.where(person.first_slug == "", "user", person.first_slug)
    last = np.where(person.last_slug == "", "mail", person.last_slug)
    local = np.empty(n, dtype=object)
    keys, style = _choice(styles, n, rng)
    for j, key in enumerate(keys):
        sub = np.flatnonzero(style == j)
        if len(sub):
            local[sub] = _EMAIL_BUILDERS[key](f[sub], last[sub])
    keys, counts = _choice(digit_shares, n, rng)
    for j, key in enumerate(keys):
        width = min(int(key), 6) if key.isdigit() else 0
        sub = np.flatnonzero(counts == j)
        if width and len(sub):
            numbers = rng.integers(10 ** (width - 1) if width > 1 else 0, 10**width, size=len(sub))
            local[sub] = local[sub] + numbers.astype(str).astype(object)
    return local


def _gen_user_name(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    return _apply_case(_local_parts(spec, rows, rng), spec.case)


def _gen_domain(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(rows.n, dtype=object)
    for locale, group in rows.groups:
        domains = _company_domains(locale, len(group), rng, rows.name_latin)
        www = rng.random(len(group)) < float(spec.features.get("www", 0.0))
        out[group] = np.where(www, "www." + domains, domains)
    return out


def _gen_month_year(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    """Card expiry dates (``MM/YY`` and the like): a valid month, a year in the learned range."""
    lo, hi = spec.year_range or (2025, 2030)
    fmt = spec.date_format or "%m/%y"
    month_token = "%-m" if fmt.startswith("%-m") else "%m"
    sep = fmt[len(month_token) : -2]
    month = rng.integers(1, 13, size=rows.n).tolist()
    year = rng.integers(min(lo, hi), max(lo, hi) + 1, size=rows.n).tolist()
    months = [f"{v:02d}" if month_token == "%m" else str(v) for v in month]
    years = [str(v) if fmt.endswith("%Y") else f"{v % 100:02d}" for v in year]
    return np.array([f"{a}{sep}{b}" for a, b in zip(months, years, strict=True)], dtype=object)


def _gen_email(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    n = rows.n
    local = _local_parts(spec, rows, rng)
    domain = np.empty(n, dtype=object)
    for locale, group in rows.groups:
        shares = dict(spec.domains)
        if not shares:
            free = _provider_attr(locale, "free_email_domains") or ("gmail.com", "yahoo.com", "hotmail.com")
            shares = dict.fromkeys(free, 1.0)
        keys, picked = _choice(shares, len(group), rng)
        values = np.array(keys, dtype=object)[picked]
        if "*" in keys:
            other = np.flatnonzero(picked == keys.index("*"))
            if len(other):
                values[other] = _company_domains(locale, len(other), rng, rows.name_latin)
        domain[group] = values
    out = local + "@" + domain
    return _apply_case(out, "upper" if spec.case == "upper" else "mixed")


def _company_domains(locale: str, m: int, rng: np.random.Generator, latin: bool) -> np.ndarray:
    last = _name_pools(locale, latin).last[0]
    a = last.slugs[last.draw(m, rng)]
    b = last.slugs[last.draw(m, rng)]
    a = np.where(a == "", "mail", a)
    b = np.where(b == "", "net", b)
    tlds = np.array(_provider_attr(locale, "tlds") or ("com", "net", "org"), dtype=object)
    tld = tlds[rng.integers(0, len(tlds), size=m)]
    joined = np.where(rng.random(m) < 0.4, a + "-" + b, a)
    return joined + "." + tld


def _gen_name(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    person = rows.person()
    n = rows.n
    if spec.entity == "first_name":
        return _apply_case(person.first.copy(), spec.case)
    if spec.entity == "last_name":
        return _apply_case(person.last.copy(), spec.case)
    feat = spec.features

    def flagged(key: str) -> np.ndarray:
        return rng.random(n) < float(feat.get(key, 0.0))

    middle, initial, comma, prefix, suffix = (
        flagged(k) for k in ("middle", "initial", "comma", "prefix", "suffix")
    )
    given = person.first.copy()
    sub = np.flatnonzero(middle)
    given[sub] = given[sub] + " " + person.middle[sub]
    sub = np.flatnonzero(initial & ~middle)
    given[sub] = given[sub] + " " + _initials(person.middle[sub]) + "."
    full = given + " " + person.last
    sub = np.flatnonzero(comma)
    full[sub] = person.last[sub] + ", " + given[sub]
    sub = np.flatnonzero(prefix)
    full[sub] = person.prefix[sub] + " " + full[sub]
    sub = np.flatnonzero(suffix & ~comma)
    full[sub] = (
        full[sub]
        + " "
        + np.array(_SUFFIX_POOL, dtype=object)[rng.integers(0, len(_SUFFIX_POOL), size=len(sub))]
    )
    return _apply_case(full, spec.case)


def _gen_place(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    place = rows.place()
    if spec.entity == "street_address":
        out = place.street.copy()
    elif spec.entity == "city":
        out = place.city.copy()
    elif spec.entity == "state":
        out = (place.state_abbr if spec.features.get("abbr", 0.0) >= 0.5 else place.state).copy()
    elif spec.entity == "postcode":
        out = place.postcode.copy()
    else:
        out = place.address.copy()
        if spec.features.get("multiline", 0.0) < 0.5:
            out = np.array([v.replace("\n", ", ") for v in out], dtype=object)
    return _apply_case(out, spec.case) if spec.entity in _CASED_ENTITIES else out


def _gen_shaped(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(rows.n, dtype=object)
    for locale, group in rows.groups:
        out[group] = rows.shaped(spec, locale, len(group), rng)
    return out


def _gen_ip(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    n = rows.n
    octets = rng.integers(0, 256, size=(n, 4))
    octets[:, 3] = rng.integers(1, 255, size=n)
    first = rng.integers(1, 224, size=n)
    first = np.where(np.isin(first, (10, 127, 169, 172, 192)), first + 1, first)
    octets[:, 0] = first
    private = rng.random(n) < float(spec.features.get("private", 0.0))
    ten = rng.random(n) < 0.5
    octets[private & ten, 0] = 10
    octets[private & ~ten, 0] = 192
    octets[private & ~ten, 1] = 168
    v4 = np.array([f"{a}.{b}.{c}.{d}" for a, b, c, d in octets.tolist()], dtype=object)
    v6_mask = rng.random(n) < float(spec.features.get("v6", 0.0))
    if v6_mask.any():
        groups = rng.integers(0, 1 << 16, size=(int(v6_mask.sum()), 8))
        groups[:, 0] = 0x2001
        v4[v6_mask] = [":".join(f"{g:x}" for g in row) for row in groups.tolist()]
    return v4


def _gen_url(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    n = rows.n
    feat = spec.features or {"https": 0.5, "http": 0.5, "www": 0.5, "path": 0.3}
    out = np.empty(n, dtype=object)
    for locale, group in rows.groups:
        m = len(group)
        host = _company_domains(locale, m, rng, rows.name_latin)
        host = np.where(rng.random(m) < float(feat.get("www", 0.0)), "www." + host, host)
        u = rng.random(m)
        https = float(feat.get("https", 0.0))
        scheme = np.where(
            u < https, "https://", np.where(u < https + float(feat.get("http", 0.0)), "http://", "")
        )
        paths = np.array(_provider_attr(locale, "uri_paths") or ("app", "main", "blog"), dtype=object)
        pages = np.array(_provider_attr(locale, "uri_pages") or ("index", "home", "about"), dtype=object)
        path = (
            "/"
            + paths[rng.integers(0, len(paths), size=m)]
            + "/"
            + pages[rng.integers(0, len(pages), size=m)]
        )
        with_path = rng.random(m) < float(feat.get("path", 0.0))
        out[group] = scheme.astype(object) + host + np.where(with_path, path, "/")
    return out


def _gen_date(spec: PiiColumnSpec, rows: _Rows, rng: np.random.Generator) -> np.ndarray | pd.Series:
    lo, hi = spec.year_range or (1950, 2005)
    start = np.datetime64(f"{min(lo, hi):04d}-01-01", "D").astype(np.int64)
    end = np.datetime64(f"{max(lo, hi):04d}-12-31", "D").astype(np.int64)
    days = rng.integers(start, end + 1, size=rows.n).astype("datetime64[D]")
    if spec.dtype == "datetime":
        return pd.to_datetime(days)
    fmt = spec.date_format or "%Y-%m-%d"
    if fmt == "%Y-%m-%d":
        return np.datetime_as_string(days, unit="D").astype(object)
    return pd.Series(days.astype("datetime64[ns]")).dt.strftime(fmt).to_numpy(dtype=object)


def _generate(column: str, spec: PiiColumnSpec, rows: _Rows) -> Any:
    rng = rows.rng("column", column)
    entity = spec.entity
    if entity == "email":
        return _gen_email(spec, rows, rng)
    if entity in NAME_ENTITIES:
        return _gen_name(spec, rows, rng)
    if entity in PLACE_ENTITIES:
        return _gen_place(spec, rows, rng)
    if entity == "ip_address" and not spec.shapes:
        return _gen_ip(spec, rows, rng)
    if entity == "url" and not spec.shapes:
        return _gen_url(spec, rows, rng)
    if entity == "date_of_birth" and spec.year_range is not None:
        return _gen_date(spec, rows, rng)
    if entity == "card_expiry" and spec.year_range is not None:
        return _gen_month_year(spec, rows, rng)
    if entity == "user_name" and not spec.shapes:
        return _gen_user_name(spec, rows, rng)
    if entity == "domain_name" and not spec.shapes:
        return _gen_domain(spec, rows, rng)
    return _gen_shaped(spec, rows, rng)


def _finish(values: Any, spec: PiiColumnSpec, rows: _Rows, column: str, index: pd.Index) -> pd.Series:
    """Missing / blank cells at the learned shares, then the learned storage type."""
    n = rows.n
    rng = rows.rng("missing", column)
    u = rng.random(n)
    missing = u < spec.missing_share
    blank = ~missing & (u < spec.missing_share + spec.blank_share)
    if isinstance(values, pd.DatetimeIndex):
        series = pd.Series(values, index=index)
        series[missing | blank] = pd.NaT
        return series
    out = np.asarray(values, dtype=object).copy()
    out[blank] = ""
    out[missing] = None
    if spec.dtype in ("int", "float"):
        numeric = pd.to_numeric(pd.Series(out, index=index), errors="coerce")
        if spec.dtype == "int" and not numeric.isna().any():
            return numeric.astype(np.int64)
        return numeric.astype(np.float64)
    return pd.Series(out, index=index, dtype=object)


def fill_pii_columns(
    synthetic: pd.DataFrame,
    specs: Mapping[str, PiiColumnSpec],
    *,
    seed: int,
    column_order: Sequence[str] | None = None,
    country_column: str | None = None,
    sex_column: str | None = None,
) -> pd.DataFrame:
    """``synthetic`` with the PII columns of ``specs`` added (or overwritten) with fresh fake values.

    Values are consistent within a row (one person for the name and email columns, one place for the
    address columns; given names fit the sex/gender column; the locale follows the country column),
    follow the learned formats and missing shares, and are deterministic for ``seed``. Columns go to
    ``column_order`` (columns not named there keep their place at the end), else to each spec's
    ``position``. ``country_column`` / ``sex_column`` name the context columns; by default they are
    detected (:func:`detect_country_column`, :func:`detect_sex_column`). The input frame is not modified.
    """
    for context in (country_column, sex_column):
        if context is not None and context not in synthetic.columns:
            raise KeyError(f"context column {context!r} is not in the synthetic frame")
    rows = _Rows(synthetic, specs, seed, country_column, sex_column)
    out = synthetic.copy()
    generated = {
        column: _finish(_generate(column, spec, rows), spec, rows, column, synthetic.index)
        for column, spec in specs.items()
    }
    if column_order is not None:
        for column, values in generated.items():
            out[column] = values
        order = [c for c in column_order if c in out.columns]
        order += [c for c in out.columns if c not in set(order)]
        return out[order]
    for column in specs:
        if column in out.columns:
            out[column] = generated[column]
    new = sorted(
        (c for c in specs if c not in synthetic.columns),
        key=lambda c: (specs[c].position is None, specs[c].position or 0),
    )
    for column in new:
        position = specs[column].position
        at = len(out.columns) if position is None else min(position, len(out.columns))
        out.insert(at, column, generated[column])
    return out
