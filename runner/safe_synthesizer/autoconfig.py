"""Resolution of ``"auto"`` values from the data — the only place where it happens.

Rules (recorded in ``summary.json`` under ``resolved_config``):

* ``data.random_state``: null → ``DEFAULT_SEED`` (42): runs are reproducible by default.
* ``training.num_input_records_to_sample``: ``auto`` → ``n × clip(sqrt(25000 / n), 1, 10)`` capped at
  250,000, with ``n`` the training records: small tables get several epochs (10 at most), tables of
  25,000 records or more get one epoch. NeMo's fixed 25,000 means 25 epochs at n=1,000 and 0.025
  epochs at n=1,000,000. With the older ``training.num_epochs``: ``num_epochs × n``.
* ``data.max_sequences_per_example``: ``auto`` → 1 with DP (one privacy unit per example), else 10 for a
  pretrained model and 1 for the from-scratch byte-level model (its records are ~3x more tokens and
  short sequences train ~3x more tokens per second on CPU).
* ``training.learning_rate``: ``auto`` → 5e-4 for LoRA, 1e-3 for the from-scratch tiny model.
* ``training.rope_scaling_factor``: ``auto`` → ``ceil(longest example tokens / base context)``, at most 6
  (against the model's own ``max_position_embeddings``, not NeMo's 12,288 constant). The longest
  example is measured with the model's tokenizer: the prompt plus the longest unit (a record, or a
  whole group) plus EOS (:func:`safe_synthesizer.training.longest_example_tokens`); under DP the
  DP schema's public record-width bound replaces the measurement. A factor above 1 is set on the
  model as linear RoPE scaling and ``max_seq_length`` becomes ``base context x factor``.
* ``training.use_unsloth``: always false here (unsloth is not used).
* ``privacy.delta``: ``auto`` → ``1 / n^1.2`` with ``n`` the number of privacy units (records, or groups
  when grouping).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .config import SafeSynthesizerParameters, is_auto

DEFAULT_SEED = 42
MAX_AUTO_RECORDS = 250_000
MAX_ROPE_FACTOR = 6


@dataclass
class ResolvedConfig:
    """Concrete values for every ``auto`` (and the seed)."""

    seed: int
    num_input_records_to_sample: int
    max_sequences_per_example: int | None
    learning_rate: float
    batch_size: int
    rope_scaling_factor: int
    max_seq_length: int
    delta: float | None
    use_unsloth: bool = False
    device: str = "cpu"
    pretrained_model: str = ""
    longest_example_tokens: int | None = None  # what rope "auto" was sized from (None: not measured)
    attn_implementation: str | None = None  # what the model runs (model.config), None: not loaded
    peft_implementation: str | None = None  # LORA | QLORA (4/8-bit base) | None: full training
    quantization: str | None = None  # "4-bit nf4" | "8-bit" | None
    max_vram_fraction: float | None = None  # training.max_vram_fraction as configured
    max_vram_fraction_applied: bool = False  # torch.cuda.set_per_process_memory_fraction was called

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def auto_records_to_sample(n_records: int, num_epochs: float | None = None) -> int:
    """The ``auto`` training length for ``n_records`` training records (rule in the module docstring)."""
    n = max(1, n_records)
    if num_epochs is not None:
        return max(1, int(round(num_epochs * n)))
    epochs = min(10.0, max(1.0, math.sqrt(25_000 / n)))
    return max(1, min(MAX_AUTO_RECORDS, int(round(n * epochs))))


def run_seed(params: SafeSynthesizerParameters) -> int:
    """The run's one seed: ``data.random_state``, or ``DEFAULT_SEED`` when null (0 stays 0)."""
    return params.data.random_state if params.data.random_state is not None else DEFAULT_SEED


def auto_delta(n_units: int) -> float:
    """``1 / n^1.2`` (n = privacy units)."""
    return 1.0 / max(n_units, 2) ** 1.2


def rope_factor(
    params: SafeSynthesizerParameters, longest_example_tokens: int | None, base_context: int
) -> int:
    """``training.rope_scaling_factor``: the explicit value, or ``auto`` sized from the longest example."""
    factor = params.training.rope_scaling_factor
    if not is_auto(factor):
        return int(factor)
    needed = longest_example_tokens or 0
    return min(MAX_ROPE_FACTOR, max(1, math.ceil(needed / max(base_context, 1))))


DEFAULT_SEQ_LENGTH = 2048


def max_seq_length(base_context: int, rope: int, device: str, longest_example_tokens: int | None) -> int:
    """Training sequence length. A RoPE factor above 1 is what extends the context: ``base x factor``.
    Otherwise 2048 (or the model's context when shorter), raised up to the longest example on GPU
    (at most 4096) so that long records are not cut."""
    if rope > 1:
        return base_context * rope
    wanted = max(DEFAULT_SEQ_LENGTH, longest_example_tokens or 0)
    return min(base_context, wanted, 4096 if device == "cuda" else DEFAULT_SEQ_LENGTH)


def resolve(
    params: SafeSynthesizerParameters,
    *,
    n_train_records: int,
    n_privacy_units: int,
    device: str,
    pretrained_model: str,
    model_is_pretrained: bool = True,
    base_context: int = 2048,
    longest_example_tokens: int | None = None,
    applied_rope_factor: int | None = None,
) -> ResolvedConfig:
    """Resolve every ``auto`` of ``params`` for this data and model.

    ``base_context``: the model's own context (``max_position_embeddings``); ``applied_rope_factor``:
    the factor the loaded model really got (a model with its own RoPE scaling gets none)."""
    training = params.training
    seed = run_seed(params)
    if is_auto(training.num_input_records_to_sample):
        records = auto_records_to_sample(n_train_records, training.num_epochs)
    else:
        records = int(training.num_input_records_to_sample)
    per_example = params.data.max_sequences_per_example
    if is_auto(per_example):
        per_example = 1 if params.dp_enabled or not model_is_pretrained else 10
    if is_auto(training.learning_rate):
        learning_rate = 5e-4 if model_is_pretrained else 1e-3
    else:
        learning_rate = float(training.learning_rate)
    rope = (
        applied_rope_factor
        if applied_rope_factor is not None
        else rope_factor(params, longest_example_tokens, base_context)
    )
    delta = None
    if params.privacy is not None and params.privacy.dp_enabled:
        delta = auto_delta(n_privacy_units) if is_auto(params.privacy.delta) else float(params.privacy.delta)
    return ResolvedConfig(
        seed=seed,
        num_input_records_to_sample=records,
        max_sequences_per_example=per_example,
        learning_rate=learning_rate,
        batch_size=training.batch_size,
        rope_scaling_factor=rope,
        max_seq_length=max_seq_length(base_context, rope, device, longest_example_tokens),
        delta=delta,
        device=device,
        pretrained_model=pretrained_model,
        longest_example_tokens=longest_example_tokens,
        max_vram_fraction=training.max_vram_fraction,
    )
