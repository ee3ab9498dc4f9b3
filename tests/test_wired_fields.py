"""One test per config field that issue 15 wired: each shows the field's effect.

``attn_implementation`` and ``rope_scaling_factor`` reach the model (config, rotary frequencies)
and summary.json; ``max_vram_fraction`` is applied on CUDA and recorded everywhere;
``peft_implementation`` picks QLoRA (4-bit) where a GPU allows it; ``group_by_accept_no_delineator``
keeps an unclosed generated group. GPU-only parts are marked ``gpu`` and skip without CUDA.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from safe_synthesizer.autoconfig import resolve, rope_factor
from safe_synthesizer.config import SafeSynthesizerParameters
from safe_synthesizer.errors import UserInputError
from safe_synthesizer.models import BUILTIN_TINY_LLAMA, TINY_LLAMA_CONTEXT, load_base_model
from safe_synthesizer.schema import infer_schema
from safe_synthesizer.training import apply_vram_fraction, longest_example_tokens, peft_plan


def _params(**sections) -> SafeSynthesizerParameters:
    return SafeSynthesizerParameters.model_validate(sections)


def _table(long_chars: int = 0, rows: int = 30) -> pd.DataFrame:
    notes = [f"note {i}" for i in range(rows)]
    if long_chars:
        notes[5] = "x" * long_chars  # one record longer than the tiny model's 2048-token context
    return pd.DataFrame({"id": range(rows), "kind": ["a", "b", "c"] * (rows // 3), "note": notes})


@pytest.fixture(scope="module")
def local_model_dir(tmp_path_factory):
    """The tiny Llama saved as a plain model directory: loads through the pretrained (LoRA) path."""
    loaded = load_base_model(BUILTIN_TINY_LLAMA, device="cpu", seed=1)
    target = tmp_path_factory.mktemp("model") / "tiny"
    loaded.model.save_pretrained(target)
    loaded.tokenizer.save_pretrained(target)
    return target


# --- attn_implementation ---------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_attn_implementation_reaches_the_model(impl, local_model_dir):
    for source in (BUILTIN_TINY_LLAMA, str(local_model_dir)):
        loaded = load_base_model(source, device="cpu", attn_implementation=impl)
        assert loaded.model.config._attn_implementation == impl
        assert loaded.attn_implementation == impl and loaded.notes == []


def test_unavailable_attn_implementation_falls_back_to_sdpa_with_a_note():
    loaded = load_base_model(BUILTIN_TINY_LLAMA, device="cpu", attn_implementation="flash_attention_2")
    assert loaded.attn_implementation == "sdpa"
    assert len(loaded.notes) == 1 and "flash_attention_2" in loaded.notes[0]


# --- rope_scaling_factor ---------------------------------------------------------------------


def test_explicit_rope_factor_is_set_on_the_model_config(local_model_dir):
    for source in (BUILTIN_TINY_LLAMA, str(local_model_dir)):
        plain = load_base_model(source, device="cpu")
        scaled = load_base_model(source, device="cpu", rope_scaling_factor=2)
        rope = scaled.model.config.rope_parameters
        assert rope["rope_type"] == "linear" and rope["factor"] == 2.0
        # the rotary embedding was built with it: position interpolation halves every frequency
        inv_plain = plain.model.model.rotary_emb.inv_freq
        inv_scaled = scaled.model.model.rotary_emb.inv_freq
        assert inv_scaled.allclose(inv_plain / 2)
        assert scaled.rope_scaling_factor == 2 and scaled.context_length == 2 * plain.context_length


def test_rope_auto_is_resolved_from_the_measured_longest_example():
    tokenizer = load_base_model(BUILTIN_TINY_LLAMA, device="cpu").tokenizer
    params = _params()
    short = _table()
    longest_short = longest_example_tokens(short, infer_schema(short), params, tokenizer)
    assert longest_short < 100 and rope_factor(params, longest_short, TINY_LLAMA_CONTEXT) == 1

    wide = _table(long_chars=3000)  # byte-level tokenizer: ~1 token per character
    longest = longest_example_tokens(wide, infer_schema(wide), params, tokenizer)
    assert 3000 < longest < 3100
    assert rope_factor(params, longest, TINY_LLAMA_CONTEXT) == 2
    resolved = resolve(
        params,
        n_train_records=len(wide),
        n_privacy_units=len(wide),
        device="cpu",
        pretrained_model=BUILTIN_TINY_LLAMA,
        base_context=TINY_LLAMA_CONTEXT,
        longest_example_tokens=longest,
    )
    assert resolved.rope_scaling_factor == 2 and resolved.max_seq_length == 2 * TINY_LLAMA_CONTEXT
    assert resolved.longest_example_tokens == longest
    # an explicit value wins over the measurement
    assert rope_factor(_params(training={"rope_scaling_factor": 3}), longest, TINY_LLAMA_CONTEXT) == 3


def test_rope_auto_under_dp_does_not_measure_the_raw_data():
    """Under DP the longest raw record is private: the DP schema's public bound is used instead."""
    tokenizer = load_base_model(BUILTIN_TINY_LLAMA, device="cpu").tokenizer
    dp = _params(privacy={"dp_enabled": True})
    table = _table()
    schema = infer_schema(table)
    longer_raw = _table(long_chars=60)  # same schema, a longer raw record
    assert longest_example_tokens(table, schema, dp, tokenizer) == longest_example_tokens(
        longer_raw, schema, dp, tokenizer
    )
    grouped = _params(privacy={"dp_enabled": True}, data={"group_training_examples_by": "kind"})
    assert longest_example_tokens(table, schema, grouped, tokenizer) == 0  # group sizes are private


