"""The pipeline: load → split → replace PII → train → generate → evaluate → report → publish.

Each stage is one call with one small interface; this module only sequences them, times them and
makes sure work is never lost: when generation stops early or a later stage fails, the valid
records made so far are still published (status ``partial``) with the reason in ``summary.json``.
When the run fails, ``summary.json`` (status ``failed``, the reason, the invalid-record reasons,
timings), ``logs.jsonl``, the adapter when training finished, and the results index are still
published, and the error is re-raised (:func:`published_failure` gives what was published).
Everything is written to a local staging folder first and then published to the output (local
directory or ``s3://`` prefix) file by file, each write atomic; a temporary staging folder is
removed afterwards. Paths in ``summary.json`` name the published locations, never the staging folder.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import traceback
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__, storage
from .autoconfig import ResolvedConfig, resolve, run_seed
from .config import ResultRef, S3Settings, SafeSynthesizerParameters
from .data_io import load_table, write_table
from .errors import NoValidRecordsError, TransientError, UserInputError, classify_failure
from .holdout import split_holdout
from .progress import NullProgress, Progress
from .schema import TableSchema, apply_determined_columns, infer_schema, mark_exact_determined_pairs
from .staging import new_staging_dir, remove_staging_dir

log = logging.getLogger(__name__)

MIN_ROWS = 200  # as NeMo: below this the holdout-based privacy metrics are meaningless
MIN_ROWS_NO_HOLDOUT = 10


@dataclass
class RunOptions:
    """Where to read and write, and which half of the pipeline to run."""

    data_source: str
    output: str
    s3: S3Settings = field(default_factory=S3Settings)
    mode: str = "full"  # full | train | generate | merge
    adapter_source: str | None = None  # generation only: an earlier output prefix or adapter folder
    hf_token: str | None = None
    pseudonym_key: bytes | None = None
    device: str | None = None
    job_name: str = "safe-synthesizer"
    work_dir: Path | None = None
    shard: Any = None  # generate: one generation shard (sharding.Shard), published to <output>/shards/<i>/
    shard_count: int | None = None  # merge: how many shards to merge (default generation.shards)
    # training processes of the LLM engine (one per GPU; safe_synthesizer.distributed); 1: this process
    train_processes: int = 1
    # Set (e.g. by the CLI's SIGTERM handler) to stop at the next step or batch and publish what exists.
    stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    _client: Any = field(default=None, repr=False)

    def s3_client(self) -> Any:
        """A boto3 S3 client from ``s3`` + the AWS environment, made once and only when needed."""
        if self._client is None:
            self._client = storage.make_s3_client(self.s3)
        return self._client

    def client_for(self, url: str | None) -> Any:
        """The S3 client when ``url`` is on S3, else None."""
        return self.s3_client() if url and str(url).startswith("s3://") else None


@dataclass
class RunOutcome:
    """What the run published."""

    status: str  # succeeded | partial | failed
    results: list[ResultRef]
    summary: dict[str, Any]
    output: str


_OUTCOME_ATTRIBUTE = "_safe_synth_outcome"


def published_failure(exc: BaseException) -> RunOutcome | None:
    """What :func:`run_pipeline` published before re-raising ``exc`` (None when nothing was)."""
    outcome = getattr(exc, _OUTCOME_ATTRIBUTE, None)
    return outcome if isinstance(outcome, RunOutcome) else None


class StageTimer:
    """Per-stage wall-clock timings for ``summary.json``; ``failed_stage`` is the one an error left."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started = time.time()
        self.failed_stage: str | None = None

    @contextmanager
    def stage(self, name: str):
        start = time.time()
        try:
            yield
        except BaseException:
            self.failed_stage = self.failed_stage or name
            raise
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.time() - start, 3)


def _protected_columns(params: SafeSynthesizerParameters) -> set[str]:
    cols = {params.data.group_training_examples_by, params.data.order_training_examples_by}
    cols.add(params.time_series.timestamp_column)
    return {c for c in cols if c}


def _privacy_units(train: pd.DataFrame, params: SafeSynthesizerParameters) -> int:
    """Records, or groups when ``data.group_training_examples_by`` is set (the DP unit)."""
    group = params.data.group_training_examples_by
    return int(train[group].nunique()) if group else len(train)


def _check_columns(df: pd.DataFrame, params: SafeSynthesizerParameters) -> None:
    for path, column in (
        ("data.group_training_examples_by", params.data.group_training_examples_by),
        ("data.order_training_examples_by", params.data.order_training_examples_by),
        ("time_series.timestamp_column", params.time_series.timestamp_column),
    ):
        if column and column not in df.columns:
            raise UserInputError(
                f"config.{path} names column {column!r}, which the data does not have; "
                f"columns are: {', '.join(map(str, df.columns[:30]))}"
            )


def _load_generation_model(adapter_dir: Path, options: RunOptions, device: str) -> Any:
    from .models import load_base_model, read_model_card

    card = read_model_card(adapter_dir)
    if card.get("kind") == "full":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(adapter_dir).to(device)
        return model, AutoTokenizer.from_pretrained(adapter_dir), card
    from peft import PeftModel

    base = load_base_model(
        card["base_model"],
        device=device,
        s3=options.client_for(card["base_model"]),
        hf_token=options.hf_token,
        rope_scaling_factor=card.get("rope_scaling_factor"),  # the base as it was trained
        attn_implementation=card.get("attn_implementation"),
    )
    model = PeftModel.from_pretrained(base.model, adapter_dir).merge_and_unload()
    return model, base.tokenizer, card


def _make_engine(adapter_dir: Path, options: RunOptions, device: str, card_hint: dict | None = None) -> Any:
    from .generation.transformers_engine import TransformersEngine
    from .generation.vllm_engine import VllmEngine, vllm_available
    from .models import read_model_card, resolve_model_dir

    card = card_hint or read_model_card(adapter_dir)
    if device == "cuda" and vllm_available():
        if card.get("kind") == "full":
            return VllmEngine(str(adapter_dir), None, lora_rank=8, max_model_len=card["max_seq_length"]), card
        base_dir = resolve_model_dir(card["base_model"], s3=options.client_for(card["base_model"]))
        engine = VllmEngine(
            str(base_dir),
            adapter_dir,
            lora_rank=card.get("lora_r", 32),
            max_model_len=card["max_seq_length"],
            rope_scaling_factor=card.get("rope_scaling_factor"),
        )
        return engine, card
    model, tokenizer, card = _load_generation_model(adapter_dir, options, device)
    return TransformersEngine(model, tokenizer, device), card


