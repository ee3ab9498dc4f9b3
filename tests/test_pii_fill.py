"""Tests of the PII column filler (safe_synthesizer.generation.pii_fill)."""

from __future__ import annotations

import json
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from faker import Faker
from faker.providers.person.de_DE import Provider as DePerson
from faker.providers.person.en_US import Provider as UsPerson

from safe_synthesizer.generation.pii_fill import (
    PiiColumnSpec,
    detect_country_column,
    detect_sex_column,
    fill_pii_columns,
    learn_pii_column_spec,
    learn_pii_specs,
    locale_for_country,
    pii_column_entities,
    specs_from_dict,
    specs_to_dict,
    template_regex,
)

US_MALE = set(UsPerson.first_names_male)
US_FEMALE = set(UsPerson.first_names_female)
DE_MALE = set(DePerson.first_names_male)
DE_FEMALE = set(DePerson.first_names_female)


def slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if not unicodedata.combining(c)))


def layout(value: str) -> str:
    return re.sub(r"\d", "#", value)


def people(n: int, seed: int, locale: str = "en_US") -> pd.DataFrame:
    """A training-like table made with Faker under ``seed``."""
    fake = Faker(locale)
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        male = bool(rng.random() < 0.5)
        first = fake.first_name_male() if male else fake.first_name_female()
        last = fake.last_name()
        rows.append(
            {
                "first_name": first,
                "last_name": last,
                "sex": "Male" if male else "Female",
                "age": int(rng.integers(18, 90)),
                "email": f"{slug(first)}.{slug(last)}{rng.integers(1, 99)}@gmail.com",
                "phone": fake.numerify("(###) ###-####")
                if rng.random() < 0.7
                else fake.numerify("+1 ### ### ####"),
                "ssn": fake.ssn(),
                "address": fake.address(),
            }
        )
    return pd.DataFrame(rows)


ENTITIES = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone_number",
    "ssn": "ssn",
    "address": "address",
}


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return people(800, seed=11)


@pytest.fixture(scope="module")
def specs(train: pd.DataFrame) -> dict[str, PiiColumnSpec]:
    return learn_pii_specs(train, ENTITIES)


def synthetic_base(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"sex": rng.choice(["Male", "Female"], size=n), "age": rng.integers(18, 90, size=n)},
    )


def test_shapes_kept(train: pd.DataFrame, specs: dict[str, PiiColumnSpec]) -> None:
    out = fill_pii_columns(synthetic_base(2000), specs, seed=1)
    train_layouts = {layout(v) for v in train["phone"]}
    assert {layout(v) for v in out["phone"]} == train_layouts  # both layouts used, nothing else
    share_paren = out["phone"].str.startswith("(").mean()
    assert abs(share_paren - train["phone"].str.startswith("(").mean()) < 0.05
    patterns = [template_regex(t) for t, _ in specs["phone"].shapes]
    assert all(any(p.fullmatch(v) for p in patterns) for v in out["phone"])
    assert not any(re.search(r"\d", t.removeprefix("+1 ")) for t, _ in specs["phone"].shapes)
    assert {layout(v) for v in out["ssn"]} == {"###-##-####"}
    area = out["ssn"].str[:3].astype(int)
    assert area.between(1, 899).all() and (area != 666).all()
    assert (out["ssn"].str[4:6] != "00").all() and (out["ssn"].str[7:] != "0000").all()


def test_template_shapes_hold_no_digits_of_values() -> None:
    rng = np.random.default_rng(0)
    values = [f"+1 555 010 {x:04d}" for x in rng.choice(10_000, size=40, replace=False)]
    spec = learn_pii_column_spec(pd.Series(values), "phone_number")
    # the constant "+1 555 010 " is shared by 40 distinct values: kept; the varying digits are not
    assert spec.shapes == (("+1 555 010 ####", 1.0),)
    tiny = learn_pii_column_spec(pd.Series(["+1 555 010 1234", "+1 555 010 9876"]), "phone_number")
    assert tiny.shapes == (("+# ### ### ####", 1.0),)  # too few values: every digit is a placeholder


def test_email_uses_the_rows_names(specs: dict[str, PiiColumnSpec]) -> None:
    out = fill_pii_columns(synthetic_base(1500), specs, seed=2)
    for first, last, email in zip(out["first_name"], out["last_name"], out["email"], strict=True):
        local, at, domain = email.partition("@")
        assert at and domain == "gmail.com"
        assert slug(first) in local or slug(last) in local
    assert out["email"].str.match(r"^[a-z]+[._-]?[a-z]*\d{0,2}@").mean() > 0.95


