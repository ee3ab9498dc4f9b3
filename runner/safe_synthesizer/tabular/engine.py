"""The field-token engine as the pipeline sees it: choose it, train it, generate with it.

Choice (:func:`choose_engine`), in order:

1. ``training.engine`` set to ``field_tokens`` or ``llm``: that engine (``field_tokens`` with
   ``data.group_training_examples_by`` is refused: it models records one at a time);
   ``auto`` with grouping: the LLM engine (a group is one sequence of records);
2. ``training.pretrained_model`` named explicitly in the config: the LLM (LoRA) engine;
3. a column of long free text (mean length over ``LONG_TEXT_CHARS`` characters): the LLM engine on a
   GPU, the field engine on CPU (with a warning that text is modelled from word pieces);
4. otherwise the field-token engine.

What is saved in the model folder (``adapter/``): ``field_model/`` (the decoder, safetensors),
``field_tokenizer.json``, ``pii_columns.json`` (format specs of the PII columns, generated at the
end by :func:`~safe_synthesizer.generation.pii_fill.fill_pii_columns`, never modelled),
``dataset_schema.json`` and ``model_card.json`` (``kind: field_tokens``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..progress import NullProgress, Progress
from ..schema import TableSchema
from .generate import DP_MIN_PROB, FieldGenerationResult, generate_field_records
from .marginals import marginal_targets
from .model import build_model, layout_of, load_model, save_model, size_model
from .tokenizer import FieldTokenizer, fit_tokenizer
from .train import FieldTrainingResult, plan_training, train_field_model

log = logging.getLogger(__name__)

FIELD_TOKENS = "field_tokens"
LLM = "llm"
LONG_TEXT_CHARS = 200
DEFAULT_TEMPERATURE = 1.0


@dataclass
class EngineChoice:
    """Which engine runs and why (``summary.json``)."""

    kind: str
    reason: str


def choose_engine(
    requested: str,
    pretrained_model_set: bool,
    frame: pd.DataFrame,
    device: str,
    grouped: bool = False,
) -> EngineChoice:
    """Pick the engine (rules in the module docstring)."""
    if requested == FIELD_TOKENS and grouped:
        from ..errors import UserInputError

        raise UserInputError(
            "training.engine 'field_tokens' models records one at a time and cannot keep the sequences of "
            "data.group_training_examples_by; use training.engine 'llm' or 'auto', or remove the grouping"
        )
    if requested in (FIELD_TOKENS, LLM):
        return EngineChoice(requested, f"training.engine is {requested!r}")
    if grouped:
        return EngineChoice(
            LLM, "data.group_training_examples_by: a group is one sequence, which the LLM engine models"
        )
    if pretrained_model_set:
        return EngineChoice(LLM, "training.pretrained_model names a model: LoRA on it")
    long_text = [
        str(c)
        for c in frame.columns
        if frame[c].dtype == object and frame[c].dropna().astype(str).str.len().mean() > LONG_TEXT_CHARS
    ]
    if long_text and device == "cuda":
        return EngineChoice(
            LLM, f"long free text in {', '.join(long_text[:3])}: a pretrained LLM writes it best"
        )
    if long_text:
        return EngineChoice(
            FIELD_TOKENS,
            f"long free text in {', '.join(long_text[:3])} but no GPU: the field-token engine models it "
            "from word pieces (set training.pretrained_model for an LLM)",
        )
    return EngineChoice(FIELD_TOKENS, "tabular data: one token per field")


def dp_domains_from_schema(schema: TableSchema) -> dict[str, dict[str, Any]]:
    """The DP schema's categories and bounds as tokenizer domains (no raw statistics)."""
    out: dict[str, dict[str, Any]] = {}
    for column in schema.columns:
        if column.kind == "categorical" and column.categories is not None:
            out[column.name] = {"categories": list(column.categories), "value_type": column.value_type}
        elif column.kind == "boolean":
            out[column.name] = {"categories": ["true", "false"], "value_type": "bool"}
        elif column.kind in ("integer", "number"):
            out[column.name] = {
                "minimum": column.minimum,
                "maximum": column.maximum,
                "decimals": column.decimals,
                "integer": column.kind == "integer",  # from the dtype (public), not the values
            }
    return out


