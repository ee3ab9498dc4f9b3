"""National identifiers with their published layouts and check digits, by country.

:func:`national_id_kind` names the kind of a value (``"uk_nino"``, ``"br_cpf"`` ...) when it has
that kind's layout and valid check digits, else ``None``. Covered: US SSN, UK National Insurance
number, Canadian SIN, Australian TFN, Indian Aadhaar and PAN, Brazilian CPF, Japanese My Number,
German Steuer-ID, French NIR, Spanish DNI/NIE, Italian codice fiscale, Dutch BSN, Polish PESEL,
Swedish personnummer, Belgian national number, Portuguese NIF, Irish PPS, Swiss AHV, Danish CPR,
Finnish HETU. Digit-only kinds are tried only in the layouts people write them in (grouped as the
country writes them, or bare), so a random number rarely passes (each check digit lets about one
in ten through).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .formats import luhn_valid

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """True when ``digits`` passes the Verhoeff check (Aadhaar)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def _weighted_mod11(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11


def _us_ssn(text: str) -> bool:
    m = re.fullmatch(r"(\d{3})([- ]?)(\d{2})\2(\d{4})", text)
    if not m:
        return False
    area, group, serial = m.group(1), m.group(3), m.group(4)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _uk_nino(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    m = re.fullmatch(r"([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])(\d{6})([A-D])", compact)
    return bool(m) and m.group(1) not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")


def _ca_sin(text: str) -> bool:
    if not re.fullmatch(r"\d{3}([- ]?)\d{3}\1\d{3}", text):
        return False
    return luhn_valid(re.sub(r"\D", "", text))


def _au_tfn(text: str) -> bool:
    if not re.fullmatch(r"\d{3}([- ]?)\d{3}\1\d{2,3}", text):
        return False
    digits = re.sub(r"\D", "", text)
    weights = (1, 4, 3, 7, 5, 8, 6, 9, 10) if len(digits) == 9 else (10, 7, 8, 4, 6, 3, 5, 1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def _in_aadhaar(text: str) -> bool:
    if not re.fullmatch(r"\d{4}([- ]?)\d{4}\1\d{4}", text):
        return False
    digits = re.sub(r"\D", "", text)
    return digits[0] not in "01" and verhoeff_valid(digits)


def _in_pan(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]", text.upper()))


def _br_cpf(text: str) -> bool:
    if not re.fullmatch(r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}", text):
        return False
    digits = [int(c) for c in re.sub(r"\D", "", text)]
    if len(set(digits)) == 1:
        return False
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits[:size], range(size + 1, 1, -1), strict=True))
        if (total * 10 % 11) % 10 != digits[size]:
            return False
    return True


def _jp_my_number(text: str) -> bool:
    if not re.fullmatch(r"\d{4}([- ]?)\d{4}\1\d{4}", text):
        return False
    digits = re.sub(r"\D", "", text)
    total = 0
    for n in range(1, 12):
        q = n + 1 if n <= 6 else n - 5
        total += int(digits[11 - n]) * q
    r = total % 11
    return int(digits[11]) == (0 if r <= 1 else 11 - r)


def _de_steuer_id(text: str) -> bool:
    if not re.fullmatch(r"\d{2} ?\d{3} ?\d{3} ?\d{3}", text):
        return False
    digits = re.sub(r"\D", "", text)
    if digits[0] == "0":
        return False
    product = 10
    for ch in digits[:10]:
        total = (int(ch) + product) % 10 or 10
        product = (total * 2) % 11
    return (11 - product) % 10 == int(digits[10])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _es_dni(text: str) -> bool:
    m = re.fullmatch(r"([XYZ]?)(\d{7,8})[- ]?([A-Z])", text.upper())
    if not m:
        return False
    prefix = {"": "", "X": "0", "Y": "1", "Z": "2"}[m.group(1)]
    number = int(prefix + m.group(2))
    return (len(m.group(2)) == 8 or bool(prefix)) and _DNI_LETTERS[number % 23] == m.group(3)


def _fr_nir(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    m = re.fullmatch(r"([12]\d{4}(?:\d{2}|2A|2B)\d{6})(\d{2})", compact)
    if not m:
        return False
    body = m.group(1).replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == int(m.group(2))


_CF_ODD = {
    **{str(d): v for d, v in zip(range(10), (1, 0, 5, 7, 9, 13, 15, 17, 19, 21), strict=True)},
    **dict(
        zip(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23),
            strict=True,
        )
    ),
}


def _it_codice_fiscale(text: str) -> bool:
    cf = text.replace(" ", "").upper()
    if not re.fullmatch(
        r"[A-Z]{6}[\dLMNPQRSTUV]{2}[A-EHLMPRST][\dLMNPQRSTUV]{2}[A-Z][\dLMNPQRSTUV]{3}[A-Z]", cf
    ):
        return False
    total = 0
    for i, ch in enumerate(cf[:15]):
        if i % 2 == 0:
            total += _CF_ODD[ch]
        else:
            total += int(ch) if ch.isdigit() else ord(ch) - 65
    return chr(65 + total % 26) == cf[15]


def _nl_bsn(text: str) -> bool:
    if not re.fullmatch(r"\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3}[ .-]\d{3}[ .-]\d{3}", text):
        return False
    digits = re.sub(r"\D", "", text)
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0 and int(digits) > 0


def _pl_pesel(text: str) -> bool:
    if not re.fullmatch(r"\d{11}", text):
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(int(d) * w for d, w in zip(text, weights, strict=False)) % 10) % 10
    month = int(text[2:4]) % 20
    return check == int(text[10]) and 1 <= month <= 12 and 1 <= int(text[4:6]) <= 31