# --- max_vram_fraction -----------------------------------------------------------------------


def test_max_vram_fraction_caps_cuda_memory(monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, d: calls.append((f, d)))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert apply_vram_fraction(0.5, "cpu") is False and calls == []
    assert apply_vram_fraction(0.5, "cuda") is True and calls == [(0.5, 0)]


@pytest.mark.gpu
def test_max_vram_fraction_on_a_real_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    assert apply_vram_fraction(0.05, "cuda") is True
    total = torch.cuda.get_device_properties(0).total_memory
    with pytest.raises(torch.OutOfMemoryError):  # beyond 5 % of the GPU: refused by the cap
        torch.empty(int(total * 0.1), dtype=torch.uint8, device="cuda")
    apply_vram_fraction(1.0, "cuda")


# --- peft_implementation ---------------------------------------------------------------------


def test_peft_plan_chooses_qlora_where_a_gpu_allows_it():
    assert peft_plan(_params(), "cuda", from_scratch=False).implementation == "LORA"  # NeMo defaults
    explicit = _params(training={"peft_implementation": "qlora"})
    plan = peft_plan(explicit, "cuda", from_scratch=False)
    assert (plan.implementation, plan.quantization_bits, plan.warnings) == ("QLORA", 4, [])
    eight = peft_plan(_params(training={"quantize_model": True}), "cuda", from_scratch=False)
    assert (eight.implementation, eight.quantization_bits) == ("QLORA", 8)
    lora = peft_plan(_params(training={"peft_implementation": "LORA"}), "cuda", from_scratch=False)
    assert (lora.implementation, lora.quantization_bits) == ("LORA", None)


def test_peft_plan_on_cpu_falls_back_only_outside_dp():
    plan = peft_plan(_params(training={"peft_implementation": "QLORA"}), "cpu", from_scratch=False)
    assert (plan.implementation, plan.quantization_bits) == ("LORA", None) and "QLORA" in plan.warnings[0]
    with pytest.raises(UserInputError, match="differential privacy"):
        peft_plan(
            _params(training={"peft_implementation": "QLORA"}, privacy={"dp_enabled": True}),
            "cpu",
            from_scratch=False,
        )
    with pytest.raises(UserInputError, match="quantize_model needs a GPU"):
        peft_plan(_params(training={"quantize_model": True}), "cpu", from_scratch=False)
    with pytest.raises(UserInputError, match="LORA"):
        peft_plan(
            _params(training={"peft_implementation": "LORA", "quantize_model": True}),
            "cuda",
            from_scratch=False,
        )
    scratch = peft_plan(_params(training={"peft_implementation": "QLORA"}), "cpu", from_scratch=True)
    assert scratch.implementation is None and scratch.quantization_bits is None and scratch.warnings


@pytest.mark.gpu
def test_qlora_loads_a_4bit_base_on_gpu(local_model_dir):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb

    from safe_synthesizer.training import _lora_model

    params = _params(training={"peft_implementation": "QLORA", "pretrained_model": str(local_model_dir)})
    plan = peft_plan(params, "cuda", from_scratch=False)
    loaded = load_base_model(str(local_model_dir), device="cuda", quantization_bits=plan.quantization_bits)
    assert loaded.quantization == "4-bit nf4"
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in loaded.model.modules())
    model = _lora_model(loaded, params)
    assert model.get_nb_trainable_parameters()[0] > 0


# --- the whole run: summary.json records what was applied ------------------------------------


