"""Whole-value recognisers: does this cell value look like entity E?

Three levels, used by column classification (:mod:`.columns`) and the free-text scanner:

* :meth:`ValueChecker.shape` - the layout (and the checksums we compute ourselves: Luhn, national
  identifiers, VIN). ``hinted`` relaxes it where the column name already says what the value is.
* :meth:`ValueChecker.validated` - presidio's recogniser confirms it (email, phone, SSN, card, IBAN,
  IP, URL), for columns classified from values alone.
* :meth:`ValueChecker.plausible` - could this still be the entity in a form we do not recognise (a
  non-US address, a card number a spreadsheet damaged, a password)? Used to fail closed: a column
  whose name says E is replaced when most values are plausible, even if few pass :meth:`shape`.
  It rules out only values that cannot hold E at all (no digit in a phone number, free prose in a
  city column).

:meth:`ValueChecker.failure_reason` says in words (never with values) why a column's values failed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .formats import (
    NAME_PREFIXES,
    NAME_SUFFIXES,
    card_issuer_known,
    damaged_card_digits,
    luhn_valid,
    parse_date,
)
from .lexicons import Lexicon
from .national_ids import national_id_kind
from .presidio_backend import presidio_full_match
from .text_patterns import world_first_names

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE_SHAPE = re.compile(r"^\+?[\d\s().\-/]{7,}((\s*(x|ext\.?|extension)\s*)\d{1,6})?$", re.I)
SSN_SHAPE = re.compile(r"^\d{3}([- ])\d{2}\1\d{4}$")
_DIGITS9 = re.compile(r"^\d{9}$")
CARD_SHAPE = re.compile(r"^\d(?:[ -]?\d){11,18}$")
IBAN_SHAPE = re.compile(r"^[A-Za-z]{2}\d{2}(?:\s?[A-Za-z0-9]){4,30}$")
_IP_SHAPE = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")
URL_SHAPE = re.compile(r"^((https?|ftp)://[^\s/$.?#][^\s]*|www\.[^\s]+\.[^\s]{2,})$", re.I)
POSTCODE_SHAPES = (
    re.compile(r"^\d{5}(-\d{4})?$"),  # US, DE, FR, ES, IT ...
    re.compile(r"^\d{4}$"),  # AT, CH, AU, BE, DK, NO ...
    re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$", re.I),  # UK
    re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$", re.I),  # CA
    re.compile(r"^\d{3}-?\d{4}$"),  # JP
    re.compile(r"^\d{2}-\d{3}$"),  # PL
    re.compile(r"^\d{4} ?[A-Z]{2}$", re.I),  # NL
    re.compile(r"^\d{6}$"),  # IN, CN, RU, SG
    re.compile(r"^\d{5}-?\d{3}$"),  # BR
    re.compile(r"^\d{3} ?\d{2}$"),  # SE, CZ, SK, GR
    re.compile(r"^\d{4}-\d{3}$"),  # PT
    re.compile(r"^[A-Z]\d{2} ?[A-Z\d]{4}$", re.I),  # IE (Eircode)
    re.compile(r"^(CH|D|A|F|I|L|NL|B)-\d{4,5}$", re.I),  # postal prefixes
)
EIN_SHAPE = re.compile(r"^\d{2}-\d{7}$")
ID_SHAPE = re.compile(r"^(?=(?:.*\d){4})[A-Za-z0-9][A-Za-z0-9 ./-]{3,24}$")
NAME_PART = re.compile(r"^[^\W\d_][^\W\d_'’.-]*(?:['’-][^\W\d_]+)*\.?$")
WORDS_ONLY = re.compile(r"^[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*\.?$")
USER_SHAPE = re.compile(r"^(?=.*[^\W\d_])[\w.\-+]{2,40}$")
DOMAIN_SHAPE = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\.?$", re.I)
MAC_SHAPE = re.compile(
    r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$"
)
UUID_SHAPE = re.compile(
    r"^\{?[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}\}?$"
)
HEX_ID = re.compile(r"^(?=.*[a-fA-F])(?=.*\d)[0-9A-Fa-f]{12,64}$")
IMEI_SHAPE = re.compile(r"^\d{2}[- ]?\d{6}[- ]?\d{6}[- ]?\d$")
VIN_SHAPE = re.compile(r"^(?=.*\d)(?=.*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}$", re.I)
PLATE_SHAPE = re.compile(r"^(?=.*\d)[^\W_][\w \-·.]{1,12}$")
PASSPORT_SHAPE = re.compile(r"^(?=(?:.*\d){3})[A-Z0-9<]{5,12}$", re.I)
ACCOUNT_SHAPE = re.compile(r"^(?=(?:.*\d){6})[A-Z0-9][A-Z0-9 .\-/]{5,40}$", re.I)
COORD_PAIR = re.compile(r"^\(?\s*-?\d{1,3}\.\d+\s*[,;/ ]\s*-?\d{1,3}\.\d+\s*\)?$")
COORD_DMS = re.compile(r"^\d{1,3}°\s*\d{1,2}['′]\s*(\d{1,2}(\.\d+)?[\"″]\s*)?[NSEW]$", re.I)
_EXPIRY_SHAPES = (
    re.compile(r"^(0?[1-9]|1[0-2])\s*[/\-.]\s*(\d{2}|\d{4})$"),
    re.compile(r"^(\d{4})\s*[/\-.]\s*(0?[1-9]|1[0-2])$"),
    re.compile(r"^(0[1-9]|1[0-2])(\d{2})$"),
    re.compile(r"^[A-Za-z]{3,9}[ \-/]?'?\d{2,4}$"),
)
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")

#: Common top-level domains (value-only detection of host names needs a real suffix).
TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "io",
        "co",
        "ai",
        "app",
        "dev",
        "me",
        "tv",
        "us",
        "uk",
        "ca",
        "au",
        "de",
        "fr",
        "es",
        "it",
        "nl",
        "be",
        "ch",
        "at",
        "se",
        "no",
        "dk",
        "fi",
        "pl",
        "pt",
        "ie",
        "cz",
        "sk",
        "hu",
        "ro",
        "bg",
        "gr",
        "tr",
        "ru",
        "ua",
        "in",
        "jp",
        "cn",
        "kr",
        "br",
        "mx",
        "ar",
        "cl",
        "za",
        "nz",
        "sg",
        "hk",
        "tw",
        "my",
        "id",
        "ph",
        "vn",
        "th",
        "il",
        "ae",
        "sa",
        "eu",
        "online",
        "site",
        "shop",
        "store",
        "tech",
        "cloud",
        "xyz",
        "top",
        "club",
        "blog",
        "agency",
        "design",
        "studio",
        "email",
    ]
)


def _to_float(text: str) -> float | None:
    try:
        return float(text.replace(",", ".")) if re.fullmatch(r"-?\d{1,3}([.,]\d+)?", text) else None
    except ValueError:
        return None


@dataclass
class ValueChecker:
    """Whole-value recognisers for one job (lexicons of its locales)."""

    lex: Lexicon

    # ------------------------------------------------------------------ strict shapes
    def shape(self, entity: str, text: str, hinted: bool) -> bool:  # noqa: C901 - one branch per entity
        """The value's layout (and the checksums we compute ourselves)."""
        if entity == "email":
            return bool(EMAIL_SHAPE.match(text))
        if entity in ("phone_number", "fax_number"):
            if not PHONE_SHAPE.match(text):
                return False
            main = re.split(r"(?i)\s*(x|ext)", text)[0]
            n = sum(c.isdigit() for c in main)
            if not 7 <= n <= 15:
                return False
            # Bare digit strings (ids, amounts) are phone numbers only when the column name says so.
            return hinted or bool(re.search(r"[\s().+-]", main))
        if entity == "ssn":
            return bool(SSN_SHAPE.match(text)) or (hinted and bool(_DIGITS9.match(text)))
        if entity == "credit_debit_card":
            if not CARD_SHAPE.match(text):
                return False
            digits = re.sub(r"\D", "", text)
            return 12 <= len(digits) <= 19 and luhn_valid(digits)
        if entity == "iban":
            return bool(IBAN_SHAPE.match(text))
        if entity == "ip_address":
            if not _IP_SHAPE.match(text):
                return False
            try:
                ipaddress.ip_address(text)
            except ValueError:
                return False
            return True
        if entity == "url":
            return bool(URL_SHAPE.match(text))
        if entity == "postcode":
            return any(p.match(text) for p in POSTCODE_SHAPES)
        if entity == "date_of_birth":
            parsed = parse_date(text[:19])
            return parsed is not None and 1900 <= parsed[0].year <= dt.date.today().year
        if entity == "tax_id":
            return bool(
                EIN_SHAPE.match(text)
                or SSN_SHAPE.match(text)
                or national_id_kind(text, strict=not hinted)
                or (hinted and ID_SHAPE.match(text))
            )
        if entity == "national_id":
            return bool(national_id_kind(text, strict=not hinted)) or (hinted and bool(ID_SHAPE.match(text)))
        if entity == "street_address":
            return self.is_street(text)
        if entity == "address":
            return self.is_full_address(text)
        if entity == "name":
            return self.is_full_name(text, hinted)
        if entity == "first_name":
            return self.is_single_name(text, self.lex.first_name_set, hinted)
        if entity == "last_name":
            return self.is_single_name(text, self.lex.last_name_set, hinted)
        if entity == "city":
            return hinted and bool(WORDS_ONLY.match(text)) and len(text) <= 60
        if entity == "state":
            return (
                text in self.lex.states
                or text.upper() in self.lex.states_abbr
                or text.title() in self.lex.states
            )
        if entity == "user_name":
            return hinted and bool(USER_SHAPE.match(text))
        if entity == "password":
            return hinted and 3 <= len(text) <= 256 and "\n" not in text
        if entity == "api_key":
            return hinted and 8 <= len(text) <= 2048 and not re.search(r"\s", text)
        if entity == "security_answer":
            return hinted and 1 <= len(text.split()) <= 8 and len(text) <= 80
        if entity == "cvv":
            return bool(re.fullmatch(r"\d{3,4}", text)) or (hinted and bool(re.fullmatch(r"\d{1,4}", text)))
        if entity == "card_expiry":
            if any(p.match(text) for p in _EXPIRY_SHAPES):
                return True
            return hinted and (parse_date(text) is not None or bool(re.fullmatch(r"\d{3,4}", text)))
        if entity == "domain_name":
            if not DOMAIN_SHAPE.match(text):
                return False
            return hinted or text.rstrip(".").rsplit(".", 1)[-1].lower() in TLDS
        if entity == "license_plate":
            return (
                hinted
                and len(text) <= 20
                and bool(_HAS_DIGIT.search(text))
                and bool(PLATE_SHAPE.match(text) or _HAS_LETTER.search(text))
            )
        if entity == "vehicle_identifier":
            return bool(VIN_SHAPE.match(text))
        if entity == "drivers_license":
            return hinted and bool(ID_SHAPE.match(text) or national_id_kind(text))
        if entity == "passport_number":
            return hinted and bool(PASSPORT_SHAPE.match(text.replace(" ", "")))
        if entity == "account_number":
            return hinted and bool(ACCOUNT_SHAPE.match(text) or IBAN_SHAPE.match(text))
        if entity == "device_identifier":
            if MAC_SHAPE.match(text) or UUID_SHAPE.match(text):
                return True
            if IMEI_SHAPE.match(text) and luhn_valid(re.sub(r"\D", "", text)):
                return True
            return hinted and bool(
                HEX_ID.match(text) or re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z:\-_.]{7,63}", text)
            )
        if entity == "coordinate":
            value = _to_float(text)
            if value is not None:
                return -180.0 <= value <= 180.0 and ("." in text or "," in text)
            return bool(COORD_PAIR.match(text) or COORD_DMS.match(text))
        if entity == "unique_identifier":
            return is_identifier_token(text)
        return False

    def validated(self, entity: str, text: str) -> bool:
        """Full check: presidio's recogniser (with its checksum) where it has one."""
        if entity in ("phone_number", "fax_number"):
            main = re.split(r"(?i)\s*(x|ext)", text)[0].strip()
            return presidio_full_match("phone_number", main)
        if entity == "tax_id" and SSN_SHAPE.match(text) and text.startswith("9"):
            return presidio_full_match("tax_id", text)
        if entity == "credit_debit_card":
            # presidio's card patterns predate Mastercard's 2-series; accept a known issuer prefix too.
            return presidio_full_match(entity, text) or card_issuer_known(re.sub(r"\D", "", text))
        if entity in ("email", "ssn", "iban", "ip_address", "url"):
            return presidio_full_match(entity, text)
        return True

    # ------------------------------------------------------------------ fail closed
    def plausible(self, entity: str, text: str) -> bool:  # noqa: C901 - one branch per entity
        """Could ``text`` hold ``entity`` in a layout we do not recognise? (Used only under a name hint.)"""
        n = len(text)
        digits = sum(c.isdigit() for c in text)
        letters = bool(_HAS_LETTER.search(text))
        words = len(text.split())
        if entity in ("phone_number", "fax_number"):
            return 5 <= digits <= 20 and n <= 40
        if entity == "credit_debit_card":
            return (
                damaged_card_digits(text) is not None
                or (12 <= digits <= 19 and n <= 30)
                or (digits >= 8 and bool(re.search(r"[*xX#•]{4}", text)))
            )
        if entity in ("ssn", "national_id", "tax_id", "passport_number", "drivers_license", "account_number"):
            return digits >= 2 and n <= 40 and words <= 5
        if entity in ("license_plate", "vehicle_identifier"):
            return (digits >= 1 or n >= 5) and n <= 30 and words <= 4
        if entity == "cvv":
            return 1 <= digits <= 4 and n <= 6
        if entity == "card_expiry":
            return 3 <= digits <= 8 and n <= 20
        if entity == "iban":
            return digits >= 6 and n <= 50
        if entity == "email":
            return n <= 254 and ("@" in text or (letters and words == 1))
        if entity in ("first_name", "last_name"):
            return letters and n <= 60 and words <= 4
        if entity == "name":
            return letters and n <= 100 and words <= 8
        if entity in ("street_address", "address"):
            return letters and n <= 300 and words <= 30
        if entity == "city":
            return letters and n <= 80 and words <= 6
        if entity == "postcode":
            return digits >= 1 and n <= 12
        if entity == "date_of_birth":
            return parse_date(text) is not None or (4 <= digits <= 14 and n <= 30)
        if entity in ("url", "domain_name"):
            return ("." in text or "/" in text) and words == 1
        if entity == "ip_address":
            return digits >= 2 and ("." in text or ":" in text) and words == 1
        if entity == "user_name":
            return 1 <= n <= 64 and words <= 3
        if entity in ("password", "api_key"):
            return 1 <= n <= 4096
        if entity == "security_answer":
            return n <= 120 and words <= 15
        if entity == "device_identifier":
            return n >= 6 and words <= 2
        if entity == "coordinate":
            return digits >= 2 and n <= 40
        return False

    def failure_reason(self, entity: str, values: Sequence[str]) -> str:
        """Why the sampled values fail ``entity``'s check, in words (never values)."""
        failing = [v for v in values if not self.shape(entity, v, True)]
        if not failing:
            return "values pass the check"
        if entity == "credit_debit_card":
            damaged = sum(damaged_card_digits(v) is not None for v in failing)
            if damaged:
                return f"{damaged} of {len(failing)} failing values are card numbers damaged by a spreadsheet (scientific notation or '.0' floats)"
            return "card numbers fail the Luhn checksum or have an unusual length"
        if entity in ("street_address", "address"):
            return "addresses in a layout the street/address recognisers do not know (e.g. non-US)"
        if entity in ("phone_number", "fax_number"):
            return "phone numbers in an unrecognised layout"
        if entity == "date_of_birth":
            return "dates in an unrecognised format"
        if entity in ("first_name", "last_name", "name"):
            return "names with unusual characters or word counts"
        return f"values do not have the expected {entity} layout"

    # ------------------------------------------------------------------ places and persons
    def is_street(self, text: str) -> bool:
        """``12 Oak Street``, ``4 Main St. Apt. 5``, ``Hauptstraße 12a``, ``70, rue de la Paix``."""
        m = re.match(
            r"^\d{1,6}[A-Za-z]?,?\s+(?P<body>[^\d,\n]+?)(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*[\w-]+)?$",
            text,
        )
        if m:
            body = m.group("body").split()
            return body[-1].rstrip(".").casefold() in self.lex.street_suffixes or (
                body[0].rstrip(".").casefold() in self.lex.street_suffixes
            )
        if re.match(
            r"^[^\W\d_][\w .'-]*(stra(ss|ß)e|str\.|weg|gasse|platz|allee|straat|laan|gracht|plein|vej|gatan|vägen|veien)\s*\d+\s*[a-zA-Z]?([-/]\d+[a-z]?)?$",
            text,
            re.I,
        ):
            return True
        m = re.match(
            r"^(?P<lead>[^\W\d_]+\.?)\s+[^\d,\n]{2,60}?,?\s+\d{1,5}\s*[a-zA-Z]?([-/ ]\d+[a-zA-Z]?)?(\s*,.*)?$",
            text,
        )
        return bool(m) and m.group("lead").rstrip(".").casefold() in self.lex.street_suffixes

    def is_full_address(self, text: str) -> bool:
        """A street line followed by city/state/postcode on the same or the next line."""
        parts = [p.strip() for p in re.split(r"[\n,]", text) if p.strip()]
        if len(parts) < 2:
            return False
        has_code = any(
            re.search(
                r"\b(\d{4,6}(-\d{3,4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|\d{2}-\d{3})\b",
                p,
            )
            for p in parts[1:]
        )
        return has_code and (
            self.is_street(parts[0])
            or bool(re.match(r"^\d{1,6}\s", parts[0]))
            or self.is_street(", ".join(parts[:2]))
        )

    def is_full_name(self, text: str, hinted: bool) -> bool:
        tokens = text.replace(",", " ").split()
        core = [t for t in tokens if t.casefold().rstrip(".") not in NAME_PREFIXES | NAME_SUFFIXES]
        if not 2 <= len(core) <= 4 or not all(NAME_PART.match(t) for t in core):
            return False
        if not all(t[0].isupper() for t in core) and not hinted:
            return False
        if hinted:
            return True
        first, last = core[0].casefold(), core[-1].casefold().rstrip(".")
        if "," in text:  # "Smith, John"
            first, last = core[1].casefold(), core[0].casefold()
        return (
            first in self.lex.first_name_set
            or (last in self.lex.last_name_set and len(core) >= 2)
            or first in world_first_names()
        )

    def is_single_name(self, text: str, lexicon_set: frozenset[str], hinted: bool) -> bool:
        tokens = text.split()
        if not 1 <= len(tokens) <= 3 or not all(NAME_PART.match(t) for t in tokens):
            return False
        if hinted:
            return True
        return all(t.casefold() in lexicon_set for t in re.split(r"[\s-]", text) if t)


