"""Fine-tuning: LoRA (peft) on a pretrained model, or full training of the from-scratch tiny model.

A plain PyTorch loop (not the HF Trainer) so that DP-SGD (opacus) can own sampling, clipping and
noise without fighting the Trainer. Honours every training field: ``lora_r``,
``lora_alpha_over_r`` (alpha = ratio x r, rsLoRA scaling as in NeMo), ``lora_target_modules``,
``learning_rate``, ``lr_scheduler``, ``warmup_ratio``, ``weight_decay``, ``batch_size``,
``gradient_accumulation_steps``, ``validation_ratio`` / ``validation_steps`` (validation loss, and
early stopping after 3 checks without improvement) and ``num_input_records_to_sample`` (through
:class:`~safe_synthesizer.autoconfig.ResolvedConfig`). On GPU: bf16 weights, optional 4/8-bit QLoRA
(:func:`peft_plan`), and ``max_vram_fraction`` as the process's CUDA memory cap (:func:`apply_vram_fraction`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .autoconfig import ResolvedConfig
from .batching import IGNORE_INDEX, collate, lr_scheduler
from .config import SafeSynthesizerParameters
from .errors import UserInputError
from .models import LoadedModel, write_model_card
from .progress import NullProgress, Progress
from .schema import TableSchema
from .serialization import (
    Example,
    pack_examples,
    prompt_text,
    public_tokens_per_record,
    sample_units,
    units_from_frame,
)

log = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    """What training produced and measured."""

    adapter_dir: str
    steps: int
    examples: int
    records_seen: int
    tokens_seen: int
    tokens_per_record: float
    train_loss: float | None
    validation_loss: float | None
    seconds: float
    records_per_second: float
    tokens_per_second: float
    stopped_early: bool = False
    interrupted: bool = False  # a termination request stopped it (the model so far was saved)
    trainable_parameters: int = 0
    dp: dict[str, Any] = field(default_factory=dict)
    world_size: int = 1  # training processes (safe_synthesizer.distributed)
    distributed: dict[str, Any] = field(default_factory=dict)  # per-rank figures when world_size > 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``distributed`` only when several processes trained)."""
        result = asdict(self)
        if not self.distributed:
            result.pop("distributed")
        return result


@dataclass
class TokenizedExamples:
    """Token ids and labels of packed examples."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    n_records: list[int]


def tokenize_examples(
    examples: list[Example], prompt: str, tokenizer: Any, max_length: int
) -> TokenizedExamples:
    """Prompt (not trained on) + body + EOS; truncated to ``max_length`` tokens."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    bodies = tokenizer([e.body() for e in examples], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    ids, labels = [], []
    for body in bodies:
        sequence = (prompt_ids + body + [eos])[:max_length]
        label = ([IGNORE_INDEX] * len(prompt_ids) + body + [eos])[:max_length]
        ids.append(sequence)
        labels.append(label)
    return TokenizedExamples(ids, labels, [e.n_records for e in examples])


def unit_token_costs(units: list[list[str]], tokenizer: Any) -> list[int]:
    """Tokens per unit (its lines with newlines)."""
    texts = ["".join(line + "\n" for line in unit) for unit in units]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [len(e) for e in encoded]


def build_examples(
    train_df: pd.DataFrame,
    schema: TableSchema,
    params: SafeSynthesizerParameters,
    resolved: ResolvedConfig,
    tokenizer: Any,
    context_length: int,
) -> tuple[list[Example], list[Example], float]:
    """Sampled, packed training (and validation) examples; also the mean tokens per record."""
    units = units_from_frame(
        train_df, schema, params.data.group_training_examples_by, params.data.order_training_examples_by
    )
    rng = random.Random(resolved.seed)
    indices = list(range(len(units)))
    rng.shuffle(indices)
    n_val = int(len(units) * params.training.validation_ratio)
    val_idx, train_idx = indices[:n_val], indices[n_val:]
    train_units = [units[i] for i in train_idx]
    val_units = [units[i] for i in val_idx]
    costs = unit_token_costs(train_units, tokenizer)
    n_records = sum(len(u) for u in train_units)
    tokens_per_record = sum(costs) / max(n_records, 1)
    prompt_tokens = len(tokenizer(prompt_text(schema), add_special_tokens=False)["input_ids"])
    budget = max(1, context_length - prompt_tokens - 2)
    records_per_unit = n_records / max(len(train_units), 1)
    if params.dp_enabled:
        # DP: every privacy unit exactly once; DP-SGD draws its Poisson batches from these n units
        # and the number of steps (not duplication) sets the epochs (safe_synthesizer.privacy.dp).
        order = list(range(len(train_units)))
    else:
        order = list(
            sample_units(
                len(train_units), resolved.num_input_records_to_sample, records_per_unit, resolved.seed
            )
        )
    examples = pack_examples(
        [train_units[i] for i in order],
        [costs[i] for i in order],
        max_units_per_example=resolved.max_sequences_per_example,
        token_budget=budget,
        grouped=bool(params.data.group_training_examples_by),
    )
    val_examples = pack_examples(
        val_units,
        unit_token_costs(val_units, tokenizer) if val_units else [],
        max_units_per_example=resolved.max_sequences_per_example,
        token_budget=budget,
        grouped=bool(params.data.group_training_examples_by),
    )
    return examples, val_examples, tokens_per_record


