"""Config fields accepted for NeMo compatibility that do nothing here, and the warnings about them.

Every field of :class:`~safe_synthesizer.config.SafeSynthesizerParameters` is either read by the
pipeline (outside ``config/``) or listed in :data:`ACCEPTED_ONLY` with the reason it cannot act
(``tests/test_field_coverage.py`` enforces this). A run whose config sets one of these fields to a
value other than its default gets a warning in ``summary.json`` ``warnings`` (and so in the CR's
status), so that a pasted NeMo config never silently promises something this tool does not do.
"""

from __future__ import annotations

from typing import Any

from .config import SafeSynthesizerParameters

# dotted field path -> why the field cannot act here
ACCEPTED_ONLY: dict[str, str] = {
    "training.use_unsloth": "unsloth is not used; training runs on transformers + peft",
    "generation.structured_generation_backend": (
        "structured generation uses this tool's own record grammar (a logits processor with the "
        "transformers engine, a regex for vLLM's structured outputs); no other backend is shipped"
    ),
    "generation.structured_generation_schema_method": (
        "records are field-separated lines, not JSON: the record grammar is always a regex over them"
    ),
    "generation.structured_generation_use_single_sequence": (
        "the record grammar already allows 1 to max_sequences_per_example records per sequence; "
        "set data.max_sequences_per_example: 1 for one record per sequence"
    ),
    "generation.attention_backend": (
        "the generation engine runs the attention implementation the model was trained with "
        "(training.attn_implementation, recorded in the adapter); vLLM picks its own backend"
    ),
    "replace_pii.globals.classify.classify_model_provider": (
        "column classification runs locally (names + value recognisers); no remote model is called"
    ),
    "replace_pii.globals.ner.gliner.enable_batch_mode": "GLiNER predicts one text chunk at a time",
}

# values that say "off" and so need no warning
QUIET_VALUES: dict[str, tuple[Any, ...]] = {"training.use_unsloth": (False,)}


def _owner(params: SafeSynthesizerParameters, path: str) -> tuple[Any, str] | None:
    """The model instance holding ``path``'s last part, or None when a section is absent (null)."""
    *sections, name = path.split(".")
    owner: Any = params
    for section in sections:
        owner = getattr(owner, section, None)
        if owner is None:
            return None
    return owner, name


def accepted_only_warnings(params: SafeSynthesizerParameters) -> list[str]:
    """One warning per :data:`ACCEPTED_ONLY` field the config sets to a non-default value."""
    warnings = []
    for path, reason in ACCEPTED_ONLY.items():
        found = _owner(params, path)
        if found is None:
            continue
        owner, name = found
        if name not in owner.model_fields_set:
            continue
        value = getattr(owner, name)
        default = type(owner).model_fields[name].get_default(call_default_factory=True)
        if value == default or any(value is quiet or value == quiet for quiet in QUIET_VALUES.get(path, ())):
            continue
        warnings.append(f"{path}: {value!r} is accepted for NeMo compatibility but has no effect: {reason}")
    return warnings


# training fields that act on the LLM engine only (LoRA on a pretrained model)
LLM_ONLY_TRAINING = (
    "lora_r",
    "lora_alpha_over_r",
    "lora_target_modules",
    "rope_scaling_factor",
    "quantize_model",
    "quantization_bits",
    "peft_implementation",
    "attn_implementation",
)


def llm_only_warnings(params: SafeSynthesizerParameters, engine: str) -> list[str]:
    """A warning when the config sets LLM-only training fields but ``engine`` (the field-token
    engine, a small decoder trained from scratch) has no use for them."""
    training = params.training
    ignored = [
        f"training.{name}"
        for name in LLM_ONLY_TRAINING
        if name in training.model_fields_set
        and getattr(training, name)
        != type(training).model_fields[name].get_default(call_default_factory=True)
    ]
    if not ignored:
        return []
    return [
        f"{', '.join(ignored)}: no effect with the {engine} engine (a small model trained from scratch, no "
        "LoRA); set training.engine: llm (or training.pretrained_model) to fine-tune a pretrained model"
    ]