def train_field_engine(
    train: pd.DataFrame,
    out_dir: Path,
    *,
    schema: TableSchema,
    pii_entities: dict[str, str],
    device: str,
    seed: int,
    batch_size: int | None,
    learning_rate: float | None,
    records_to_sample: int | None,
    validation_ratio: float,
    dp_trainer_factory: Callable[[int, int, float], Any] | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_minutes: float | None = None,
) -> FieldTrainingResult:
    """Fit the tokenizer, size and train the decoder, save everything to ``out_dir``.

    ``dp_trainer_factory(batch_size, records_to_sample, learning_rate)`` (DP runs) returns a planned
    :class:`~safe_synthesizer.privacy.dp.DPTrainer`; the tokenizer then comes from ``schema`` (the
    DP schema) only.
    """
    from ..generation.pii_fill import learn_pii_specs, specs_to_dict

    progress = progress or NullProgress()
    dp = dp_trainer_factory is not None
    modelled = train.drop(columns=[c for c in pii_entities if c in train.columns])
    progress.update("train", 0, None, f"fitting the field tokenizer on {modelled.shape[1]} columns")
    tokenizer = fit_tokenizer(modelled, dp_domains=dp_domains_from_schema(schema) if dp else None)
    rows = tokenizer.encode(modelled)
    cpu_threads = _size_cpu_threads(tokenizer) if device == "cpu" else None
    shape = size_model(len(rows), len(tokenizer.positions), device, dp=dp)
    model = build_model(tokenizer, shape, seed)
    plan = plan_training(
        len(rows),
        device=device,
        batch_size=batch_size,
        learning_rate=learning_rate,
        records_to_sample=records_to_sample,
        validation_ratio=validation_ratio,
        dp=dp,
    )
    dp_trainer = None
    if dp_trainer_factory is not None:
        dp_trainer = dp_trainer_factory(plan.batch_size, int(plan.max_epochs * len(rows)), plan.learning_rate)
    result = train_field_model(
        model,
        tokenizer,
        rows,
        plan,
        seed=seed,
        device=device,
        progress=progress,
        dp_trainer=dp_trainer,
        should_stop=should_stop,
        max_minutes=max_minutes,
        marginal_targets=marginal_targets(tokenizer, schema) if dp else None,
    )
    # PII columns: formats only (learned from the already-replaced training columns)
    specs = learn_pii_specs(train, pii_entities) if pii_entities else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(model.cpu(), out_dir / "field_model")
    (out_dir / "field_tokenizer.json").write_text(json.dumps(tokenizer.to_dict()), encoding="utf-8")
    (out_dir / "pii_columns.json").write_text(json.dumps(specs_to_dict(specs)), encoding="utf-8")
    (out_dir / "dataset_schema.json").write_text(schema.to_json(), encoding="utf-8")
    card = {
        "kind": FIELD_TOKENS,
        "columns": [str(c) for c in train.columns],
        "model_shape": shape.to_dict(),
        "vocab_size": tokenizer.vocab_size,
        "tokens_per_record": result.tokens_per_record,
        "max_seq_length": tokenizer.max_length,
        "dp": bool(dp),
    }
    (out_dir / "model_card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    result.plan = {
        **result.plan,
        "model_shape": shape.to_dict(),
        "vocab_size": tokenizer.vocab_size,
        "cpu_threads": cpu_threads,
    }
    return result


def _size_cpu_threads(tokenizer: FieldTokenizer) -> int:
    """Set torch's thread count for this table's step size (``threads.field_engine_threads``)."""
    import torch

    from ..threads import field_engine_threads

    logits = sum(size for _, size in layout_of(tokenizer))
    threads = field_engine_threads(logits_per_record=logits)
    torch.set_num_threads(threads)
    return threads


def is_field_model(directory: Path) -> bool:
    """Whether ``directory`` holds a field-token model."""
    card = directory / "model_card.json"
    return card.exists() and json.loads(card.read_text(encoding="utf-8")).get("kind") == FIELD_TOKENS


def generate_field_engine(
    model_dir: Path,
    num_records: int,
    *,
    temperature: float,
    top_p: float,
    seed: int,
    device: str,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FieldGenerationResult:
    """Sample ``num_records`` records, then fill the PII columns; columns in the training order."""
    from ..generation.pii_fill import fill_pii_columns, specs_from_dict

    card = json.loads((model_dir / "model_card.json").read_text(encoding="utf-8"))
    tokenizer = FieldTokenizer.from_dict(
        json.loads((model_dir / "field_tokenizer.json").read_text(encoding="utf-8"))
    )
    model = load_model(model_dir / "field_model", device)
    targets = None
    schema_path = model_dir / "dataset_schema.json"
    if card.get("dp") and schema_path.exists():
        # the DP schema's released noisy counts (post-processing); a plain schema has none
        targets = marginal_targets(tokenizer, TableSchema.from_json(schema_path.read_text(encoding="utf-8")))
    result = generate_field_records(
        model,
        tokenizer,
        num_records,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        device=device,
        progress=progress,
        should_stop=should_stop,
        min_prob=DP_MIN_PROB if card.get("dp") else 0.0,
        targets=targets,
    )
    specs_path = model_dir / "pii_columns.json"
    specs = specs_from_dict(json.loads(specs_path.read_text(encoding="utf-8"))) if specs_path.exists() else {}
    if specs and len(result.data):
        result.data = fill_pii_columns(result.data, specs, seed=seed, column_order=card["columns"])
    result.data = result.data[[c for c in card["columns"] if c in result.data.columns]]
    return result