def _fetch_adapter(source: str, work: Path, s3: Any) -> Path:
    """An earlier output prefix (…/adapter/ inside) or an adapter folder, local or S3."""
    local = Path(source.removeprefix("file://"))
    if not source.startswith("s3://"):
        return local / "adapter" if (local / "adapter").is_dir() else local
    target = work / "reused_adapter"
    prefix = source.rstrip("/")
    prefix = prefix if prefix.endswith("/adapter") else prefix + "/adapter"
    storage.download_prefix(prefix + "/", target, s3)
    return target


def run_pipeline(
    params: SafeSynthesizerParameters, options: RunOptions, progress: Progress | None = None
) -> RunOutcome:
    """Run the configured stages and publish the results (see module docstring).

    On failure the summary (status ``failed``), the logs and the results index are published and
    the original exception is re-raised; :func:`published_failure` returns what was published. A
    staging folder this call made itself (``options.work_dir`` unset) is removed in every case."""
    progress = progress or NullProgress()
    timer = StageTimer()
    own_work = options.work_dir is None
    work = Path(options.work_dir) if options.work_dir is not None else new_staging_dir()
    work.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "job": options.job_name,
        "version": __version__,
        "mode": options.mode,
        "data_source": options.data_source,
        "output": options.output,
        "warnings": [],
        "status": "running",
    }
    from .threads import configure_threads

    summary["cpu_threads"] = configure_threads()
    try:
        if options.mode == "merge":
            return _run_merge(params, options, progress, timer, work, summary)
        return _run(params, options, progress, timer, work, summary, options.device)
    except Exception as exc:
        outcome = _publish_failure(params, options, progress, timer, work / "out", summary, exc)
        if outcome is not None:
            # an exception type without a __dict__ keeps none: the CLI then reports no links
            with suppress(AttributeError):
                setattr(exc, _OUTCOME_ATTRIBUTE, outcome)
        raise
    finally:
        if own_work:
            remove_staging_dir(work)


def _run(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    work: Path,
    summary: dict[str, Any],
    device: str | None,
) -> RunOutcome:
    staging = work / "out"
    staging.mkdir(parents=True, exist_ok=True)
    partial_reason: str | None = None
    if options.shard is not None:  # one generation shard: its share, no PII replacement, no evaluation
        params = _shard_params(params, options.shard)
    elif params.generation.shards > 1 and options.mode != "train":
        summary["warnings"].append(
            f"generation.shards is {params.generation.shards}: shards run as separate pods on Kubernetes "
            "(or `run generate --shards N --shard-index i`, then `run merge`); this run generated every "
            "record in one process"
        )
    from .accepted_only import accepted_only_warnings

    summary["warnings"].extend(accepted_only_warnings(params))

    # load
    with timer.stage("load"):
        progress.update("load", 0, 1, "reading the data source")
        min_rows = MIN_ROWS if params.data.holdout > 0 and params.enable_synthesis else MIN_ROWS_NO_HOLDOUT
        table = load_table(options.data_source, options.client_for(options.data_source), min_rows=min_rows)
        _check_columns(table, params)
        progress.update("load", 1, 1, f"{len(table)} rows x {table.shape[1]} columns")
    summary["rows_in"] = int(len(table))
    summary["columns"] = int(table.shape[1])

    if not params.enable_synthesis:
        return _replace_only(params, options, progress, timer, table, staging, summary)

    # split
    with timer.stage("split"):
        train_raw, holdout, split_info = split_holdout(table, params.data, run_seed(params))
        progress.update("split", 1, 1, f"train {len(train_raw)}, holdout {len(holdout)}")
    summary["split"] = split_info if isinstance(split_info, dict) else getattr(split_info, "__dict__", {})

    # time series: training rows sorted by (series, time), the grid planned (timeseries.py)
    ts_plan = None
    run_params = params
    if params.time_series.is_timeseries:
        train_raw, ts_plan, run_params = _prepare_time_series(params, train_raw)
        summary["time_series"] = ts_plan.to_summary()

    # replace PII (training split only; the holdout stays raw for evaluation)
    train, pii_result = _replace_pii_stage(run_params, options, progress, timer, train_raw, summary)

    # resolve "auto", then train (or reuse an adapter)
    if device is None:
        from .models import pick_device

        device = pick_device()
    adapter_dir = staging / "adapter"
    trained = _train_stage(run_params, options, progress, timer, work, adapter_dir, train, pii_result, device)
    schema, resolved = trained.schema, trained.resolved
    if options.shard is not None:  # the shard's own seed (sharding.shard_seed), recorded in its summary
        resolved.seed = options.shard.seed
        summary["shard"] = options.shard.to_summary()
    summary["warnings"].extend(trained.warnings)
    summary.update(trained.summary_fields)
    if trained.privacy:
        summary["privacy"] = trained.privacy
    summary["resolved_config"] = resolved.to_dict()
    training_summary = trained.training
    if training_summary:  # the adapter's published location, never the staging folder
        training_summary["adapter_dir"] = storage.join_url(options.output, "adapter/")
    summary["training"] = training_summary

    if options.mode == "train":
        return _publish(params, options, progress, timer, staging, summary, None)
    if options.stop_requested.is_set():
        reason = (
            f"termination requested during training: the adapter after {training_summary.get('steps')} "
            "steps is published; no records were generated"
        )
        summary["warnings"].append(reason)
        return _publish(params, options, progress, timer, staging, summary, reason)

    # generate
    from .tabular.engine import is_field_model

    with timer.stage("generate"):
        if is_field_model(adapter_dir):
            gen = _generate_field_stage(run_params, options, progress, adapter_dir, device, resolved, summary)
        else:
            gen = _generate_llm_stage(
                run_params,
                options,
                progress,
                adapter_dir,
                device,
                resolved,
                schema,
                summary,
                records_per_sequence=ts_plan.longest_series if ts_plan is not None else None,
            )
    summary["generation"] = gen.summary()
    synthetic, determined = apply_determined_columns(gen.data, schema)
    if determined:
        summary["generation"]["determined_columns"] = {
            name: {"determined_by": schema_column.determined_by, "values_set": count}
            for schema_column in schema.columns
            for name, count in determined.items()
            if schema_column.name == name
        }
    if ts_plan is not None:  # the field engine cannot run grouped: group sizes come from the LLM path
        sizes = gen.group_sizes if params.data.group_training_examples_by else None
        synthetic = _apply_time_series(synthetic, ts_plan, summary, sizes)
    if len(synthetic) == 0:
        timer.failed_stage = "generate"
        if options.stop_requested.is_set():  # interrupted, not a property of the adapter: retry
            raise TransientError(
                "termination requested before generation made a valid record; the adapter is published"
            )
        reasons = summary["generation"].get("invalid_reasons") or {}
        seen = ", ".join(f"{name} x{count}" for name, count in list(reasons.items())[:3])
        raise NoValidRecordsError(
            f"generation produced no valid record ({seen or 'no record lines'}); train longer "
            "(training.num_input_records_to_sample), lower generation.temperature, or set "
            "generation.use_structured_generation: true; summary.json invalid_reasons has the counts"
        )
    if gen.stopped_early:
        partial_reason = (
            f"generation stopped early: {gen.stop_reason}; published {len(synthetic)} valid records"
        )
        summary["warnings"].append(partial_reason)
    with timer.stage("write_data"):
        write_table(synthetic, staging / "synthetic_data.csv")
        write_table(synthetic, staging / "synthetic_data.parquet")
    summary["rows_out"] = int(len(synthetic))
    if options.shard is not None:  # the adapter stays where training published it (not copied N times)
        summary["shard"]["records"] = int(len(synthetic))
        shutil.rmtree(adapter_dir, ignore_errors=True)

    # evaluate + report (a failure here keeps the data; a stop request skips it to publish in time)
    if params.evaluation.enabled and not options.stop_requested.is_set():
        try:
            _evaluate_stage(
                params,
                progress,
                timer,
                train_raw,
                holdout,
                synthetic,
                pii_result,
                summary,
                staging,
                resolved,
                ts_plan,
            )
        except Exception as exc:  # noqa: BLE001 - evaluation must never cost the user the data
            partial_reason = _record_evaluation_failure(exc, summary, partial_reason)
    return _publish(params, options, progress, timer, staging, summary, partial_reason)


