"""Keyed, consistent, format-preserving pseudonyms.

Every replacement is drawn from a stream seeded by ``HMAC-SHA256(job_key, family | normalised value)``:

* the same original value gets the same replacement everywhere in a job (structured cells and free
  text) and in every job run with the same key; without the key the mapping cannot be rebuilt by
  hashing candidate values (it is not a plain hash);
* person names are replaced token by token (given names and surnames separately), so a first-name
  column, a last-name column, a full-name column, names in free text and the name part of an email
  stay coherent: ``John`` / ``Smith`` / ``John Smith`` / ``john.smith87@gmail.com`` become
  ``Carlos`` / ``Nguyen`` / ``Carlos Nguyen`` / ``carlos.nguyen31@gmail.com``;
* formats are kept: digit/letter layout of phone numbers, SSNs, postcodes and IDs; card numbers keep
  their first digit and a valid Luhn digit; IBANs keep the country and valid check digits; dates are
  shifted and written back in their original format;
* a replacement never equals its own original (it is redrawn).

The mapping depends only on the key, the entity family and the value (never on the other rows), so
it is stable across jobs. Raw values never leave this object except as returned replacements.
"""

from __future__ import annotations

import _hashlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from faker import Faker

from .formats import (
    FLOAT_CARD,
    NAME_PREFIXES,
    NAME_SUFFIXES,
    NO_VALUE,
    SCI_CARD,
    date_formats_for,
    iban_check_digits,
    luhn_check_digit,
    luhn_valid,
    parse_date,
)
from .lexicons import Lexicon, WeightedList, _merge, detection_lexicon, is_latin, lexicon, person_names
from .national_ids import KINDS, fix_check_digits, national_id_kind

__all__ = ["NAME_PREFIXES", "NAME_SUFFIXES", "Pseudonymizer", "iban_check_digits", "luhn_check_digit"]

