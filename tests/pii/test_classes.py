"""The entity classes beyond NeMo's default list: detected under their names, replaced in the same
shape; national identifiers of many countries with their check digits."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import replace_pii
from safe_synthesizer.pii.formats import luhn_valid
from safe_synthesizer.pii.national_ids import KINDS, fix_check_digits, national_id_kind
from safe_synthesizer.pii.pseudonym import Pseudonymizer, vin_check_digit


def _layout(text: str) -> str:
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", text))


# column name, entity, values, check of each (before, after) pair
CASES = [
    (
        "username",
        "user_name",
        ["jsmith84", "maria_garcia", "darkwolf77", "xXlauraXx"],
        lambda b, a: " " not in a,
    ),
    (
        "password",
        "password",
        ["Summer2024!", "hunter2", "P@ssw0rd", "letmein123"],
        lambda b, a: len(a) == len(b),
    ),
    (
        "password_hash",
        "password",
        ["$2b$12$" + "a1B2c3D4e5F6g7H8i9J0k" * 2 + "abcdefghijk", "5f4dcc3b5aa765d61d8327deb882cf99"],
        lambda b, a: (
            len(a) == len(b) and (a[:7] == b[:7] if b.startswith("$") else re.fullmatch("[0-9a-f]+", a))
        ),
    ),
    (
        "api_key",
        "api_key",
        ["sk_live_51H8aXyZabcdef0123456789", "AKIAIOSFODNN7EXAMPLE"],
        lambda b, a: _layout(a) == _layout(b),
    ),
    (
        "mothers_maiden_name",
        "security_answer",
        ["Smith", "Garcia", "Müller", "O'Brien"],
        lambda b, a: a[:1].isupper(),
    ),
    (
        "cvv",
        "cvv",
        ["123", "045", "9981", "700"],
        lambda b, a: re.fullmatch(r"\d{3,4}", a) and len(a) == len(b),
    ),
    ("exp", "card_expiry", ["03/27", "11/2029", "2028-07", "01-26"], lambda b, a: _layout(a) == _layout(b)),
    (
        "domain",
        "domain_name",
        ["acme-logistics.co.uk", "www.mueller-gmbh.de", "jsmith.dev", "shop.example.com"],
        lambda b, a: "." in a,
    ),
    (
        "license_plate",
        "license_plate",
        ["CB-X-175", "MA 6907 AM", "06-KN-TY", "UM70ZGD"],
        lambda b, a: _layout(a) == _layout(b),
    ),
    (
        "vin",
        "vehicle_identifier",
        ["1HGCM82633A004352", "JH4KA7561PC008269", "WVWZZZ1JZXW000001", "5YJSA1E26HF000337"],
        lambda b, a: (
            len(a) == 17 and a[:3] == b[:3] and (vin_check_digit(b) != b[8] or vin_check_digit(a) == a[8])
        ),
    ),
    (
        "drivers_license",
        "drivers_license",
        ["D1234567", "MORGA657054SM9IJ", "B072RRE2I55", "12345678A"],
        lambda b, a: _layout(a) == _layout(b),
    ),
    (
        "passport_no",
        "passport_number",
        ["L85178128", "X66258517", "C01X00T47", "999622830"],
        lambda b, a: _layout(a) == _layout(b),
    ),
    ("iban", "iban", ["DE89370400440532013000", "GB82WEST12345698765432"], lambda b, a: a[:2] == b[:2]),
    (
        "account_number",
        "account_number",
        ["12345678", "0012-3456-789", "98765432101"],
        lambda b, a: _layout(a) == _layout(b),
    ),
    (
        "device_id",
        "device_identifier",
        ["00:1A:2B:3C:4D:5E", "490154203237518", "11ed1012-a28d-4926-9bcc-569097983d27", "a1b2c3d4e5f60718"],
        lambda b, a: _layout(a.upper().replace("A", "9")) and len(a) == len(b),
    ),
]


@pytest.mark.parametrize(("column", "entity", "values", "check"), CASES, ids=[c[0] for c in CASES])
def test_new_class_detected_and_replaced_in_shape(column: str, entity: str, values: list[str], check) -> None:  # noqa: ANN001
    df = pd.DataFrame({column: values * 5})
    result = replace_pii(df, config(), key=KEY)
    assert result.column_stats[column].entity == entity
    for before, after in zip(df[column], result.data[column], strict=True):
        assert after != before and check(before, after), (before, after)
    # consistent: the same value, the same pseudonym
    assert result.data[column].nunique() == df[column].nunique()


def test_device_identifiers_keep_their_kind() -> None:
    p = Pseudonymizer(KEY)
    mac = p.replace("device_identifier", "00:1A:2B:3C:4D:5E")
    assert re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", mac)
    imei = p.replace("device_identifier", "490154203237518")
    assert imei[:8] == "49015420" and luhn_valid(imei) and imei != "490154203237518"
    uuid = p.replace("device_identifier", "11ed1012-a28d-4926-9bcc-569097983d27")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-9[0-9a-f]{3}-[0-9a-f]{12}", uuid)


def test_coordinates_move_but_stay_valid() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"lat": rng.uniform(-89.9, 89.9, 50).round(5), "lng": rng.uniform(-179.9, 179.9, 50).round(6)}
    )
    df.loc[3, "lat"] = np.nan
    result = replace_pii(df, config(), key=KEY)
    out = result.data
    assert result.column_stats["lat"].entity == result.column_stats["lng"].entity == "coordinate"
    assert out.dtypes.to_dict() == df.dtypes.to_dict() and out["lat"].isna().equals(df["lat"].isna())
    moved = (out - df).abs()
    assert ((moved["lat"].dropna() >= 0.04) & (moved["lat"].dropna() <= 0.51)).all()
    assert (out["lat"].dropna().abs() <= 90).all() and (out["lng"].abs() <= 180).all()
    text = Pseudonymizer(KEY).replace("coordinate", "48,8566")
    assert re.fullmatch(r"4[78],\d{4}", text) and text != "48,8566"


VALID_IDS = {
    "us_ssn": "536-90-4399",
    "uk_nino": "AB 12 34 56 C",
    "ca_sin": "046 454 286",
    "au_tfn": "123 456 782",
    "in_aadhaar": "2341 2341 2346",
    "in_pan": "ABCPE1234F",
    "br_cpf": "529.982.247-25",
    "jp_my_number": "1234 5678 9018",
    "de_steuer_id": "86095742719",
    "es_dni": "12345678Z",
    "fr_nir": "2 55 08 14 168 025 38",
    "it_codice_fiscale": "RSSMRA85T10A562S",
    "nl_bsn": "111222333",
    "pl_pesel": "44051401359",
    "se_personnummer": "811228-9874",
    "be_national_number": "85.07.30-033.28",
    "pt_nif": "123456789",
    "ch_ahv": "756.1234.5678.97",
    "fi_hetu": "131052-308T",
}


@pytest.mark.parametrize(("kind", "value"), sorted(VALID_IDS.items()))
def test_national_id_check_digits(kind: str, value: str) -> None:
    assert KINDS[kind](value), value
    assert national_id_kind(value) is not None
    # one changed digit breaks the check (except kinds without check digits)
    i = max(i for i, c in enumerate(value) if c.isdigit())
    broken = value[:i] + str((int(value[i]) + 1) % 10) + value[i + 1 :]
    if kind not in ("us_ssn", "in_pan", "uk_nino"):  # layouts without a check digit
        assert not KINDS[kind](broken), broken


def test_national_id_replacements_keep_valid_check_digits() -> None:
    p = Pseudonymizer(KEY)
    kept = 0
    for kind, value in VALID_IDS.items():
        out = p.replace("national_id", value)
        assert out != value and _layout(out) == _layout(value), (kind, out)
        kept += national_id_kind(out) is not None
    # kinds that encode a birth date or a fixed prefix (NIR, personnummer, HETU, AHV) are re-drawn
    # digit by digit and may lose validity; the others keep valid check digits
    assert kept >= len(VALID_IDS) - 4
    assert fix_check_digits("br_cpf", "529.982.247-00") == "529.982.247-25"
    assert fix_check_digits("es_dni", "12345678A") == "12345678Z"


def test_values_only_national_ids_need_check_digits() -> None:
    rng = np.random.default_rng(1)
    random_numbers = [str(x) for x in rng.integers(10**10, 10**11, 200)]
    assert sum(national_id_kind(v, strict=True) is not None for v in random_numbers) < 0.3 * 200
    assert national_id_kind("536-90-4399", strict=True) == "us_ssn"
    assert national_id_kind("536904399", strict=True) != "us_ssn"  # a bare 9-digit number is not an SSN alone