def _prepare_time_series(
    params: SafeSynthesizerParameters, train: pd.DataFrame
) -> tuple[pd.DataFrame, Any, SafeSynthesizerParameters]:
    """Sort the training split by (series, time) and plan the grid (:mod:`.timeseries`).

    Returns the sorted split, the plan, and the parameters training and generation run with: the
    order is the parsed timestamp (the rows are already in it), so ``data.order_training_examples_by``
    is cleared for them (sorting the raw text would misorder formats such as ``%d/%m/%Y``)."""
    from .timeseries import prepare_time_series

    ts = params.time_series
    ordered, plan = prepare_time_series(
        train,
        column=ts.timestamp_column,
        group_by=params.data.group_training_examples_by,
        order_by=params.data.order_training_examples_by,
        fmt=ts.timestamp_format,
        interval_seconds=ts.timestamp_interval_seconds,
        start=ts.start_timestamp,
        stop=ts.stop_timestamp,
        enforce=params.generation.enforce_timeseries_fidelity,
        dp=params.dp_enabled,
    )
    run_params = params
    if params.data.order_training_examples_by:
        run_params = params.model_copy(deep=True)
        run_params.data.order_training_examples_by = None
    return ordered, plan, run_params


def _apply_time_series(
    synthetic: pd.DataFrame, plan: Any, summary: dict[str, Any], group_sizes: list[int] | None
) -> pd.DataFrame:
    """The grid (or sorted generated timestamps) on the generated series; counts to summary.json."""
    from .timeseries import apply_time_series, grid_is_valid

    synthetic, stats = apply_time_series(synthetic, plan, group_sizes)
    summary.setdefault("time_series", {})["generated"] = stats
    if not grid_is_valid(stats["grid"]):
        check = stats["grid"]
        summary["warnings"].append(
            f"time_series: generated timestamps are off the grid ({check['gaps']} gaps, {check['duplicates']} "
            f"duplicates, {check['off_grid']} off-grid steps, {check['out_of_range']} out of range); set "
            "generation.enforce_timeseries_fidelity: true to assign them from the grid"
        )
    return synthetic


@dataclass
class TrainOutcome:
    """What the train stage hands on: the schema generation follows, the resolved config, the
    training summary, the DP ledger (training and schema spend) and what the summary should say."""

    schema: TableSchema
    resolved: ResolvedConfig
    training: dict[str, Any]
    privacy: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    summary_fields: dict[str, Any] = field(default_factory=dict)


def _train_stage(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    work: Path,
    adapter_dir: Path,
    train: pd.DataFrame,
    pii_result: Any,
    device: str,
) -> TrainOutcome:
    """Train the engine the data and config call for, or fetch the adapter a generate-only run reuses."""
    if options.mode == "generate":
        return _reuse_adapter(params, options, timer, work, adapter_dir, train, device)
    from .tabular.engine import FIELD_TOKENS, choose_engine
    from .training import apply_vram_fraction

    choice = choose_engine(
        params.training.engine,
        "pretrained_model" in params.training.model_fields_set,
        train,
        device,
        grouped=bool(params.data.group_training_examples_by),
    )
    vram_applied = apply_vram_fraction(params.training.max_vram_fraction, device)
    if choice.kind == FIELD_TOKENS:
        outcome = _train_field_path(params, options, progress, timer, adapter_dir, train, pii_result, device)
        if options.train_processes > 1:
            outcome.warnings.append(
                f"--train-processes {options.train_processes}: the field-token engine is small and trains "
                "in one process"
            )
    else:
        outcome = _train_llm_path(params, options, progress, timer, adapter_dir, train, device, work)
    outcome.summary_fields["engine"] = {"kind": choice.kind, "reason": choice.reason}
    outcome.resolved.max_vram_fraction_applied = vram_applied
    return outcome


