"""Fail closed: a column whose name says PII is replaced even when its values fail validation (with a
warning naming the column and the reason, never the values); identifier-like columns are replaced;
card numbers damaged by spreadsheets are recognised; column names in many styles and languages."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import replace_pii
from safe_synthesizer.pii.column_names import hint_is_weak, name_hint, normalise_column_name
from safe_synthesizer.pii.detect import classify_columns, damaged_card_digits


def _run(df: pd.DataFrame, data: dict | None = None):  # noqa: ANN202 - PiiResult
    return replace_pii(df, config(data), key=KEY)


def _changed(before: pd.Series, after: pd.Series) -> float:
    present = before.notna()
    return float((before[present].astype(str) != after[present].astype(str)).mean())


# --------------------------------------------------------------------------- column names
@pytest.mark.parametrize(
    ("column", "entity"),
    [
        # styles: CamelCase, snake_case, kebab, dotted, upper, abbreviations
        ("CustomerEmailAddress", "email"),
        ("E-Mail", "email"),
        ("Tel.", "phone_number"),
        ("MobileNo", "phone_number"),
        ("cell_phone", "phone_number"),
        ("DOB", "date_of_birth"),
        ("bday", "date_of_birth"),
        ("SSN_Number", "ssn"),
        ("ZIPCode", "postcode"),
        ("addr", "street_address"),
        ("addr_line1", "street_address"),
        ("cc_num", "credit_debit_card"),
        ("CVV2", "cvv"),
        ("exp_date", "card_expiry"),
        ("valid_thru", "card_expiry"),
        ("usr", "user_name"),
        ("screen_name", "user_name"),
        ("pwd", "password"),
        ("password_hash", "password"),
        ("api_key", "api_key"),
        ("access_token", "api_key"),
        ("mothers_maiden_name", "security_answer"),
        ("SecurityAnswer2", "security_answer"),
        ("secret_q_answer", "security_answer"),
        ("security_question", None),
        ("hostname", "domain_name"),
        ("company_domain", "domain_name"),
        ("license_plate", "license_plate"),
        ("VIN", "vehicle_identifier"),
        ("DL_Number", "drivers_license"),
        ("PassportNo", "passport_number"),
        ("mac_address", "device_identifier"),
        ("IMEI", "device_identifier"),
        ("latitude", "coordinate"),
        ("geo_lng", "coordinate"),
        ("IPv4", "ip_address"),
        ("last_login_ip", "ip_address"),
        ("sort_code", "account_number"),
        ("NINO", "national_id"),
        ("aadhaar_no", "national_id"),
        ("tfn", "tax_id"),
        ("cpf", "tax_id"),
        # languages
        ("nombre", "first_name"),
        ("apellido", "last_name"),
        ("telefono", "phone_number"),
        ("direccion", "address"),
        ("correo", "email"),
        ("fecha_nacimiento", "date_of_birth"),
        ("nom", "last_name"),
        ("prénom", "first_name"),
        ("adresse", "address"),
        ("téléphone", "phone_number"),
        ("code_postal", "postcode"),
        ("Vorname", "first_name"),
        ("Nachname", "last_name"),
        ("Straße", "street_address"),
        ("Telefon", "phone_number"),
        ("Geburtsdatum", "date_of_birth"),
        ("PLZ", "postcode"),
        ("Ort", "city"),
        ("cognome", "last_name"),
        ("indirizzo", "address"),
        ("nome", "first_name"),
        ("codice_fiscale", "tax_id"),
        ("naam", "name"),
        ("achternaam", "last_name"),
        ("Führerschein", "drivers_license"),
        ("Kennzeichen", "license_plate"),
        ("電話番号", "phone_number"),
        ("氏名", "name"),
        # qualifiers around the word
        ("home_phone_1", "phone_number"),
        ("billing_zip", "postcode"),
        ("customerFirstName", "first_name"),
        ("emergency_contact_phone", "phone_number"),
        ("ship_to_address", "address"),
        # not PII: the name describes the value, or a short word inside another name
        ("email_verified", None),
        ("phone_country_code", None),
        ("card_type", None),
        ("ip_country", None),
        ("first_purchase_date", None),
        ("last_login", None),
        ("user_id", None),
        ("exp_years", None),
        ("account_status", None),
        ("marketing_opt_in", None),
        ("device_os", None),
        ("card_last4", None),
        ("customer_id", None),
    ],
)
def test_name_hints_in_many_styles(column: str, entity: str | None) -> None:
    assert name_hint(column) == entity


def test_normalisation_and_weak_hints() -> None:
    assert normalise_column_name("customerEmail-Address") == "customer_email_address"
    assert normalise_column_name("ZIPCode") == "zip_code"
    assert normalise_column_name("Straße") == "strasse"
    assert normalise_column_name("IPv4Address") == "ipv4_address"
    assert hint_is_weak("state") and hint_is_weak("card") and hint_is_weak("exp") and hint_is_weak("customer")
    assert not hint_is_weak("cc_num") and not hint_is_weak("password") and not hint_is_weak("Vorname")


# --------------------------------------------------------------------------- failing validators
NON_US_ADDRESSES = [
    "C/ Mayor 23, 2º B",
    "Hauptstr. 5a",
    "Flat 3, 27 Baker Street",
    "Via Roma 10, int. 4",
    "Kerkstraat 12 bis",
    "H.No. 49, Tiwari Chowk",
    "ul. Królewska 36/07",
    "Rua das Flores, 123 - apto 45",
    "長野県西多摩郡奥多摩町白金42丁目6番6号",
    "Residencial de Montenegro, 19",
]


def test_address_column_with_unknown_layouts_is_replaced_with_a_warning() -> None:
    df = pd.DataFrame({"direccion": NON_US_ADDRESSES * 3, "amount": np.arange(30) * 1.5})
    result = _run(df)
    det = result.column_stats["direccion"]
    assert det.entity == "address" and det.detection_method == "column_name"
    assert _changed(df["direccion"], result.data["direccion"]) == 1.0
    warning = next(w for w in result.warnings if "'direccion'" in w)
    assert "fail closed" in warning and "address" in warning
    for value in NON_US_ADDRESSES:  # never the values
        assert value not in " ".join(result.warnings)
    assert result.column_stats["amount"].cells_replaced == 0


def test_damaged_card_numbers_are_recognised_and_replaced_in_shape() -> None:
    assert damaged_card_digits("5.54563E+15") == "5545630000000000"
    assert damaged_card_digits("5545630000000000.0") == "5545630000000000"
    assert damaged_card_digits("4.1E+3") is None and damaged_card_digits("12.5") is None
    sci = ["5.54563E+15", "4.41736E+15", "6.01187E+15", "3.78492E+14"] * 5
    floats = [5545630000000000.0, 4417360000000000.0, 6011870000000000.0, np.nan] * 5
    df = pd.DataFrame({"cc_num": sci, "CardNumber": floats})
    result = _run(df)
    for column in ("cc_num", "CardNumber"):
        assert result.column_stats[column].entity == "credit_debit_card", column
        assert _changed(df[column], result.data[column]) == 1.0
    assert any("spreadsheet" in w and "'cc_num'" in w for w in result.warnings)
    for before, after in zip(sci, result.data["cc_num"], strict=True):
        assert (
            re.fullmatch(r"\d\.\d{5}E\+1[45]", after) and after[0] == before[0] and after[-2:] == before[-2:]
        )
    assert result.data["CardNumber"].dtype == df["CardNumber"].dtype
    assert result.data["CardNumber"].isna().equals(df["CardNumber"].isna())


def test_weak_hints_and_row_indexes_do_not_fail_closed() -> None:
    df = pd.DataFrame(
        {
            "state": ["open", "closed", "frozen", "review"] * 10,  # an account state, not a place
            "card": ["Visa", "Mastercard", "Amex", "Discover"] * 10,  # a card brand, not a number
            "id_number": np.arange(1, 41),  # a row number under an identifier's name
            "phone": ["call me", "later", "no", "never"] * 10,  # nothing that can be a phone number
        }
    )
    result = _run(df)
    assert all(s.entity is None for s in result.column_stats.values()), result.column_stats
    assert all(s.cells_replaced == 0 for s in result.column_stats.values())


def test_a_strong_name_is_not_overruled_by_odd_values() -> None:
    df = pd.DataFrame(
        {
            "first_name": ["o'neil", "JEAN-LUC", "x Æ a-12", "  Maria ", "李"] * 4,
            "telefono": [
                "0034/91.555.12.34",
                "tel 06 12 34 56",
                "91 555 12 34 ext 2",
                "+34 (0) 91 5551",
                "6x 555 1234",
            ]
            * 4,
            "dob": ["12 de marzo de 1985", "1985.03.12", "3/12/85 (approx.)", "Mar 1985", "12-III-1985"] * 4,
        }
    )
    result = _run(df)
    for column in df.columns:
        assert result.column_stats[column].entity is not None, column
        assert _changed(df[column], result.data[column]) == 1.0, column


# --------------------------------------------------------------------------- identifiers
def test_identifier_like_columns_are_replaced() -> None:
    rng = np.random.default_rng(3)
    n = 60
    df = pd.DataFrame(
        {
            "ref": [f"C-{i:05d}-{rng.integers(100, 999)}" for i in range(n)],
            "token_x": ["".join(rng.choice(list("abcdef0123456789"), 24)) for _ in range(n)],
            "comment": [f"the parcel was left at the door number {i}" for i in range(n)],
            "plan": rng.choice(["A-1", "B-2", "C-3"], n),  # codes, but few distinct
            "ts": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),  # unique, but dates
            "price": [f"{x:.2f}" for x in rng.uniform(1, 100, n)],  # unique-ish decimals
            "iso": [f"2025-01-{1 + i % 28:02d}T10:{i % 60:02d}:00.{i:03d}+00:00" for i in range(n)],
            "epoch": [str(1_735_689_600 + 37 * i) for i in range(n)],  # seconds since 1970, as text
        }
    )
    result = _run(df)
    stats = result.column_stats
    assert stats["ref"].entity == "unique_identifier" and stats["ref"].detection_method == "identifier"
    assert stats["token_x"].entity == "unique_identifier"
    assert _changed(df["ref"], result.data["ref"]) == 1.0
    assert all(re.fullmatch(r"[A-Z]-\d{5}-\d{3}", v) for v in result.data["ref"])
    assert all(re.fullmatch(r"[0-9a-f]{24}", v) for v in result.data["token_x"])
    assert result.data["ref"].nunique() == n  # still unique (keyed, consistent)
    for column in ("comment", "plan", "ts", "price", "iso", "epoch"):
        assert stats[column].entity is None and stats[column].cells_replaced == 0, column
    assert any("identifiers" in w and "ref" in w for w in result.warnings)


def test_lock_columns_keep_an_identifier() -> None:
    df = pd.DataFrame({"ref": [f"K{i:06d}X" for i in range(40)]})
    result = _run(df, {"globals": {"lock_columns": ["ref"]}})
    pd.testing.assert_series_equal(result.data["ref"], df["ref"])


# --------------------------------------------------------------------------- custom steps
def test_custom_steps_that_leave_pii_untouched_warn_with_the_columns() -> None:
    df = pd.DataFrame(
        {
            "email": ["a.b@example.com", "c.d@example.org"] * 10,
            "first_name": ["John", "Mary"] * 10,
            "dob": ["1980-01-02", "1975-06-30"] * 10,
            "amount": [1.0, 2.0] * 10,
        }
    )
    steps = {"steps": [{"rows": {"update": [{"entity": "email", "value": "column.entity | fake"}]}}]}
    result = _run(df, steps)
    warning = result.warnings[0]
    assert "leave 2 detected PII column(s) unchanged" in warning
    assert "first_name (first_name)" in warning and "dob (date_of_birth)" in warning
    assert "email" not in warning.split("unchanged:")[1]
    assert "John" not in warning
    assert result.summary()["warnings"][0] == warning
    default = _run(df)
    assert not any("unchanged" in w for w in default.warnings)


# --------------------------------------------------------------------------- values alone
def test_unnamed_columns_found_by_values() -> None:
    df = pd.DataFrame(
        {
            "c1": ["00:1A:2B:3C:4D:5E", "a4:5e:60:d1:22:9f", "3C-22-FB-0A-11-7E", "f0:18:98:aa:bb:01"] * 5,
            "c2": ["1HGCM82633A004352", "JH4KA7561PC008269", "WVWZZZ1JZXW000001", "5YJSA1E26HF000337"] * 5,
            "c3": ["575.268.797-73", "AB 12 34 56 C", "58620108-P", "3364 6557 5003"] * 5,
            "c4": ["acme-logistics.co.uk", "mueller-gmbh.de", "jsmith.dev", "shop.example.com"] * 5,
        }
    )
    detections = classify_columns(df, config().globals)
    assert detections["c1"].entity == "device_identifier"
    assert detections["c2"].entity == "vehicle_identifier"
    assert detections["c3"].entity == "national_id"
    assert detections["c4"].entity == "domain_name"
    assert all(d.method == "values" for d in detections.values())
