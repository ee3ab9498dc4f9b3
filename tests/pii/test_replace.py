"""The default plan on the labelled fixture: nothing original left, formats kept, stats, replay, logs."""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from typing import Any

import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import PiiResult, replace_pii
from safe_synthesizer.pii.detect import luhn_valid
from safe_synthesizer.pii.pseudonym import iban_check_digits

Run = tuple[PiiResult, Any, pd.DataFrame]

# Pseudonyms are a keyed function of the value alone (stable across jobs), so a pseudonym drawn from a
# small space can equal another row's original by chance: Faker's names, cities, states, postcodes,
# dates, its ``name12@example.org`` emails and its ``https://smith.com/`` URLs. For those each cell must
# change (test_every_structured_pii_cell_changed); for the rest no original may appear anywhere.
LOW_ENTROPY = {
    "first_name",
    "last_name",
    "name",
    "city",
    "state",
    "postcode",
    "date_of_birth",
    "email",
    "url",
}


def _structured_originals(df: pd.DataFrame, labels: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for column, entity in labels["columns"].items():
        if entity and entity not in LOW_ENTROPY:
            out.setdefault(entity, set()).update(df[column].dropna().astype(str))
    return out


def _span_values(df: pd.DataFrame, labels: dict[str, Any]) -> list[tuple[int, str, str, str]]:
    return [
        (row, column, entity, df.at[row, column][start:end])
        for column, spans in labels["spans"].items()
        for row, start, end, entity in spans
    ]


def test_input_untouched(labelled_df: pd.DataFrame, default_run: Run) -> None:
    result, _, before = default_run
    pd.testing.assert_frame_equal(labelled_df, before)
    assert result.data is not labelled_df
    assert list(result.data.columns) == list(labelled_df.columns)
    assert len(result.data) == len(labelled_df)


def test_every_structured_pii_cell_changed(
    labelled_df: pd.DataFrame, labels: dict[str, Any], default_run: Run
) -> None:
    out = default_run[0].data
    for column, entity in labels["columns"].items():
        if not entity:
            continue
        original, new = labelled_df[column], out[column]
        assert new.isna().equals(original.isna()), f"{column}: missing cells must stay missing"
        kept = original.notna() & (original.astype(str) == new.astype(str))
        assert not kept.any(), f"{column}: {int(kept.sum())} cells unchanged"


def test_no_original_value_anywhere(
    labelled_df: pd.DataFrame, labels: dict[str, Any], default_run: Run
) -> None:
    """Exact search: no original high-cardinality PII value in any output cell, structured or text."""
    out = default_run[0].data
    cells = {str(v) for column in out.columns for v in out[column].dropna()}
    text_cells = [str(v) for column in labels["text_columns"] for v in out[column].dropna()]
    blob = "\n".join(text_cells)
    leaks: dict[str, list[str]] = {}
    for entity, values in _structured_originals(labelled_df, labels).items():
        for value in values:
            in_text = value in blob and re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", blob)
            if value in cells or in_text:
                leaks.setdefault(entity, []).append(value)
    assert not leaks, {e: len(v) for e, v in leaks.items()}
    assert {
        "phone_number",
        "ssn",
        "credit_debit_card",
        "iban",
        "ip_address",
        "street_address",
        "address",
    } <= set(_structured_originals(labelled_df, labels))


def test_no_planted_text_span_left(
    labelled_df: pd.DataFrame, labels: dict[str, Any], default_run: Run
) -> None:
    out = default_run[0].data
    left = [
        (row, column, entity)
        for row, column, entity, value in _span_values(labelled_df, labels)
        if re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", str(out.at[row, column]))
    ]
    assert not left, f"{len(left)} planted spans left, e.g. {left[:5]}"
    # untouched text stays untouched
    plain = labelled_df["feedback"].str.startswith("Great service")
    assert (out.loc[plain, "feedback"] == labelled_df.loc[plain, "feedback"]).all()


def test_formats_preserved(labelled_df: pd.DataFrame, default_run: Run) -> None:
    out = default_run[0].data
    mask = labelled_df["phone"].notna()
    for before, after in zip(labelled_df.loc[mask, "phone"], out.loc[mask, "phone"], strict=True):
        assert re.sub(r"\d", "9", before) == re.sub(r"\d", "9", after)
    for before, after in zip(labelled_df["fax"].dropna(), out["fax"].dropna(), strict=True):
        assert re.sub(r"\d", "9", before) == re.sub(r"\d", "9", after)
    for after in out["ssn"].dropna():
        area, group, serial = after.split("-")
        assert len(area) == 3 and area not in ("000", "666") and group != "00" and serial != "0000"
    for before, after in zip(labelled_df["credit_card"], out["credit_card"], strict=True):
        assert re.sub(r"\d", "9", before) == re.sub(r"\d", "9", after) and before[0] == after[0]
        assert luhn_valid(after.replace(" ", ""))
    for after in out["ref_code"]:  # integer column stays integer, valid cards
        assert isinstance(after, int) and luhn_valid(str(after))
    assert out["ref_code"].dtype == labelled_df["ref_code"].dtype
    for before, after in zip(labelled_df["iban"].dropna(), out["iban"].dropna(), strict=True):
        assert after[:2] == before[:2] and len(after) == len(before)
        assert after[2:4] == iban_check_digits(after[:2], after[4:])
    for before, after in zip(labelled_df["zip"].astype(str), out["zip"].astype(str), strict=True):
        assert re.sub(r"\d", "9", before) == re.sub(r"\d", "9", after)
    for before, after in zip(labelled_df["dob"].dropna(), out["dob"].dropna(), strict=True):
        shift = abs((date.fromisoformat(after) - date.fromisoformat(before)).days)
        assert 1 <= shift <= 365
    for after in out["email"].dropna():
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", after)
    states = set(labelled_df["state"])
    assert all(len(s) == 2 and s.isupper() for s in out["state"]) and len(set(out["state"]) & states) > 5


def test_person_fields_coherent(labelled_df: pd.DataFrame, default_run: Run) -> None:
    out = default_run[0].data
    assert (out["full_name"] == out["first_name"] + " " + out["last_name"]).all()
    derived = 0
    for i in range(len(out)):
        email = labelled_df.at[i, "email"]
        if not isinstance(email, str):
            continue
        local = email.split("@")[0]
        last = labelled_df.at[i, "last_name"].lower()
        if last in local:
            derived += 1
            assert out.at[i, "last_name"].lower().replace(" ", "") in out.at[i, "email"].split("@")[0]
    assert derived > 100


def test_stats_summary_and_replay(
    labelled_df: pd.DataFrame, labels: dict[str, Any], default_run: Run
) -> None:
    result = default_run[0]
    stats = result.column_stats
    assert stats["email"].entity == "email" and stats["email"].cells_replaced == stats["email"].cells
    assert stats["email"].transforms == ["pseudonym"]
    assert stats["notes"].free_text and stats["notes"].entity_counts.get("email", 0) > 0
    assert stats["notes"].transforms == ["fake_entities"]
    assert stats["amount"].cells_replaced == 0 and stats["amount"].entity is None
    summary = result.summary()
    text = json.dumps(summary)
    assert summary["plan"] == "default" and summary["rows_out"] == len(labelled_df)
    assert summary["pii_columns"]["ssn"] == "ssn"
    for column in ("email", "full_name", "ssn", "credit_card", "phone"):
        for value in labelled_df[column].dropna().astype(str).head(50):
            assert value not in text
    replay = result.replay_input()
    assert replay.column_entities == {c: e for c, e in labels["columns"].items() if e}
    planted = {(entity, value) for _, _, entity, value in _span_values(labelled_df, labels)}
    found = {(entity, value) for entity, values in replay.text_values.items() for value in values}
    by_value = {value for _, value in found}
    recall = sum(value in by_value for _, value in planted) / len(planted)
    assert recall >= 0.95
    assert "@" not in repr(replay)


def test_progress_reported(default_run: Run) -> None:
    events = default_run[1].events
    assert events and all(e[0] == "replace_pii" for e in events)
    assert events[-1][1] == events[-1][2]
    for _, _, _, message, metrics in events:
        assert "@" not in message and all(not isinstance(v, str) or "@" not in v for v in metrics.values())


def test_logs_hold_no_values(people: pd.DataFrame, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    replace_pii(people, config(), key=KEY)
    assert "replace_pii" in caplog.text
    for value in ("John", "Smith", "gmail", "555-0143", "536-90-4399", "4111"):
        assert value not in caplog.text


def test_protected_columns_untouched(people: pd.DataFrame) -> None:
    people = people.assign(owner_email=people["email"])
    result = replace_pii(
        people, config({"globals": {"lock_columns": ["ssn"]}}), key=KEY, protected_columns=["email"]
    )
    out = result.data
    pd.testing.assert_series_equal(out["email"], people["email"])
    pd.testing.assert_series_equal(out["ssn"], people["ssn"])
    assert result.column_stats["email"].protected and result.column_stats["email"].entity == "email"
    assert (out["owner_email"].dropna() != people["owner_email"].dropna()).all()
    # entity / type rules skip them as well
    rules = {"steps": [{"rows": {"update": [{"entity": ["email", "ssn"], "value": "'x'"}]}}]}
    out = replace_pii(people, config(rules), key=KEY, protected_columns=["email", "ssn"]).data
    pd.testing.assert_series_equal(out["email"], people["email"])
    # a rule naming a protected column rewrites it (and says so)
    rules = {"steps": [{"rows": {"update": [{"name": "ssn", "value": "this | partial_mask(0, 4)"}]}}]}
    result = replace_pii(people, config(rules), key=KEY, protected_columns=["ssn"])
    assert result.data["ssn"].tolist()[0] == "***-**-4399"
    assert any("protected column 'ssn'" in w for w in result.warnings)


def test_unknown_lock_column_warns(people: pd.DataFrame) -> None:
    result = replace_pii(people, config({"globals": {"lock_columns": ["nope"]}}), key=KEY)
    assert any("lock_columns" in w and "nope" in w for w in result.warnings)


def test_bad_key_rejected(people: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        replace_pii(people, config(), key=b"short")


def test_dtypes_kept() -> None:
    df = pd.DataFrame(
        {
            "birth_date": pd.to_datetime(["1980-01-02", "1975-06-30", None]),
            "zip": [2134, 94105, 2134],
            "zip_code": [2134.0, None, 60601.0],
            "phone": pd.array(["212-555-0143", None, "646-555-0101"], dtype="string"),
        }
    )
    out = replace_pii(df, config(), key=KEY).data
    assert out.dtypes.to_dict() == df.dtypes.to_dict()
    assert out["birth_date"].isna().tolist() == [False, False, True]
    assert (out["birth_date"] != df["birth_date"]).iloc[:2].all()
    assert out.at[0, "zip"] == out.at[2, "zip"] != 2134
    assert pd.isna(out.at[1, "zip_code"]) and out.at[0, "zip_code"] != 2134.0
    assert out.at[0, "phone"] != "212-555-0143" and pd.isna(out.at[1, "phone"])