def _reuse_adapter(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    timer: StageTimer,
    work: Path,
    adapter_dir: Path,
    train: pd.DataFrame,
    device: str,
) -> TrainOutcome:
    """A generate-only run: the adapter (and the schema it was trained with) of an earlier run."""
    if not options.adapter_source:
        raise UserInputError("generation only needs an adapter: pass --adapter or spec.pretrainedModelJob")
    with timer.stage("fetch_adapter"):
        source_dir = _fetch_adapter(options.adapter_source, work, options.client_for(options.adapter_source))
        if not (source_dir / "dataset_schema.json").exists():
            raise UserInputError(f"{options.adapter_source} holds no adapter (dataset_schema.json missing)")
        shutil.copytree(source_dir, adapter_dir, dirs_exist_ok=True)
    schema = TableSchema.from_json((adapter_dir / "dataset_schema.json").read_text(encoding="utf-8"))
    resolved = resolve(
        params,
        n_train_records=len(train),
        n_privacy_units=len(train),
        device=device,
        pretrained_model="(reused adapter)",
    )
    return TrainOutcome(schema, resolved, training={})


def _train_field_path(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    adapter_dir: Path,
    train: pd.DataFrame,
    pii_result: Any,
    device: str,
) -> TrainOutcome:
    """The field-token engine, trained from scratch (plain or DP-SGD)."""
    from .accepted_only import llm_only_warnings
    from .tabular.engine import FIELD_TOKENS

    warnings = list(llm_only_warnings(params, FIELD_TOKENS))
    schema, schema_ledger = _training_schema(train, params, pii_result)
    n_units = _privacy_units(train, params)
    resolved = resolve(
        params,
        n_train_records=len(train),
        n_privacy_units=n_units,
        device=device,
        pretrained_model=FIELD_TOKENS,
        model_is_pretrained=False,
    )
    summary_fields: dict[str, Any] = {}
    with timer.stage("train"):
        result = _train_field_stage(
            params,
            options,
            progress,
            train,
            schema,
            pii_result,
            resolved,
            n_units,
            device,
            adapter_dir,
            warnings,
            summary_fields,
        )
    plan = result.plan
    if plan.get("cpu_threads"):
        summary_fields["cpu_threads"] = plan["cpu_threads"]
    resolved.batch_size = int(plan["batch_size"])
    resolved.learning_rate = float(plan["learning_rate"])
    resolved.num_input_records_to_sample = int(plan["max_epochs"] * len(train))
    resolved.pretrained_model = f"{FIELD_TOKENS} (from scratch)"
    return TrainOutcome(
        schema,
        resolved,
        training=result.to_dict(),
        privacy=_privacy_ledger(result.dp, schema_ledger),
        warnings=warnings,
        summary_fields=summary_fields,
    )


def _train_llm_path(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    adapter_dir: Path,
    train: pd.DataFrame,
    device: str,
    work: Path | None = None,
) -> TrainOutcome:
    """LoRA (or QLoRA) on a pretrained LLM, or full training of a small one (plain or DP-SGD); with
    ``options.train_processes`` > 1 and no DP, data-parallel in several processes (one per GPU)."""
    import os

    from .autoconfig import rope_factor
    from .models import BUILTIN_TINY_LLAMA, CPU_DEFAULT_MODEL, load_base_model
    from .training import longest_example_tokens, peft_plan, train_model

    warnings: list[str] = []
    model_source = params.training.pretrained_model
    if device == "cpu" and "pretrained_model" not in params.training.model_fields_set:
        model_source = os.environ.get("SAFE_SYNTH_CPU_MODEL", CPU_DEFAULT_MODEL)
        warnings.append(
            f"no GPU: using the CPU default model {model_source} instead of {params.training.pretrained_model}"
        )
    peft = peft_plan(params, device, from_scratch=model_source == BUILTIN_TINY_LLAMA)
    warnings.extend(peft.warnings)
    schema, schema_ledger = _training_schema(train, params)
    longest: dict[str, int] = {}

    def rope_for(tokenizer: Any, base_context: int) -> int:
        # rope_scaling_factor "auto": sized from the longest example, measured with this tokenizer
        longest["tokens"] = longest_example_tokens(train, schema, params, tokenizer)
        return rope_factor(params, longest["tokens"], base_context)

    with timer.stage("load_model"):
        progress.update("train", 0, None, f"loading {model_source}")
        loaded = load_base_model(
            model_source,
            device=device,
            s3=options.client_for(model_source),
            hf_token=options.hf_token,
            quantization_bits=peft.quantization_bits,
            rope_scaling_factor=rope_for,
            attn_implementation=params.training.attn_implementation,
            seed=run_seed(params),
        )
    warnings.extend(loaded.notes)
    n_units = _privacy_units(train, params)
    resolved = resolve(
        params,
        n_train_records=len(train),
        n_privacy_units=n_units,
        device=device,
        pretrained_model=model_source,
        model_is_pretrained=loaded.pretrained,
        base_context=loaded.context_length // loaded.rope_scaling_factor,
        longest_example_tokens=longest.get("tokens"),
        applied_rope_factor=loaded.rope_scaling_factor,
    )
    resolved.attn_implementation = loaded.attn_implementation
    resolved.peft_implementation = peft.implementation
    resolved.quantization = loaded.quantization
    dp_trainer = _dp_trainer(params, resolved, n_units, warnings)
    distributed = None
    from .distributed import DistributedPlan, plan_processes

    world_size = plan_processes(options.train_processes, device, dp=dp_trainer is not None, warnings=warnings)
    if world_size > 1:
        distributed = DistributedPlan(
            world_size,
            device,
            (work or adapter_dir.parent) / "distributed",
            load_kwargs={
                "source": model_source,
                "device": device,
                "quantization_bits": peft.quantization_bits,
                "rope_scaling_factor": loaded.rope_scaling_factor,
                "attn_implementation": params.training.attn_implementation,
                "seed": run_seed(params),
            },
            s3_settings=options.s3,
        )
    with timer.stage("train"):
        result = train_model(
            loaded,
            train,
            schema,
            params,
            resolved,
            adapter_dir,
            progress,
            dp_trainer,
            should_stop=options.stop_requested.is_set,
            distributed=distributed,
        )
    del loaded
    return TrainOutcome(
        schema,
        resolved,
        training=result.to_dict(),
        privacy=_privacy_ledger(result.dp, schema_ledger),
        warnings=warnings,
    )


