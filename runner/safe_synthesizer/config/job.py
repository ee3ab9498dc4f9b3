"""The Kubernetes resource: ``SafeSynthesizerJob`` spec and status models.

Kubernetes-level field names are camelCase; ``spec.config`` keeps NeMo's snake_case parameters.
These models are the single source of the CRD schema (:mod:`safe_synthesizer.crd`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import Parameters
from .parameters import SafeSynthesizerParameters

GROUP = "safesynthesizer.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "SafeSynthesizerJob"
PLURAL = "safesynthesizerjobs"
SINGULAR = "safesynthesizerjob"
SHORT_NAMES = ["ssj"]

DATA_EXTENSIONS = (".csv", ".jsonl", ".json", ".parquet")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
JOB_REF_PATTERN = rf"^({_DNS_LABEL}/)?{_DNS_LABEL}$"
_SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class S3Settings(Parameters):
    """Where and how to reach S3 (or an S3-compatible store such as MinIO or Ceph)."""

    endpoint: str | None = Field(
        None, max_length=2048, description="S3 endpoint URL, e.g. http://minio.storage:9000. Empty: AWS."
    )
    region: str | None = Field(None, max_length=64, description="S3 region; default from the environment.")
    credentialsSecret: str | None = Field(
        None,
        max_length=253,
        pattern=_SECRET_NAME_PATTERN,
        description="Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and optional AWS_SESSION_TOKEN).",
    )
    addressingStyle: Literal["auto", "path", "virtual"] = Field(
        "auto", description="Bucket addressing; 'path' suits most self-hosted stores."
    )


class ResourceSettings(Parameters):
    """Compute for the runner pod."""

    gpu: int = Field(1, ge=0, le=64, description="Number of GPUs (0 runs on CPU).")
    gpuResourceName: str = Field(
        "nvidia.com/gpu", max_length=253, description="Extended resource name of the GPU."
    )
    gpuMemory: str | None = Field(
        None,
        max_length=32,
        pattern=r"^[0-9]+(Mi|Gi)$",
        description="Minimum memory per GPU, e.g. 40Gi; matched against the nvidia.com/gpu.memory node label.",
    )
    cpu: str | None = Field(None, max_length=32, description="CPU request and limit, e.g. '4'.")
    memory: str | None = Field(None, max_length=32, description="Memory request and limit, e.g. 32Gi.")


class Toleration(Parameters):
    """A Kubernetes toleration."""

    key: str | None = Field(None, max_length=317)
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = Field(None, max_length=263)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    tolerationSeconds: int | None = None


class SafeSynthesizerJobSpec(Parameters):
    """What to synthesize, from where, to where, and how to schedule it."""

    dataSource: str = Field(
        ...,
        min_length=1,
        max_length=4096,
        description="Input table: s3://bucket/key, a local path or file:// URL (.csv .jsonl .json .parquet).",
    )
    output: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="Where results go: an s3:// prefix or a local directory. Default: the operator's "
        "defaultOutput prefix + <namespace>/<name>/.",
    )
    config: SafeSynthesizerParameters = Field(
        default_factory=SafeSynthesizerParameters, description="The NeMo-compatible job configuration."
    )
    pretrainedModelJob: str | None = Field(
        None,
        max_length=253,
        pattern=JOB_REF_PATTERN,
        description="A finished job (<job> or <namespace>/<job>) whose adapter is reused: generation only. "
        "Mutually exclusive with config.training.pretrained_model.",
    )
    hfTokenSecret: str | None = Field(
        None,
        max_length=253,
        pattern=_SECRET_NAME_PATTERN,
        description="Secret holding HF_TOKEN (key 'token' or 'HF_TOKEN') to download gated models.",
    )
    pseudonymKeySecret: str | None = Field(
        None,
        max_length=253,
        pattern=_SECRET_NAME_PATTERN,
        description="Secret with key 'key': the HMAC key for PII pseudonyms, for consistency across jobs.",
    )
    s3: S3Settings = Field(default_factory=S3Settings, description="S3 connection settings.")
    resources: ResourceSettings = Field(default_factory=ResourceSettings, description="Runner pod resources.")
    nodeSelector: dict[str, str] = Field(
        default_factory=dict, description="Node selector for the runner pod."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, max_length=64, description="Tolerations for the runner pod."
    )
    priorityClassName: str | None = Field(
        None, max_length=253, description="Priority class of the runner pod."
    )
    serviceAccountName: str | None = Field(
        None,
        max_length=253,
        description="ServiceAccount of the runner pod (default: the chart's job account).",
    )
    image: str | None = Field(None, max_length=1024, description="Runner image; default from the operator.")
    suspend: bool = Field(
        False,
        description="true before the job ever ran keeps it waiting (phase Suspended); true while it runs "
        "stops it (phase Cancelled, partial results kept); false again (re-)runs it.",
    )
    managedBy: str | None = Field(
        None,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$",
        description="spec.managedBy of the runner Job (as batch/v1 Job): the controller that runs it "
        "instead of the built-in Job controller, e.g. kueue.x-k8s.io/multikueue.",
    )
    activeDeadlineSeconds: int | None = Field(None, gt=0, description="Wall-clock limit for the runner Job.")
    backoffLimit: int = Field(2, ge=0, le=20, description="Retries of the runner pod on transient failures.")
    ttlSecondsAfterFinished: int | None = Field(
        None, ge=0, description="Delete the finished job (and its Job) this many seconds after it ends."
    )

    @field_validator("dataSource")
    @classmethod
    def _data_extension(cls, value: str) -> str:
        path = value.split("?", 1)[0].lower()
        if not path.endswith(DATA_EXTENSIONS):
            raise ValueError(f"dataSource must end in one of {', '.join(DATA_EXTENSIONS)}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _model_source_exclusive(self) -> SafeSynthesizerJobSpec:
        if self.pretrainedModelJob and "pretrained_model" in self.config.training.model_fields_set:
            raise ValueError(
                "pretrainedModelJob and config.training.pretrained_model are mutually exclusive; "
                "remove one (pretrainedModelJob reuses that job's model and adapter)"
            )
        return self


Phase = Literal["Pending", "Suspended", "Running", "Succeeded", "Failed", "Cancelled"]
ConditionType = Literal["Created", "Running", "Complete", "Failed", "Suspended", "PartialResults", "Warnings"]


class Condition(Parameters):
    """A status condition, as in metav1.Condition."""

    type: ConditionType
    status: Literal["True", "False", "Unknown"]
    reason: str = Field("", max_length=1024)
    message: str = Field("", max_length=32768)
    lastTransitionTime: str | None = None
    observedGeneration: int | None = None


class Progress(Parameters):
    """Live progress of the runner."""

    stage: str | None = Field(None, max_length=64, description="Current stage (load, train, generate, ...).")
    percent: float | None = Field(None, ge=0, le=100, description="Progress of the whole job, 0-100.")
    message: str | None = Field(None, max_length=1024, description="What is happening.")
    updatedAt: str | None = Field(None, description="When progress last changed (RFC 3339).")


class Scores(Parameters):
    """Headline scores, 0-10."""

    sqs: float | None = Field(None, description="Synthetic Quality Score.")
    dps: float | None = Field(None, description="Data Privacy Score.")


class ResultRef(Parameters):
    """One published artefact (the shape of the seeds' results API)."""

    id: str = Field(..., max_length=253)
    format: str = Field(..., max_length=32)
    canonical: bool = False
    url: str = Field(..., max_length=4096)
    sizeBytes: int | None = Field(None, ge=0)


ShardPhase = Literal["Pending", "Running", "Succeeded", "Failed"]
ShardingStep = Literal["Train", "Generate", "Merge"]


class ShardStatus(Parameters):
    """One generation shard (a completion index of the generation Job)."""

    index: int = Field(..., ge=0, description="The shard: the Indexed Job's completion index.")
    phase: ShardPhase = Field("Pending", description="Pending, Running, Succeeded or Failed.")
    attempts: int = Field(
        0, ge=0, description="Pods started for this shard (a failed shard is retried alone)."
    )
    records: int | None = Field(None, ge=0, description="Valid records the shard published.")
    seed: int | None = Field(None, ge=0, description="The shard's generation seed.")
    url: str | None = Field(None, max_length=4096, description="The shard's synthetic data.")


class ShardingStatus(Parameters):
    """Sharded generation (config.generation.shards > 1): the step running and every shard."""

    step: ShardingStep = Field(..., description="Train, Generate (the Indexed Job) or Merge.")
    total: int = Field(..., ge=1, description="Number of generation shards.")
    succeeded: int = Field(0, ge=0, description="Shards finished.")
    failed: int = Field(0, ge=0, description="Shards failed for good (their retries spent).")
    shards: list[ShardStatus] = Field(default_factory=list, max_length=100, description="Per shard.")


class SafeSynthesizerJobStatus(Parameters):
    """Observed state, written by the operator."""

    phase: Phase | None = Field(
        None, description="Pending, Suspended, Running, Succeeded, Failed or Cancelled."
    )
    conditions: list[Condition] = Field(default_factory=list, max_length=16, description="Conditions.")
    progress: Progress | None = Field(None, description="Live progress.")
    scores: Scores | None = Field(None, description="SQS and DPS.")
    results: list[ResultRef] = Field(default_factory=list, max_length=64, description="Published results.")
    epsilonSpent: float | None = Field(None, ge=0, description="Differential-privacy epsilon actually spent.")
    startTime: str | None = Field(None, description="When the runner Job started.")
    completionTime: str | None = Field(None, description="When the job ended.")
    jobName: str | None = Field(None, description="The batch/v1 Job running this.")
    message: str | None = Field(None, max_length=32768, description="Human-readable state or failure reason.")
    observedGeneration: int | None = Field(None, description="The spec generation this status reflects.")
    sharding: ShardingStatus | None = Field(
        None,
        description="Sharded generation only (config.generation.shards > 1): steps and per-shard progress.",
    )


class ObjectMeta(Parameters):
    """The parts of metadata the models check; the rest is passed through."""

    model_config = {**Parameters.model_config, "extra": "allow"}

    name: str | None = Field(None, max_length=63)
    namespace: str | None = None

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(_DNS_LABEL, value):
            raise ValueError(f"must be a DNS label (lower-case letters, digits, '-'), got {value!r}")
        return value


class SafeSynthesizerJob(Parameters):
    """A whole ``SafeSynthesizerJob`` manifest."""

    apiVersion: Literal["safesynthesizer.io/v1alpha1"] = API_VERSION
    kind: Literal["SafeSynthesizerJob"] = KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SafeSynthesizerJobSpec
    status: SafeSynthesizerJobStatus | None = None


def normalize_rest_job_request(data: dict[str, Any]) -> dict[str, Any]:
    """Turn a NeMo REST job request (``{name, spec: {data_source, config, ...}}``) into a manifest dict."""
    spec = dict(data.get("spec") or {})
    renames = {
        "data_source": "dataSource",
        "pretrained_model_job": "pretrainedModelJob",
        "hf_token_secret": "hfTokenSecret",
    }
    for old, new in renames.items():
        if old in spec:
            spec.setdefault(new, spec.pop(old))
    metadata: dict[str, Any] = {}
    if data.get("name"):
        metadata["name"] = data["name"]
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}
