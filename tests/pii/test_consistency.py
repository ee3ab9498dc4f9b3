"""Keyed consistency: same value -> same replacement; another key -> another; same key -> same across runs."""

from __future__ import annotations

import pandas as pd
import pytest
from pii_helpers import KEY, OTHER_KEY, config

from safe_synthesizer.pii import replace_pii
from safe_synthesizer.pii.pseudonym import Pseudonymizer

SAMPLES = {
    "first_name": ["John", "Mary", "Zoe"],
    "last_name": ["Smith", "Nguyen", "O'Brien"],
    "name": ["John Smith", "Dr. Mary A. Nguyen", "SMITH, JOHN"],
    "email": ["john.smith@gmail.com", "mnguyen@acme-corp.com", "x99@example.org"],
    "phone_number": ["(212) 555-0143", "+44 20 7946 0958", "415.555.0199x12"],
    "ssn": ["536-90-4399", "123456789"],
    "credit_debit_card": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
    "iban": ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"],
    "ip_address": ["192.168.1.10", "8.8.8.8", "2001:db8::1"],
    "url": ["https://www.acme-corp.com/team/john?id=4", "http://example.net"],
    "street_address": ["12 Oak Street Apt. 5", "Hauptstraße 5"],
    "address": ["12 Oak Street, Springfield, IL 62704", "1 Main St\nBoston, MA 02101"],
    "city": ["Springfield", "Berlin"],
    "state": ["IL", "Texas"],
    "postcode": ["62704", "SW1A 1AA"],
    "date_of_birth": ["1984-03-12", "03/12/1984"],
    "tax_id": ["12-3456789", "912-70-1234"],
    "national_id": ["AB1234567"],
}
CASES = [(entity, value) for entity, values in SAMPLES.items() for value in values]


@pytest.mark.parametrize(("entity", "value"), CASES)
def test_pseudonym_deterministic_keyed_and_different(entity: str, value: str) -> None:
    first = Pseudonymizer(KEY).replace(entity, value)
    again = Pseudonymizer(KEY).replace(entity, value)  # a new job with the same key
    other = Pseudonymizer(OTHER_KEY).replace(entity, value)
    assert first == again
    assert first != value
    assert isinstance(first, str) and first.strip()
    if entity not in ("state",):  # 50 states: two keys may agree by chance
        assert first != other


def test_consistent_within_a_job() -> None:
    p = Pseudonymizer(KEY)
    assert p.replace("phone_number", "(212) 555-0143")[-8:] == p.replace("phone_number", "212-555-0143")[-8:]
    assert p.replace("email", "John.Smith@gmail.com").lower() == p.replace("email", "john.smith@gmail.com")
    full = p.replace("name", "John Smith")
    assert full == f"{p.replace('first_name', 'John')} {p.replace('last_name', 'Smith')}"
    assert p.replace("first_name", "JOHN") == p.replace("first_name", "John").upper()


def test_many_values_never_map_to_themselves() -> None:
    p = Pseudonymizer(KEY)
    for i in range(300):
        phone = f"212-555-{i:04d}"
        assert p.replace("phone_number", phone) != phone
        zip_code = f"{10000 + i}"
        assert p.replace("postcode", zip_code) != zip_code


def test_locales_drive_the_draw() -> None:
    german = Pseudonymizer(KEY, ("de_DE",))
    names = {german.replace("first_name", n) for n in ["John", "Mary", "Peter", "Linda", "Mark", "Anna"]}
    from faker import Faker

    german_first = {n.casefold() for n in Faker("de_DE").first_name_female.__self__.first_names}  # type: ignore[attr-defined]
    assert all(n.casefold() in german_first for n in names)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": ["a.b@example.com", "c.d@example.com", "a.b@example.com"],
            "backup_email": ["c.d@example.com", None, "a.b@example.com"],
            "phone": ["212-555-0143", "212-555-0199", "212-555-0143"],
            "comment": [
                "Mail a.b@example.com or call 212-555-0143 please today.",
                "Second note mentions c.d@example.com for the invoice.",
                "No contact details are given in this third note.",
            ],
        }
    )


