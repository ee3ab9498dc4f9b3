"""The record grammar as a regex: exact integer ranges, every training record matches, bad ones do
not, and xgrammar makes a random model with a BPE tokenizer write only valid records."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pandas as pd
import pytest

from safe_synthesizer.generation.record_regex import field_regex, int_range_regex, record_regex
from safe_synthesizer.schema import ColumnSchema, TableSchema, infer_schema, validate_fields
from safe_synthesizer.serialization import encode_records, prompt_text, split_fields

DEMO = Path(__file__).resolve().parents[1] / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
COLUMNS = ["age", "workclass", "education", "sex", "hours_per_week", "capital_gain", "income", "notes"]


def _ranges() -> list[tuple[int, int]]:
    rng = random.Random(0)
    fixed = [(0, 0), (0, 9), (0, 10), (5, 123), (-5, 5), (-123, -7), (17, 90), (999, 1001), (-1, 0)]
    return fixed + [(lo, lo + rng.randint(0, 3000)) for lo in (rng.randint(-2000, 2000) for _ in range(25))]


@pytest.mark.parametrize(("low", "high"), _ranges())
def test_int_range_regex_is_exact(low, high):
    pattern = re.compile(int_range_regex(low, high))
    for x in range(low - 40, high + 41):
        assert bool(pattern.fullmatch(str(x))) == (low <= x <= high), x
    for text in ("007", "-0", "00", "+5", "", "1.0"):
        assert not pattern.fullmatch(text), text


def test_every_training_record_matches_and_broken_ones_do_not():
    frame = pd.read_csv(DEMO)[COLUMNS]
    schema = infer_schema(frame)
    one = re.compile(record_regex(schema, 1))
    lines = encode_records(frame, schema)
    assert all(one.fullmatch(line + "\n") for line in lines)
    two = re.compile(record_regex(schema, 2))
    assert two.fullmatch(lines[0] + "\n" + lines[1] + "\n") and not one.fullmatch(
        lines[0] + "\n" + lines[1] + "\n"
    )
    fields = lines[0].split("|")
    for index, wrong in ((0, "91"), (0, "16"), (1, "Nowhere-gov"), (3, "Other"), (0, "4x")):
        broken = fields.copy()
        broken[index] = wrong
        assert not one.fullmatch("|".join(broken) + "\n"), (index, wrong)
    assert not one.fullmatch("|".join(fields[:-1]) + "\n")  # a field missing


def test_field_regex_per_kind():
    number = ColumnSchema("x", "number", minimum=-0.75, maximum=12.5, decimals=2)
    pattern = re.compile(field_regex(number))
    assert all(pattern.fullmatch(t) for t in ("-0.75", "-0.5", "0", "12", "12.49", "3.1"))
    assert not any(pattern.fullmatch(t) for t in ("13", "-1", "1.234", "1.", "-0"))
    nullable = re.compile(field_regex(ColumnSchema("b", "boolean", nullable=True)))
    assert nullable.fullmatch("") and nullable.fullmatch("true") and not nullable.fullmatch("yes")
    string = re.compile(field_regex(ColumnSchema("s", "string", min_length=2, max_length=4)))
    assert string.fullmatch("ab") and string.fullmatch("a\\pc") and not string.fullmatch("a|c")
    assert not string.fullmatch("a") and not string.fullmatch("abcde")
    escaped = re.compile(field_regex(ColumnSchema("c", "categorical", categories=["a|b", "c.d"])))
    assert escaped.fullmatch("a\\pb") and escaped.fullmatch("c.d") and not escaped.fullmatch("cxd")


def test_xgrammar_constrains_a_random_model_with_a_bpe_tokenizer():
    """An untrained model writes only valid records under the regex; without it, none are valid."""
    pytest.importorskip("xgrammar")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from safe_synthesizer.generation.engine import SamplingSettings
    from safe_synthesizer.generation.transformers_engine import TransformersEngine
    from safe_synthesizer.models import BUILTIN_SMOLLM2, resolve_model_dir

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_dir(BUILTIN_SMOLLM2))  # 49k-token BPE
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            eos_token_id=tokenizer.eos_token_id,
        )
    )
    frame = pd.read_csv(DEMO)[["age", "workclass", "sex", "hours_per_week", "income"]]
    schema = infer_schema(frame)
    engine = TransformersEngine(model, tokenizer, "cpu")
    assert engine.supports_regex()

    def valid_records(regex: str | None) -> tuple[int, int]:
        settings = SamplingSettings(temperature=1.0, max_new_tokens=60, seed=1, regex=regex)
        lines = [
            line for text in engine.generate(prompt_text(schema), 6, settings) for line in text.splitlines()
        ]
        good = sum(1 for line in lines if validate_fields(schema, split_fields(line))[1] is None)
        return good, len(lines)

    good, total = valid_records(record_regex(schema, 3))
    assert total >= 6 and good == total, (good, total)
    unconstrained, _ = valid_records(None)
    assert unconstrained == 0


def test_table_schema_with_an_empty_column_still_compiles():
    schema = TableSchema([ColumnSchema("e", "empty"), ColumnSchema("n", "integer", minimum=1, maximum=3)])
    pattern = re.compile(record_regex(schema, 1))
    assert pattern.fullmatch("|2\n") and not pattern.fullmatch("x|2\n")
