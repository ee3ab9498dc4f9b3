"""Generation shared by both engines: batching, stop rule, partial results, parser/validator.

The engine-level tests run the same checks on every engine: transformers everywhere, vLLM only
with a CUDA GPU (marked ``gpu``; skipped in CI). ``ScriptedEngine`` is a test double that replays
fixed texts, used only to pin down the stop and batching rules exactly.
"""

from __future__ import annotations

import pandas as pd
import pytest

from safe_synthesizer.config import GenerateParameters
from safe_synthesizer.generation import SamplingSettings, generate_records
from safe_synthesizer.generation.records import StopCondition, next_batch_size, parse_sequence
from safe_synthesizer.schema import infer_schema
from safe_synthesizer.serialization import encode_records, prompt_text

FRAME = pd.DataFrame(
    {
        "age": [20 + i % 40 for i in range(200)],
        "city": ["Oslo" if i % 3 else "Rome" for i in range(200)],
        "note": [f"n{i}" for i in range(200)],
    }
)
SCHEMA = infer_schema(FRAME)
GOOD = encode_records(FRAME.head(3), SCHEMA)


class ScriptedEngine:
    """Test double: returns ``texts`` in turn; records the batch sizes it was asked for."""

    name = "scripted"

    def __init__(self, texts: list[str], cap: int = 4) -> None:
        self.texts = texts
        self.cap = cap
        self.asked: list[int] = []
        self.calls = 0

    def max_batch(self) -> int:
        return self.cap

    def generate(self, prompt: str, n: int, settings: SamplingSettings) -> list[str]:
        self.asked.append(n)
        out = [self.texts[(self.calls + i) % len(self.texts)] for i in range(n)]
        self.calls += n
        return out


def test_parse_counts_valid_and_invalid_and_drops_cut_off_line():
    text = f"{GOOD[0]}\n99|Oslo|x\n{GOOD[1]}\nnot|a|record|at all\n{GOOD[2]}"
    records, reasons = parse_sequence(text, SCHEMA, GenerateParameters())
    assert [r["note"] for r in records] == ["n0", "n1"]
    assert sorted(reasons) == ["age:above_maximum", "wrong_field_count"]


def test_grouped_parsing_checks_group_and_order():
    frame = pd.DataFrame({"g": ["a", "a", "b", "b"] * 60, "t": [1, 2, 1, 2] * 60, "v": ["x", "y"] * 120})
    schema = infer_schema(frame)
    ok = "a|1|x\na|2|y\n\n"
    mixed = "a|1|x\nb|2|y\n\n"
    unordered = "b|2|x\nb|1|y\n\n"
    params = GenerateParameters()
    assert len(parse_sequence(ok + mixed + unordered, schema, params, "g", "t")[0]) == 2
    fixed = GenerateParameters.model_validate(
        {"validation": {"group_by_fix_non_unique_value": True, "group_by_fix_unordered_records": True}}
    )
    records, reasons = parse_sequence(ok + mixed + unordered, schema, fixed, "g", "t")
    assert len(records) == 6 and reasons == []
    assert [r["t"] for r in records[4:]] == [1, 2]


def test_stop_rule_and_batch_sizes():
    stop = StopCondition(threshold=0.5, patience=2)
    assert stop.add_batch(valid=1, invalid=9) is False
    assert stop.add_batch(valid=1, invalid=9) is True
    assert next_batch_size(100, None, 64) == 64
    assert next_batch_size(10, 2.0, 64) == 5
    assert next_batch_size(1000, 0.0, 64) == 64


def test_generation_reaches_the_target_with_adaptive_batches():
    engine = ScriptedEngine(["\n".join(GOOD) + "\n"], cap=8)
    params = GenerateParameters(num_records=20)
    result = generate_records(engine, SCHEMA, prompt_text(SCHEMA), params, SamplingSettings())
    assert len(result.data) == 20 and not result.stopped_early
    assert engine.asked == [8]  # 8 sequences x 3 records cover 20
    engine = ScriptedEngine([GOOD[0] + "\n"], cap=8)
    result = generate_records(engine, SCHEMA, prompt_text(SCHEMA), params, SamplingSettings())
    assert len(result.data) == 20 and engine.asked == [8, 8, 4]  # then ceil(remaining / 1 per sequence)


def test_early_stop_keeps_the_valid_records():
    engine = ScriptedEngine([f"{GOOD[0]}\nbad\nbad\nbad\n"], cap=4)
    params = GenerateParameters(num_records=1000, patience=2, invalid_fraction_threshold=0.5)
    result = generate_records(engine, SCHEMA, prompt_text(SCHEMA), params, SamplingSettings())
    assert result.stopped_early and "2 consecutive batches" in result.stop_reason
    assert len(result.data) == 8 and result.invalid == 24
    assert result.summary()["invalid_reasons"] == {"wrong_field_count": 24}


def _engine(kind: str, tmp_path):
    if kind == "transformers":
        from safe_synthesizer.generation.transformers_engine import TransformersEngine
        from safe_synthesizer.models import load_base_model

        loaded = load_base_model("builtin:tiny-llama", device="cpu", seed=1)
        return TransformersEngine(loaded.model, loaded.tokenizer, "cpu", batch_cap=8)
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    pytest.importorskip("vllm")
    from safe_synthesizer.generation.vllm_engine import VllmEngine
    from safe_synthesizer.models import load_base_model

    loaded = load_base_model("builtin:tiny-llama", device="cpu", seed=1)
    loaded.model.save_pretrained(tmp_path / "m")
    loaded.tokenizer.save_pretrained(tmp_path / "m")
    return VllmEngine(str(tmp_path / "m"), None, lora_rank=8, max_model_len=2048)


@pytest.mark.parametrize("kind", ["transformers", pytest.param("vllm", marks=pytest.mark.gpu)])
def test_engine_contract(kind, tmp_path):
    """Every engine returns n texts per call and the shared parser accounts for every line."""
    engine = _engine(kind, tmp_path)
    settings = SamplingSettings(max_new_tokens=64, seed=3)
    texts = engine.generate(prompt_text(SCHEMA), 3, settings)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    for text in texts:
        records, reasons = parse_sequence(text, SCHEMA, GenerateParameters())
        complete_lines = [line for line in text.split("\n")[:-1] if line.strip()]
        assert len(records) + len(reasons) == len(complete_lines)


def test_structured_generation_makes_every_record_valid_even_untrained(tmp_path):
    """An untrained model under the record grammar still emits only valid records."""
    from safe_synthesizer.generation.grammar import RecordGrammar

    engine = _engine("transformers", tmp_path)
    grammar = RecordGrammar(SCHEMA, max_records=2)
    params = GenerateParameters(num_records=12, patience=5)
    settings = SamplingSettings(max_new_tokens=200, seed=5, grammar=grammar)
    result = generate_records(engine, SCHEMA, prompt_text(SCHEMA), params, settings)
    assert result.invalid == 0 and len(result.data) == 12
    assert set(result.data["city"]) <= {"Oslo", "Rome"}
    assert result.data["age"].between(20, 59).all()