@dataclass
class PeftPlan:
    """How a pretrained model is fine-tuned: LoRA on the full-precision base, or QLoRA."""

    implementation: str | None  # "LORA" | "QLORA" | None (from-scratch model, trained fully)
    quantization_bits: int | None  # 4 or 8 for QLoRA (bitsandbytes), else None
    warnings: list[str] = field(default_factory=list)


def peft_plan(params: SafeSynthesizerParameters, device: str, *, from_scratch: bool) -> PeftPlan:
    """``training.peft_implementation`` x ``quantize_model`` / ``quantization_bits`` on this device.

    * LORA: LoRA on the full-precision base. With ``quantize_model: true`` as well the config asks
      for both, which is an error.
    * QLORA (NeMo's default): with ``quantize_model: true``, LoRA on a ``quantization_bits`` base;
      set explicitly without ``quantize_model``, a 4-bit NF4 base; left at its default with
      ``quantize_model: false`` (NeMo's defaults), plain LoRA, as in NeMo.
    * A quantised base needs CUDA and bitsandbytes. On CPU, ``quantize_model: true`` is an error;
      an explicit QLORA (NeMo's default value, often pasted) falls back to LoRA with a warning,
      except under DP, where the run fails instead (a DP run never trains anything other than
      what its config and ledger say).
    * The from-scratch ``builtin:tiny-llama`` is trained fully: no PEFT (a warning when set).
    """
    training = params.training
    explicit = training.model_fields_set
    if from_scratch:
        warnings = []
        if "peft_implementation" in explicit or training.quantize_model:
            warnings.append(
                "training.peft_implementation / quantize_model: the from-scratch model is trained fully "
                "(no LoRA, no quantisation)"
            )
        return PeftPlan(None, None, warnings)
    if training.peft_implementation == "LORA":  # never the default: set explicitly
        if training.quantize_model:
            raise UserInputError(
                "training.peft_implementation LORA trains the full-precision model but quantize_model: true "
                "asks for a quantised one (QLoRA): set peft_implementation: QLORA or quantize_model: false"
            )
        bits = None
    elif training.quantize_model:
        bits = training.quantization_bits
    elif "peft_implementation" in explicit:
        bits = 4
    else:
        bits = None
    if bits and device != "cuda":
        if training.quantize_model:
            raise UserInputError(
                "training.quantize_model needs a GPU (bitsandbytes); set training.quantize_model: false "
                "and training.peft_implementation: LORA on CPU"
            )
        if params.dp_enabled:
            raise UserInputError(
                "training.peft_implementation QLORA needs a GPU (a 4-bit bitsandbytes base); with "
                "differential privacy the run does not change its training plan: set "
                "training.peft_implementation: LORA to train on CPU"
            )
        return PeftPlan(
            "LORA",
            None,
            [
                "training.peft_implementation QLORA needs a GPU (a 4-bit bitsandbytes base): "
                "trained with LoRA on the full-precision model on CPU instead"
            ],
        )
    return PeftPlan("QLORA" if bits else "LORA", bits, [])


def apply_vram_fraction(fraction: float, device: str) -> bool:
    """Cap this process's CUDA memory at ``fraction`` of the GPU (``training.max_vram_fraction``).

    True when applied; on CPU nothing to cap (False; the value is still recorded in the summary).
    The cap is process-wide, so it also bounds generation with the transformers engine.
    """
    if device != "cuda":
        return False
    import torch

    torch.cuda.set_per_process_memory_fraction(float(fraction), torch.cuda.current_device())
    return True


