"""Helpers for the DP tests: a very small Llama with the byte-level tokenizer, tokenized units, configs.

Everything here is tiny on purpose (2 shared CPU cores): a 2-layer, 64-wide Llama trains a step on
32 short examples in tens of milliseconds.
"""

from __future__ import annotations

from typing import Any

from safe_synthesizer.autoconfig import ResolvedConfig, resolve
from safe_synthesizer.config import SafeSynthesizerParameters
from safe_synthesizer.training import IGNORE_INDEX, TokenizedExamples


def dp_params(epsilon: float = 8.0, **sections: dict[str, Any]) -> SafeSynthesizerParameters:
    """DP-enabled parameters; ``sections`` update the config sections (``training={...}``)."""
    config: dict[str, Any] = {
        "enable_replace_pii": False,
        "evaluation": {"enabled": False},
        "data": {"random_state": 1},
        "training": {"batch_size": 8, "gradient_accumulation_steps": 1, "lr_scheduler": "constant"},
        "privacy": {"dp_enabled": True, "epsilon": epsilon},
    }
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    return SafeSynthesizerParameters.model_validate(config)


def resolved_for(
    params: SafeSynthesizerParameters, n_units: int, n_records: int | None = None
) -> ResolvedConfig:
    """Resolve ``auto`` for ``n_units`` units of the from-scratch model."""
    return resolve(
        params,
        n_train_records=n_records or n_units,
        n_privacy_units=n_units,
        device="cpu",
        pretrained_model="test",
        model_is_pretrained=False,
    )


def tiny_model(seed: int = 0, hidden: int = 64, layers: int = 2) -> tuple[Any, Any]:
    """A from-scratch Llama (about 0.1 M parameters) and the byte-level tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from safe_synthesizer.models import byte_level_tokenizer

    tokenizer = byte_level_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.train()
    return model, tokenizer


def tokenize_lines(tokenizer: Any, lines: list[str], prompt: str = "k|v\n") -> TokenizedExamples:
    """One example per line: prompt (not trained on) + line + newline + EOS."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids, labels = [], []
    for line in lines:
        body = tokenizer(line + "\n", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids.append(prompt_ids + body)
        labels.append([IGNORE_INDEX] * len(prompt_ids) + body)
    return TokenizedExamples(ids, labels, [1] * len(lines))