def test_run_summary_records_attention_rope_vram_and_peft(tmp_path):
    """A training run of the tiny model on a table with one ~3000-token record: rope auto -> 2,
    eager attention, the VRAM fraction recorded (not applied on CPU), all in summary.json and
    in the adapter's model card (which generation rebuilds the base from)."""
    from safe_synthesizer.pipeline import RunOptions, run_pipeline

    data = tmp_path / "in.csv"
    _table(long_chars=3000).to_csv(data, index=False)
    params = _params(
        enable_replace_pii=False,
        evaluation={"enabled": False},
        data={"holdout": 0, "random_state": 3},
        training={
            "pretrained_model": BUILTIN_TINY_LLAMA,
            "num_input_records_to_sample": 4,
            "batch_size": 2,
            "gradient_accumulation_steps": 1,
            "attn_implementation": "eager",
            "max_vram_fraction": 0.5,
        },
    )
    out = tmp_path / "out"
    outcome = run_pipeline(
        params, RunOptions(data_source=str(data), output=str(out), mode="train", device="cpu")
    )
    assert outcome.status == "succeeded"
    summary = json.loads((out / "summary.json").read_text())
    resolved = summary["resolved_config"]
    assert resolved["attn_implementation"] == "eager"
    assert resolved["rope_scaling_factor"] == 2 and resolved["max_seq_length"] == 2 * TINY_LLAMA_CONTEXT
    assert resolved["longest_example_tokens"] > TINY_LLAMA_CONTEXT
    assert resolved["max_vram_fraction"] == 0.5 and resolved["max_vram_fraction_applied"] is False
    assert resolved["peft_implementation"] is None  # the from-scratch model is trained fully
    card = json.loads((out / "adapter" / "safe_synthesizer_model.json").read_text())
    assert card["rope_scaling_factor"] == 2 and card["attn_implementation"] == "eager"
    saved = json.loads((out / "adapter" / "config.json").read_text())
    assert saved["rope_parameters"]["rope_type"] == "linear" and saved["rope_parameters"]["factor"] == 2.0


# --- generation.validation.group_by_accept_no_delineator --------------------------------------


def test_accept_no_delineator_keeps_an_unclosed_group():
    from safe_synthesizer.config import GenerateParameters
    from safe_synthesizer.generation.records import parse_sequence
    from safe_synthesizer.serialization import encode_records

    table = _table()
    schema = infer_schema(table)
    lines = encode_records(table[table["kind"] == "a"].head(3), schema)
    closed = "".join(line + "\n" for line in lines) + "\n"
    unclosed = "".join(line + "\n" for line in lines) + lines[0][:4]  # no blank line; a cut-off tail
    strict = GenerateParameters()
    accept = GenerateParameters.model_validate({"validation": {"group_by_accept_no_delineator": True}})
    for params in (strict, accept):
        assert len(parse_sequence(closed, schema, params, group_by="kind")[0]) == 3
    assert parse_sequence(unclosed, schema, strict, group_by="kind") == ([], [])
    records, reasons = parse_sequence(unclosed, schema, accept, group_by="kind")
    assert len(records) == 3 and reasons == []  # the complete lines, never the cut-off tail


def test_lora_run_records_peft_and_generation_rebuilds_the_base_as_trained(tmp_path, local_model_dir):
    """The pretrained (LoRA) path: an explicit QLORA on CPU falls back to LoRA with a warning in
    summary.json; the explicit RoPE factor and attention implementation go into the model card, and
    generation loads the base with both again (its rotary frequencies are the scaled ones)."""
    from safe_synthesizer.pipeline import RunOptions, _load_generation_model, run_pipeline

    data = tmp_path / "in.csv"
    _table().to_csv(data, index=False)
    params = _params(
        enable_replace_pii=False,
        evaluation={"enabled": False},
        data={"holdout": 0, "random_state": 3},
        training={
            "pretrained_model": str(local_model_dir),
            "num_input_records_to_sample": 4,
            "batch_size": 2,
            "gradient_accumulation_steps": 1,
            "lora_r": 4,
            "peft_implementation": "QLORA",
            "rope_scaling_factor": 2,
            "attn_implementation": "eager",
        },
    )
    out = tmp_path / "out"
    options = RunOptions(data_source=str(data), output=str(out), mode="train", device="cpu")
    assert run_pipeline(params, options).status == "succeeded"
    summary = json.loads((out / "summary.json").read_text())
    resolved = summary["resolved_config"]
    assert resolved["peft_implementation"] == "LORA" and resolved["quantization"] is None
    assert any(w.startswith("training.peft_implementation QLORA needs a GPU") for w in summary["warnings"])
    assert resolved["rope_scaling_factor"] == 2 and resolved["attn_implementation"] == "eager"

    model, _, card = _load_generation_model(out / "adapter", options, "cpu")
    assert card["rope_scaling_factor"] == 2
    plain = load_base_model(str(local_model_dir), device="cpu")
    assert model.model.rotary_emb.inv_freq.allclose(plain.model.model.rotary_emb.inv_freq / 2)
    assert model.config._attn_implementation == "eager"


def test_max_seq_length_follows_the_rope_factor_and_the_data():
    from safe_synthesizer.autoconfig import max_seq_length

    assert max_seq_length(2048, 2, "cpu", 3000) == 4096  # the factor extends the context
    assert max_seq_length(8192, 1, "cpu", 3000) == 2048  # CPU: 2048 as before
    assert max_seq_length(8192, 1, "cuda", None) == 2048  # GPU: 2048 unless the data needs more
    assert max_seq_length(8192, 1, "cuda", 3000) == 3000
    assert max_seq_length(8192, 1, "cuda", 9000) == 4096
    assert max_seq_length(1024, 1, "cuda", 3000) == 1024  # never beyond the model's own context
