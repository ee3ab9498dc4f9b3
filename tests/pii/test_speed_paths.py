"""The fast paths of the pseudonymizer give what the plain algorithms give (consistency included).

Speed itself is measured by ``make bench-pii``, never here.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string

import numpy as np
import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import replace_pii
from safe_synthesizer.pii.formats import luhn_check_digit, luhn_valid
from safe_synthesizer.pii.national_ids import KINDS, national_id_kind
from safe_synthesizer.pii.pseudonym import _MAX_ATTEMPTS, KeyedStream, Pseudonymizer


def test_keyed_stream_is_hmac_sha256_in_counter_mode() -> None:
    message = b"chars\x1fphone\x1f555-0143\x1f0"
    blocks = [
        int.from_bytes(hmac.digest(KEY, message + i.to_bytes(4, "big"), hashlib.sha256), "big")
        for i in range(2)
    ]
    for key in (KEY, Pseudonymizer(KEY)._mac):  # raw key, or the keyed object the pseudonymizer copies
        stream = KeyedStream(key, message)
        draws = [stream.below(1 << 63) for _ in range(4)]  # 64 bits of budget each
        assert draws[:3] == [(blocks[0] >> (63 * i)) & ((1 << 63) - 1) for i in range(3)]
        # 64 bits left: the next draw appends the second block below the rest
        assert draws[3] == blocks[1] & ((1 << 63) - 1)


def _reference_chars(p: Pseudonymizer, text: str, family: str) -> str:
    """The character re-draw written out character by character (the general path)."""
    n_digits = sum(c.isdigit() for c in text)
    n_letters = sum(c.isalpha() for c in text)
    if not n_digits and not n_letters:
        return text
    norm, folded, candidate = text.strip().casefold(), text.casefold(), text
    for attempt in range(_MAX_ATTEMPTS):
        stream = p.stream("chars", family, norm, str(attempt))
        digits, letters = stream.digits(n_digits), stream.letters(n_letters)
        out, di, li = [], 0, 0
        for ch in text:
            if ch.isdigit():
                out.append(digits[di])
                di += 1
            elif ch.isalpha():
                out.append(letters[li].upper() if ch.isupper() else letters[li])
                li += 1
            else:
                out.append(ch)
        candidate = "".join(out)
        if candidate.casefold() != folded:
            return candidate
    return candidate


def _random_ascii(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits * 2 + " -./{}()#%"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))


def test_ascii_character_redraw_matches_the_general_path() -> None:
    p = Pseudonymizer(KEY)
    rng = random.Random(7)
    texts = [_random_ascii(rng) for _ in range(500)] + ["{0}", "}{", "AB-12 {x}", "---", "7"]
    for text in texts:
        for family in ("postcode", "passport_number"):
            assert p.chars(text, family) == _reference_chars(p, text, family), text


def test_digit_pour_keeps_layout_and_braces() -> None:
    p = Pseudonymizer(KEY)
    assert p._pour("(212) {555}-0143", "9876543210") == "(987) {654}-3210"
    assert p._pour("٣٤-12", "5678") == "56-78"  # other scripts' digits: the general path


def _reference_kind(text: str, strict: bool) -> str | None:
    """National-ID kind by trying every validator in order (no pre-selection by length)."""
    stripped = text.strip()
    if sum(c.isdigit() for c in stripped) < 4 or not 8 <= len(stripped) <= 23:
        return None
    if not all(c.isalnum() and c.isascii() or c in " .+-" for c in stripped) or not stripped[0].isalnum():
        return None
    for kind, check in KINDS.items():
        if strict and kind in ("us_ssn", "dk_cpr") and stripped.isdigit():
            continue
        try:
            if check(stripped):
                return kind
        except (ValueError, IndexError, KeyError):
            continue
    return None


def test_national_id_kind_pre_selection_changes_nothing() -> None:
    rng = random.Random(3)
    layouts = ["ddd-dd-dddd", "ddddddddd", "dddd dddd dddd", "ddddddddddd", "ddd.ddd.ddd-dd", "dddddd-dddA"]
    layouts += [
        "dddddddA",
        "Adddddddd",
        "AAddddddA",
        "AAAAAAddAddAdddA",
        "ddd.dddd.dddd.dd",
        "dd.dd.dd-ddd.dd",
    ]
    samples = []
    for _ in range(4000):
        layout = rng.choice(layouts)
        samples.append(
            "".join(
                rng.choice(string.digits)
                if c == "d"
                else rng.choice(string.ascii_uppercase)
                if c == "A"
                else c
                for c in layout
            )
        )
    samples += [
        "".join(rng.choice(string.digits * 3 + "ABXYZ -.") for _ in range(rng.randint(8, 18)))
        for _ in range(3000)
    ]
    found = 0
    for text in samples:
        for strict in (False, True):
            expected = _reference_kind(text, strict)
            assert national_id_kind(text, strict) == expected, text
            found += expected is not None
    assert found > 100  # the samples do reach the validators


def test_same_value_same_pseudonym_across_columns_and_rows() -> None:
    """Per-column batches must not break consistency: one original, one pseudonym, in every column."""
    rng = np.random.default_rng(11)
    emails = [f"user{i}.{s}@example.com" for i, s in enumerate(["smith", "jones", "garcia", "kim", "ng"])]
    phones = ["(212) 555-0143", "+44 20 7946 0958", "415.555.0199", "030 1234567"]
    surnames = ["Smith", "Nguyen", "Garcia", "Okafor"]
    n = 120
    frame = pd.DataFrame(
        {
            "email": rng.choice(emails, n),
            "backup_email": rng.choice(emails, n),
            "phone": rng.choice(phones, n),
            "fax": rng.choice(phones, n),
            "last_name": rng.choice(surnames, n),
            "maiden_name": rng.choice(surnames, n),
        }
    )
    out = replace_pii(frame, config(), key=KEY).data
    p = Pseudonymizer(KEY)
    for columns, entity in (
        (("email", "backup_email"), "email"),
        (("phone", "fax"), "phone_number"),
        (("last_name", "maiden_name"), "last_name"),
    ):
        mapping: dict[str, set[str]] = {}
        for column in columns:
            for before, after in zip(frame[column], out[column], strict=True):
                mapping.setdefault(before, set()).add(after)
        assert all(len(v) == 1 for v in mapping.values()), columns  # same value -> same pseudonym
        pseudonyms = [next(iter(v)) for v in mapping.values()]
        assert len(set(pseudonyms)) == len(pseudonyms)  # different values -> different pseudonyms
        assert all(before not in after for before, after in mapping.items())
        if entity != "email":  # the per-value API gives the same (emails also follow registered names)
            assert all(next(iter(v)) == p.replace_text(entity, k) for k, v in mapping.items()), columns


@pytest.mark.parametrize("values", [["a", None, "a", "b"], [12345678, None, 12345678, 87654321]])
def test_replace_many_is_replace_text_per_value(values: list[object]) -> None:
    p, q = Pseudonymizer(KEY), Pseudonymizer(KEY)
    out = p.replace_many("unique_identifier", values)
    expected = [q.replace_text("unique_identifier", v) if isinstance(v, str) else v for v in values]
    assert out == expected


def _reference_luhn_total(digits: str, double_first: bool) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if (i % 2 == 0) == double_first:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total


def test_luhn_matches_the_digit_by_digit_definition() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        digits = "".join(rng.choice(string.digits) for _ in range(rng.randint(0, 19)))
        assert luhn_valid(digits) == (_reference_luhn_total(digits, False) % 10 == 0), digits
        check = luhn_check_digit(digits)
        assert (_reference_luhn_total(digits, True) + int(check)) % 10 == 0, digits
        assert luhn_valid(digits + check)