def _privacy_ledger(training_ledger: dict | None, schema_ledger: dict | None) -> dict | None:
    """The training ledger (total ε charged) with the schema's own spend kept as its detail."""
    if not training_ledger:
        return {"schema": schema_ledger} if schema_ledger else None
    return {**training_ledger, **({"schema": schema_ledger} if schema_ledger else {})}


def _generate_llm_stage(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    adapter_dir: Path,
    device: str,
    resolved: ResolvedConfig,
    schema: TableSchema,
    summary: dict[str, Any],
    records_per_sequence: int | None = None,
) -> Any:
    """Generate with the LLM engine (vLLM on GPU, transformers on CPU), optionally grammar-constrained.

    ``records_per_sequence`` caps the records of one grouped sequence (time series: the longest
    training series); otherwise a grouped sequence may hold up to ``num_records``."""
    from .generation import SamplingSettings, generate_records

    generation = params.generation
    engine, card = _make_engine(adapter_dir, options, device)
    tokens_per_record = float(card.get("tokens_per_record") or 64)
    per_sequence = card.get("max_sequences_per_example") or 10
    prompt_tokens = engine.prompt_tokens(card["prompt"])
    grouped = bool(params.data.group_training_examples_by)
    room = card["max_seq_length"] - prompt_tokens - 1
    # grouped: max_sequences_per_example counts groups of unknown length, so a sequence may hold up
    # to num_records records (each group's blank line included) within the context
    records_cap = (records_per_sequence or generation.num_records) if grouped else per_sequence
    blank_lines = records_cap if grouped else 0  # a group's closing blank line, at most one per record
    max_new = int(min(room, tokens_per_record * 1.3 * records_cap + blank_lines + 16))
    regex = grammar = None
    if generation.use_structured_generation:
        from .generation.grammar import RecordGrammar
        from .generation.record_regex import record_regex

        if engine.supports_grammar():
            grammar = RecordGrammar(schema, records_cap, grouped=grouped)
            summary["structured_generation"] = "record grammar (byte-level logits processor)"
        elif engine.supports_regex():
            regex = record_regex(schema, per_sequence, grouped=grouped)
            summary["structured_generation"] = f"record grammar as a regex ({engine.name})"
        else:
            summary["warnings"].append(
                f"use_structured_generation: the {engine.name} engine with this tokenizer cannot "
                "constrain decoding (install xgrammar); records are validated after generation instead"
            )
    settings = SamplingSettings(
        temperature=generation.temperature,
        top_p=generation.top_p,
        repetition_penalty=generation.repetition_penalty,
        max_new_tokens=max_new,
        seed=resolved.seed,
        regex=regex,
        grammar=grammar,
    )
    gen = generate_records(
        engine,
        schema,
        card["prompt"],
        generation,
        settings,
        group_by=params.data.group_training_examples_by,
        order_by=params.data.order_training_examples_by,
        progress=progress,
        should_stop=options.stop_requested.is_set,
    )
    del engine
    return gen


def _record_evaluation_failure(exc: Exception, summary: dict[str, Any], partial_reason: str | None) -> str:
    """Note a failed evaluation in the summary (warning, traceback); the run turns partial, keeping its data."""
    log.error("evaluation failed: %s", type(exc).__name__)
    summary["warnings"].append(f"evaluation failed ({type(exc).__name__}: {str(exc)[:300]})")
    summary["evaluation_error"] = traceback.format_exc(limit=5)[-2000:]
    return partial_reason or "evaluation failed; the synthetic data is published"


def _training_schema(
    train: pd.DataFrame, params: SafeSynthesizerParameters, pii_result: Any = None
) -> tuple[TableSchema, dict[str, Any] | None]:
    """The generation schema and, under DP, its privacy ledger: DP estimates, never raw statistics.

    Without DP, 1:1 column pairs of the training split are marked (:func:`mark_exact_determined_pairs`;
    replaced PII columns never are)."""
    if params.dp_enabled:
        # No fallback: a DP run never builds its schema from raw statistics (fail closed).
        from .privacy.schema import dp_schema

        return dp_schema(train, params)
    schema = infer_schema(train)
    if pii_result is not None:
        from .generation.pii_fill import pii_column_entities

        replaced = set(pii_column_entities(pii_result.column_stats))
    else:
        replaced = set()
    mark_exact_determined_pairs(schema, train, exclude=replaced)
    return schema, None