_MAX_ATTEMPTS = 12
_POOL_SIZE = 2048
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
#: Name tokens that are neither given names nor surnames (titles and suffixes).
_TITLES = frozenset(NAME_PREFIXES | NAME_SUFFIXES)
_EXTENSION = re.compile(r"(?i)(\s*(?:x|ext\.?|extension)\s*)(\d+)\s*$")
_STREET = re.compile(
    r"^(?P<num>\d{1,6}[A-Za-z]?)(?P<sep1>\s+)(?P<street>[^\d,\n]+?)"
    r"(?P<sec>(?:,?\s+)(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Room|Fl\.?|Floor|#)\s*[\w-]+)?$"
)
_US_ADDRESS = re.compile(
    r"^(?P<street>.+?)(?P<sep>\s*[\n,]\s*)(?P<city>[^\n,]+?),\s*(?P<state>[A-Z]{2})\s+(?P<zip>\d{5}(?:-\d{4})?)$"
)
_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
_ORDINAL = re.compile(r"(?i)(?<!\d)(\d{1,2})(st|nd|rd|th)\b")
_MODULAR_CRYPT = re.compile(r"^\$[\w-]{1,12}\$(?:[\w=,]{1,40}\$){0,3}")
_HEX_BODY = re.compile(r"^[0-9A-Fa-f:.\-{}]+$")
_NON_DIGIT = re.compile(r"\D")
_SPACE = re.compile(r"\s")
_HEX_SEPARATORS = re.compile(r"[:.\-{}]")
_NOT_SLUG = re.compile(r"[^a-z0-9]")
_LOCAL_PIECES = re.compile(r"(\d+|[._+\-])")
_PLUS_PREFIX = re.compile(r"\+\s*(\d{1,3})(?=\D|$)")
_ZERO_PREFIX = re.compile(r"(0{2}\d{1,3}|011\d{0,3})(?=\D)")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{4,30}")
#: ``str.translate`` tables of the ASCII fast paths: a digit becomes a ``str.format`` field, braces
#: are escaped (``_pour``); digits, lower- and upper-case letters become their class (``chars``).
_POUR_TABLE = str.maketrans({**{d: "{}" for d in "0123456789"}, "{": "{{", "}": "}}"})
_SHAPE_TABLE = str.maketrans(
    {
        **{d: "0" for d in "0123456789"},
        **{c: "a" for c in "abcdefghijklmnopqrstuvwxyz"},
        **{c: "A" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    }
)
_SHAPE_FORMATS_MAX = 8192
#: ASCII layouts with every digit as ``0`` (bytes) -> their ``_POUR_TABLE`` format string.
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_POUR_FORMATS: dict[bytes, str] = {}
_TEN_POWERS = tuple(10**k for k in range(19))
_TWENTY_SIX_POWERS = tuple(26**k for k in range(13))
_TWO_64 = 1 << 64
_MASK_64 = _TWO_64 - 1
#: ``r`` in ``[0, 676)`` -> its two base-26 digits as letters, least significant first.
_LETTER_PAIRS = tuple(chr(97 + r % 26) + chr(97 + r // 26) for r in range(676))
_VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_VIN_VALUES = dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_EXPIRY = (
    (re.compile(r"^(?P<m>0?[1-9]|1[0-2])(?P<sep>\s*[/\-.]\s*)(?P<y>\d{2}|\d{4})$"), "my"),
    (re.compile(r"^(?P<y>\d{4})(?P<sep>\s*[/\-.]\s*)(?P<m>0?[1-9]|1[0-2])$"), "ym"),
    (re.compile(r"^(?P<m>0[1-9]|1[0-2])(?P<sep>)(?P<y>\d{2})$"), "my"),
)


def _hmac_sha256(key: bytes) -> Any:
    """An HMAC-SHA256 object keyed with ``key`` (OpenSSL's when available), to be copied per message."""
    try:
        return _hashlib.hmac_new(bytes(key), digestmod="sha256")
    except (AttributeError, ValueError, TypeError):  # no OpenSSL HMAC: the pure-Python one
        return hmac.new(bytes(key), digestmod=hashlib.sha256)


_SHAPE_FORMATS: dict[str, tuple[str, int, int]] = {}


def _shape_info(shape: str) -> tuple[str, int, int]:
    """``(format, digits, letters)`` of a layout (``_SHAPE_TABLE`` classes), memoised."""
    info = _SHAPE_FORMATS.get(shape)
    if info is None:
        info = (_shape_format(shape), shape.count("0"), shape.count("a") + shape.count("A"))
        if len(_SHAPE_FORMATS) < _SHAPE_FORMATS_MAX:
            _SHAPE_FORMATS[shape] = info
    return info


def _shape_format(shape: str) -> str:
    """The ``str.format`` string that writes a layout (``_SHAPE_TABLE`` classes) from the drawn
    digits (argument 0), lower-case letters (1) and the same letters upper-cased (2)."""
    parts: list[str] = []
    di = li = 0
    for ch in shape:
        if ch == "0":
            parts.append(f"{{0[{di}]}}")
            di += 1
        elif ch == "a" or ch == "A":
            parts.append(f"{{{1 if ch == 'a' else 2}[{li}]}}")
            li += 1
        elif ch in "{}":
            parts.append(ch * 2)
        else:
            parts.append(ch)
    return "".join(parts)


def _is_hex(text: str) -> bool:
    """A hexadecimal code (hash, MAC, UUID ...): 8+ hex digits, letters a-f among them (one in eight
    or more, as random hex has about six in sixteen), no other letters."""
    compact = _HEX_SEPARATORS.sub("", text)
    hex_letters = sum(c in "abcdefABCDEF" for c in compact)
    return (
        len(compact) >= 8
        and bool(_HEX_BODY.match(text))
        and all(c in "0123456789abcdefABCDEF" for c in compact)
        and hex_letters >= max(2, len(compact) // 8)
    )


def vin_check_digit(vin: str) -> str:
    """The North American VIN check digit (position 9) of a 17-character VIN."""
    total = sum(
        (int(c) if c.isdigit() else _VIN_VALUES.get(c, 0)) * w
        for c, w in zip(vin.upper(), _VIN_WEIGHTS, strict=True)
    )
    r = total % 11
    return "X" if r == 10 else str(r)


@lru_cache(maxsize=65536)
def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    if folded.isascii():
        return _NOT_SLUG.sub("", folded.lower())
    return _NOT_SLUG.sub("", "".join(c for c in folded if not unicodedata.combining(c)).lower())


def match_case(template: str, new: str) -> str:
    """Write ``new`` in the letter case of ``template`` (UPPER, lower or as drawn)."""
    if template.isupper() and (len(template) > 1 or len(new) == 1):
        return new.upper()
    if template.islower():
        return new.lower()
    return new


class KeyedStream:
    """An endless keyed stream: HMAC-SHA256 blocks in counter mode, consumed as a big integer.

    Each draw takes ``acc % n`` from a uniform integer with at least 64 unused bits, so the bias
    of any draw is below 2**-56. ``key`` is the raw key or an HMAC-SHA256 object already keyed
    with it (copied per block, which skips the key schedule: the blocks are the same).
    """

    __slots__ = ("_mac", "_message", "_counter", "_acc", "_bits")

    def __init__(self, key: bytes | Any, message: bytes) -> None:
        mac = _hmac_sha256(key) if isinstance(key, bytes | bytearray) else key
        self._mac = mac
        self._message = message
        # the first block is always drawn (every stream is read): compute it now
        first = mac.copy()
        first.update(message + b"\0\0\0\0")
        self._counter = 1
        self._acc = int.from_bytes(first.digest(), "big")
        self._bits = 256

    @classmethod
    def keyed(cls, mac: Any, message: bytes) -> KeyedStream:
        """A stream from an already keyed HMAC-SHA256 object (no type check: the hot path)."""
        self = cls.__new__(cls)
        first = mac.copy()
        first.update(message + b"\0\0\0\0")
        self._mac = mac
        self._message = message
        self._counter = 1
        self._acc = int.from_bytes(first.digest(), "big")
        self._bits = 256
        return self

    def _refill(self) -> None:
        block = self._mac.copy()
        block.update(self._message + self._counter.to_bytes(4, "big"))
        self._counter += 1
        self._acc = (self._acc << 256) | int.from_bytes(block.digest(), "big")
        self._bits += 256

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` (``n`` below 2**64)."""
        if self._bits < 128:
            self._refill()
        self._acc, value = divmod(self._acc, n)
        self._bits -= n.bit_length() or 1
        return value

    def big(self) -> int:
        """A uniform 64-bit integer."""
        if self._bits < 128:
            self._refill()
        self._acc, value = divmod(self._acc, _TWO_64)
        self._bits -= 65
        return value

    def digit(self, low: int = 0) -> str:
        """One decimal digit in ``[low, 9]``."""
        return str(low + self.below(10 - low))

    def digits(self, count: int) -> str:
        """``count`` decimal digits."""
        if 0 < count <= 18:  # one draw (the loop below does the same)
            return str(self.below(_TEN_POWERS[count])).zfill(count)
        out: list[str] = []
        while count > 0:
            take = min(count, 18)
            out.append(str(self.below(_TEN_POWERS[take])).zfill(take))
            count -= take
        return "".join(out)

    def letter(self) -> str:
        """One lowercase ASCII letter."""
        return chr(97 + self.below(26))

    def letters(self, count: int) -> str:
        """``count`` lowercase ASCII letters."""
        out: list[str] = []
        while count > 0:
            take = min(count, 12)
            out.append(_letters_of(self.below(_TWENTY_SIX_POWERS[take]), take))
            count -= take
        return "".join(out)


_new_stream = KeyedStream.keyed


def _letters_of(value: int, count: int) -> str:
    """``count`` letters from the base-26 digits of ``value``, least significant first."""
    out: list[str] = []
    pairs = _LETTER_PAIRS
    for _ in range(count // 2):
        value, r = divmod(value, 676)
        out.append(pairs[r])
    if count % 2:
        out.append(chr(97 + value % 26))
    return "".join(out)


class Pseudonymizer:
    """Consistent replacements for one job (one key, one set of locales)."""

    def __init__(self, key: bytes, locales: Sequence[str] = ("en_US",)) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = bytes(key)
        self._mac = _hmac_sha256(self._key)
        self.locales: tuple[str, ...] = tuple(locales) or ("en_US",)
        self._lex: Lexicon = lexicon(self.locales)
        self._detect_lex: Lexicon = detection_lexicon(self.locales)
        self._fakers: dict[str, Faker] = {}
        self._cache: dict[tuple[str, str], Any] = {}
        self._value_caches: dict[str, dict[str, str]] = {}
        self._email_context: dict[str, tuple[str | None, str | None]] = {}
        # Row context (first occurrence wins): the sex of a given-name token, the locale of a value
        # by kind ("given", "surname", "city", "street", "state", "address").
        self._row_sex: dict[str, str] = {}
        self._row_locale: dict[tuple[str, str], str] = {}
        self._nanp_locale = any(loc in ("en_US", "en_CA") for loc in self.locales)
        self._handlers: dict[str, Callable[[str], str]] = {
            "first_name": self._first_name_value,
            "last_name": self._last_name_value,
            "name": self.full_name,
            "email": self.email,
            "phone_number": self.phone,
            "fax_number": self.phone,
            "ssn": self.ssn,
            "credit_debit_card": self.card,
            "iban": self.iban,
            "ip_address": self.ip,
            "url": self.url,
            "street_address": self.street,
            "address": self.address,
            "city": self.city,
            "state": self.state,
            "postcode": lambda s: self.chars(s, "postcode"),
            "national_id": lambda s: self.national_id(s, "national_id"),
            "tax_id": lambda s: self.national_id(s, "tax_id", keep_leading={"9"}),
            "date_of_birth": lambda s: self.shift_date_text(s, -365, 365, "date_of_birth"),
            "user_name": self.user_name,
            "password": self.secret,
            "api_key": self.secret,
            "security_answer": self.security_answer,
            "cvv": lambda s: self.chars(s, "cvv"),
            "card_expiry": self.card_expiry,
            "domain_name": self.domain_name,
            "passport_number": lambda s: self.chars(s, "passport_number"),
            "drivers_license": lambda s: self.chars(s, "drivers_license"),
            "license_plate": lambda s: self.chars(s, "license_plate"),
            "vehicle_identifier": self.vin,
            "account_number": lambda s: self.chars(s, "account_number"),
            "device_identifier": self.device_id,
            "coordinate": self.coordinate_text,
            "unique_identifier": self.identifier,
        }

    # ------------------------------------------------------------------ primitives
    def _first_block(self, *parts: str) -> int:
        """The first block of :meth:`stream` (``parts``) as an integer, without the stream object;
        ``_first_block(...) % 2**64`` is the stream's first :meth:`KeyedStream.big`."""
        mac = self._mac.copy()
        mac.update(("\x1f".join(parts) + "\0\0\0\0").encode("utf-8", "surrogatepass"))
        return int.from_bytes(mac.digest(), "big")

    def stream(self, *parts: str) -> KeyedStream:
        """A keyed stream for ``parts`` (family, normalised value, attempt ...)."""
        return _new_stream(self._mac, "\x1f".join(parts).encode("utf-8", "surrogatepass"))

    def digest_hex(self, value: str, salt: str = "", length: int | None = None) -> str:
        """Keyed hash (HMAC-SHA256) of ``value`` as hex, optionally truncated."""
        out = hmac.new(self._key, f"hash\x1f{salt}\x1f{value}".encode(), hashlib.sha256).hexdigest()
        return out[:length] if length else out

    def faker(self, locale: str | None = None) -> Faker:
        """A single-locale Faker (shared; callers seed it before use)."""
        locale = locale or self.locales[0]
        fake = self._fakers.get(locale)
        if fake is None:
            fake = Faker(locale)
            fake.seed_instance(0)
            self._fakers[locale] = fake
        return fake

    def seeded_faker(self, *parts: str) -> Faker:
        """A Faker of one of the job's locales, seeded from ``parts`` (keyed, deterministic)."""
        stream = self.stream("faker", *parts)
        locale = self.locales[stream.below(len(self.locales))] if len(self.locales) > 1 else self.locales[0]
        fake = self.faker(locale)
        fake.random.seed(stream.big())
        return fake

    def _pool(self, method: str, locale: str) -> tuple[str, ...]:
        """A fixed pool of Faker outputs (deterministic), so hot paths avoid a Faker call per value."""
        return faker_pool(method, locale)

    def _pool_pick(
        self, method: str, family: str, norm: str, original: str, locale: str | None = None
    ) -> str:
        if locale is not None:
            pool = _latin_pool(method, locale) if is_latin(original) else self._pool(method, locale)
            if pool:
                return self._pick_from(pool, f"{family}\x1f{locale}", norm, original)
        if len(self.locales) == 1:
            return self._pick_from(self._pool(method, self.locales[0]), family, norm, original)
        for attempt in range(_MAX_ATTEMPTS):
            stream = self.stream(family, norm, str(attempt))
            locale = self.locales[stream.below(len(self.locales))]
            pool = self._pool(method, locale)
            candidate = pool[stream.big() % len(pool)]
            if candidate.casefold() != original.casefold():
                return candidate
        return candidate

    def _pick_from(self, pool: Sequence[str], family: str, norm: str, original: str) -> str:
        candidate = original
        folded = original.casefold()
        size = len(pool)
        for attempt in range(_MAX_ATTEMPTS):
            candidate = pool[(self._first_block(family, norm, str(attempt)) & _MASK_64) % size]
            if candidate.casefold() != folded:
                return candidate
        return candidate

    def _cached(self, family: str, norm: str, make: Callable[[], Any]) -> Any:
        key = (family, norm)
        hit = self._cache.get(key)
        if hit is None:
            hit = make()
            self._cache[key] = hit
        return hit

    # ------------------------------------------------------------------ public dispatch
    def supports(self, entity: str) -> bool:
        """True when ``entity`` has a dedicated (format-aware) replacement."""
        return entity in self._handlers

    def replace(self, entity: str | None, value: Any) -> Any:
        """The pseudonym of ``value`` as entity ``entity``; keeps ints/floats/dates as such."""
        if type(value) is str:
            return self.replace_text(entity, value)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return value
        if isinstance(value, dt.date | dt.datetime | np.datetime64):
            return self.shift_date(value, -365, 365, entity or "date")
        if isinstance(value, bool | np.bool_):
            return value
        if isinstance(value, int | np.integer):
            out = self.replace_text(entity, str(int(value)))
            return int(out) if out.isdigit() else out
        if isinstance(value, float | np.floating):
            if entity == "coordinate":
                return self.coordinate(float(value))
            if float(value).is_integer():
                out = self.replace_text(entity, str(int(value)))
                return float(out) if out.isdigit() else out
            return value
        return self.replace_text(entity, str(value))

    def replace_text(self, entity: str | None, text: str) -> str:
        """The pseudonym of a string value (cached per entity and value)."""
        key = entity or ""
        cache = self._value_caches.get(key)
        if cache is None:
            cache = self._value_caches[key] = {}
        hit = cache.get(text)
        if hit is not None:
            return hit
        if not text.strip() or text.strip().casefold() in NO_VALUE:
            return text
        handler = self._handlers.get(key)
        out = handler(text) if handler is not None else self.chars(text, key or "generic")
        cache[text] = out
        return out

    def replace_many(self, entity: str | None, values: Sequence[Any]) -> list[Any]:
        """:meth:`replace_text` of every string in ``values`` (in order); other values are returned
        as they are (the caller replaces those with :meth:`replace`)."""
        key = entity or ""
        cache = self._value_caches.get(key)
        if cache is None:
            cache = self._value_caches[key] = {}
        get = cache.get
        handler = self._handlers.get(key)
        if handler is None:
            family = key or "generic"

            def handler(text: str) -> str:
                return self.chars(text, family)

        out: list[Any] = []
        append = out.append
        for value in values:
            if type(value) is str:
                hit = get(value)
                if hit is None:  # replace_text, inlined
                    stripped = value.strip()
                    if not stripped or stripped.casefold() in NO_VALUE:
                        hit = value
                    else:
                        hit = cache[value] = handler(value)
                append(hit)
            else:
                append(value)
        return out

    def is_memoised(self, entity: str | None, text: str) -> bool:
        """True when the pseudonym of ``text`` as ``entity`` is already memoised."""
        return text in self._value_caches.get(entity or "", ())

    def memoise(self, pairs: Sequence[tuple[str | None, str]], outputs: Sequence[str]) -> None:
        """Store pseudonyms computed elsewhere (by :func:`replace_text` of a copy of this object)."""
        for (entity, text), out in zip(pairs, outputs, strict=True):
            self._value_caches.setdefault(entity or "", {})[text] = out

    def register_person(self, email: str, first: str | None, last: str | None) -> None:
        """Remember the original names next to ``email`` (first occurrence wins) for its local part."""
        norm = email.strip().casefold()
        if norm and norm not in self._email_context and (first or last):
            self._email_context[norm] = (first, last)

    def register_row_context(self, kind: str, value: str, sex: str | None, locale: str | None) -> None:
        """Remember the sex (``"f"``/``"m"``, given names only) and the locale (a Faker locale) of the
        row ``value`` first appears in; its pseudonym is then drawn from that sex's names and that
        locale's lists. ``kind``: ``given``, ``surname``, ``city``, ``street``, ``state`` or
        ``address``. First occurrence wins, so a value keeps one pseudonym in the whole job."""
        norm = value.strip().casefold()
        if not norm:
            return
        if sex in ("f", "m") and kind == "given":
            self._row_sex.setdefault(norm, sex)
        if locale:
            self._row_locale.setdefault((kind, norm), locale)

    def _context_locale(self, kind: str, text: str) -> str | None:
        if not self._row_locale:
            return None
        return self._row_locale.get((kind, text.strip().casefold()))

    def _context_names(self, kind: str, sex: str | None, locale: str | None, token: str) -> WeightedList:
        """The draw pool for a name token with row context (empty: use the job's pool)."""
        latin = is_latin(token)
        locales = (locale,) if locale else self.locales
        return _context_pool(locales, kind, sex, latin)

    # ------------------------------------------------------------------ names
    def _lexicon_draw(self, pool: WeightedList, family: str, token: str) -> str:
        norm = token.casefold()
        key = (family, norm)
        hit = self._cache.get(key)
        if hit is None:  # memoised per family and folded token (as _cached, without a closure)
            hit = token
            for attempt in range(_MAX_ATTEMPTS):
                hit = pool.pick(self._first_block(family, norm, str(attempt)) & _MASK_64)
                if hit.casefold() != norm:
                    break
            self._cache[key] = hit
        return match_case(token, hit)

    def given(self, token: str) -> str:
        """Replacement of one given-name token."""
        if len(token) == 1:
            return match_case(token, self.stream("initial", token.casefold()).letter())
        if self._row_sex or self._row_locale:
            norm = token.casefold()
            sex = self._row_sex.get(norm)
            locale = self._row_locale.get(("given", norm))
            if sex or locale:
                pool = self._context_names("first", sex, locale, token)
                if pool:
                    return self._lexicon_draw(pool, f"given\x1f{sex or ''}\x1f{locale or ''}", token)
        return self._lexicon_draw(self._lex.first_names, "given", token)

    def surname(self, token: str) -> str:
        """Replacement of one surname token."""
        if len(token) == 1:
            return match_case(token, self.stream("initial", token.casefold()).letter())
        locale = self._row_locale.get(("surname", token.casefold())) if self._row_locale else None
        if locale:
            pool = self._context_names("last", None, locale, token)
            if pool:
                return self._lexicon_draw(pool, f"surname\x1f\x1f{locale}", token)
        return self._lexicon_draw(self._lex.last_names, "surname", token)

    def _tokens_sub(self, text: str, func: Callable[[str], str]) -> str:
        return _NAME_TOKEN.sub(lambda m: func(m.group(0)), text)

    def _first_name_value(self, text: str) -> str:
        return self._tokens_sub(text, self.given)

    def _last_name_value(self, text: str) -> str:
        return self._tokens_sub(text, self.surname)

    def _name_roles(self, text: str, matches: list[re.Match[str]]) -> dict[int, str]:
        """``given``/``surname`` by token start (titles and suffixes have none)."""
        core = [m for m in matches if m.group(0).casefold().rstrip(".") not in _TITLES]
        roles: dict[int, str] = {}
        if len(core) == 1:
            token = core[0].group(0).casefold()
            lex = self._detect_lex
            roles[core[0].start()] = (
                "given" if token in lex.first_name_set and token not in lex.last_name_set else "surname"
            )
        elif core:
            comma_first = "," in text[core[0].end() : core[1].start()]
            surname_index = 0 if comma_first else len(core) - 1
            for i, m in enumerate(core):
                roles[m.start()] = "surname" if i == surname_index else "given"
        return roles

    def name_tokens(self, text: str) -> list[tuple[str, str]]:
        """``(role, token)`` of a full name as :meth:`full_name` reads it (role ``given``/``surname``)."""
        matches = list(_NAME_TOKEN.finditer(text))
        roles = self._name_roles(text, matches)
        return [(roles[m.start()], m.group(0)) for m in matches if m.start() in roles]

    def full_name(self, text: str) -> str:
        """A full name, token by token: given names, then the surname (``Last, First`` understood)."""
        matches = list(_NAME_TOKEN.finditer(text))
        roles = self._name_roles(text, matches)
        if not roles:
            return self.chars(text, "name")
        out: list[str] = []
        last = 0
        for m in matches:
            out.append(text[last : m.start()])
            role = roles.get(m.start())
            token = m.group(0)
            if role == "given":
                out.append(self.given(token))
            elif role == "surname":
                out.append(self.surname(token))
            else:
                out.append(token)
            last = m.end()
        out.append(text[last:])
        return "".join(out)

    # ------------------------------------------------------------------ email, domain, url
    def domain(self, host: str) -> str:
        """Replacement of a host name (free-mail domains are kept)."""
        norm = host.casefold().strip(".")
        if norm in self._detect_lex.free_email_domains:
            return host
        prefix = "www." if norm.startswith("www.") else ""
        core = norm[len(prefix) :]
        return prefix + self._cached(
            "domain", core, lambda: self._pool_pick("domain_name", "domain", core, core)
        )

    def _local_part(self, local: str, key: str, first: str | None, last: str | None) -> str:
        """The local part of an email (or a user name): names follow the owner's replaced names,
        other words become surnames, digits are re-drawn, separators kept."""
        fold_first = _ascii_slug(first) if first else ""
        fold_last = _ascii_slug(last) if last else ""
        new_first = _ascii_slug(self.given(first)) if first else ""
        new_last = _ascii_slug(self.surname(last)) if last else ""
        lex = self._detect_lex
        pieces = _LOCAL_PIECES.split(local)
        out: list[str] = []
        for piece in pieces:
            if not piece:
                continue
            low = piece.lower()
            if piece.isdigit():
                stream = self.stream("email_digits", key, piece)
                out.append(stream.digits(len(piece)))
            elif piece in "._+-":
                out.append(piece)
            elif fold_first and low == fold_first:
                out.append(new_first)
            elif fold_last and low == fold_last:
                out.append(new_last)
            elif fold_first and fold_last and low == fold_first[0] + fold_last:
                out.append(new_first[:1] + new_last)
            elif fold_first and fold_last and low == fold_last + fold_first[0]:
                out.append(new_last + new_first[:1])
            elif fold_first and fold_last and low == fold_first + fold_last:
                out.append(new_first + new_last)
            elif len(low) >= 3 and low in lex.first_name_set:
                out.append(_ascii_slug(self.given(piece)))
            elif len(low) >= 3 and low in lex.last_name_set:
                out.append(_ascii_slug(self.surname(piece)))
            elif len(low) >= 3:
                word = self._lexicon_draw(self._lex.last_names, "email_word", low)
                out.append(_ascii_slug(word) or self.chars(low, "email_word"))
            else:
                out.append(self.chars(low, "email_word"))
        return "".join(out)

    def email(self, text: str) -> str:
        """An email whose local part follows the replaced names of its owner."""
        stripped = text.strip()
        local, at, host = stripped.rpartition("@")
        if not at or not local:
            return self.chars(text, "email")
        first, last = self._email_context.get(stripped.casefold(), (None, None))
        new_local = self._local_part(local, stripped.casefold(), first, last)
        candidate = f"{new_local}@{self.domain(host)}"
        if candidate.casefold() == stripped.casefold():
            candidate = f"{new_local}{self.stream('email_tail', stripped).digit(1)}@{self.domain(host)}"
        return match_case(stripped, candidate) if stripped.isupper() else candidate

    def url(self, text: str) -> str:
        """A URL with the host replaced like an email domain and the path characters re-drawn."""
        stripped = text.strip()
        try:
            parts = urlsplit(stripped if "//" in stripped else "//" + stripped)
            host = parts.hostname or ""
        except ValueError:
            return self.chars(text, "url")
        if not host:
            return self.chars(text, "url")
        netloc = self.domain(host) if host not in self._detect_lex.free_email_domains else host
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        path = self.chars(parts.path, "url_path") if parts.path.strip("/") else parts.path
        query = self.chars(parts.query, "url_query") if parts.query else ""
        fragment = self.chars(parts.fragment, "url_fragment") if parts.fragment else ""
        out = urlunsplit((parts.scheme, netloc, path, query, fragment))
        if "//" not in stripped:
            out = out.removeprefix("//")
        if out == stripped:
            out = urlunsplit(
                (parts.scheme, self._pool_pick("domain_name", "domain", host, host), path, "", "")
            )
        return out

    # ------------------------------------------------------------------ digits and characters
    def chars(self, text: str, family: str, keep_leading: set[str] | None = None) -> str:
        """Format-preserving re-draw: digits stay digits, letters stay letters (same case); letters
        and digits of other scripts become ASCII ones; punctuation and spaces are kept."""
        if text.isascii() and not (keep_leading and text.lstrip()[:1] in keep_leading):
            return self._ascii_chars(text, family)
        n_digits = n_letters = 0
        for c in text:
            if c.isdigit():
                n_digits += 1
            elif c.isalpha():
                n_letters += 1
        if not n_digits and not n_letters:
            return text
        keep_at = -1  # the leading digit kept (an ITIN's 9)
        if keep_leading:
            lead = len(text) - len(text.lstrip())
            if text[lead : lead + 1] in keep_leading:
                keep_at = lead
        norm = text.strip().casefold()
        folded = text.casefold()
        candidate = text
        for attempt in range(_MAX_ATTEMPTS):
            stream = self.stream("chars", family, norm, str(attempt))
            digits = stream.digits(n_digits)
            letters = stream.letters(n_letters)
            out: list[str] = []
            di = li = 0
            for i, ch in enumerate(text):
                if ch.isdigit():
                    out.append(ch if i == keep_at else digits[di])
                    di += 1
                elif ch.isalpha():
                    letter = letters[li]
                    li += 1
                    out.append(letter.upper() if ch.isupper() else letter)
                else:
                    out.append(ch)
            candidate = "".join(out)
            if candidate.casefold() != folded:
                return candidate
        return candidate

    def _ascii_chars(self, text: str, family: str) -> str:
        """:meth:`chars` of an ASCII text (same output): one ``str.format`` per draw, its format
        string built once per layout."""
        shape = text.translate(_SHAPE_TABLE)
        info = _SHAPE_FORMATS.get(shape)
        fmt, n_digits, n_letters = info if info is not None else _shape_info(shape)
        if not n_digits and not n_letters:
            return text
        norm = text.strip().casefold()
        folded = text.casefold()
        candidate = text
        one_block = n_digits <= 18 and n_letters <= 12  # both draws fit the stream's first block
        for attempt in range(_MAX_ATTEMPTS):
            if one_block:  # the stream's draws, without the stream
                acc = self._first_block("chars", family, norm, str(attempt))
                digits = letters = ""
                if n_digits:
                    acc, value = divmod(acc, _TEN_POWERS[n_digits])
                    digits = str(value).zfill(n_digits)
                if n_letters:
                    letters = _letters_of(acc % _TWENTY_SIX_POWERS[n_letters], n_letters)
            else:
                stream = self.stream("chars", family, norm, str(attempt))
                digits = stream.digits(n_digits)
                letters = stream.letters(n_letters)
            candidate = fmt.format(digits, letters, letters.upper())
            if candidate.casefold() != folded:
                return candidate
        return candidate

    def hex_chars(self, text: str, family: str, keep: frozenset[int] = frozenset()) -> str:
        """Re-draw the hexadecimal digits of ``text`` (case kept); positions in ``keep`` stay."""
        norm = text.strip().casefold()
        upper = any(c in "ABCDEF" for c in text) and not any(c in "abcdef" for c in text)
        candidate = text
        for attempt in range(_MAX_ATTEMPTS):
            stream = self.stream("hex", family, norm, str(attempt))
            out: list[str] = []
            for i, ch in enumerate(text):
                if i not in keep and ch in "0123456789abcdefABCDEF":
                    new = "0123456789abcdef"[stream.below(16)]
                    out.append(new.upper() if upper else new)
                else:
                    out.append(ch)
            candidate = "".join(out)
            if candidate.casefold() != text.casefold():
                return candidate
        return candidate

    def _pour(self, layout: str, digits: str) -> str:
        """``layout`` with its digits replaced, in order, by ``digits``."""
        if layout.isascii():
            shape = layout.encode("ascii").translate(_DIGITS_TO_ZERO)
            fmt = _POUR_FORMATS.get(shape)
            if fmt is None:
                fmt = layout.translate(_POUR_TABLE)
                if len(_POUR_FORMATS) < _SHAPE_FORMATS_MAX:
                    _POUR_FORMATS[shape] = fmt
            return fmt.format(*digits)
        it = iter(digits)
        return "".join(next(it) if ch.isdigit() else ch for ch in layout)

    def phone(self, text: str) -> str:
        """Phone/fax: same layout, country prefix and extension length kept, new digits."""
        ext_match = _EXTENSION.search(text)
        main = text[: ext_match.start()] if ext_match else text
        stripped = main.lstrip()
        prefix_len = 0
        if stripped.startswith("+"):
            m = _PLUS_PREFIX.match(stripped)
            prefix_len = len(m.group(1)) if m else 0
        elif stripped.startswith("00") or stripped.startswith("011"):
            m = _ZERO_PREFIX.match(stripped)
            prefix_len = len(m.group(1)) if m else 0
        all_digits = _NON_DIGIT.sub("", main)
        prefix, national = all_digits[:prefix_len], all_digits[prefix_len:]
        if not prefix and len(national) == 11 and national.startswith("1"):
            prefix, national = "1", national[1:]
        nanp = (
            len(national) == 10
            and national[0] not in "01"
            and (prefix in ("1", "001") or (not prefix and self._nanp_locale))
        )
        key = ("phone" if not nanp else "phone_nanp", national)
        new_national = self._cache.get(key)
        if new_national is None:
            new_national = self._cache[key] = self._phone_digits(national, nanp)
        out = self._pour(main, prefix + new_national)
        if ext_match:
            ext_digits = ext_match.group(2)
            stream = self.stream("phone_ext", national, ext_digits)
            out += ext_match.group(1) + stream.digits(len(ext_digits))
        return out

    def _phone_digits(self, national: str, nanp: bool) -> str:
        lead = national[:1] if national[:1] == "0" else ""
        count = len(national) - len(lead)
        for attempt in range(_MAX_ATTEMPTS):
            if nanp:  # the stream's digit(2), digit(), digit(), digit(2), digits(6): its first block
                acc, a = divmod(self._first_block("phone", national, str(attempt)), 8)
                acc, b = divmod(acc, 10)
                acc, c = divmod(acc, 10)
                acc, d = divmod(acc, 8)
                digits = f"{2 + a}{b}{c}{2 + d}{acc % 1_000_000:06d}"
                if digits[1:3] == "11":
                    continue
            elif count <= 18:  # one draw from the first block
                digits = lead + str(
                    self._first_block("phone", national, str(attempt)) % _TEN_POWERS[count]
                ).zfill(count)
            else:
                digits = lead + self.stream("phone", national, str(attempt)).digits(count)
            if digits != national:
                return digits
        return digits

    def ssn(self, text: str) -> str:
        """US SSN with a valid area/group/serial, same layout."""
        digits = _NON_DIGIT.sub("", text)
        if len(digits) != 9:
            return self.chars(text, "ssn")

        def make() -> str:
            for attempt in range(_MAX_ATTEMPTS):
                stream = self.stream("ssn", digits, str(attempt))
                area = 1 + stream.big() % 899
                if area == 666:
                    continue
                group = 1 + stream.big() % 99
                serial = 1 + stream.big() % 9999
                candidate = f"{area:03d}{group:02d}{serial:04d}"
                if candidate != digits:
                    return candidate
            return candidate

        return self._pour(text, self._cached("ssn", digits, make))

    def card(self, text: str) -> str:
        """Card number: same length and layout, same first digit, valid Luhn check digit.

        Spreadsheet damage keeps its shape: ``5.54563E+15`` gets a new mantissa (same first digit and
        exponent), ``5545630000000000.0`` a new card number before the ``.0``.
        """
        sci = SCI_CARD.match(text) if "." in text else None  # both damaged forms have a point
        if sci:
            mantissa = sci.group(1) + sci.group(2)
            new = self._cached("card_sci", mantissa, lambda: self._sci_mantissa(mantissa))
            start, end = sci.start(1), sci.end(2)
            return text[:start] + new[0] + "." + new[1:] + text[end:]
        damaged = FLOAT_CARD.match(text) if "." in text else None
        if damaged:
            return text[: damaged.start(1)] + self.card(damaged.group(1)) + text[damaged.end(1) :]
        digits = _NON_DIGIT.sub("", text)
        if not 12 <= len(digits) <= 19:
            return self.chars(text, "card")

        key = ("card", digits)
        new = self._cache.get(key)
        if new is None:
            new = self._cache[key] = self._card_digits(digits)
        return new if text == digits else self._pour(text, new)

    def _card_digits(self, digits: str) -> str:
        count = len(digits) - 2
        draw = _TEN_POWERS[count]  # the stream's digits(n - 2): one draw, first block
        candidate = digits
        for attempt in range(_MAX_ATTEMPTS):
            body = digits[0] + str(self._first_block("card", digits, str(attempt)) % draw).zfill(count)
            candidate = body + luhn_check_digit(body)
            if candidate != digits:
                return candidate
        return candidate

    def _sci_mantissa(self, mantissa: str) -> str:
        for attempt in range(_MAX_ATTEMPTS):
            candidate = mantissa[0] + self.stream("card_sci", mantissa, str(attempt)).digits(
                len(mantissa) - 1
            )
            if candidate != mantissa:
                return candidate
        return candidate

    def iban(self, text: str) -> str:
        """IBAN: same country, length and layout; valid check digits."""
        compact = _SPACE.sub("", text).upper()
        if not _IBAN.fullmatch(compact):
            return self.chars(text, "iban")

        def make() -> str:
            template = compact[4:]  # upper-case letters and ASCII digits (the pattern above)
            fmt, n_digits, n_letters = _shape_info(template.translate(_SHAPE_TABLE))
            one_block = n_digits <= 18 and n_letters <= 12  # both draws fit the stream's first block
            for attempt in range(_MAX_ATTEMPTS):
                if one_block:  # the stream's digits(n_digits) then letters(n_letters), without it
                    acc, value = divmod(
                        self._first_block("iban", compact, str(attempt)), _TEN_POWERS[n_digits]
                    )
                    digits = str(value).zfill(n_digits) if n_digits else ""
                    letters = _letters_of(acc % _TWENTY_SIX_POWERS[n_letters], n_letters)
                else:
                    stream = self.stream("iban", compact, str(attempt))
                    digits = stream.digits(n_digits)
                    letters = stream.letters(n_letters)
                bban = fmt.format(digits, letters, letters.upper())
                candidate = compact[:2] + iban_check_digits(compact[:2], bban) + bban
                if candidate != compact:
                    return candidate
            return candidate

        new = self._cached("iban", compact, make)
        if len(compact) == len(text) and not _SPACE.search(text):  # no spaces to keep
            out = new
        else:
            chars = iter(new)
            out = "".join(ch if ch.isspace() else next(chars) for ch in text)
        return out if not text.islower() else out.lower()

    def ip(self, text: str) -> str:
        """IP address: IPv4 keeps private/loopback ranges private; IPv6 keeps compressed form."""
        stripped = text.strip()
        v4 = _IPV4.match(stripped)
        if v4:
            octets = [int(o) for o in v4.groups()]
            if max(octets) <= 255:
                return self._cached("ip", stripped, lambda: self._ipv4(stripped, octets))
        try:
            addr = ipaddress.ip_address(stripped)
        except ValueError:
            return self.chars(text, "ip_address")

        exploded = addr.exploded

        def make() -> str:
            for attempt in range(_MAX_ATTEMPTS):
                stream = self.stream("ip", exploded, str(attempt))
                if addr.version == 4:
                    octets = [stream.below(256) for _ in range(4)]
                    if addr.is_private or addr.is_loopback:
                        keep = 1 if stripped.startswith(("10.", "127.")) else 2
                        octets[:keep] = [int(o) for o in stripped.split(".")[:keep]]
                    else:
                        octets[0] = 1 + stream.below(223)
                        if octets[0] in (10, 127, 169, 172, 192):
                            octets[0] = 11 + stream.below(100)
                    candidate = ".".join(str(o) for o in octets)
                else:
                    groups = [stream.big() & 0xFFFF for _ in range(8)]
                    groups[0] = int(exploded[:4], 16)
                    new = ipaddress.IPv6Address(
                        int.from_bytes(b"".join(g.to_bytes(2, "big") for g in groups), "big")
                    )
                    candidate = new.compressed if "::" in stripped or len(stripped) < 39 else new.exploded
                if candidate != stripped:
                    return candidate
            return candidate

        return self._cached("ip", exploded, make)

    def _ipv4(self, text: str, octets: list[int]) -> str:
        first, second = octets[0], octets[1]
        private = (
            first in (10, 127) or (first == 172 and 16 <= second <= 31) or (first == 192 and second == 168)
        )
        keep = (1 if first in (10, 127) else 2) if private else 0
        candidate = text
        for attempt in range(_MAX_ATTEMPTS):
            # the stream's draws below(256) x 4, below(223), below(100), read from its first block
            acc = self._first_block("ip", text, str(attempt))
            new = [acc & 255, (acc >> 8) & 255, (acc >> 16) & 255, (acc >> 24) & 255]
            if keep:
                new[:keep] = octets[:keep]
            else:
                acc, first = divmod(acc >> 32, 223)
                new[0] = 1 + first
                if new[0] in (10, 127, 169, 172, 192):
                    new[0] = 11 + acc % 100
            candidate = f"{new[0]}.{new[1]}.{new[2]}.{new[3]}"
            if candidate != text:
                break
        return candidate

    # ------------------------------------------------------------------ identifiers and secrets
    def national_id(self, text: str, family: str, keep_leading: set[str] | None = None) -> str:
        """Same layout; when the original has a known kind's check digits, so does the replacement."""
        kind = national_id_kind(text)
        first = self.chars(text, family, keep_leading)
        if kind is None:
            return first
        fixed = fix_check_digits(kind, first)
        if fixed is not None and fixed != text:
            return fixed
        check = KINDS[kind]
        for attempt in range(30):
            candidate = first if attempt == 0 else self.chars(text, f"{family}#{attempt}", keep_leading)
            if candidate != text and check(candidate.strip()):
                return candidate
        return first

    def user_name(self, text: str) -> str:
        """A user name: names and words inside it replaced like an email's local part."""
        stripped = text.strip()
        if "@" in stripped:
            return self.email(stripped)
        out = self._local_part(stripped, "user\x1f" + stripped.casefold(), None, None)
        if not out or out.casefold() == stripped.casefold():
            out = self.chars(stripped, "user_name")
        return match_case(stripped, out) if stripped.isupper() else out

    def secret(self, text: str) -> str:
        """Passwords, hashes, tokens: same length and character classes; a hash stays a hash."""
        m = _MODULAR_CRYPT.match(text)
        prefix = m.group(0) if m else ""
        body = text[len(prefix) :]
        if body and _is_hex(body):
            return prefix + self.hex_chars(body, "secret")
        return prefix + self.chars(body, "secret") if body else self.chars(text, "secret")

    def security_answer(self, text: str) -> str:
        """Each word of the answer becomes a surname (the same one the word gets as a surname, so a
        mother's maiden name stays consistent with the surname columns); digits are re-drawn."""
        # "surname" family: a maiden name that is also someone's surname gets that surname's pseudonym
        out = self._tokens_sub(text, lambda t: self.surname(t) if len(t) > 1 else t)
        if any(c.isdigit() for c in out):
            out = re.sub(
                r"\d+", lambda d: self.stream("answer_digits", text, d.group(0)).digits(len(d.group(0))), out
            )
        return out if out != text else self.chars(text, "security_answer")

    def card_expiry(self, text: str) -> str:
        """A card expiry moved by a keyed 1-18 months, in the same layout (``03/27``, ``2027-03``)."""
        stripped = text.strip()
        for pattern, order in _EXPIRY:
            m = pattern.match(stripped)
            if m:
                return self._shift_expiry(stripped, m.group("m"), m.group("y"), m.group("sep"), order)
        if re.fullmatch(r"\d{3}", stripped):  # MMYY that lost its leading zero (an integer column)
            out = self._shift_expiry("0" + stripped, stripped[0], stripped[1:], "", "my")
            return out.lstrip("0") or out
        if parse_date(stripped) is not None:
            return self.shift_date_text(stripped, -540, 540, "card_expiry")
        return self.chars(text, "card_expiry")

    def _shift_expiry(self, norm: str, month: str, year: str, sep: str, order: str) -> str:
        full_year = int(year) if len(year) == 4 else 2000 + int(year)
        offset = self._offset_days("card_expiry", norm, -18, 18)
        new_year, new_month = divmod(full_year * 12 + int(month) - 1 + offset, 12)
        y = f"{new_year % 100:02d}" if len(year) == 2 else str(new_year)
        m = f"{new_month + 1:02d}" if len(month) == 2 else str(new_month + 1)
        return f"{m}{sep}{y}" if order == "my" else f"{y}{sep}{m}"

    def domain_name(self, text: str) -> str:
        """A host name of the job's locales (``www.`` kept); every domain is replaced."""
        stripped = text.strip()
        norm = stripped.casefold().rstrip(".")
        prefix = "www." if norm.startswith("www.") else ""
        core = norm[len(prefix) :]
        new = self._cached("domain", core, lambda: self._pool_pick("domain_name", "domain", core, core))
        return match_case(stripped, prefix + new) if stripped.isupper() else prefix + new

    def vin(self, text: str) -> str:
        """A VIN: manufacturer code (first 3) kept, the rest re-drawn, a valid check digit kept valid."""
        stripped = text.strip()
        upper = stripped.upper()
        if not re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", upper):
            return self.chars(text, "vehicle_identifier")
        check_valid = vin_check_digit(upper) == upper[8]
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        candidate = upper
        for attempt in range(_MAX_ATTEMPTS):
            stream = self.stream("vin", upper, str(attempt))
            body = [
                c
                if i < 3
                else (str(stream.below(10)) if c.isdigit() else letters[stream.below(len(letters))])
                for i, c in enumerate(upper)
            ]
            if check_valid:
                body[8] = vin_check_digit("".join(body))
            candidate = "".join(body)
            if candidate != upper:
                break
        return candidate if stripped.isupper() or not stripped.islower() else candidate.lower()

    def device_id(self, text: str) -> str:
        """MAC (same separators and case), IMEI (type code kept, valid Luhn), UUID (version kept), hex."""
        stripped = text.strip()
        digits = _NON_DIGIT.sub("", stripped)
        if len(digits) == 15 and re.fullmatch(r"[\d -]{15,18}", stripped) and luhn_valid(digits):

            def make() -> str:
                for attempt in range(_MAX_ATTEMPTS):
                    body = digits[:8] + self.stream("imei", digits, str(attempt)).digits(6)
                    candidate = body + luhn_check_digit(body)
                    if candidate != digits:
                        return candidate
                return candidate

            return self._pour(stripped, self._cached("imei", digits, make))
        compact = re.sub(r"[^0-9A-Fa-f]", "", stripped)
        if len(compact) == 32 and re.fullmatch(r"\{?[0-9A-Fa-f-]{32,36}\}?", stripped):
            hex_positions = [i for i, c in enumerate(stripped) if c in "0123456789abcdefABCDEF"]
            keep = frozenset({hex_positions[12], hex_positions[16]})  # version and variant nibbles
            return self.hex_chars(stripped, "uuid", keep)
        if _is_hex(stripped):
            return self.hex_chars(stripped, "device_identifier")
        return self.chars(text, "device_identifier")

    def identifier(self, text: str) -> str:
        """An identifier-like code: hexadecimal stays hexadecimal, anything else keeps its layout."""
        stripped = text.strip()
        if _is_hex(stripped):
            return self.hex_chars(text, "unique_identifier")
        return self.chars(text, "unique_identifier")

    def coordinate(self, value: float) -> float:
        """A coordinate moved by a keyed 0.05-0.5 degrees (same decimals; latitudes stay in range)."""
        text = repr(float(value))
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 6
        stream = self.stream("coordinate", f"{value:.{decimals}f}")
        offset = (0.05 + 0.45 * stream.below(1_000_000) / 1_000_000) * (1 if stream.below(2) else -1)
        limit = 90.0 if abs(value) <= 90 else 180.0
        new = value + offset
        if abs(new) > limit:
            new = value - offset
        out = round(new, max(decimals, 1))
        return out if out != value else round(value - offset, max(decimals, 1))

    def coordinate_text(self, text: str) -> str:
        """Coordinates written as text (``48.8566``, ``48,8566``, ``48.85, 2.35``): each number moved."""

        def one(m: re.Match[str]) -> str:
            raw = m.group(0)
            comma = "," in raw
            value = float(raw.replace(",", "."))
            decimals = len(re.split(r"[.,]", raw)[1])
            new = self.coordinate(value)
            out = f"{new:.{decimals}f}"
            return out.replace(".", ",") if comma else out

        out = re.sub(r"-?\d{1,3}[.,]\d+", one, text)
        return out if out != text else self.chars(text, "coordinate")

    # ------------------------------------------------------------------ places
    def street(self, text: str) -> str:
        """Street address: same house-number length, a new street name, secondary unit kept in shape
        (in the locale of the row's country when one was registered)."""
        return self._street(text, self._context_locale("street", text))

    def _street(self, text: str, locale: str | None) -> str:
        m = _STREET.match(text.strip())
        if not m:
            return self._pool_pick("street_address", "street", text.strip().casefold(), text, locale)
        num = self.chars(m.group("num"), "house_number")
        if num.startswith("0") and len(num) > 1:
            num = "1" + num[1:]
        street_norm = m.group("street").strip().casefold()
        key = ("street_name" if locale is None else f"street_name\x1f{locale}", street_norm)
        new_street = self._cache.get(key)
        if new_street is None:  # as _cached, without a closure per value
            new_street = self._cache[key] = self._pool_pick(
                "street_name", "street_name", street_norm, m.group("street"), locale
            )
        sec = m.group("sec") or ""
        if sec:
            stream = self.stream("unit", sec.casefold())
            sec = re.sub(r"\d", lambda _: stream.digit(), sec)
        return f"{num}{m.group('sep1')}{new_street}{sec}"

    def city(self, text: str) -> str:
        """A city of the job's locales (of the row's country when one was registered)."""
        return self._city(text, self._context_locale("city", text))

    def _city(self, text: str, locale: str | None) -> str:
        stripped = text.strip()
        norm = stripped.casefold()
        # the pick depends on the folded name, the locale and (with one) the script (memoised: cities repeat)
        key = (
            ("city_pick", norm)
            if locale is None
            else (f"city_pick\x1f{locale}\x1f{is_latin(stripped)}", norm)
        )
        picked = self._cache.get(key)
        if picked is None:
            picked = self._cache[key] = self._pool_pick("city", "city", norm, stripped, locale)
        return match_case(text, picked)

    def state(self, text: str) -> str:
        """A state: abbreviation for abbreviations, full name otherwise (of the row's country when
        one was registered and its locale lists states)."""
        return self._state(text, self._context_locale("state", text))

    def _state(self, text: str, locale: str | None) -> str:
        stripped = text.strip()
        abbreviated = stripped.isupper() and 2 <= len(stripped) <= 3
        if locale is not None:
            local_pool = _sorted_states((locale,), abbreviated)
            if local_pool:
                candidate = self._pick_from(local_pool, f"state\x1f{locale}", stripped.casefold(), stripped)
                return match_case(stripped, candidate) if abbreviated else candidate
        pool = _sorted_states(self.locales, abbreviated)
        if not pool:
            return self._pool_pick("state" if not abbreviated else "state_abbr", "state", stripped, stripped)
        for attempt in range(_MAX_ATTEMPTS):
            candidate = pool[
                (self._first_block("state", stripped.casefold(), str(attempt)) & _MASK_64) % len(pool)
            ]
            if candidate.casefold() != stripped.casefold():
                break
        return match_case(stripped, candidate) if abbreviated else candidate

    def address(self, text: str) -> str:
        """A full address; US-style ``street, city, ST zip`` is rebuilt from the part pseudonyms."""
        stripped = text.strip()
        locale = self._context_locale("address", stripped)
        m = _US_ADDRESS.match(stripped)
        if m:
            street, city, state = m.group("street"), m.group("city"), m.group("state")
            if locale is None:
                return (
                    f"{self.street(street)}{m.group('sep')}{self.city(city)}, "
                    f"{self.state(state)} {self.chars(m.group('zip'), 'postcode')}"
                )
            return (
                f"{self._street(street, self._context_locale('street', street) or locale)}{m.group('sep')}"
                f"{self._city(city, self._context_locale('city', city) or locale)}, "
                f"{self._state(state, self._context_locale('state', state) or locale)} "
                f"{self.chars(m.group('zip'), 'postcode')}"
            )
        candidate = self._pool_pick("address", "address", stripped.casefold(), stripped, locale)
        if "\n" not in stripped:
            candidate = candidate.replace("\n", ", ")
        return candidate

    # ------------------------------------------------------------------ dates
    def _offset_days(self, family: str, norm: str, min_days: int, max_days: int) -> int:
        lo, hi = int(min(min_days, max_days)), int(max(min_days, max_days))
        span = hi - lo + 1
        for attempt in range(_MAX_ATTEMPTS):
            days = lo + (self._first_block("date", family, norm, str(attempt)) & _MASK_64) % span
            if days != 0 or span == 1:
                return days
        return days

    def shift_date(self, value: Any, min_days: int, max_days: int, family: str = "date") -> Any:
        """Shift a date/datetime by a keyed number of days in ``[min_days, max_days]`` (never 0)."""
        if isinstance(value, np.datetime64):
            value = dt.datetime.fromisoformat(str(value.astype("datetime64[s]")))
        if isinstance(value, str):
            return self.shift_date_text(value, min_days, max_days, family)
        norm = value.isoformat()[:10]
        days = self._offset_days(family, norm, min_days, max_days)
        return value + dt.timedelta(days=days)

    def shift_date_text(self, text: str, min_days: int, max_days: int, family: str = "date") -> str:
        """Shift a date written as text; the output keeps the input's format."""
        stripped = text.strip()
        if len(stripped) == 10 and stripped[4] == "-" and stripped[7] == "-":
            try:
                day = dt.date.fromisoformat(stripped)
            except ValueError:
                pass
            else:
                days = self._offset_days(family, stripped, min_days, max_days)
                return (day + dt.timedelta(days=days)).isoformat()
        ordinal = _ORDINAL.search(stripped)
        core = stripped
        if ordinal:  # "3rd of March 1985" is parsed as "3 March 1985" and written back with a suffix
            core = re.sub(r"(?i)\bof\s+", "", stripped[: ordinal.end(1)] + stripped[ordinal.end() :])
        for fmt in date_formats_for(core):
            try:
                parsed = dt.datetime.strptime(core, fmt)
            except ValueError:
                continue
            days = self._offset_days(family, parsed.date().isoformat(), min_days, max_days)
            new = parsed + dt.timedelta(days=days)
            out = new.strftime(fmt)
            if re.search(r"(?<![\d:])\d(?![\d:])", core):  # "3/7/1985" stays unpadded
                out = re.sub(r"(?<!\d)0(\d)(?!\d)", r"\1", out)
            if ordinal:
                day = new.day
                suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
                out = re.sub(rf"(?<!\d)0?{day}(?!\d)", f"{day}{suffix}", out, count=1)
            return out
        return self.chars(text, family)


@lru_cache(maxsize=128)
def _sorted_states(locales: tuple[str, ...], abbreviated: bool) -> tuple[str, ...]:
    """The states (abbreviations or names) of ``locales``' lexicon, sorted (the draw order)."""
    lex = lexicon(locales)
    return tuple(sorted(lex.states_abbr if abbreviated else lex.states))


@lru_cache(maxsize=128)
def _context_pool(locales: tuple[str, ...], kind: str, sex: str | None, latin: bool) -> WeightedList:
    """Given names (of ``sex``) or surnames of ``locales`` merged; Latin-script ones only for a
    Latin-script original (empty when there are none: the caller uses the job's names)."""
    found = [w for w in (person_names(loc, kind, sex, latin) for loc in locales) if w]
    return _merge(found) if found else WeightedList((), ())


@lru_cache(maxsize=128)
def _latin_pool(method: str, locale: str) -> tuple[str, ...]:
    """:func:`faker_pool` without the values in other scripts (empty when all are)."""
    return tuple(v for v in faker_pool(method, locale) if is_latin(v))


@lru_cache(maxsize=64)
def faker_pool(method: str, locale: str) -> tuple[str, ...]:
    """``_POOL_SIZE`` outputs of Faker ``method`` for ``locale`` from a fixed seed (same in every job)."""
    fake = Faker(locale)
    func = None
    for name in (method, *_POOL_ALTERNATIVES.get(method, ())):
        try:
            func = getattr(fake, name)
            break
        except AttributeError:
            continue
    if func is None:  # this locale has no such provider: use en_US's
        return faker_pool(method, "en_US") if locale != "en_US" else ("",)
    fake.seed_instance(20240601)
    return tuple(dict.fromkeys(str(func()) for _ in range(_POOL_SIZE)))


#: Locale providers name some things differently (a Japanese "state" is a prefecture).
_POOL_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "state": ("administrative_unit", "province", "region", "prefecture", "state_name", "county"),
    "state_abbr": ("state", "administrative_unit", "province", "region", "prefecture"),
    "city": ("city_name", "town"),
    "street_name": ("street", "street_address"),
    "street_address": ("address",),
}


def tokens_of_name(text: str) -> Iterator[str]:
    """Name tokens (letters with inner apostrophes) of ``text``."""
    return (m.group(0) for m in _NAME_TOKEN.finditer(text))
