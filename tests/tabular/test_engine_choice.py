"""Which engine runs, and why."""

from __future__ import annotations

import pandas as pd
import pytest

from safe_synthesizer.errors import UserInputError
from safe_synthesizer.tabular.engine import FIELD_TOKENS, LLM, choose_engine

TABLE = pd.DataFrame({"a": ["x", "y"] * 50, "b": range(100)})
LONG_TEXT = TABLE.assign(note=["word " * 60] * 100)


def test_default_is_the_field_engine_on_tables():
    assert choose_engine("auto", False, TABLE, "cpu").kind == FIELD_TOKENS
    assert choose_engine("auto", False, TABLE, "cuda").kind == FIELD_TOKENS


def test_a_named_pretrained_model_or_long_text_on_gpu_picks_the_llm():
    assert choose_engine("auto", True, TABLE, "cpu").kind == LLM
    assert choose_engine("auto", False, LONG_TEXT, "cuda").kind == LLM
    cpu = choose_engine("auto", False, LONG_TEXT, "cpu")
    assert cpu.kind == FIELD_TOKENS and "note" in cpu.reason


def test_explicit_choice_wins_and_grouping_needs_the_llm():
    assert choose_engine("llm", False, TABLE, "cpu").kind == LLM
    assert choose_engine("field_tokens", True, TABLE, "cuda").kind == FIELD_TOKENS
    assert choose_engine("auto", False, TABLE, "cpu", grouped=True).kind == LLM
    with pytest.raises(UserInputError, match="group_training_examples_by"):
        choose_engine("field_tokens", False, TABLE, "cpu", grouped=True)
