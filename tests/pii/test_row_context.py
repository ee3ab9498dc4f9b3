"""Row context: given names follow a sex/gender column; names and places follow a country column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import replace_pii
from safe_synthesizer.pii.columns import classify_columns
from safe_synthesizer.pii.lexicons import person_names
from safe_synthesizer.pii.pseudonym import Pseudonymizer, _latin_pool
from safe_synthesizer.pii.row_context import country_locale, find_context_columns, sex_of

FEMALE = ["Mary", "Linda", "Susan", "Karen", "Nancy", "Betty", "Sandra", "Donna", "Carol", "Ruth"]
MALE = ["James", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles", "Daniel"]


def _people(n: int = 200, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sexes = rng.choice(["F", "M"], n)
    firsts = [f"{rng.choice(FEMALE if s == 'F' else MALE)}" for s in sexes]
    return pd.DataFrame(
        {
            "first_name": firsts,
            "last_name": rng.choice(["Smith", "Miller", "Garcia", "Brown", "Wilson"], n),
            "gender": sexes,
        }
    )


def test_country_and_sex_values() -> None:
    assert country_locale("Deutschland") == country_locale("DEU") == country_locale(" de ") == "de_DE"
    assert country_locale("United States") == country_locale("usa") == "en_US"
    assert country_locale("México") == "es_MX" and country_locale("Japan") == "ja_JP"
    assert country_locale("Narnia") is None and country_locale(3) is None
    assert sex_of("F") == sex_of("female") == sex_of("Frau") == sex_of("femenino") == "f"
    assert sex_of("M") == sex_of("Male") == sex_of("männlich") == sex_of("masculino") == "m"
    assert sex_of("X") is None and sex_of("diverse") is None and sex_of(None) is None


def test_given_names_follow_the_sex_column() -> None:
    df = _people()
    out = replace_pii(df, config(), key=KEY).data
    assert out["gender"].tolist() == df["gender"].tolist()  # the context column is kept as it is
    female = set(person_names("en_US", "first", "f").values)
    male = set(person_names("en_US", "first", "m").values)
    for sex, name in zip(df["gender"], out["first_name"], strict=True):
        assert name in (female if sex == "F" else male), (sex, name)
    assert (out["first_name"] != df["first_name"]).all()


def test_without_a_sex_column_names_come_from_both_lists() -> None:
    """The check above can fail: without the column, female originals get male names too."""
    df = _people().drop(columns="gender")
    out = replace_pii(df, config(), key=KEY).data
    female_only = set(person_names("en_US", "first", "f").values) - set(
        person_names("en_US", "first", "m").values
    )
    originals_female = df["first_name"].isin(FEMALE)
    assert not out.loc[originals_female, "first_name"].isin(female_only).all()


def test_a_name_keeps_one_pseudonym_when_rows_disagree_on_sex() -> None:
    df = pd.DataFrame({"first_name": ["Alex", "Alex", "Sam", "Sam"] * 10, "sex": ["M", "F", "F", "M"] * 10})
    out = replace_pii(df, config(), key=KEY).data
    assert out.groupby(df["first_name"])["first_name"].nunique().eq(1).all()
    male = set(person_names("en_US", "first", "m").values)
    assert out.at[0, "first_name"] in male  # the first row decides (Alex first appears as M)


def test_places_and_names_follow_the_country_column() -> None:
    rng = np.random.default_rng(2)
    countries = rng.choice(["Germany", "FR", "ITA"], 150)
    df = pd.DataFrame(
        {
            "first_name": [
                f"Name{chr(65 + i % 26)}{chr(65 + i // 26)}".replace("Name", "Jo") for i in range(150)
            ],
            "last_name": [f"Surname{chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(150)],
            "city": [f"Town{chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(150)],
            "country": countries,
        }
    )
    detections = classify_columns(df, config().globals)
    assert detections["last_name"].entity == "last_name" and detections["city"].entity == "city"
    assert find_context_columns(df, detections).country == "country"
    out = replace_pii(df, config(), key=KEY).data
    assert out["country"].tolist() == df["country"].tolist()
    for country, city, last in zip(countries, out["city"], out["last_name"], strict=True):
        locale = country_locale(country)
        assert city in _latin_pool("city", locale), (country, city)
        assert last in person_names(locale, "last", None, True).values, (country, last)


def test_same_value_same_pseudonym_across_columns_with_context() -> None:
    """A surname in a last-name column and inside a full name gets one pseudonym (same row context)."""
    df = pd.DataFrame(
        {
            "last_name": ["Keller", "Weber", "Keller"],
            "full_name": ["Anna Weber", "Jonas Keller", "Paul Weber"],
            "gender": ["F", "M", "M"],
            "country": ["DE", "DE", "Germany"],
        }
    )
    out = replace_pii(df, config(), key=KEY).data
    surnames = {o: n for o, n in zip(df["last_name"], out["last_name"], strict=True)}
    for original, new in zip(df["full_name"], out["full_name"], strict=True):
        assert new.split()[-1] == surnames[original.split()[-1]]
    assert out.at[0, "last_name"] == out.at[2, "last_name"]
    de_last = set(person_names("de_DE", "last", None, True).values)
    assert set(out["last_name"]) <= de_last


@pytest.mark.parametrize("values", [["blue", "green", "red", "blue"], ["F", "M", "F", "M"]])
def test_columns_that_are_not_context_change_nothing(values: list[str]) -> None:
    base = pd.DataFrame({"first_name": ["Mary", "James", "Linda", "Robert"], "city": ["Boston"] * 4})
    named = base.assign(favourite=values)  # not named like a sex or country column
    a = replace_pii(base, config(), key=KEY).data
    b = replace_pii(named, config(), key=KEY).data
    pd.testing.assert_frame_equal(a, b.drop(columns="favourite"))


def test_pseudonymizer_without_context_is_unchanged() -> None:
    """Registering context for one value leaves every other value's pseudonym as it was."""
    p, q = Pseudonymizer(KEY), Pseudonymizer(KEY)
    q.register_row_context("given", "Mary", "m", "de_DE")
    assert p.given("Linda") == q.given("Linda") and p.city("Boston") == q.city("Boston")
    assert p.given("Mary") != q.given("Mary") or p.given("Mary") in person_names("de_DE", "first", "m").values