def _train_field_stage(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    train: pd.DataFrame,
    schema: TableSchema,
    pii_result: Any,
    resolved: ResolvedConfig,
    n_units: int,
    device: str,
    adapter_dir: Path,
    warnings: list[str],
    summary_fields: dict[str, Any],
) -> Any:
    """Train the field-token engine; NeMo's LoRA-oriented defaults left unset give way to its own."""
    import dataclasses

    from .generation.pii_fill import pii_column_entities
    from .tabular.engine import train_field_engine

    training = params.training
    explicit = training.model_fields_set
    pii_entities = pii_column_entities(pii_result.column_stats) if pii_result is not None else {}
    protected = _protected_columns(params)
    pii_entities = {c: e for c, e in pii_entities.items() if c not in protected}
    batch = training.batch_size * training.gradient_accumulation_steps if "batch_size" in explicit else None
    learning_rate = (
        float(training.learning_rate)
        if "learning_rate" in explicit and not isinstance(training.learning_rate, str)
        else None
    )
    records = (
        resolved.num_input_records_to_sample
        if "num_input_records_to_sample" in explicit or training.num_epochs is not None
        else None
    )
    factory = None
    if params.dp_enabled:

        def factory(batch_size: int, records_to_sample: int, lr: float) -> Any:
            dp_params = params.model_copy(deep=True)
            # DP-SGD's batch B = physical chunk x accumulation: chunks of at most 1024 records bound
            # memory (ghost clipping keeps no per-record weight copies); B itself is unchanged (one
            # noise draw per B)
            chunk = next(c for c in range(min(batch_size, 1024), 0, -1) if batch_size % c == 0)
            dp_params.training.gradient_accumulation_steps = batch_size // chunk
            dp_resolved = dataclasses.replace(
                resolved,
                batch_size=chunk,
                num_input_records_to_sample=records_to_sample,
                learning_rate=lr,
                max_sequences_per_example=1,
            )
            return _dp_trainer(dp_params, dp_resolved, n_units, warnings)

    if pii_entities:
        summary_fields["pii_columns_generated"] = {
            "columns": sorted(pii_entities),
            "how": "not modelled: generated after sampling with Faker in the learned formats, "
            "consistent within a row",
        }
    return train_field_engine(
        train,
        adapter_dir,
        schema=schema,
        pii_entities=pii_entities,
        device=device,
        seed=resolved.seed,
        batch_size=batch,
        learning_rate=learning_rate,
        records_to_sample=records,
        validation_ratio=training.validation_ratio,
        dp_trainer_factory=factory,
        progress=progress,
        should_stop=options.stop_requested.is_set,
        max_minutes=training.max_training_minutes,
    )


def _generate_field_stage(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    adapter_dir: Path,
    device: str,
    resolved: ResolvedConfig,
    summary: dict[str, Any],
) -> Any:
    """Sample with the field-token engine (temperature 1 unless the config sets one)."""
    from .tabular.engine import DEFAULT_TEMPERATURE, generate_field_engine

    generation = params.generation
    explicit = generation.model_fields_set
    temperature = generation.temperature if "temperature" in explicit else DEFAULT_TEMPERATURE
    summary["structured_generation"] = "field-token engine: logits masked to each column's vocabulary"
    summary.setdefault("resolved_generation", {})["temperature"] = temperature
    return generate_field_engine(
        adapter_dir,
        generation.num_records,
        temperature=temperature,
        top_p=generation.top_p,
        seed=resolved.seed,
        device=device,
        progress=progress,
        should_stop=options.stop_requested.is_set,
    )


FEW_DP_STEPS = 30  # below this a DP-SGD run rarely learns the record format


def _dp_trainer(
    params: SafeSynthesizerParameters, resolved: ResolvedConfig, n_units: int, warnings: list[str]
) -> Any:
    if not params.dp_enabled:
        return None
    from .privacy.dp import DPTrainer

    trainer = DPTrainer.plan(params, resolved, n_units)
    if trainer.steps < FEW_DP_STEPS:
        batch = resolved.batch_size * params.training.gradient_accumulation_steps
        message = (
            f"DP-SGD plan has only {trainer.steps} steps (expected batch {trainer.plan_.expected_batch_size} "
            f"of {n_units} units): the model will learn little. Raise training.num_input_records_to_sample "
            f"or lower batch_size x gradient_accumulation_steps (now {batch})"
        )
        log.warning("%s", message)
        warnings.append(message)
    return trainer


def _replace_pii_stage(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    train: pd.DataFrame,
    summary: dict[str, Any],
) -> tuple[pd.DataFrame, Any]:
    if not params.enable_replace_pii or params.replace_pii is None:
        summary["replace_pii"] = {"enabled": False}
        return train, None
    import secrets

    from .pii import replace_pii

    key = options.pseudonym_key or secrets.token_bytes(32)
    with timer.stage("replace_pii"):
        result = replace_pii(
            train,
            params.replace_pii,
            key=key,
            protected_columns=_protected_columns(params),
            progress=progress,
        )
    summary["replace_pii"] = {
        "enabled": True,
        "key": "provided" if options.pseudonym_key else "per-job random",
    }
    summary["replace_pii"].update(result.summary())
    # on screen and in the CR too: e.g. custom steps that leave detected PII columns unchanged
    summary["warnings"].extend(f"replace_pii: {w}" for w in result.warnings)
    return result.data, result


def _replace_only(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    table: pd.DataFrame,
    staging: Path,
    summary: dict[str, Any],
) -> RunOutcome:
    """``enable_synthesis: false``: the output is the input with PII replaced."""
    replaced, _ = _replace_pii_stage(params, options, progress, timer, table, summary)
    summary["mode"] = "replace_pii"  # the published table is the input with PII replaced, not synthetic
    write_table(replaced, staging / "synthetic_data.csv")
    write_table(replaced, staging / "synthetic_data.parquet")
    summary["rows_out"] = int(len(replaced))
    return _publish(params, options, progress, timer, staging, summary, None)


def _evaluate_stage(
    params: SafeSynthesizerParameters,
    progress: Progress,
    timer: StageTimer,
    train_raw: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    pii_result: Any,
    summary: dict[str, Any],
    staging: Path,
    resolved: ResolvedConfig,
    ts_plan: Any = None,
) -> None:
    from .evaluation import evaluate, render_report

    with timer.stage("evaluate"):
        result = evaluate(
            train_raw,
            holdout if len(holdout) else None,
            synthetic,
            params.evaluation,
            pii_replay=pii_result.replay_input() if pii_result is not None else None,
            dp_ledger=summary.get("privacy"),
            seed=resolved.seed,
            progress=progress,
        )
        if ts_plan is not None:  # beside SQS, not part of it
            from .evaluation.time_series import time_series_metrics

            result.metrics["time_series"] = time_series_metrics(
                train_raw, holdout if len(holdout) else None, synthetic, plan=ts_plan, seed=resolved.seed
            )
        (staging / "evaluation_metrics.json").write_text(result.to_json(), encoding="utf-8")
        (staging / "evaluation_report.html").write_text(
            render_report(result, title=f"Safe Synthesizer report: {summary['job']}"), encoding="utf-8"
        )
    summary["scores"] = {"sqs": result.sqs, "dps": result.dps}


