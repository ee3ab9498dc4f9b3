"""Word lists taken from Faker's locale providers (offline), used by detection and pseudonyms.

Faker's person lists are census-derived name frequencies for most locales, so they serve as a
name lexicon for value-shape detection as well as the draw pool for replacement names.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

DETECTION_BASE_LOCALES: tuple[str, ...] = ("en_US", "en_GB")


def _stabilise_faker() -> None:
    """Faker's it_IT city list is built from a set, so its order (and every draw from it) changes with
    Python's hash seed; sort it so pseudonyms drawn from it are the same in every process."""
    try:
        from faker.providers.address import it_IT
    except ImportError:  # pragma: no cover - a Faker without the locale
        return
    cities = getattr(it_IT.Provider, "cities", None)
    if isinstance(cities, list):
        it_IT.Provider.cities = sorted(cities)


_stabilise_faker()


@dataclass(frozen=True)
class WeightedList:
    """Values with cumulative weights; ``pick(u)`` maps a uniform integer to a weighted draw."""

    values: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def build(cls, source: object) -> WeightedList:
        """From a Faker list: a dict of ``value -> weight`` or a plain sequence."""
        if isinstance(source, dict):
            items = [(str(k), float(v)) for k, v in source.items()]
        else:
            items = [(str(v), 1.0) for v in source]  # type: ignore[attr-defined]
        items = [(v, w) for v, w in items if v and w > 0]
        values = tuple(v for v, _ in items)
        cumulative = tuple(itertools.accumulate(w for _, w in items))
        return cls(values, cumulative)

    def __bool__(self) -> bool:
        return bool(self.values)

    def pick(self, draw: int) -> str:
        """A weighted choice driven by ``draw`` (a large non-negative integer)."""
        total = self.cumulative[-1]
        point = (draw % (1 << 53)) / float(1 << 53) * total
        return self.values[min(bisect.bisect_right(self.cumulative, point), len(self.values) - 1)]


def _merge(lists: Iterable[WeightedList]) -> WeightedList:
    seen: dict[str, float] = {}
    for wl in lists:
        previous = 0.0
        for value, cum in zip(wl.values, wl.cumulative, strict=True):
            seen.setdefault(value, cum - previous)
            previous = cum
    return WeightedList.build(seen)


def _provider_attr(fake: Faker, names: Sequence[str]) -> list[object]:
    found: list[object] = []
    for provider in fake.get_providers():
        for name in names:
            value = getattr(provider, name, None)
            if isinstance(value, dict | list | tuple) and value:
                found.append(value)
    return found


@dataclass(frozen=True)
class Lexicon:
    """Per-locale word lists."""

    first_names: WeightedList
    last_names: WeightedList
    states: frozenset[str]
    states_abbr: frozenset[str]
    street_suffixes: frozenset[str]
    free_email_domains: frozenset[str]
    first_name_set: frozenset[str]
    last_name_set: frozenset[str]


@lru_cache(maxsize=16)
def lexicon(locales: tuple[str, ...]) -> Lexicon:
    """Word lists for ``locales`` (merged in order)."""
    firsts: list[WeightedList] = []
    lasts: list[WeightedList] = []
    states: set[str] = set()
    abbrs: set[str] = set()
    suffixes: set[str] = set(_COMMON_STREET_SUFFIXES)
    domains: set[str] = set(_COMMON_FREE_MAIL)
    for locale in locales:
        fake = Faker(locale)
        for value in _provider_attr(fake, ("first_names",)):
            firsts.append(WeightedList.build(value))
        for value in _provider_attr(fake, ("last_names",)):
            lasts.append(WeightedList.build(value))
        for value in _provider_attr(fake, ("states", "provinces", "regions", "administrative_units")):
            states.update(str(v) for v in value if isinstance(v, str))
        for value in _provider_attr(fake, ("states_abbr", "provinces_abbr")):
            abbrs.update(str(v) for v in value if isinstance(v, str))
        for value in _provider_attr(fake, ("street_suffixes",)):
            suffixes.update(str(v) for v in value if isinstance(v, str))
        for value in _provider_attr(fake, ("free_email_domains",)):
            domains.update(str(v) for v in value if isinstance(v, str))
    if (not firsts or not lasts) and "en_US" not in locales:  # a locale without person lists
        fallback = lexicon(("en_US",))
        firsts = firsts or [fallback.first_names]
        lasts = lasts or [fallback.last_names]
    first = _merge(firsts)
    last = _merge(lasts)
    return Lexicon(
        first_names=first,
        last_names=last,
        first_name_set=frozenset(v.casefold() for v in first.values),
        last_name_set=frozenset(v.casefold() for v in last.values),
        states=frozenset(states),
        states_abbr=frozenset(abbrs),
        street_suffixes=frozenset(s.casefold() for s in suffixes),
        free_email_domains=frozenset(d.casefold() for d in domains),
    )


def detection_lexicon(locales: Sequence[str]) -> Lexicon:
    """Word lists for detection: the configured locales plus English ones (data is often English)."""
    ordered = tuple(dict.fromkeys([*locales, *DETECTION_BASE_LOCALES]))
    return lexicon(ordered)


_COMMON_STREET_SUFFIXES = (
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "court",
    "ct",
    "place",
    "pl",
    "square",
    "sq",
    "terrace",
    "way",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "circle",
    "cir",
    "trail",
    "close",
    "crescent",
    "gardens",
    "grove",
    "strasse",
    "straße",
    "weg",
    "gasse",
    "platz",
    "rue",
    "via",
    "calle",
)

_COMMON_FREE_MAIL = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "protonmail.com",
    "gmx.de",
    "web.de",
    "example.com",
    "example.org",
    "example.net",
)


def is_latin(text: str) -> bool:
    """True when every letter of ``text`` is a Latin one (ASCII or Latin-1/Extended-A/B)."""
    return all(ord(c) < 0x250 for c in text if c.isalpha())


@lru_cache(maxsize=256)
def person_names(locale: str, kind: str, sex: str | None = None, latin: bool = False) -> WeightedList:
    """Faker's given names (``kind="first"``, of ``sex`` ``"f"``/``"m"`` when given) or surnames
    (``kind="last"``) of one locale; ``latin`` keeps Latin-script names only (romanised lists first,
    as Japanese ones are). Empty when the locale has no such list."""
    fake = Faker(locale)
    suffix = {"f": "_female", "m": "_male"}.get(sex or "", "")
    names = [f"{kind}_names{suffix}"]
    if latin:
        names.insert(0, f"{kind}_romanized_names{suffix}")
    for name in names:
        for source in _provider_attr(fake, (name,)):
            found = WeightedList.build(source)
            if latin:
                found = _latin_only(found)
            if found:
                return found
    return WeightedList((), ())


def _latin_only(values: WeightedList) -> WeightedList:
    previous = 0.0
    kept: dict[str, float] = {}
    for value, cum in zip(values.values, values.cumulative, strict=True):
        if is_latin(value):
            kept[value] = cum - previous
        previous = cum
    return WeightedList.build(kept)
