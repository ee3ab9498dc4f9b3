"""Row context for pseudonyms: the sex of a person and the country a row is about.

When a table has a sex/gender column, replacement given names are drawn from that sex's names; when
it has a country column, names, cities, streets, states and addresses are drawn from the lists of
that country's Faker locale (``Germany``/``DE``/``DEU``/``Deutschland`` -> ``de_DE``). A column
counts only when its name says so and most of its values are recognised.

Each value keeps one pseudonym in the whole job: the context of the row a value first appears in
decides (:meth:`~.pseudonym.Pseudonymizer.register_row_context`), so a first name shared by rows of
both sexes, or a surname in rows of two countries, follows its first row. Nothing here logs values.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pandas as pd
from faker.config import AVAILABLE_LOCALES

from .column_names import normalise_column_name
from .columns import ColumnDetection
from .pseudonym import Pseudonymizer, tokens_of_name

#: Column-name tokens of a sex/gender column and of a country column (after normalisation).
SEX_NAME_TOKENS = frozenset(
    {"sex", "gender", "geschlecht", "sexe", "sexo", "genero", "genere", "sesso", "geslacht", "kon", "plec"}
)
COUNTRY_NAME_TOKENS = frozenset({"country", "cntry", "ctry", "land", "pays", "pais", "paese", "nation"})
#: Share of a candidate column's non-missing values that must be recognised.
MIN_SHARE = 0.8

_FEMALE = (
    "f female woman w weiblich frau femme feminin feminine femenino femenina feminino feminina mujer "
    "donna femmina vrouw v kvinna kvinde kvinne nainen kobieta k zena girl lady 女 女性"
)
_MALE = (
    "m male man mann mannlich herr homme h masculin masculino hombre uomo maschio maschile man "
    "mies mezczyzna mand boy gentleman 男 男性"
)
_SEX_WORDS: dict[str, str] = {
    **{w: "m" for w in _MALE.split()},
    **{w: "f" for w in _FEMALE.split()},
}
#: Values that are a sex/gender but neither of the two (counted as recognised, no sex given).
_OTHER_SEX = frozenset(
    [
        "x",
        "d",
        "u",
        "o",
        "other",
        "diverse",
        "divers",
        "non-binary",
        "nonbinary",
        "unknown",
        "unspecified",
        "n/a",
        "na",
    ]
)

#: (Faker locale, ISO 3166 alpha-2, alpha-3, names in English and in the country's languages).
_COUNTRIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "en_US",
        "US",
        "USA",
        "united states|united states of america|america|u.s.|u.s.a.|estados unidos|etats-unis",
    ),
    ("en_GB", "GB", "GBR", "united kingdom|uk|great britain|britain|england|scotland|wales|northern ireland"),
    ("en_CA", "CA", "CAN", "canada"),
    ("en_AU", "AU", "AUS", "australia"),
    ("en_NZ", "NZ", "NZL", "new zealand"),
    ("en_IE", "IE", "IRL", "ireland|eire|éire"),
    ("en_IN", "IN", "IND", "india|bharat"),
    ("en_PH", "PH", "PHL", "philippines"),
    ("de_DE", "DE", "DEU", "germany|deutschland|allemagne|alemania|germania|duitsland"),
    ("de_AT", "AT", "AUT", "austria|österreich|osterreich|autriche"),
    ("de_CH", "CH", "CHE", "switzerland|schweiz|suisse|svizzera|suiza"),
    ("fr_FR", "FR", "FRA", "france|frankreich|francia|frankrijk"),
    ("nl_BE", "BE", "BEL", "belgium|belgië|belgie|belgique|belgien"),
    ("nl_NL", "NL", "NLD", "netherlands|the netherlands|nederland|holland|pays-bas|niederlande"),
    ("es_ES", "ES", "ESP", "spain|españa|espana|espagne|spanien|spagna"),
    ("pt_PT", "PT", "PRT", "portugal"),
    ("pt_BR", "BR", "BRA", "brazil|brasil|brésil|bresil|brasilien"),
    ("es_MX", "MX", "MEX", "mexico|méxico"),
    ("es_AR", "AR", "ARG", "argentina"),
    ("es_CL", "CL", "CHL", "chile"),
    ("es_CO", "CO", "COL", "colombia"),
    ("it_IT", "IT", "ITA", "italy|italia|italie|italien"),
    ("pl_PL", "PL", "POL", "poland|polska|pologne|polen"),
    ("cs_CZ", "CZ", "CZE", "czech republic|czechia|česko|cesko|česká republika"),
    ("sk_SK", "SK", "SVK", "slovakia|slovensko"),
    ("hu_HU", "HU", "HUN", "hungary|magyarország|magyarorszag"),
    ("ro_RO", "RO", "ROU", "romania|românia"),
    ("bg_BG", "BG", "BGR", "bulgaria"),
    ("el_GR", "GR", "GRC", "greece|hellas|ελλάδα"),
    ("sv_SE", "SE", "SWE", "sweden|sverige|schweden|suède"),
    ("no_NO", "NO", "NOR", "norway|norge|norwegen"),
    ("da_DK", "DK", "DNK", "denmark|danmark|dänemark"),
    ("fi_FI", "FI", "FIN", "finland|suomi|finnland"),
    ("et_EE", "EE", "EST", "estonia|eesti"),
    ("lv_LV", "LV", "LVA", "latvia|latvija"),
    ("lt_LT", "LT", "LTU", "lithuania|lietuva"),
    ("sl_SI", "SI", "SVN", "slovenia|slovenija"),
    ("hr_HR", "HR", "HRV", "croatia|hrvatska"),
    ("ru_RU", "RU", "RUS", "russia|russian federation|россия"),
    ("uk_UA", "UA", "UKR", "ukraine|україна"),
    ("tr_TR", "TR", "TUR", "turkey|türkiye|turkiye"),
    ("he_IL", "IL", "ISR", "israel"),
    ("ja_JP", "JP", "JPN", "japan|nippon|nihon|日本"),
    ("zh_CN", "CN", "CHN", "china|people's republic of china|中国"),
    ("zh_TW", "TW", "TWN", "taiwan|台灣|台湾"),
    ("ko_KR", "KR", "KOR", "south korea|korea|republic of korea|대한민국"),
    ("th_TH", "TH", "THA", "thailand"),
    ("vi_VN", "VN", "VNM", "vietnam|viet nam"),
    ("id_ID", "ID", "IDN", "indonesia"),
    ("ar_EG", "EG", "EGY", "egypt"),
    ("ar_SA", "SA", "SAU", "saudi arabia"),
    ("fa_IR", "IR", "IRN", "iran"),
    ("bn_BD", "BD", "BGD", "bangladesh"),
    ("zu_ZA", "ZA", "ZAF", "south africa"),
    ("en_NG", "NG", "NGA", "nigeria"),
    ("en_KE", "KE", "KEN", "kenya"),
    ("en_PK", "PK", "PAK", "pakistan"),
)


def _fold(text: str) -> str:
    """Lower case, accents removed, inner whitespace collapsed."""
    folded = unicodedata.normalize("NFKD", str(text).strip().casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def _country_table() -> dict[str, str]:
    available = set(AVAILABLE_LOCALES)
    table: dict[str, str] = {}
    for locale, alpha2, alpha3, names in _COUNTRIES:
        if locale not in available:
            continue
        for key in (alpha2, alpha3, *names.split("|")):
            table.setdefault(_fold(key), locale)
    return table


_COUNTRY_LOCALES = _country_table()


def country_locale(value: object) -> str | None:
    """The Faker locale of a country written as a name, an ISO alpha-2 or alpha-3 code, else ``None``."""
    if not isinstance(value, str):
        return None
    return _COUNTRY_LOCALES.get(_fold(value))


def sex_of(value: object) -> str | None:
    """``"f"`` or ``"m"`` for a sex/gender value (``F``, ``female``, ``Frau``, ``masculino`` ...), else ``None``."""
    if not isinstance(value, str):
        return None
    return _SEX_WORDS.get(_fold(value).rstrip("."))


def _is_sex_value(value: str) -> bool:
    folded = _fold(value).rstrip(".")
    return folded in _SEX_WORDS or folded in _OTHER_SEX


@dataclass(frozen=True)
class RowContextColumns:
    """The columns that give each row its context (``None`` when the table has none)."""

    sex: str | None = None
    country: str | None = None


def _name_tokens(column: str) -> set[str]:
    return set(normalise_column_name(column).split("_"))


def _recognised_share(series: pd.Series, recognise: object) -> float:
    values = series.dropna()
    values = values[values.map(lambda v: isinstance(v, str) and bool(v.strip()))]
    if values.empty:
        return 0.0
    counts = values.value_counts()
    hits = sum(int(n) for v, n in counts.items() if recognise(v))  # type: ignore[operator]
    return hits / int(counts.sum())


def find_context_columns(df: pd.DataFrame, detections: dict[str, ColumnDetection]) -> RowContextColumns:
    """The sex/gender and country columns of ``df``: not PII themselves, named so, and with at least
    :data:`MIN_SHARE` of their values recognised (the first such column of each kind)."""
    sex = country = None
    for column in df.columns:
        detection = detections.get(column)
        if detection is not None and (detection.entity or detection.free_text):
            continue
        tokens = _name_tokens(column)
        if (
            sex is None
            and tokens & SEX_NAME_TOKENS
            and _recognised_share(df[column], _is_sex_value) >= MIN_SHARE
        ):
            sex = column
        elif (
            country is None
            and tokens & COUNTRY_NAME_TOKENS
            and _recognised_share(df[column], country_locale) >= MIN_SHARE
        ):
            country = column
    return RowContextColumns(sex=sex, country=country)


#: Entity of a column -> kind of row context its values take (names token by token).
_PLACE_KINDS = {"city": "city", "street_address": "street", "state": "state", "address": "address"}


def register_row_context(
    df: pd.DataFrame, detections: dict[str, ColumnDetection], pseudo: Pseudonymizer
) -> RowContextColumns:
    """Register, row by row, the sex and the locale of every name and place value with ``pseudo``
    (before any replacement). Returns the context columns used (both ``None``: nothing registered)."""
    found = find_context_columns(df, detections)
    if found.sex is None and found.country is None:
        return found
    n = len(df)
    sexes = [sex_of(v) for v in df[found.sex].to_numpy(dtype=object)] if found.sex is not None else [None] * n
    locales = (
        [country_locale(v) for v in df[found.country].to_numpy(dtype=object)]
        if found.country is not None
        else [None] * n
    )
    for column, detection in detections.items():
        entity = detection.entity
        if not entity or detection.free_text:
            continue
        values = df[column].to_numpy(dtype=object)
        if entity in ("first_name", "last_name", "name"):
            for value, sex, locale in zip(values, sexes, locales, strict=True):
                if not isinstance(value, str) or (sex is None and locale is None):
                    continue
                if entity == "name":
                    tokens = pseudo.name_tokens(value)
                else:
                    role = "given" if entity == "first_name" else "surname"
                    tokens = [(role, t) for t in tokens_of_name(value)]
                for role, token in tokens:
                    pseudo.register_row_context(role, token, sex if role == "given" else None, locale)
        elif entity in _PLACE_KINDS and found.country is not None:
            kind = _PLACE_KINDS[entity]
            for value, locale in zip(values, locales, strict=True):
                if isinstance(value, str) and locale is not None:
                    pseudo.register_row_context(kind, value, None, locale)
    return found


__all__ = [
    "RowContextColumns",
    "country_locale",
    "find_context_columns",
    "register_row_context",
    "sex_of",
]
