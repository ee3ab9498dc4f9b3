"""Structured generation: every byte sequence the record grammar allows parses as a valid record."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from safe_synthesizer.generation.grammar import RecordGrammar, _int_prefix_feasible
from safe_synthesizer.schema import infer_schema, validate_fields
from safe_synthesizer.serialization import split_fields


def _walk(grammar: RecordGrammar, rng: random.Random) -> bytes:
    out = b""
    for _ in range(5000):
        allowed, eos_ok = grammar.allowed(out)
        if eos_ok and (not allowed or rng.random() < 0.5):
            break
        ends = [b for b in allowed if b in (ord("|"), ord("\n"))]
        out += bytes([rng.choice(ends) if ends and rng.random() < 0.3 else rng.choice(allowed)])
    return out


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = random.Random(1)
    return pd.DataFrame(
        {
            "age": [rng.randint(17, 90) for _ in range(300)],
            "temp": [round(rng.uniform(-12.5, 41.25), 2) for _ in range(300)],
            "city": [rng.choice(["Oslo", "Rome", "São Paulo", "a|b"]) for _ in range(300)],
            "note": [f"note {rng.random():.6f}" for _ in range(300)],
            "flag": [rng.random() < 0.5 for _ in range(300)],
            "opt": [None if i % 5 == 0 else rng.randint(0, 3000) for i in range(300)],
        }
    )


def test_random_walks_through_the_grammar_are_valid_records(frame):
    schema = infer_schema(frame)
    grammar = RecordGrammar(schema, max_records=3)
    rng = random.Random(7)
    records = 0
    for _ in range(300):
        text = _walk(grammar, rng).decode("utf-8", errors="replace")
        for line in text.split("\n")[:-1]:
            record, reason = validate_fields(schema, split_fields(line))
            assert record is not None, (reason, line)
            records += 1
        assert text.count("\n") <= 3
    assert records > 300


@pytest.mark.parametrize(
    ("prefix", "low", "high", "expected"),
    [
        ("1", 17, 90, True),
        ("10", 17, 90, False),
        ("9", 17, 90, True),
        ("91", 17, 90, False),
        ("0", 1, 99, False),
        ("0", 0, 5, True),
        ("-", -3, 5, True),
        ("-4", -3, 5, False),
        ("", 17, 90, True),
    ],
)
def test_integer_prefixes_are_bounded(prefix, low, high, expected):
    assert _int_prefix_feasible(prefix, low, high, max_digits=len(str(max(abs(low), abs(high))))) is expected