def test_same_value_same_replacement_everywhere() -> None:
    out = replace_pii(_frame(), config(), key=KEY).data
    assert out.at[0, "email"] == out.at[2, "email"] == out.at[2, "backup_email"] != out.at[1, "email"]
    assert pd.isna(out.at[1, "backup_email"])
    assert out.at[1, "email"] == out.at[0, "backup_email"]
    assert out.at[0, "phone"] == out.at[2, "phone"]
    assert out.at[0, "email"] in out.at[0, "comment"] and out.at[0, "phone"] in out.at[0, "comment"]
    assert out.at[1, "email"] in out.at[1, "comment"]


def test_different_key_different_replacements() -> None:
    a = replace_pii(_frame(), config(), key=KEY).data
    b = replace_pii(_frame(), config(), key=OTHER_KEY).data
    for column in ("email", "phone"):
        assert (a[column] != b[column]).all()


def test_same_key_same_output_across_runs_and_tables() -> None:
    a = replace_pii(_frame(), config(), key=KEY).data
    b = replace_pii(_frame(), config(), key=KEY).data
    pd.testing.assert_frame_equal(a, b)
    # another table with the same key: the shared values map the same way (joins survive)
    other = pd.DataFrame({"contact_email": ["a.b@example.com", "z@example.com"] * 3})
    c = replace_pii(other, config(), key=KEY).data
    assert c.at[0, "contact_email"] == a.at[0, "email"]


def test_seed_does_not_change_pseudonyms() -> None:
    a = replace_pii(_frame(), config({"globals": {"seed": 1}}), key=KEY).data
    b = replace_pii(_frame(), config({"globals": {"seed": 2}}), key=KEY).data
    pd.testing.assert_frame_equal(a, b)


def test_fake_templates_are_keyed() -> None:
    rules = {"steps": [{"rows": {"update": [{"entity": "email", "value": "fake.email()"}]}}]}
    a = replace_pii(_frame(), config(rules), key=KEY).data
    b = replace_pii(_frame(), config(rules), key=OTHER_KEY).data
    assert a.at[0, "email"] == a.at[2, "email"] and a.at[0, "email"] != b.at[0, "email"]


def test_every_faker_locale_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each entity gets a replacement under every Faker locale (providers differ per locale)."""
    import warnings

    from faker.config import AVAILABLE_LOCALES

    from safe_synthesizer.pii import pseudonym

    monkeypatch.setattr(pseudonym, "_POOL_SIZE", 32)
    pseudonym.faker_pool.cache_clear()
    values = {entity: values[0] for entity, values in SAMPLES.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated locales (fr_QC) warn
            for locale in AVAILABLE_LOCALES:
                p = Pseudonymizer(KEY, (locale,))
                for entity, value in values.items():
                    out = p.replace(entity, value)
                    assert isinstance(out, str) and out.strip() and out != value, (locale, entity)
    finally:
        pseudonym.faker_pool.cache_clear()


def test_pseudonyms_do_not_depend_on_the_hash_seed() -> None:
    """Faker builds some lists from sets (it_IT cities): pseudonyms must still be the same in every process."""
    import os
    import subprocess
    import sys

    code = (
        "from safe_synthesizer.pii.pseudonym import Pseudonymizer;"
        "p = Pseudonymizer(b'test-key-0123456789abcdef-000001', ('it_IT', 'en_US'));"
        "print([p.replace('city', c) for c in ('Roma', 'Milano', 'Torino', 'Napoli', 'Bari')])"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_security_answer_and_surname_columns_agree() -> None:
    df = pd.DataFrame(
        {
            "last_name": ["Smith", "Garcia", "Nguyen", "Miller"] * 5,
            "mothers_maiden_name": ["Garcia", "Smith", "Miller", "Nguyen"] * 5,
        }
    )
    out = replace_pii(df, config(), key=KEY).data
    mapping = dict(zip(df["last_name"], out["last_name"], strict=True))
    for before, after in zip(df["mothers_maiden_name"], out["mothers_maiden_name"], strict=True):
        assert after == mapping[before]