def _se_personnummer(text: str) -> bool:
    m = re.fullmatch(r"(?:19|20)?(\d{6})[-+]?(\d{4})", text)
    if not m:
        return False
    digits = m.group(1) + m.group(2)
    return 1 <= int(digits[2:4]) <= 12 and 1 <= int(digits[4:6]) % 60 <= 31 and luhn_valid(digits)


def _be_national_number(text: str) -> bool:
    if not re.fullmatch(r"\d{2}\.?\d{2}\.?\d{2}[-. ]?\d{3}[-. ]?\d{2}", text):
        return False
    digits = re.sub(r"\D", "", text)
    body, check = int(digits[:9]), int(digits[9:])
    return 97 - body % 97 == check or 97 - int("2" + digits[:9]) % 97 == check


def _pt_nif(text: str) -> bool:
    if not re.fullmatch(r"[1-35-9]\d{8}", text):
        return False
    r = sum(int(d) * w for d, w in zip(text[:8], range(9, 1, -1), strict=True)) % 11
    return int(text[8]) == (0 if r < 2 else 11 - r)


def _ie_pps(text: str) -> bool:
    m = re.fullmatch(r"(\d{7})([A-W])([A-IW]?)", text.replace(" ", "").upper())
    if not m:
        return False
    total = sum(int(d) * w for d, w in zip(m.group(1), range(8, 1, -1), strict=True))
    if m.group(3):
        total += (ord(m.group(3)) - 64) % 23 * 9 if m.group(3) != "W" else 0
    return "WABCDEFGHIJKLMNOPQRSTUV"[total % 23] == m.group(2)


def _ch_ahv(text: str) -> bool:
    if not re.fullmatch(r"756\.?\d{4}\.?\d{4}\.?\d{2}", text):
        return False
    digits = re.sub(r"\D", "", text)
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def _dk_cpr(text: str) -> bool:
    m = re.fullmatch(r"(\d{2})(\d{2})(\d{2})-(\d{4})", text)
    return bool(m) and 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12


def _fi_hetu(text: str) -> bool:
    m = re.fullmatch(r"(\d{6})[-+A-FU-Y](\d{3})([0-9A-Y])", text.upper())
    if not m:
        return False
    return "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(m.group(1) + m.group(2)) % 31] == m.group(3)


#: Kind name -> validator, most distinctive first.
KINDS: dict[str, Callable[[str], bool]] = {
    "it_codice_fiscale": _it_codice_fiscale,
    "uk_nino": _uk_nino,
    "in_pan": _in_pan,
    "es_dni": _es_dni,
    "fr_nir": _fr_nir,
    "ch_ahv": _ch_ahv,
    "br_cpf": _br_cpf,
    "fi_hetu": _fi_hetu,
    "ie_pps": _ie_pps,
    "se_personnummer": _se_personnummer,
    "dk_cpr": _dk_cpr,
    "be_national_number": _be_national_number,
    "in_aadhaar": _in_aadhaar,
    "jp_my_number": _jp_my_number,
    "de_steuer_id": _de_steuer_id,
    "pl_pesel": _pl_pesel,
    "us_ssn": _us_ssn,
    "ca_sin": _ca_sin,
    "au_tfn": _au_tfn,
    "nl_bsn": _nl_bsn,
    "pt_nif": _pt_nif,
}

_QUICK = re.compile(r"^[0-9A-Za-z][0-9A-Za-z .+-]{7,22}$")