LONGEST_CANDIDATES = 64  # units tokenised to find the longest (the longest by characters)


def longest_example_tokens(
    train_df: pd.DataFrame, schema: TableSchema, params: SafeSynthesizerParameters, tokenizer: Any
) -> int:
    """Tokens of the longest training example the data makes: prompt + the longest unit (a record, or
    a whole group when grouping) + EOS. What ``rope_scaling_factor: auto`` sizes the context from.

    Tokenises only the units longest in characters (token counts follow character counts closely).
    Under DP the raw data is not measured: the DP schema's public bound on a record's width (bytes,
    an upper bound for any tokenizer) is used, and grouped DP runs are not measured at all (a group's
    size is private), so ``auto`` stays 1 there.
    """
    prompt_tokens = len(tokenizer(prompt_text(schema), add_special_tokens=False)["input_ids"])
    if params.dp_enabled:
        if params.data.group_training_examples_by:
            return 0
        return prompt_tokens + int(math.ceil(public_tokens_per_record(schema))) + 2
    units = units_from_frame(
        train_df, schema, params.data.group_training_examples_by, params.data.order_training_examples_by
    )
    if not units:
        return prompt_tokens + 2
    by_chars = sorted(units, key=lambda unit: sum(len(line) + 1 for line in unit), reverse=True)
    longest = max(unit_token_costs(by_chars[:LONGEST_CANDIDATES], tokenizer))
    return prompt_tokens + longest + 2