_IDENTIFIER = re.compile(
    r"^(?=.*\d)[^\s]{4,80}$|^(?=.*[A-Z].*[a-z]|.*[a-z].*[A-Z])(?=.*\d)[A-Za-z0-9+/=_\-]{12,}$"
)
_DECIMAL = re.compile(
    r"^[-+]?\d{1,3}([.,']\d{3})*([.,]\d+)?$|^[-+]?\d+[.,]\d+$|^[-+]?\d+(\.\d+)?[eE][-+]?\d+$"
    r"|^[$€£¥]-?\d[\d,.]*$|^-?\d[\d,.]*(%|€|\$)$"
)
#: Timestamps and times in layouts :data:`.DATE_FORMATS` does not list (fractions, zones, ``T``).
_DATETIME = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
    r"|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}([T ]\d{1,2}:\d{2}(:\d{2})?)?$|^\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?$"
    r"|^\d{8}T\d{6}Z?$|^1\d{9}(\.\d+)?$|^1\d{12}$"
)


def is_identifier_token(text: str) -> bool:
    """A code, not words: one token of 4-80 characters with a digit (``C-10293``, ``a3f9...``),
    not an amount, a date, a time or an epoch timestamp (10 or 13 digits)."""
    if not _IDENTIFIER.match(text) or _DECIMAL.match(text) or _DATETIME.match(text):
        return False
    return parse_date(text) is None