#: Letters and digits each kind's layout has (its validator accepts no other count): a value is
#: checked only against the kinds of its count.
_ALNUM_COUNTS: dict[str, frozenset[int]] = {
    "it_codice_fiscale": frozenset({16}),
    "uk_nino": frozenset({9}),
    "in_pan": frozenset({10}),
    "es_dni": frozenset({8, 9, 10}),
    "fr_nir": frozenset({15}),
    "ch_ahv": frozenset({13}),
    "br_cpf": frozenset({11}),
    "fi_hetu": frozenset({10, 11}),
    "ie_pps": frozenset({8, 9}),
    "se_personnummer": frozenset({10, 12}),
    "dk_cpr": frozenset({10}),
    "be_national_number": frozenset({11}),
    "in_aadhaar": frozenset({12}),
    "jp_my_number": frozenset({12}),
    "de_steuer_id": frozenset({11}),
    "pl_pesel": frozenset({11}),
    "us_ssn": frozenset({9}),
    "ca_sin": frozenset({9}),
    "au_tfn": frozenset({8, 9}),
    "nl_bsn": frozenset({9}),
    "pt_nif": frozenset({9}),
}
_KINDS_BY_COUNT: dict[int, tuple[tuple[str, Callable[[str], bool]], ...]] = {}


#: Kinds that accept most numbers of their length (no check digit): only with separators when strict.
_LOOSE = frozenset({"us_ssn", "dk_cpr"})


def national_id_kind(text: str, strict: bool = False) -> str | None:
    """The kind of national identifier ``text`` is (layout and check digits), else ``None``.

    ``strict`` (detection from values alone): kinds without a check digit count only when written
    with their separators (``123-45-6789``, not ``123456789``).
    """
    stripped = text.strip()
    if not _QUICK.match(stripped) or sum(c.isdigit() for c in stripped) < 4:
        return None
    count = sum(c.isalnum() for c in stripped)
    kinds = _KINDS_BY_COUNT.get(count)
    if kinds is None:  # KINDS in their order, those whose layout has ``count`` letters and digits
        kinds = tuple((k, c) for k, c in KINDS.items() if count in _ALNUM_COUNTS.get(k, (count,)))
        _KINDS_BY_COUNT[count] = kinds
    for kind, check in kinds:
        if strict and kind in _LOOSE and stripped.isdigit():
            continue
        try:
            if check(stripped):
                return kind
        except (ValueError, IndexError, KeyError):
            continue
    return None


def _pour(layout: str, digits: str) -> str:
    it = iter(digits)
    return "".join(next(it) if c.isdigit() else c for c in layout)


def fix_check_digits(kind: str, text: str) -> str | None:
    """``text`` (a re-drawn value of ``kind``, same layout) with its check characters recomputed, for
    the kinds whose check has more than ten outcomes; ``None`` for the others (or a bad layout)."""
    stripped = text.strip()
    digits = re.sub(r"\D", "", stripped)
    if kind == "br_cpf" and len(digits) == 11:
        base = [int(c) for c in digits[:9]]
        for size in (9, 10):
            total = sum(d * w for d, w in zip(base[:size], range(size + 1, 1, -1), strict=True))
            base.append((total * 10 % 11) % 10)
        return _pour(stripped, "".join(map(str, base)))
    if kind == "es_dni":
        m = re.fullmatch(r"([XYZxyz]?)(\d{7,8})([- ]?)([A-Za-z])", stripped)
        if not m:
            return None
        prefix = {"": "", "X": "0", "Y": "1", "Z": "2"}[m.group(1).upper()]
        letter = _DNI_LETTERS[int(prefix + m.group(2)) % 23]
        return m.group(1) + m.group(2) + m.group(3) + (letter if m.group(4).isupper() else letter.lower())
    if kind == "fr_nir" and len(digits) >= 15:
        compact = stripped.replace(" ", "")
        body = compact[:13].upper().replace("2A", "19").replace("2B", "18")
        if not body.isdigit():
            return None
        key = f"{97 - int(body) % 97:02d}"
        return _pour(stripped, digits[:-2] + key) if compact[:13].isdigit() else None
    if kind == "it_codice_fiscale":
        cf = stripped.upper()
        if len(cf) != 16:
            return None
        total = 0
        for i, ch in enumerate(cf[:15]):
            if i % 2 == 0:
                total += _CF_ODD.get(ch, 0)
            else:
                total += int(ch) if ch.isdigit() else ord(ch) - 65
        return stripped[:15] + chr(65 + total % 26)
    return None