def test_email_from_a_name_column_or_a_fresh_name() -> None:
    fake = Faker("en_US")
    fake.seed_instance(4)
    names = [fake.name() for _ in range(300)]
    train = pd.DataFrame({"name": names, "email": [fake.email() for _ in range(300)]})
    specs = learn_pii_specs(train, {"name": "name", "email": "email"})
    out = fill_pii_columns(synthetic_base(500), specs, seed=3)
    for name, email in zip(out["name"], out["email"], strict=True):
        local = email.split("@")[0]
        assert any(slug(t) and slug(t) in local for t in name.replace(",", " ").split() if len(slug(t)) > 1)
    alone = fill_pii_columns(synthetic_base(200), {"email": specs["email"]}, seed=3)
    assert alone["email"].str.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]+").all()


def test_first_name_fits_the_sex_column(specs: dict[str, PiiColumnSpec]) -> None:
    sex = ["Male", "FEMALE", "m", "f", "woman", "Man", None, "unknown"] * 250
    base = pd.DataFrame({"Gender": sex, "age": range(len(sex))})
    assert detect_sex_column(base) == "Gender"
    out = fill_pii_columns(base, specs, seed=5)
    male = base["Gender"].isin(["Male", "m", "Man"])
    female = base["Gender"].isin(["FEMALE", "f", "woman"])
    assert out.loc[male, "first_name"].isin(US_MALE).all()
    assert out.loc[female, "first_name"].isin(US_FEMALE).all()
    unknown = out.loc[~male & ~female, "first_name"]
    assert unknown.isin(US_MALE | US_FEMALE).all()
    assert unknown.isin(US_MALE - US_FEMALE).any() and unknown.isin(US_FEMALE - US_MALE).any()


def test_locale_from_the_country_column() -> None:
    us, de = Faker("en_US"), Faker("de_DE")
    us.seed_instance(21)
    de.seed_instance(22)
    rows = []
    for i in range(600):
        german = i % 3 == 0
        fake = de if german else us
        rows.append(
            {
                "native-country": "Germany" if german else "United-States",
                "sex": "Female" if i % 2 else "Male",
                "first_name": fake.first_name(),
                "phone": de.numerify("0#### ######") if german else us.numerify("(###) ###-####"),
                "address": fake.address(),
            }
        )
    train = pd.DataFrame(rows)
    assert detect_country_column(train) == "native-country"
    specs = learn_pii_specs(
        train, {"first_name": "first_name", "phone": "phone_number", "address": "address"}
    )
    assert specs["phone"].locale_dependent and set(specs["phone"].locale_shapes) == {"de_DE", "en_US"}

    rng = np.random.default_rng(0)
    base = pd.DataFrame(
        {
            "native-country": rng.choice(["Germany", "United-States", "DE", "?"], size=2000),
            "sex": rng.choice(["Male", "Female"], size=2000),
        }
    )
    out = fill_pii_columns(base, specs, seed=7)
    german = base["native-country"].isin(["Germany", "DE"])
    male = base["sex"] == "Male"
    assert out.loc[german & male, "first_name"].isin(DE_MALE).all()
    assert out.loc[german & ~male, "first_name"].isin(DE_FEMALE).all()
    assert out.loc[~german & male, "first_name"].isin(US_MALE).all()  # "?" -> en_US
    assert out.loc[german, "phone"].map(layout).eq("##### ######").all()
    assert out.loc[german, "phone"].str.startswith("0").all()  # the trunk prefix all German rows share
    assert out.loc[~german, "phone"].map(layout).eq("(###) ###-####").all()
    assert out.loc[german, "address"].str.match(r"^.+\n\d{5} \S").all()  # de_DE: street \n PLZ city
    assert out.loc[~german, "address"].str.match(r"^.+\n.+, [A-Z]{2} \d{5}$").all()  # en_US


def test_locale_lookup() -> None:
    expected = {
        "United-States": "en_US",
        "Germany": "de_DE",
        "Mexico": "es_MX",
        "India": "en_IN",
        "DE": "de_DE",
        "FR": "fr_FR",
        " united states of america ": "en_US",
        "Holand-Netherlands": "nl_NL",
    }
    assert {k: locale_for_country(k) for k in expected} == expected
    assert locale_for_country("?") is None and locale_for_country(None) is None
    assert locale_for_country(float("nan")) is None


def test_name_locale_inferred_without_a_country_column() -> None:
    fake = Faker("de_DE")
    fake.seed_instance(8)
    train = pd.DataFrame({"last_name": [fake.last_name() for _ in range(300)]})
    specs = learn_pii_specs(train, {"last_name": "last_name"})
    assert specs["last_name"].locale == "de_DE"
    out = fill_pii_columns(synthetic_base(300), specs, seed=1)
    assert out["last_name"].isin(set(DePerson.last_names)).all()