_FORMATS = {
    "synthetic_data.csv": ("synthetic_data", "csv", True),
    "synthetic_data.parquet": ("synthetic_data_parquet", "parquet", False),
    "evaluation_report.html": ("evaluation_report", "html", False),
    "evaluation_metrics.json": ("evaluation_metrics", "json", False),
    "summary.json": ("summary", "json", False),
    "logs.jsonl": ("logs", "jsonl", False),
}


def _publish(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    staging: Path,
    summary: dict[str, Any],
    partial_reason: str | None,
    extra_results: list[ResultRef] | None = None,
) -> RunOutcome:
    """Upload everything, summary and results index last (a reader that sees the index sees all).
    ``extra_results`` lists what is already at the output (the merge step: the training's adapter)."""
    status = "partial" if partial_reason else "succeeded"
    summary["status"] = status
    if partial_reason:
        summary["partial_reason"] = partial_reason
    summary["config"] = params.model_dump(mode="json")
    with timer.stage("publish"):
        files = [p for p in sorted(staging.rglob("*")) if p.is_file()]
        results = _upload_files(options, progress, staging, files) + list(extra_results or [])
    summary["timings_seconds"] = timer.seconds
    results = _upload_summary_and_index(options, staging, summary, results)
    progress.update("publish", 1, 1, f"results at {options.output}")
    return RunOutcome(status=status, results=results, summary=summary, output=options.output)


def _publish_failure(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    staging: Path,
    summary: dict[str, Any],
    exc: BaseException,
) -> RunOutcome | None:
    """Publish what a failed run knows: ``summary.json`` (status ``failed``, the reason, the
    invalid-record reasons, timings), ``logs.jsonl``, the adapter when training finished, and the
    results index. Returns None (after a warning) when the output cannot be written either."""
    failure = classify_failure(exc)
    message = str(exc) or type(exc).__name__
    log.error("run failed (%s, exit code %d): %s", failure.reason, failure.exit_code, message[:1000])
    summary["status"] = "failed"
    summary["failure"] = {
        "reason": failure.reason,
        "error": type(exc).__name__,
        "message": message[:3000],
        "stage": timer.failed_stage,
        "exit_code": failure.exit_code,
        "retryable": failure.retryable,
    }
    if failure.reason == "InternalError":  # a bug: where it happened (code lines, never record values)
        summary["failure"]["traceback"] = "".join(traceback.format_exception(exc, limit=8))[-2000:]
    invalid_reasons = (summary.get("generation") or {}).get("invalid_reasons")
    if invalid_reasons is not None:
        summary["invalid_reasons"] = invalid_reasons
    summary["elapsed_seconds"] = round(time.time() - timer.started, 3)
    try:
        summary["config"] = params.model_dump(mode="json")
        staging.mkdir(parents=True, exist_ok=True)
        files = [staging / "logs.jsonl"] if (staging / "logs.jsonl").is_file() else []
        adapter = staging / "adapter"
        if summary.get("training") and adapter.is_dir():  # training finished: reusable with --adapter
            files += [p for p in sorted(adapter.rglob("*")) if p.is_file()]
        with timer.stage("publish"):
            results = _upload_files(options, progress, staging, files)
        summary["timings_seconds"] = timer.seconds
        results = _upload_summary_and_index(options, staging, summary, results)
    except Exception as publish_error:  # noqa: BLE001 - the run's own error is what the caller reports
        log.warning(
            "could not publish the failed run's summary to %s: %s: %s",
            options.output,
            type(publish_error).__name__,
            str(publish_error)[:500],
        )
        return None
    return RunOutcome(status="failed", results=results, summary=summary, output=options.output)


def _upload_files(
    options: RunOptions, progress: Progress, staging: Path, files: list[Path]
) -> list[ResultRef]:
    """Upload ``files`` (inside ``staging``) to the same relative paths under the output."""
    results: list[ResultRef] = []
    total = len(files) + 2
    adapter = False
    for done, path in enumerate(files, start=1):
        relative = path.relative_to(staging).as_posix()
        url = storage.join_url(options.output, relative)
        storage.upload_file(path, url, options.client_for(url))
        progress.update("publish", done, total, "publishing")
        adapter = adapter or relative.startswith("adapter/")
        if relative in _FORMATS:
            rid, fmt, canonical = _FORMATS[relative]
            results.append(
                ResultRef(id=rid, format=fmt, canonical=canonical, url=url, sizeBytes=path.stat().st_size)
            )
    if adapter:
        results.append(
            ResultRef(id="adapter", format="directory", url=storage.join_url(options.output, "adapter/"))
        )
    return results


def _upload_summary_and_index(
    options: RunOptions, staging: Path, summary: dict[str, Any], results: list[ResultRef]
) -> list[ResultRef]:
    """Write and upload ``summary.json``, then the results index; returns ``results`` + the summary."""
    summary["results"] = [r.model_dump() for r in results]
    summary_path = staging / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    summary_url = storage.join_url(options.output, "summary.json")
    storage.upload_file(summary_path, summary_url, options.client_for(summary_url))
    results = [
        *results,
        ResultRef(id="summary", format="json", url=summary_url, sizeBytes=summary_path.stat().st_size),
    ]
    index: dict[str, Any] = {
        "status": summary["status"],
        "results": [r.model_dump() for r in results],
        "scores": summary.get("scores"),
    }
    if "failure" in summary:
        index["reason"] = summary["failure"]["reason"]
        index["message"] = summary["failure"]["message"]
    index_path = staging / "results.json"
    index_path.write_text(json.dumps(index, indent=2), encoding="utf-8")
    index_url = storage.join_url(options.output, "results.json")
    storage.upload_file(index_path, index_url, options.client_for(index_url))
    return results