def _lora_model(loaded: LoadedModel, params: SafeSynthesizerParameters) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    training = params.training
    model = loaded.model
    if loaded.quantization:  # QLoRA: the base was loaded 4/8-bit (bitsandbytes)
        model = prepare_model_for_kbit_training(model)
    config = LoraConfig(
        r=training.lora_r,
        lora_alpha=max(1, int(training.lora_alpha_over_r * training.lora_r)),
        target_modules=list(training.lora_target_modules),
        lora_dropout=0.0,
        bias="none",
        use_rslora=True,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def train_model(
    loaded: LoadedModel,
    train_df: pd.DataFrame,
    schema: TableSchema,
    params: SafeSynthesizerParameters,
    resolved: ResolvedConfig,
    adapter_dir: Path,
    progress: Progress | None = None,
    dp_trainer: Any = None,
    should_stop: Callable[[], bool] | None = None,
    distributed: Any = None,
) -> TrainingResult:
    """Fine-tune and save the adapter (or the full tiny model) with tokenizer, schema and model card.

    ``should_stop`` (a callable) is asked after every optimizer step: on a termination request the
    model as trained so far is saved, and the result says it was interrupted. ``distributed`` (a
    :class:`~safe_synthesizer.distributed.DistributedPlan`, never with ``dp_trainer``): this process
    is rank 0 of several that train data-parallel (:mod:`safe_synthesizer.distributed`).
    """
    import torch

    progress = progress or NullProgress()
    torch.manual_seed(resolved.seed)
    started = time.time()
    tokenizer = loaded.tokenizer
    examples, val_examples, tokens_per_record = build_examples(
        train_df, schema, params, resolved, tokenizer, resolved.max_seq_length
    )
    prompt = prompt_text(schema)
    data = tokenize_examples(examples, prompt, tokenizer, resolved.max_seq_length)
    val_data = (
        tokenize_examples(val_examples, prompt, tokenizer, resolved.max_seq_length) if val_examples else None
    )

    model = _lora_model(loaded, params) if loaded.pretrained else loaded.model
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    device = loaded.device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    distributed_info: dict[str, Any] = {}
    if dp_trainer is not None:
        # DP-SGD owns sampling (Poisson), clipping, noise and the step count.
        optimizer = torch.optim.AdamW(
            trainable, lr=resolved.learning_rate, weight_decay=params.training.weight_decay
        )
        outcome = dp_trainer.train(model, optimizer, data, pad_id, device, progress, should_stop=should_stop)
        steps, losses, tokens_seen, records_seen = (
            outcome.steps,
            outcome.losses,
            outcome.tokens,
            outcome.records,
        )
        stopped_early, interrupted = outcome.stopped_early, outcome.interrupted
        dp_info = outcome.ledger
        val_loss = None
        # The measured mean is a statistic of the raw data: under DP the model card gets a bound
        # derived from the DP schema instead.
        tokens_per_record = public_tokens_per_record(schema)
    else:
        dp_info = {}
        session = None
        if distributed is not None:
            from . import distributed as dist_mod

            session = dist_mod.start(
                distributed,
                {
                    "params": params,
                    "resolved": resolved,
                    "data": data,
                    "pad_id": pad_id,
                },
            )
        try:
            plain = run_plain_loop(
                model,
                data,
                val_data,
                pad_id,
                device,
                params,
                resolved,
                progress=progress,
                should_stop=should_stop,
                started=started,
                session=session,
            )
        except BaseException as exc:
            if session is None:
                raise
            failure = dist_mod.after_rank0_error(session, exc)
            if failure is None:
                raise
            raise failure from exc
        if session is not None:
            dist_mod.finish(session)
            # every rank's shard goes to the staging folder; summary.json gets the counts
            (distributed.work_dir / dist_mod.STATUS_FILE).write_text(
                json.dumps(plain.distributed), encoding="utf-8"
            )
            plain.distributed["ranks"] = [
                {k: v for k, v in r.items() if k != "example_ids"} for r in plain.distributed["ranks"]
            ]
        steps, losses, tokens_seen, records_seen = plain.steps, plain.losses, plain.tokens, plain.records
        val_loss, stopped_early, interrupted = plain.val_loss, plain.stopped_early, plain.interrupted
        distributed_info = plain.distributed

    adapter_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    (adapter_dir / "dataset_schema.json").write_text(schema.to_json(), encoding="utf-8")
    (adapter_dir / "safe_synthesizer_config.json").write_text(
        json.dumps({"config": params.model_dump(mode="json"), "resolved": resolved.to_dict()}, indent=2),
        encoding="utf-8",
    )
    write_model_card(
        adapter_dir,
        {
            "base_model": loaded.source,
            "kind": "lora" if loaded.pretrained else "full",
            "prompt": prompt,
            "max_seq_length": resolved.max_seq_length,
            "max_sequences_per_example": resolved.max_sequences_per_example,
            "tokens_per_record": tokens_per_record,
            "lora_r": params.training.lora_r,
            # generation rebuilds the base exactly as trained
            "rope_scaling_factor": loaded.rope_scaling_factor,
            "attn_implementation": loaded.attn_implementation,
            "quantization": loaded.quantization,
        },
    )
    seconds = time.time() - started
    tail = losses[-max(1, len(losses) // 10) :]
    return TrainingResult(
        adapter_dir=str(adapter_dir),
        steps=steps,
        examples=len(data.input_ids),
        records_seen=records_seen,
        tokens_seen=tokens_seen,
        tokens_per_record=round(tokens_per_record, 2),
        train_loss=round(sum(tail) / len(tail), 4) if tail else None,
        validation_loss=round(val_loss, 4) if val_loss is not None else None,
        seconds=round(seconds, 2),
        records_per_second=round(records_seen / max(seconds, 1e-9), 2),
        tokens_per_second=round(tokens_seen / max(seconds, 1e-9), 1),
        stopped_early=stopped_early,
        interrupted=interrupted,
        trainable_parameters=n_trainable,
        dp=dp_info,
        world_size=int(distributed_info.get("world_size", 1)),
        distributed=distributed_info,
    )


@dataclass
class PlainOutcome:
    """What the plain (non-DP) loop did; ``distributed`` is filled when several processes trained."""

    steps: int
    losses: list[float]
    tokens: int
    records: int
    val_loss: float | None
    stopped_early: bool
    interrupted: bool
    distributed: dict[str, Any] = field(default_factory=dict)


GO_ON, STOP_REQUESTED, EARLY_STOP = 0, 1, 2


def run_plain_loop(
    model: Any,
    data: TokenizedExamples,
    val_data: TokenizedExamples | None,
    pad_id: int,
    device: str,
    params: SafeSynthesizerParameters,
    resolved: ResolvedConfig,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    started: float | None = None,
    session: Any = None,
) -> PlainOutcome:
    """The training loop without DP: shuffled micro-batches, gradient accumulation, clipping,
    validation and early stopping. With a :class:`~safe_synthesizer.distributed.Session` this rank
    trains its shard of the examples under DistributedDataParallel; rank 0 alone validates and
    decides when to stop, and tells the other ranks after every step."""
    import torch

    progress = progress or NullProgress()
    started = started or time.time()
    training = params.training
    batch_size = resolved.batch_size
    accumulation = training.gradient_accumulation_steps
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=resolved.learning_rate, weight_decay=training.weight_decay)
    order = list(range(len(data.input_ids)))
    random.Random(resolved.seed).shuffle(order)
    rank, dropped = 0, 0
    forward = model
    if session is not None:
        rank = session.rank
        order, dropped = session.shard(order)
        forward = session.wrap(model)
    micro_batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    steps_total = max(1, math.ceil(len(micro_batches) / accumulation))
    scheduler = lr_scheduler(optimizer, training.lr_scheduler, training.warmup_ratio, steps_total)
    steps = 0
    losses: list[float] = []
    tokens_seen = records_seen = 0  # all ranks together
    local_tokens = local_records = 0
    best_val, bad_checks, val_loss, stopped_early, interrupted = math.inf, 0, None, False, False
    progress.update("train", 0, steps_total, "training", examples=len(order))
    window_loss = 0.0
    for index, batch_idx in enumerate(micro_batches):
        boundary = (index + 1) % accumulation == 0 or index == len(micro_batches) - 1
        batch = collate([data.input_ids[i] for i in batch_idx], [data.labels[i] for i in batch_idx], pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        # accumulating micro-batches skip the all-reduce; the step's last one synchronises
        sync = contextlib.nullcontext() if session is None or boundary else forward.no_sync()
        with sync:
            loss = forward(**batch).loss / accumulation
            loss.backward()
        window_loss += float(loss.detach())
        local_tokens += int(batch["attention_mask"].sum())
        local_records += sum(data.n_records[i] for i in batch_idx)
        if session is None:
            tokens_seen, records_seen = local_tokens, local_records
        if boundary:
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            steps += 1
            if session is not None:
                total_loss, tokens, records = session.sum_floats([window_loss, local_tokens, local_records])
                window_loss = total_loss / session.world_size
                tokens_seen, records_seen = int(tokens), int(records)
            losses.append(window_loss)
            window_loss = 0.0
            decision = GO_ON
            if rank == 0:
                elapsed = max(time.time() - started, 1e-9)
                progress.update(
                    "train",
                    steps,
                    steps_total,
                    "training",
                    loss=round(losses[-1], 4),
                    tokens_per_s=round(tokens_seen / elapsed, 1),
                )
                if should_stop is not None and should_stop():
                    log.info("termination requested: saving the model after %d steps", steps)
                    decision = STOP_REQUESTED
                elif val_data and steps % training.validation_steps == 0:
                    val_loss = evaluate_loss(model, val_data, pad_id, device, batch_size)
                    progress.update("train", steps, steps_total, "validation", val_loss=round(val_loss, 4))
                    if val_loss < best_val - 1e-4:
                        best_val, bad_checks = val_loss, 0
                    else:
                        bad_checks += 1
                        if bad_checks >= 3:
                            log.info("early stopping: validation loss did not improve for 3 checks")
                            decision = EARLY_STOP
            if session is not None:
                decision = session.decision(decision)
            if decision == STOP_REQUESTED:
                stopped_early = interrupted = True
                break
            if decision == EARLY_STOP:
                stopped_early = True
                break
    if val_data and not interrupted:
        val_loss = evaluate_loss(model, val_data, pad_id, device, batch_size)
    outcome = PlainOutcome(steps, losses, tokens_seen, records_seen, val_loss, stopped_early, interrupted)
    if session is not None:
        from .distributed import weights_digest

        mine = {
            "rank": rank,
            "examples": len(order),
            "records": local_records,
            "tokens": local_tokens,
            "steps": steps,
            "weights_sha256": weights_digest(model),
            "example_ids": order,
        }
        ranks = session.gather(mine)
        outcome.distributed = {
            "world_size": session.world_size,
            "backend": session.backend,
            "per_rank_batch_size": batch_size,
            "global_batch_size": batch_size * accumulation * session.world_size,
            "examples_left_out": dropped,
            "ranks": ranks,
        }
    return outcome


def evaluate_loss(model: Any, data: TokenizedExamples, pad_id: int, device: str, batch_size: int) -> float:
    """Mean loss over examples (no gradient)."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data.input_ids), batch_size):
            sl = slice(start, start + batch_size)
            batch = collate(data.input_ids[sl], data.labels[sl], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            total += float(model(**batch).loss) * len(data.input_ids[sl])
            count += len(data.input_ids[sl])
    model.train()
    return total / max(count, 1)