def test_missing_and_blank_shares_reproduced() -> None:
    fake = Faker("en_US")
    fake.seed_instance(9)
    values: list[str | None] = [fake.numerify("###-###-####") for _ in range(3000)]
    for i in range(0, 3000, 4):
        values[i] = None  # 25 % missing
    for i in range(1, 3000, 10):
        values[i] = ""  # 10 % blank
    spec = learn_pii_column_spec(pd.Series(values, dtype=object), "phone_number")
    assert spec.missing_share == pytest.approx(0.25, abs=1e-3)
    assert spec.blank_share == pytest.approx(0.10, abs=1e-3)
    out = fill_pii_columns(synthetic_base(5000), {"phone": spec}, seed=1)["phone"]
    assert out.isna().mean() == pytest.approx(0.25, abs=0.03)
    assert (out == "").mean() == pytest.approx(0.10, abs=0.02)
    assert out.dropna()[out.dropna() != ""].map(layout).eq("###-###-####").all()


def test_deterministic_for_a_seed(specs: dict[str, PiiColumnSpec]) -> None:
    base = synthetic_base(300)
    before = base.copy()
    a = fill_pii_columns(base, specs, seed=42)
    b = fill_pii_columns(base, specs, seed=42)
    c = fill_pii_columns(base, specs, seed=43)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(base, before)  # input untouched
    for column in ENTITIES:
        assert (a[column] != c[column]).mean() > 0.5


def test_no_training_value_copied(train: pd.DataFrame, specs: dict[str, PiiColumnSpec]) -> None:
    out = fill_pii_columns(synthetic_base(len(train)), specs, seed=3)
    for column in ("email", "phone", "ssn", "address"):
        assert out[column].isin(set(train[column])).mean() <= 0.005, column
    # full names: compare with what an independent Faker draw reproduces by chance
    full_train = set(train["first_name"] + " " + train["last_name"])
    baseline = people(len(train), seed=12)
    chance = (baseline["first_name"] + " " + baseline["last_name"]).isin(full_train).mean()
    ours = (out["first_name"] + " " + out["last_name"]).isin(full_train).mean()
    assert ours <= 3 * chance + 0.01


def test_spec_round_trips_through_json_and_holds_no_value(
    train: pd.DataFrame, specs: dict[str, PiiColumnSpec]
) -> None:
    text = json.dumps(specs_to_dict(specs), ensure_ascii=False)
    assert specs_from_dict(json.loads(text)) == specs
    for column in ENTITIES:
        for value in set(train[column]):
            words = value.split("@")[0] if column == "email" else value
            for piece in [value, *re.split(r"[\s@.,]+", words)]:
                if len(piece) >= 4 and not piece.isdigit():
                    assert piece not in text, column
    assert set(specs["email"].domains) <= {"gmail.com", "*"}


def test_only_free_mail_domains_are_kept() -> None:
    emails = [f"user{i}@acme-{i % 3}.com" for i in range(50)] + [f"x{i}@yahoo.com" for i in range(50)]
    spec = learn_pii_column_spec(pd.Series(emails), "email")
    assert spec.domains == {"*": 0.5, "yahoo.com": 0.5}
    assert "acme" not in json.dumps(spec.to_dict())


def test_columns_inserted_at_their_positions(train: pd.DataFrame, specs: dict[str, PiiColumnSpec]) -> None:
    base = train[["sex", "age"]].head(50).reset_index(drop=True)
    out = fill_pii_columns(base, specs, seed=1)
    assert list(out.columns) == list(train.columns)
    order = ["age", "email", "sex", "ssn", "address", "first_name", "phone", "last_name"]
    assert list(fill_pii_columns(base, specs, seed=1, column_order=order).columns) == order