# -- sharded generation (the generation.shards extension; see sharding.py) ------------------------


def _shard_params(params: SafeSynthesizerParameters, shard: Any) -> SafeSynthesizerParameters:
    """The parameters one generation shard runs with: its share of the records, and neither PII
    replacement (it trains nothing) nor evaluation (the merge step evaluates the whole table)."""
    generation = params.generation.model_copy(update={"num_records": shard.num_records, "shards": 1})
    evaluation = params.evaluation.model_copy(update={"enabled": False})
    return params.model_copy(
        update={"generation": generation, "evaluation": evaluation, "enable_replace_pii": False}
    )


_CARRIED_FROM_TRAINING = ("training", "privacy", "engine", "resolved_config", "pii_columns_generated")


def _read_json(url: str, options: RunOptions) -> dict[str, Any] | None:
    """A published JSON object (a summary), or None when it does not exist or is not JSON."""
    try:
        data = json.loads(storage.read_bytes(url, options.client_for(url)))
    except (UserInputError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _run_merge(
    params: SafeSynthesizerParameters,
    options: RunOptions,
    progress: Progress,
    timer: StageTimer,
    work: Path,
    summary: dict[str, Any],
) -> RunOutcome:
    """``run merge``: the shards' records (index order, exactly ``num_records``), evaluated and
    published as the run's canonical outputs (:mod:`.sharding`)."""
    from . import sharding

    staging = work / "out"
    staging.mkdir(parents=True, exist_ok=True)
    count = options.shard_count or params.generation.shards
    num_records = params.generation.num_records
    partial_reason: str | None = None

    # the shards: every one must have published a summary and its data
    with timer.stage("read_shards"):
        progress.update("merge", 0, count, f"reading {count} shards")
        frames: list[pd.DataFrame] = []
        shards: list[dict[str, Any]] = []
        missing: list[str] = []
        for index in range(count):
            prefix = sharding.shard_output(options.output, index)
            shard_summary = _read_json(storage.join_url(prefix, "summary.json"), options)
            status = (shard_summary or {}).get("status")
            if shard_summary is None or status not in ("succeeded", "partial"):
                missing.append(f"{index} ({'nothing published' if shard_summary is None else status})")
                continue
            data_url = storage.join_url(prefix, "synthetic_data.parquet")
            local = storage.download_to(
                data_url, work / "shards" / f"{index}.parquet", options.client_for(data_url)
            )
            frame = pd.read_parquet(local)
            frames.append(frame)
            info = shard_summary.get("shard") or {}
            shards.append(
                {
                    "index": index,
                    "status": status,
                    "seed": info.get("seed"),
                    "num_records": info.get("num_records"),
                    "records": int(len(frame)),
                    "url": storage.join_url(prefix, "synthetic_data.csv"),
                }
            )
            progress.update("merge", index + 1, count, f"read shard {index}")
        if missing:
            raise UserInputError(
                f"cannot merge: shard(s) {', '.join(missing)} of {count} have no usable output under "
                f"{sharding.shard_output(options.output, 0).rsplit('/0/', 1)[0]}/; run `safe-synthesizer run "
                f"generate --shards {count} --shard-index <i>` for each of them first"
            )
        repeated = sharding.duplicate_seeds([s["seed"] for s in shards if s["seed"] is not None])
        if repeated:
            raise UserInputError(f"cannot merge: shards share the seed(s) {repeated}; re-run those shards")
        synthetic, shortfall = sharding.merge_frames(frames, num_records)
    summary["shards"] = shards
    if shortfall:
        partial_reason = (
            f"the {count} shards made {len(synthetic)} valid records of {num_records}; published them all"
        )
        summary["warnings"].append(partial_reason)

    # what the training step recorded (adapter, DP ledger, engine), when it ran into this output
    trained = _read_json(storage.join_url(options.output, "summary.json"), options) or {}
    if trained.get("mode") in ("train", "merge"):  # a failed merge before this one kept them too
        for key in _CARRIED_FROM_TRAINING:
            if key in trained:
                summary[key] = trained[key]

    # the split and the PII replacement of the training split, as the one-pod run (evaluation input)
    with timer.stage("load"):
        min_rows = MIN_ROWS if params.data.holdout > 0 else MIN_ROWS_NO_HOLDOUT
        table = load_table(options.data_source, options.client_for(options.data_source), min_rows=min_rows)
    summary["rows_in"] = int(len(table))
    summary["columns"] = int(table.shape[1])
    with timer.stage("write_data"):
        write_table(synthetic, staging / "synthetic_data.csv")
        write_table(synthetic, staging / "synthetic_data.parquet")
    summary["rows_out"] = int(len(synthetic))
    if params.evaluation.enabled and not options.stop_requested.is_set():
        try:
            train_raw, holdout, split_info = split_holdout(table, params.data, run_seed(params))
            summary["split"] = (
                split_info if isinstance(split_info, dict) else getattr(split_info, "__dict__", {})
            )
            _, pii_result = _replace_pii_stage(params, options, progress, timer, train_raw, summary)
            seed = (summary.get("resolved_config") or {}).get("seed", run_seed(params))
            evaluated = _EvaluationSeed(seed=int(seed))
            _evaluate_stage(
                params,
                progress,
                timer,
                train_raw,
                holdout,
                synthetic,
                pii_result,
                summary,
                staging,
                evaluated,
            )
        except Exception as exc:  # noqa: BLE001 - evaluation must never cost the user the data
            partial_reason = _record_evaluation_failure(exc, summary, partial_reason)
    extra: list[ResultRef] = []
    if (summary.get("training") or {}).get("adapter_dir"):  # the training step's adapter: same output
        extra.append(
            ResultRef(id="adapter", format="directory", url=storage.join_url(options.output, "adapter/"))
        )
    return _publish(params, options, progress, timer, staging, summary, partial_reason, extra)


@dataclass
class _EvaluationSeed:
    """The one field of :class:`ResolvedConfig` that evaluation reads."""

    seed: int
