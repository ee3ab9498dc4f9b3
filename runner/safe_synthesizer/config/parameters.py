"""The job configuration: NeMo Safe Synthesizer's ``SafeSynthesizerParameters``, field for field.

Names, types, defaults and allowed values follow the reference parameter table, so a NeMo config
pastes unchanged. Older request forms are accepted and normalised on load:

* ``privacy.privacy_hyperparams.{dp, epsilon, delta}`` → ``privacy.{dp_enabled, epsilon, delta}``
* ``training.num_epochs`` → kept as ``training.num_epochs``; ``num_input_records_to_sample: auto``
  then resolves to ``num_epochs × training records`` (see :mod:`safe_synthesizer.autoconfig`)
* ``evaluation.correlation_columns`` → ``evaluation.sqs_report_columns``
* ``replace_pii.globals.ner.{enable_gliner, entities}`` (see :mod:`.replace_pii`)

Cross-field rules (also in the CRD as CEL where the API server can check them):

* ``data.order_training_examples_by`` requires ``data.group_training_examples_by``;
* with DP, ``data.max_sequences_per_example`` must be 1 or ``"auto"``, and ``use_unsloth`` not true;
* ``time_series.is_timeseries`` needs a ``timestamp_column`` or ``timestamp_interval_seconds``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import AUTO, Auto, AutoBool, AutoPositiveInt, Parameters, is_auto
from .replace_pii import PiiReplacerConfig

DEFAULT_PRETRAINED_MODEL = "TinyLlama/TinyLlama-1.1B-Chat-v1.0"

LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LoraTargetModule = Literal["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# transformers.SchedulerType values.
LrScheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
]

StructuredGenerationBackend = Literal["auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer"]
StructuredGenerationSchemaMethod = Literal["regex", "json_schema"]
MAX_GENERATION_SHARDS = 100  # Safe Synthesizer extension generation.shards: pods per job


class DataParameters(Parameters):
    """How to shape or use the input data: grouping, ordering and holdout."""

    group_training_examples_by: str | None = Field(
        None,
        min_length=1,
        description="Column to group training examples by, so the model learns inter-record correlations "
        "within a group (e.g. all events of one user).",
    )
    order_training_examples_by: str | None = Field(
        None,
        min_length=1,
        description="Column to order records by within a group. Requires group_training_examples_by.",
    )
    max_sequences_per_example: AutoPositiveInt | None = Field(
        AUTO,
        description="At most this many records per training example. 'auto': 1 with differential privacy, "
        "10 otherwise. null fills the context. Must be 1 or 'auto' with DP.",
    )
    holdout: float = Field(
        0.05,
        ge=0,
        description="Records held out for evaluation: a ratio in (0, 1), a count >= 1, or 0 for no holdout.",
    )
    max_holdout: int = Field(2000, ge=0, description="Maximum number of records to hold out.")
    random_state: int | None = Field(
        None,
        ge=0,
        le=2**32 - 1,
        description="Seed for the holdout split and sampling. null uses the fixed default seed (42), "
        "recorded in the outputs, so runs are reproducible.",
    )

    @model_validator(mode="after")
    def _order_needs_group(self) -> DataParameters:
        if self.order_training_examples_by and not self.group_training_examples_by:
            raise ValueError(
                "order_training_examples_by requires group_training_examples_by; set the column to group by"
            )
        return self


class TrainingHyperparams(Parameters):
    """Fine-tuning hyperparameters: training length, optimiser, LoRA, model and quantisation."""

    num_input_records_to_sample: AutoPositiveInt = Field(
        AUTO,
        description="Number of records the model sees during training (a proxy for training time; equal "
        "to the training size is one epoch). 'auto' scales with the data size.",
    )
    num_epochs: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="Older form of the training length. With num_input_records_to_sample 'auto', "
        "it resolves to num_epochs x training records.",
    )
    batch_size: int = Field(1, gt=0, le=4096, description="The batch size per device for training.")
    gradient_accumulation_steps: int = Field(
        8, gt=0, le=4096, description="Steps to accumulate gradients over before an optimiser update."
    )
    weight_decay: float = Field(
        0.01, ge=0, lt=1, description="AdamW weight decay for all layers except bias and norm weights."
    )
    warmup_ratio: float = Field(0.05, ge=0, le=1, description="Fraction of steps for linear LR warmup.")
    lr_scheduler: LrScheduler = Field(
        "cosine", description="Learning-rate scheduler (transformers SchedulerType)."
    )
    learning_rate: float | Auto = Field(
        0.0005, description="Initial AdamW learning rate, in (0, 1). 'auto' picks the model family's default."
    )
    lora_r: int = Field(32, gt=0, le=1024, description="Rank of the LoRA update matrices.")
    lora_alpha_over_r: float = Field(
        1.0, ge=0.5, le=3.0, description="LoRA alpha divided by rank; 0.5, 1 or 2 work well."
    )
    lora_target_modules: list[LoraTargetModule] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        min_length=1,
        max_length=7,
        description="Transformer modules to apply LoRA to.",
    )
    use_unsloth: AutoBool = Field(
        AUTO,
        description="Accepted for NeMo compatibility, no effect: unsloth is not used ('auto' resolves to "
        "false; true is warned about in the run summary).",
    )
    rope_scaling_factor: AutoPositiveInt = Field(
        AUTO,
        description="Scale the model's context length by this linear RoPE factor (set on the model config; "
        "max_seq_length = context x factor). 'auto': ceil(longest training example in tokens / the model's "
        "max_position_embeddings), at most 6; under DP from the DP schema's public record width. A model "
        "with its own RoPE scaling keeps it (warned).",
    )
    validation_ratio: float = Field(
        0.0, ge=0, lt=1, description="Fraction of training data used for validation loss; 0 disables it."
    )
    validation_steps: int = Field(15, gt=0, description="Steps between validation checks.")
    pretrained_model: str = Field(
        DEFAULT_PRETRAINED_MODEL,
        min_length=1,
        description="Base model: a Hugging Face id, a local directory, an s3:// folder, or 'builtin:smollm2' "
        "/ 'builtin:tiny-llama' for the offline CPU models.",
    )
    quantize_model: bool = Field(
        False,
        description="Quantise the base model to quantization_bits during training (QLoRA; GPU with "
        "bitsandbytes, an error on CPU).",
    )
    quantization_bits: Literal[4, 8] = Field(
        8, description="Bits for quantisation when quantize_model is true."
    )
    peft_implementation: Literal["LORA", "QLORA"] = Field(
        "QLORA",
        description="PEFT implementation. LORA: LoRA on the full-precision model (an error together with "
        "quantize_model: true). QLORA: LoRA on a quantised model: quantization_bits with quantize_model, "
        "4-bit NF4 when QLORA is set explicitly without it; left at the default with quantize_model false, "
        "plain LoRA (as NeMo). QLoRA needs a GPU: on CPU an explicit QLORA falls back to LoRA with a "
        "warning, except with DP (an error). Not used by the from-scratch model (trained fully).",
    )
    max_vram_fraction: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Fraction of GPU memory the run may use (torch.cuda.set_per_process_memory_fraction, "
        "set before training). Recorded in summary.json resolved_config; nothing to cap on CPU.",
    )
    attn_implementation: str = Field(
        AUTO,
        description="Attention implementation passed to the model ('auto': the transformers default, 'sdpa', "
        "'eager', 'flash_attention_2', or a hub kernel). One not available here falls back to 'sdpa' "
        "with a warning; the one used is in summary.json resolved_config and reused for generation.",
    )
    engine: Literal["auto", "field_tokens", "llm"] = Field(
        AUTO,
        description="Safe Synthesizer extension (not in NeMo): the synthesis engine. 'field_tokens': a small "
        "decoder trained from scratch over per-column tokens (fast on CPU, valid records by construction); "
        "'llm': LoRA on training.pretrained_model. 'auto': 'llm' when pretrained_model is set in the config "
        "or a column holds long free text on a GPU, else 'field_tokens'. With 'field_tokens' and the NeMo "
        "defaults of batch_size, gradient_accumulation_steps, learning_rate and temperature left unset, "
        "the engine's own defaults apply (recorded in summary.json resolved_config).",
    )
    max_training_minutes: float | None = Field(
        None,
        gt=0,
        description="Safe Synthesizer extension (not in NeMo): a training time budget. A plan whose "
        "estimate exceeds it is warned about after the first steps, and training stops at the budget "
        "(the model so far is kept). Null: no budget.",
    )

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("peft_implementation"), str):
            data = {**data, "peft_implementation": data["peft_implementation"].upper()}
        return data

    @model_validator(mode="after")
    def _learning_rate_range(self) -> TrainingHyperparams:
        if not is_auto(self.learning_rate) and not 0 < float(self.learning_rate) < 1:
            raise ValueError(f"learning_rate must be in (0, 1) or 'auto', got {self.learning_rate}")
        return self


class GenerationValidationParameters(Parameters):
    """How strictly grouped generated records are validated."""

    group_by_accept_no_delineator: bool = Field(
        False,
        description="Accept a generated group not closed by its separator (the blank line after a group): "
        "its complete records are kept instead of dropping the group.",
    )
    group_by_ignore_invalid_records: bool = Field(False, description="Drop invalid records, keep the group.")
    group_by_fix_non_unique_value: bool = Field(
        False, description="Fix a group column that varies in a group."
    )
    group_by_fix_unordered_records: bool = Field(False, description="Re-sort records that break the order.")


class GenerateParameters(Parameters):
    """Synthetic data generation after training."""

    num_records: int = Field(1000, gt=0, le=100_000_000, description="Number of records to generate.")
    temperature: float = Field(0.9, ge=0, le=10, description="Sampling temperature.")
    repetition_penalty: float = Field(1.0, gt=0, le=10, description="Penalty for repeating tokens.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling probability.")
    patience: int = Field(
        3,
        gt=0,
        le=1000,
        description="Consecutive batches at or above invalid_fraction_threshold before stopping.",
    )
    invalid_fraction_threshold: float = Field(
        0.8, ge=0, le=1, description="Invalid fraction that counts against patience."
    )
    use_structured_generation: bool = Field(False, description="Constrain decoding to the record grammar.")
    structured_generation_backend: StructuredGenerationBackend = Field(
        "auto",
        description="Accepted for NeMo compatibility, no effect: structured generation always uses this "
        "tool's own record grammar (warned about when set).",
    )
    structured_generation_schema_method: StructuredGenerationSchemaMethod = Field(
        "regex",
        description="Accepted for NeMo compatibility, no effect: records are field-separated lines, so the "
        "grammar is always a regex (warned about when set).",
    )
    structured_generation_use_single_sequence: bool = Field(
        False,
        description="Accepted for NeMo compatibility, no effect: for one record per sequence set "
        "data.max_sequences_per_example: 1 (warned about when set).",
    )
    enforce_timeseries_fidelity: bool = Field(
        False,
        description="Time-series mode: assign each generated series the timestamps start + i x interval "
        "(no gaps, no duplicates, truncated at time_series.stop_timestamp). Off: generated timestamps are "
        "kept, sorted within series, and off-grid steps are counted and warned about in summary.json.",
    )
    attention_backend: str = Field(
        AUTO,
        description="Accepted for NeMo compatibility, no effect: generation runs the attention "
        "implementation the model was trained with (training.attn_implementation) (warned about when set).",
    )
    validation: GenerationValidationParameters = Field(
        default_factory=GenerationValidationParameters, description="Validation of grouped records."
    )
    shards: int = Field(
        1,
        ge=1,
        le=MAX_GENERATION_SHARDS,
        description="Safe Synthesizer extension (not in NeMo): split generation across this many pods "
        "on Kubernetes (an Indexed Job after a training Job, then a merge Job that publishes the "
        "canonical outputs and the evaluation). Each shard generates its share of num_records (sizes "
        "differ by at most 1) with its own seed from the same adapter; a failed shard is retried alone. "
        "Fine with differential privacy (generation is post-processing). Not with time series or "
        "enable_synthesis: false. At most num_records. A local `safe-synthesizer run` generates in one "
        "process (see `run generate --shard-index`).",
    )

    @model_validator(mode="after")
    def _shards_fit(self) -> GenerateParameters:
        if self.shards > self.num_records:
            raise ValueError(
                f"shards ({self.shards}) must be at most num_records ({self.num_records}): "
                "every shard generates at least one record"
            )
        return self


class LegacyPrivacyHyperparams(Parameters):
    """Older request form ``privacy.privacy_hyperparams``; normalised into the privacy section."""

    dp: bool | None = Field(None, description="Older name of dp_enabled.")
    epsilon: float | None = Field(None, gt=0, description="Older place of epsilon.")
    delta: float | Auto | None = Field(None, description="Older place of delta.")


class PublicDomain(Parameters):
    """A column's domain declared public: used for the generation schema as is, at no privacy cost.

    Declare only what is known without looking at the data (a code list, a documented range).
    """

    values: list[str] | None = Field(
        None, min_length=1, description="The column's allowed values (a categorical column)."
    )
    minimum: float | None = Field(None, description="Smallest allowed value (a numeric column).")
    maximum: float | None = Field(None, description="Largest allowed value (a numeric column).")

    @model_validator(mode="after")
    def _one_kind(self) -> PublicDomain:
        has_range = self.minimum is not None or self.maximum is not None
        if (self.values is None) == (not has_range):
            raise ValueError("give either values or minimum and maximum")
        if has_range:
            if self.minimum is None or self.maximum is None:
                raise ValueError("a range needs both minimum and maximum")
            if self.minimum > self.maximum:
                raise ValueError(f"minimum {self.minimum} is above maximum {self.maximum}")
        return self


class DifferentialPrivacyHyperparams(Parameters):
    """DP-SGD hyperparameters (formal privacy guarantees)."""

    dp_enabled: bool = Field(False, description="Enable differentially private training with DP-SGD.")
    epsilon: float = Field(8.0, gt=0, le=1000, description="Target epsilon when training completes.")
    delta: float | Auto = Field(
        AUTO,
        description="Target delta. 'auto' uses 1/n^1.2, n = number of privacy units (records or groups).",
    )
    per_sample_max_grad_norm: float = Field(1.0, gt=0, description="Maximum L2 norm of per-sample gradients.")
    public_domains: dict[str, PublicDomain] = Field(
        default_factory=dict,
        description=(
            "Safe Synthesizer extension (not in NeMo): column -> domain declared public ({values: [...]} "
            "or {minimum, maximum}). Under DP these columns' generation schema uses the declared domain "
            "and spends no budget; every other column's comes from DP estimates."
        ),
    )
    privacy_hyperparams: LegacyPrivacyHyperparams | None = Field(
        None, exclude=True, description="Deprecated older form {dp, epsilon, delta}; use the fields above."
    )

    @model_validator(mode="after")
    def _normalize_legacy(self) -> DifferentialPrivacyHyperparams:
        legacy = self.privacy_hyperparams
        if legacy is not None:
            explicit = self.model_fields_set
            updates: dict[str, Any] = {}
            if legacy.dp is not None and "dp_enabled" not in explicit:
                updates["dp_enabled"] = legacy.dp
            if legacy.epsilon is not None and "epsilon" not in explicit:
                updates["epsilon"] = legacy.epsilon
            if legacy.delta is not None and "delta" not in explicit:
                updates["delta"] = legacy.delta
            object.__setattr__(self, "privacy_hyperparams", None)
            for key, value in updates.items():
                object.__setattr__(self, key, value)
                self.model_fields_set.add(key)
        if not is_auto(self.delta) and not 0 < float(self.delta) < 1:
            raise ValueError(f"delta must be in (0, 1) or 'auto', got {self.delta}")
        return self


class EvaluationParameters(Parameters):
    """Quality (SQS) and privacy (DPS) evaluation."""

    enabled: bool = Field(True, description="Enable evaluation.")
    mia_enabled: bool = Field(True, description="Enable membership inference attack evaluation.")
    aia_enabled: bool = Field(True, description="Enable attribute inference attack evaluation.")
    sqs_report_columns: int = Field(250, gt=0, le=100_000, description="Maximum columns used for SQS.")
    sqs_report_rows: int = Field(5000, gt=0, le=10_000_000, description="Maximum rows used for SQS.")
    mandatory_columns: int | None = Field(
        None, ge=0, description="Number of leading columns always kept when sqs_report_columns subsamples."
    )
    quasi_identifier_count: int = Field(3, gt=0, le=100, description="Number of quasi-identifiers to sample.")
    pii_replay_enabled: bool = Field(True, description="Enable PII replay detection.")
    pii_replay_entities: list[str] | None = Field(
        None, description="Entities for PII replay; default entities when not given."
    )
    pii_replay_columns: list[str] | None = Field(None, description="Columns for PII replay.")
    target_column: str | None = Field(
        None, description="Column for train-synthetic-test-real utility (classification or regression)."
    )
    correlation_columns: int | None = Field(
        None, gt=0, exclude=True, description="Deprecated older name of sqs_report_columns."
    )

    @model_validator(mode="after")
    def _normalize_legacy(self) -> EvaluationParameters:
        if self.correlation_columns is not None:
            if "sqs_report_columns" not in self.model_fields_set:
                object.__setattr__(self, "sqs_report_columns", self.correlation_columns)
                self.model_fields_set.add("sqs_report_columns")
            object.__setattr__(self, "correlation_columns", None)
        return self


class TimeSeriesParameters(Parameters):
    """Experimental time-series mode."""

    is_timeseries: bool = Field(
        False,
        description="Treat the data as time series: data.group_training_examples_by is the series key "
        "(unset: one series), the order is timestamp_column, and generated series are checked (or, with "
        "generation.enforce_timeseries_fidelity, assigned) against the timestamp grid; summary.json "
        "time_series says what was done.",
    )
    timestamp_column: str | None = Field(
        None,
        description="Column holding the timestamp (required in time-series mode; numbers are read as "
        "elapsed seconds); kept out of PII replacement.",
    )
    timestamp_interval_seconds: int | None = Field(
        None,
        gt=0,
        description="Grid interval between consecutive records of a series; unset: inferred as the median "
        "step within the training series (required under DP).",
    )
    timestamp_format: str | None = Field(
        None,
        description="strftime format of the timestamps (also used to write them), or 'elapsed_seconds'; "
        "unset: numbers are elapsed seconds, text uses the format guessed from its first value.",
    )
    start_timestamp: str | int | None = Field(
        None,
        description="First timestamp of every generated series when the grid is enforced (unset: the "
        "series' first generated timestamp); rows before it count as out of range.",
    )
    stop_timestamp: str | int | None = Field(
        None,
        description="Last allowed timestamp: an enforced series is truncated there; later rows count as "
        "out of range.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TimeSeriesParameters:
        if self.is_timeseries and not (self.timestamp_column or self.timestamp_interval_seconds):
            raise ValueError("is_timeseries needs timestamp_column or timestamp_interval_seconds")
        if not self.is_timeseries and self.timestamp_column:
            raise ValueError("timestamp_column is set but is_timeseries is false; set is_timeseries: true")
        if self.timestamp_format and self.timestamp_format != "elapsed_seconds":
            import time

            try:
                time.strftime(self.timestamp_format, time.gmtime(0))
            except ValueError as exc:
                raise ValueError(f"timestamp_format is not a valid strftime format: {exc}") from exc
        return self


class SafeSynthesizerParameters(Parameters):
    """The whole job configuration (NeMo ``SafeSynthesizerParameters``)."""

    data: DataParameters = Field(default_factory=DataParameters, description="Data parameters.")
    evaluation: EvaluationParameters = Field(
        default_factory=EvaluationParameters, description="Evaluation parameters."
    )
    training: TrainingHyperparams = Field(
        default_factory=TrainingHyperparams, description="Training parameters."
    )
    generation: GenerateParameters = Field(
        default_factory=GenerateParameters, description="Generation parameters."
    )
    privacy: DifferentialPrivacyHyperparams | None = Field(
        None, description="Differential privacy parameters. Omitted: DP is off."
    )
    time_series: TimeSeriesParameters = Field(
        default_factory=TimeSeriesParameters, description="Time series parameters."
    )
    replace_pii: PiiReplacerConfig | None = Field(
        default_factory=PiiReplacerConfig,
        description="PII replacement parameters. Omitted: the default plan replaces every detected entity.",
    )
    enable_synthesis: bool = Field(True, description="Synthesize new data by training a model.")
    enable_replace_pii: bool = Field(True, description="Replace PII in the data before training.")

    @property
    def dp_enabled(self) -> bool:
        """True when differential privacy is on."""
        return self.privacy is not None and self.privacy.dp_enabled

    @model_validator(mode="after")
    def _check_dp_compatibility(self) -> SafeSynthesizerParameters:
        if not self.dp_enabled:
            return self
        per_example = self.data.max_sequences_per_example
        if not (is_auto(per_example) or per_example == 1):
            raise ValueError(
                "with differential privacy, data.max_sequences_per_example must be 1 or 'auto' "
                f"(one privacy unit per example), got {per_example!r}"
            )
        if self.training.use_unsloth is True:
            raise ValueError("with differential privacy, training.use_unsloth must be false or 'auto'")
        return self

    @model_validator(mode="after")
    def _check_shards(self) -> SafeSynthesizerParameters:
        if self.generation.shards == 1:
            return self
        if self.time_series.is_timeseries:
            raise ValueError(
                "generation.shards > 1 is not supported in time-series mode (series keys and the grid "
                "are assigned within one generation run); set generation.shards: 1"
            )
        if not self.enable_synthesis:
            raise ValueError("generation.shards > 1 needs enable_synthesis: true (nothing is generated)")
        return self
