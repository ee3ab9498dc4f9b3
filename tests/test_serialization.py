"""Record encoding, packing and schema validation (pure functions)."""

from __future__ import annotations

import pandas as pd
import pytest

from safe_synthesizer.schema import TableSchema, infer_schema, validate_fields
from safe_synthesizer.serialization import (
    encode_records,
    escape_field,
    pack_examples,
    prompt_text,
    sample_units,
    split_fields,
    units_from_frame,
)


@pytest.mark.parametrize("text", ["plain", "a|b", "back\\slash", "new\nline", "\\p literal", "", "|||"])
def test_escape_round_trip(text):
    fields = split_fields(escape_field(text) + "|x")
    assert fields == [text or None, "x"]


def _frame(n: int = 100) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [20 + i % 50 for i in range(n)],
            "score": [round(0.5 + i / 7, 2) for i in range(n)],
            "city": ["Oslo" if i % 3 else "Rome" for i in range(n)],
            "note": [f"text {i} | with pipe" for i in range(n)],
            "flag": [i % 2 == 0 for i in range(n)],
            "maybe": [None if i % 4 == 0 else i for i in range(n)],
        }
    )


def test_schema_kinds_and_round_trip():
    df = _frame()
    schema = infer_schema(df)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "age": "integer",
        "score": "number",
        "city": "categorical",
        "note": "string",
        "flag": "boolean",
        "maybe": "integer",
    }
    assert schema.columns[5].nullable and not schema.columns[0].nullable
    assert TableSchema.from_json(schema.to_json()) == schema
    lines = encode_records(df, schema)
    for line, (_, row) in zip(lines, df.iterrows(), strict=True):
        record, reason = validate_fields(schema, split_fields(line))
        assert reason is None
        assert record["age"] == row["age"] and record["city"] == row["city"] and record["note"] == row["note"]
        assert record["flag"] == row["flag"]
        assert record["score"] == pytest.approx(row["score"])


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("20|1.5|Oslo|true", "wrong_field_count"),
        ("200|1.5|Oslo|t|true|", "age:above_maximum"),
        ("20|x|Oslo|t|true|", "score:not_a_number"),
        ("20|1.5|Paris|t|true|", "city:unknown_category"),
        ("20|1.5|Oslo|text 12 \\p with pipe|maybe|", "flag:not_boolean"),
        ("|1.5|Oslo|t|true|", "age:missing_value"),
        ("20.5|1.5|Oslo|t|true|", "age:not_an_integer"),
    ],
)
def test_invalid_reasons_name_column_not_value(line, reason):
    schema = infer_schema(_frame())
    record, why = validate_fields(schema, split_fields(line))
    assert record is None and why == reason


def test_prompt_and_packing_limits():
    df = _frame(30)
    schema = infer_schema(df)
    assert prompt_text(schema) == "age|score|city|note|flag|maybe\n"
    units = units_from_frame(df, schema, None, None)
    examples = pack_examples(
        units, [10] * len(units), max_units_per_example=4, token_budget=1000, grouped=False
    )
    assert [e.n_units for e in examples] == [4] * 7 + [2]
    examples = pack_examples(
        units, [10] * len(units), max_units_per_example=None, token_budget=35, grouped=False
    )
    assert all(e.n_units <= 3 for e in examples) and sum(e.n_records for e in examples) == 30


def test_grouped_units_are_ordered_and_blank_line_terminated():
    df = pd.DataFrame({"g": ["a", "b", "a", "b", "a"], "t": [3, 2, 1, 1, 2], "v": ["x", "y", "z", "w", "q"]})
    schema = infer_schema(df)
    units = units_from_frame(df, schema, "g", "t")
    assert units == [["a|1|z", "a|2|q", "a|3|x"], ["b|1|w", "b|2|y"]]
    (example,) = pack_examples(units, [5, 5], max_units_per_example=None, token_budget=100, grouped=True)
    assert example.body() == "a|1|z\na|2|q\na|3|x\n\nb|1|w\nb|2|y\n\n"


def test_sample_units_covers_epochs_deterministically():
    first = list(sample_units(10, 25, 1.0, seed=3))
    assert len(first) == 25 and sorted(first[:10]) == list(range(10))
    assert first == list(sample_units(10, 25, 1.0, seed=3))
    assert first != list(sample_units(10, 25, 1.0, seed=4))
