"""Constants and checks shared by detection and replacement (one place, so they cannot drift).

Date formats, checksums (Luhn, IBAN), card issuer ranges, the repair of card numbers damaged by
spreadsheets, name prefixes/suffixes and placeholder values.
"""

from __future__ import annotations

import datetime as dt
import re

#: Date layouts understood in structured cells and written back unchanged by the date pseudonym.
#: Day-first layouts come after month-first ones (``03/04/1985`` parses as 4 March, US style; the
#: pseudonym is written back in the same layout, so either reading gives a valid, shifted date).
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y.%m.%d",
    "%Y%m%d",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%d %B, %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%SZ",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
)

_DIRECTIVES = {
    "%Y": r"\d{4}",
    "%m": r"\d{1,2}",
    "%d": r"\d{1,2}",
    "%y": r"\d{2}",
    "%H": r"\d{1,2}",
    "%M": r"\d{1,2}",
    "%S": r"\d{1,2}",
    "%B": r"[A-Za-z]{3,9}",
    "%b": r"[A-Za-z]{3}\.?",
}


def _format_regex(fmt: str) -> re.Pattern[str]:
    parts = re.split(r"(%[A-Za-z])", fmt)
    return re.compile("".join(_DIRECTIVES.get(p, re.escape(p)) for p in parts) + r"\Z")


#: Each format with a regex of its shape: ``strptime`` (slow when it fails) runs only on a match.
_FORMAT_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((f, _format_regex(f)) for f in DATE_FORMATS)


def date_formats_for(text: str) -> list[str]:
    """The formats of :data:`DATE_FORMATS` whose shape ``text`` has (in order)."""
    if not 6 <= len(text) <= 25 or not text[:1].isalnum():
        return []
    return [fmt for fmt, shape in _FORMAT_SHAPES if shape.match(text)]


def parse_date(text: str) -> tuple[dt.datetime, str] | None:
    """``(datetime, format)`` for a date written in one of :data:`DATE_FORMATS`, else ``None``."""
    stripped = text.strip()
    for fmt in date_formats_for(stripped):
        try:
            return dt.datetime.strptime(stripped, fmt), fmt
        except ValueError:
            continue
    return None


#: A Luhn-doubled digit (``2d``, minus 9 above 9).
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` passes the Luhn checksum."""
    double = _LUHN_DOUBLE
    total = sum(map(int, digits[-1::-2])) + sum([double[d] for d in map(int, digits[-2::-2])])
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The Luhn check digit for ``payload`` (digits without the check digit)."""
    double = _LUHN_DOUBLE
    total = sum(map(int, payload[-2::-2])) + sum([double[d] for d in map(int, payload[-1::-2])])
    return str((10 - total % 10) % 10)


def iban_check_digits(country: str, bban: str) -> str:
    """ISO 13616 check digits for ``country`` + ``bban``."""
    rearranged = bban + country + "00"
    numeric = rearranged.upper().translate(_BASE36_DIGITS)
    if not numeric.isdigit():  # a character outside 0-9A-Z: the definition's error
        numeric = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


#: ``int(c, 36)`` of the letters A-Z, written as decimal digits (ISO 13616 letter values).
_BASE36_DIGITS = str.maketrans({chr(65 + i): str(10 + i) for i in range(26)})


def card_issuer_known(digits: str) -> bool:
    """True when ``digits`` has a card network's prefix and length (Visa, Mastercard incl. 2-series,
    Amex, Discover, Diners, JCB, UnionPay)."""
    n = len(digits)
    if not digits.isdigit() or n < 13:
        return False
    p2, p4 = int(digits[:2]), int(digits[:4])
    p3, p6 = int(digits[:3]), int(digits[:6])
    return (
        (digits[0] == "4" and n in (13, 16, 19))
        or ((51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16)
        or (p2 in (34, 37) and n == 15)
        or ((p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 622126 <= p6 <= 622925) and 16 <= n <= 19)
        or ((p2 in (36, 38, 39) or 300 <= p3 <= 305) and 14 <= n <= 19)
        or (3528 <= p4 <= 3589 and 16 <= n <= 19)
        or (p2 == 62 and 16 <= n <= 19)
    )


#: ``5.54563E+15``: a card number a spreadsheet wrote in scientific notation (12 to 19 digits).
SCI_CARD = re.compile(r"^\s*(\d)\.(\d{1,15})[eE]\+?(1[1-8])\s*$")
#: ``5545630000000000.0``: the same after a float round trip.
FLOAT_CARD = re.compile(r"^\s*(\d{12,19})\.0*\s*$")


def damaged_card_digits(text: str) -> str | None:
    """The digit string of a card number damaged by a spreadsheet, or ``None``.

    ``5.54563E+15`` -> ``5545630000000000`` (digits lost to the notation become zeros, as the
    spreadsheet would write them back); ``5545630000000000.0`` -> ``5545630000000000``.
    """
    m = SCI_CARD.match(text)
    if m:
        mantissa = m.group(1) + m.group(2)
        length = int(m.group(3)) + 1
        if len(mantissa) > length or not 12 <= length <= 19:
            return None
        return mantissa.ljust(length, "0")
    m = FLOAT_CARD.match(text)
    if m:
        return m.group(1)
    return None


NAME_PREFIXES = frozenset(
    {
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "rev", "fr", "herr", "frau", "hr",
        "mme", "mlle", "monsieur", "madame", "sr", "sra", "srta", "doña", "dona", "sig", "sig.ra",
        "signor", "signora", "dhr", "mevr", "pan", "pani",
    }
)  # fmt: skip
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "md", "phd", "dds", "dvm", "esq", "cpa"})

#: Cell values that stand for "no value" (never sampled, never searched for in text).
PLACEHOLDERS = frozenset(
    {
        "",
        "n/a",
        "na",
        "n.a.",
        "none",
        "null",
        "nil",
        "nan",
        "unknown",
        "-",
        "--",
        "?",
        "redacted",
        "tbd",
        "xxx",
        "#n/a",
        "not provided",
        "not available",
    }
)

#: Placeholders a pseudonym keeps as they are (they hold no PII; "na" and "nan" are also names).
NO_VALUE = frozenset(
    {
        "n/a",
        "n.a.",
        "unknown",
        "null",
        "none",
        "-",
        "--",
        "?",
        "redacted",
        "tbd",
        "#n/a",
        "not provided",
        "not available",
    }
)