def test_card_numbers_dates_and_numeric_columns() -> None:
    fake = Faker("en_US")
    fake.seed_instance(13)
    cards = [fake.credit_card_number(card_type="visa16") for _ in range(200)]
    card_spec = learn_pii_column_spec(pd.Series(cards), "credit_debit_card")
    assert card_spec.check == "luhn"
    dob = pd.Series(
        [fake.date_of_birth(minimum_age=20, maximum_age=60).strftime("%m/%d/%Y") for _ in range(300)]
    )
    dob_spec = learn_pii_column_spec(dob, "date_of_birth")
    assert dob_spec.date_format == "%m/%d/%Y" and dob_spec.year_range is not None
    ids = pd.Series([int(fake.numerify("1########")) for _ in range(200)], dtype="int64")
    id_spec = learn_pii_column_spec(ids, "national_id")
    assert id_spec.dtype == "int"
    ibans = [Faker("de_DE").iban() for _ in range(100)]
    iban_spec = learn_pii_column_spec(pd.Series(ibans), "iban")
    out = fill_pii_columns(
        synthetic_base(500),
        {"card": card_spec, "dob": dob_spec, "id": id_spec, "iban": iban_spec},
        seed=1,
    )

    def luhn_ok(number: str) -> bool:
        digits = [int(c) for c in number][::-1]
        return (
            sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0
        )

    assert out["card"].map(luhn_ok).all() and out["card"].str.fullmatch(r"4\d{15}").all()
    parsed = pd.to_datetime(out["dob"], format="%m/%d/%Y")
    assert parsed.dt.year.between(dob_spec.year_range[0], dob_spec.year_range[1]).all()
    assert out["id"].dtype == np.int64 and out["id"].between(10**8, 2 * 10**8).all()

    def iban_ok(value: str) -> bool:
        moved = value[4:] + value[:4]
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1

    assert out["iban"].str.match(r"^DE\d{20}$").all() and out["iban"].map(iban_ok).all()


def test_empty_frame(specs: dict[str, PiiColumnSpec]) -> None:
    out = fill_pii_columns(synthetic_base(0), specs, seed=1)
    assert len(out) == 0 and set(ENTITIES) <= set(out.columns)


def test_from_a_pii_stage_result() -> None:
    pii = pytest.importorskip("safe_synthesizer.pii")  # the optional "pii" extra
    from safe_synthesizer.config.replace_pii import PiiReplacerConfig

    replace_pii = pii.replace_pii

    train = people(200, seed=31).drop(columns=["age"])
    result = replace_pii(train, PiiReplacerConfig.model_validate({}), key=b"pii-fill-test-key-0123456789abcd")
    entities = pii_column_entities(result.column_stats)
    assert {"first_name", "last_name", "email", "phone", "ssn", "address"} <= set(entities)
    assert "sex" not in entities
    specs = learn_pii_specs(result.data, entities)
    out = fill_pii_columns(result.data[["sex"]], specs, seed=1, column_order=list(result.data.columns))
    assert list(out.columns) == list(result.data.columns)
    assert {layout(v) for v in out["phone"]} <= {layout(v) for v in train["phone"]}
    for first, last, email in zip(out["first_name"], out["last_name"], out["email"], strict=True):
        assert slug(first) in email or slug(last) in email


def test_identity_entities_beyond_the_defaults() -> None:
    fake = Faker("en_US")
    fake.seed_instance(17)
    n = 300
    train = pd.DataFrame(
        {
            "first_name": [fake.first_name() for _ in range(n)],
            "last_name": [fake.last_name() for _ in range(n)],
            "user": [fake.user_name() for _ in range(n)],
            "mac": [fake.mac_address() for _ in range(n)],
            "uuid": [str(fake.uuid4()).upper() for _ in range(n)],
            "expiry": [fake.credit_card_expire() for _ in range(n)],
            "imei": [fake.numerify("35############") + "0" for _ in range(n)],
            "site": [fake.domain_name() for _ in range(n)],
        }
    )
    # make the IMEI-like numbers valid Luhn numbers
    train["imei"] = [v[:-1] + str((10 - sum_luhn(v[:-1])) % 10) for v in train["imei"]]
    entities = {
        "first_name": "first_name",
        "last_name": "last_name",
        "user": "user_name",
        "mac": "device_identifier",
        "uuid": "device_identifier",
        "expiry": "card_expiry",
        "imei": "device_identifier",
        "site": "domain_name",
    }
    specs = learn_pii_specs(train, entities)
    assert specs["imei"].check == "luhn"
    assert specs["expiry"].date_format == "%m/%y"
    out = fill_pii_columns(synthetic_base(500), specs, seed=4)
    assert out["mac"].str.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}").all()
    assert out["uuid"].str.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12}").all()
    months = out["expiry"].str.split("/").str[0].astype(int)
    assert out["expiry"].str.fullmatch(r"\d{2}/\d{2}").all() and months.between(1, 12).all()
    assert out["imei"].str.fullmatch(r"35\d{13}").all()
    assert all((10 - sum_luhn(v[:-1])) % 10 == int(v[-1]) for v in out["imei"])
    assert out["site"].str.fullmatch(r"[a-z0-9-]+\.[a-z]+").all()
    for first, last, user in zip(out["first_name"], out["last_name"], out["user"], strict=True):
        assert slug(first) in user or slug(last) in user or slug(first)[:1] + slug(last) in user
    assert not out["mac"].isin(set(train["mac"])).any() and not out["uuid"].isin(set(train["uuid"])).any()


def sum_luhn(payload: str) -> int:
    """The Luhn sum of ``payload`` (the number without its check digit)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total
