"""The runner's batch/v1 Job and its ConfigMap, built from a validated spec (pure functions, no I/O).

One Job per run of a ``SafeSynthesizerJob``. Its name is deterministic: ``ssj-<name>-<hash>`` where
the hash covers the CR's uid and the generation that started the run, so an operator restart asks
for the same name again (a ``409 AlreadyExists`` means "adopt it"), while a re-run after
``suspend: false`` (which bumps the generation) gets a new name. The spec is handed to the pod as a
ConfigMap (``job.yaml``, mounted at ``/etc/safe-synthesizer``) with ``spec.output`` and the S3
defaults resolved, and read by ``safe-synthesizer run --config /etc/safe-synthesizer/job.yaml``.
Both objects are owned by the CR (``controller: true``, ``blockOwnerDeletion: true``), so deleting
the CR deletes them and the pods through the garbage collector.

Queues (Kueue and the like): the CR's labels and annotations named in the operator settings
(``SSO_PROPAGATE_LABELS``, by default ``kueue.x-k8s.io/queue-name`` and ``-/priority-class``) are
copied to the Job; a Job with a queue name is created with ``spec.suspend: true`` and the queue's
admission controller unsuspends it when it admits it (the protocol of Kueue, TrainJob, RayJob).
``spec.managedBy`` is passed through as the Job's ``spec.managedBy``.

Sharded generation (``config.generation.shards`` N > 1) runs as three Jobs per run, sharing one
ConfigMap (that of :func:`job_name`): ``<name>-train`` (``run train``; skipped with
``pretrainedModelJob``), ``<name>-gen``, an Indexed Job (``completionMode: Indexed``,
completions = parallelism = N, ``backoffLimitPerIndex`` = ``spec.backoffLimit`` so a failed shard
is retried alone, ``FailIndex`` instead of ``FailJob`` for the exit codes a retry cannot fix, so the
other shards still finish; ``run generate --shards N`` reads ``$JOB_COMPLETION_INDEX``), then
``<name>-merge`` (``run merge --shards N``). Without shards the Job is exactly as before.

Several GPUs (``resources.gpu`` N > 1) on a run that trains (one Job, or a sharded run's train step):
the runner gets ``--train-processes N`` (it trains the LLM engine data-parallel, one process per
GPU: :mod:`safe_synthesizer.distributed`) and a memory-backed ``/dev/shm`` for NCCL. With one GPU
or none the Job is exactly as before.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from safe_synthesizer import contract
from safe_synthesizer.config import API_VERSION, KIND, SafeSynthesizerJobSpec
from safe_synthesizer.errors import NON_RETRYABLE_EXIT_CODES

from .settings import OperatorSettings

MANAGER = "safe-synthesizer-operator"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_JOB = "safesynthesizer.io/job"
LABEL_JOB_UID = "safesynthesizer.io/job-uid"
LABEL_RUN = "safesynthesizer.io/run"
LABEL_STEP = "safesynthesizer.io/step"  # sharded runs only: train, generate or merge
STEP_TRAIN, STEP_GENERATE, STEP_MERGE = "train", "generate", "merge"
STEPS = (STEP_TRAIN, STEP_GENERATE, STEP_MERGE)
_STEP_SUFFIX = {STEP_TRAIN: "train", STEP_GENERATE: "gen", STEP_MERGE: "merge"}
CONTAINER = "runner"
CONFIG_DIR = "/etc/safe-synthesizer"
CONFIG_FILE = "job.yaml"
TMP_DIR = "/tmp"
CACHE_DIR = "/var/cache/safe-synthesizer"
HOME_DIR = "/home/safe-synthesizer"
TERMINATION_LOG = contract.DEFAULT_TERMINATION_LOG
SHM_DIR = "/dev/shm"
SHM_SIZE_LIMIT = "1Gi"  # NCCL's buffers between the GPUs' processes (a container's default is 64 MiB)
# The runner's exit codes a retry cannot fix (bad input or config 1, usage 2, a run that fails the
# same way every time 4): the podFailurePolicy fails the Job at once on them. Only 3 (transient
# infrastructure) and signals (e.g. 137, OOM-killed) count against backoffLimit and are retried.
FAIL_JOB_EXIT_CODES: tuple[int, ...] = NON_RETRYABLE_EXIT_CODES
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"  # GPU feature discovery: MiB per GPU
MAX_NAME = 63
_HASH_LEN = 8


@dataclass(frozen=True)
class Owner:
    """The CR a Job belongs to: what the name, labels and owner reference are made from."""

    name: str
    namespace: str
    uid: str
    generation: int

    def reference(self) -> dict[str, Any]:
        """The controller owner reference for children."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


TERMINATION_GRACE_SECONDS = 120


def job_name(cr_name: str, uid: str, generation: int) -> str:
    """``ssj-<name>-<hash8>``, at most 63 characters, a valid DNS label, stable for one run."""
    digest = hashlib.sha256(f"{uid}/{generation}".encode()).hexdigest()[:_HASH_LEN]
    room = MAX_NAME - len("ssj-") - 1 - _HASH_LEN
    stem = cr_name[:room].rstrip("-")
    return f"ssj-{stem}-{digest}"


def step_job_name(cr_name: str, uid: str, generation: int, step: str) -> str:
    """A sharded run's Job for ``step``: ``ssj-<name>-<hash8>-<train|gen|merge>``, at most 63
    characters (the stem is shortened to fit)."""
    digest = hashlib.sha256(f"{uid}/{generation}".encode()).hexdigest()[:_HASH_LEN]
    suffix = _STEP_SUFFIX[step]
    room = MAX_NAME - len("ssj-") - 1 - _HASH_LEN - 1 - len(suffix)
    stem = cr_name[:room].rstrip("-")
    return f"ssj-{stem}-{digest}-{suffix}"


def shard_count(raw_spec: dict[str, Any]) -> int:
    """``config.generation.shards`` of a stored spec (1 when absent or not a number)."""
    generation = ((raw_spec.get("config") or {}).get("generation")) or {}
    value = generation.get("shards", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def config_map_name(name_of_job: str) -> str:
    """The ConfigMap holding the resolved job document for one run."""
    return f"{name_of_job}-config"


def labels(owner: Owner, generation: int | None = None) -> dict[str, str]:
    """Labels on the Job, its pods and the ConfigMap (explicit: parent labels are not copied)."""
    result = {
        LABEL_NAME: "safe-synthesizer",
        LABEL_COMPONENT: "runner",
        LABEL_MANAGED_BY: MANAGER,
        LABEL_JOB: owner.name,
        LABEL_JOB_UID: owner.uid,
    }
    if generation is not None:
        result[LABEL_RUN] = str(generation)
    return result


def propagated(source: dict[str, str] | None, keys: tuple[str, ...]) -> dict[str, str]:
    """The entries of ``source`` whose key is in ``keys`` (a key ending in ``/`` is a prefix)."""
    return {
        k: str(v)
        for k, v in (source or {}).items()
        if any(k == key or (key.endswith("/") and k.startswith(key)) for key in keys)
    }


def resolve_output(spec: SafeSynthesizerJobSpec, owner: Owner, settings: OperatorSettings) -> str | None:
    """``spec.output``, else the default prefix + ``<namespace>/<name>/``; None when neither exists."""
    if spec.output:
        return spec.output
    if settings.default_output:
        return f"{settings.default_output}{owner.namespace}/{owner.name}/"
    return None


def credentials_secret(spec: SafeSynthesizerJobSpec, settings: OperatorSettings) -> str | None:
    """The Secret with the S3 keys: ``spec.s3.credentialsSecret`` or the operator default."""
    return spec.s3.credentialsSecret or settings.default_s3_secret


def resolved_document(
    raw_spec: dict[str, Any], owner: Owner, output: str, settings: OperatorSettings
) -> dict[str, Any]:
    """The manifest the runner reads: the CR's spec as stored (server defaults included) with the
    output and S3 defaults filled in. Fields the user left unset stay unset, so the runner's
    "explicitly set" checks (e.g. the CPU model fallback) behave as on a laptop."""
    spec = copy.deepcopy(raw_spec)
    spec["output"] = output
    s3 = dict(spec.get("s3") or {})
    if not s3.get("endpoint") and settings.default_s3_endpoint:
        s3["endpoint"] = settings.default_s3_endpoint
    if not s3.get("region") and settings.default_s3_region:
        s3["region"] = settings.default_s3_region
    if not s3.get("credentialsSecret") and settings.default_s3_secret:
        s3["credentialsSecret"] = settings.default_s3_secret
    if s3:
        spec["s3"] = s3
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": owner.name, "namespace": owner.namespace},
        "spec": spec,
    }


def build_config_map(owner: Owner, name_of_job: str, document: dict[str, Any]) -> dict[str, Any]:
    """The ConfigMap with ``job.yaml``, owned by the CR."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(name_of_job),
            "namespace": owner.namespace,
            "labels": labels(owner, owner.generation),
            "ownerReferences": [owner.reference()],
        },
        "data": {CONFIG_FILE: yaml.safe_dump(document, sort_keys=False)},
    }


def gpu_memory_mib(quantity: str) -> int:
    """``40Gi`` -> 40960, ``512Mi`` -> 512 (the spec allows only Mi and Gi)."""
    match = re.fullmatch(r"([0-9]+)(Mi|Gi)", quantity)
    if not match:
        raise ValueError(f"gpuMemory must look like 40Gi or 512Mi, got {quantity!r}")
    value = int(match.group(1))
    return value * 1024 if match.group(2) == "Gi" else value


def _resources(spec: SafeSynthesizerJobSpec, settings: OperatorSettings) -> dict[str, Any]:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    cpu = spec.resources.cpu or settings.default_cpu
    memory = spec.resources.memory or settings.default_memory
    if cpu:
        requests["cpu"] = limits["cpu"] = cpu
    if memory:
        requests["memory"] = limits["memory"] = memory
    if spec.resources.gpu > 0:
        # Extended resources: the limit is the request.
        limits[spec.resources.gpuResourceName] = str(spec.resources.gpu)
    result: dict[str, Any] = {}
    if requests:
        result["requests"] = requests
    if limits:
        result["limits"] = limits
    return result


def _tolerations(spec: SafeSynthesizerJobSpec, settings: OperatorSettings) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = [t.model_dump(exclude_none=True) for t in spec.tolerations]
    result.extend(copy.deepcopy(settings.default_tolerations))
    if spec.resources.gpu > 0 and settings.gpu_toleration:
        result.append({"key": spec.resources.gpuResourceName, "operator": "Exists", "effect": "NoSchedule"})
    unique: list[dict[str, Any]] = []
    for toleration in result:
        if toleration not in unique:
            unique.append(toleration)
    return unique


def _affinity(spec: SafeSynthesizerJobSpec, settings: OperatorSettings) -> dict[str, Any] | None:
    gpu_memory = spec.resources.gpuMemory or settings.default_gpu_memory
    if spec.resources.gpu <= 0 or not gpu_memory:
        return None
    minimum = gpu_memory_mib(gpu_memory)
    term = {"matchExpressions": [{"key": GPU_MEMORY_LABEL, "operator": "Gt", "values": [str(minimum - 1)]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def _secret_env(name: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def _env(
    spec: SafeSynthesizerJobSpec,
    owner: Owner,
    settings: OperatorSettings,
    adapter_url: str | None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": contract.ENV_TERMINATION_LOG, "value": TERMINATION_LOG},
        {"name": "HOME", "value": HOME_DIR},
        {"name": "TMPDIR", "value": TMP_DIR},
        {"name": contract.ENV_CACHE, "value": CACHE_DIR},
        {"name": "HF_HOME", "value": f"{CACHE_DIR}/huggingface"},
        {"name": "XDG_CACHE_HOME", "value": f"{CACHE_DIR}/xdg"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    if settings.progress_reporting and progress:
        env += [
            {"name": contract.ENV_CR_NAME, "value": owner.name},
            {"name": contract.ENV_CR_NAMESPACE, "value": owner.namespace},
            {"name": contract.ENV_CR_UID, "value": owner.uid},
        ]
    if adapter_url:
        env.append({"name": contract.ENV_ADAPTER_URL, "value": adapter_url})
    secret = credentials_secret(spec, settings)
    if secret:
        env += [
            _secret_env("AWS_ACCESS_KEY_ID", secret, "AWS_ACCESS_KEY_ID"),
            _secret_env("AWS_SECRET_ACCESS_KEY", secret, "AWS_SECRET_ACCESS_KEY"),
            _secret_env("AWS_SESSION_TOKEN", secret, "AWS_SESSION_TOKEN", optional=True),
        ]
    if spec.hfTokenSecret:
        # Key ``token``; a key named ``HF_TOKEN`` arrives through envFrom (see _env_from).
        env.append(_secret_env("HF_TOKEN", spec.hfTokenSecret, "token", optional=True))
    if spec.pseudonymKeySecret:
        env.append(_secret_env(contract.ENV_PSEUDONYM_KEY, spec.pseudonymKeySecret, "key"))
    return env


def _env_from(spec: SafeSynthesizerJobSpec) -> list[dict[str, Any]]:
    if not spec.hfTokenSecret:
        return []
    return [{"secretRef": {"name": spec.hfTokenSecret, "optional": False}}]


def _volumes(settings: OperatorSettings, name_of_job: str) -> list[dict[str, Any]]:
    scratch: dict[str, Any] = (
        {"sizeLimit": settings.scratch_size_limit} if settings.scratch_size_limit else {}
    )
    return [
        {"name": "job-config", "configMap": {"name": config_map_name(name_of_job)}},
        {"name": "tmp", "emptyDir": dict(scratch)},
        {"name": "cache", "emptyDir": dict(scratch)},
        {"name": "home", "emptyDir": {}},
    ]


def _mounts() -> list[dict[str, Any]]:
    return [
        {"name": "job-config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": TMP_DIR},
        {"name": "cache", "mountPath": CACHE_DIR},
        {"name": "home", "mountPath": HOME_DIR},
    ]


def build_job(
    owner: Owner,
    spec: SafeSynthesizerJobSpec,
    settings: OperatorSettings,
    name_of_job: str,
    adapter_url: str | None = None,
    service_account: str | None = None,
    cr_labels: dict[str, str] | None = None,
    cr_annotations: dict[str, str] | None = None,
    step: str | None = None,
    shards: int = 1,
    run_name: str | None = None,
) -> dict[str, Any]:
    """The batch/v1 Job for one run, or for one ``step`` of a sharded run (see the module docstring;
    ``run_name``: the run's :func:`job_name`, whose ConfigMap a step's Job mounts)."""
    pod_labels = labels(owner, owner.generation)
    if step is not None:
        pod_labels[LABEL_STEP] = step
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # On SIGTERM the runner stops at the next step or batch and publishes what it has (partial
        # results); this is the time it gets to upload before SIGKILL.
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "automountServiceAccountToken": settings.progress_reporting,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_user,
            "fsGroup": settings.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": CONTAINER,
                "image": spec.image or settings.runner_image,
                "imagePullPolicy": settings.runner_image_pull_policy,
                "command": list(settings.runner_command),
                "args": _args(step, shards) + _train_process_args(spec, step),
                # N generation shards would overwrite each other's status.progress: the operator
                # reports theirs (status.sharding)
                "env": _env(spec, owner, settings, adapter_url, progress=step != STEP_GENERATE),
                "resources": _resources(spec, settings),
                "volumeMounts": _mounts(),
                "terminationMessagePath": TERMINATION_LOG,
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }
        ],
        "volumes": _volumes(settings, run_name or name_of_job),
    }
    if _train_process_args(spec, step):  # processes on several GPUs talk through shared memory
        pod_spec["volumes"].append(
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE_LIMIT}}
        )
        pod_spec["containers"][0]["volumeMounts"].append({"name": "dshm", "mountPath": SHM_DIR})
    env_from = _env_from(spec)
    if env_from:
        pod_spec["containers"][0]["envFrom"] = env_from
    account = spec.serviceAccountName or service_account
    if account:
        pod_spec["serviceAccountName"] = account
    node_selector = {**settings.default_node_selector, **spec.nodeSelector}
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    tolerations = _tolerations(spec, settings)
    if tolerations:
        pod_spec["tolerations"] = tolerations
    affinity = _affinity(spec, settings)
    if affinity:
        pod_spec["affinity"] = affinity
    if spec.priorityClassName:
        pod_spec["priorityClassName"] = spec.priorityClassName
    if settings.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s} for s in settings.image_pull_secrets]

    job_spec: dict[str, Any] = {
        "backoffLimit": spec.backoffLimit,
        "completions": 1,
        "parallelism": 1,
        "ttlSecondsAfterFinished": settings.job_ttl_seconds,
        "podReplacementPolicy": "Failed",
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": CONTAINER,
                        "operator": "In",
                        "values": list(FAIL_JOB_EXIT_CODES),
                    },
                },
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            ]
        },
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
    }
    if step == STEP_GENERATE:
        _index_shards(job_spec, spec.backoffLimit, shards)
    if spec.activeDeadlineSeconds:
        job_spec["activeDeadlineSeconds"] = spec.activeDeadlineSeconds
    job_labels = {**propagated(cr_labels, settings.propagate_labels), **pod_labels}
    annotations = {
        **propagated(cr_annotations, settings.propagate_annotations),
        "safesynthesizer.io/run-generation": str(owner.generation),
    }
    if job_labels.get(QUEUE_LABEL):
        job_spec["suspend"] = True  # the queue's admission controller unsuspends it
    if spec.managedBy:
        job_spec["managedBy"] = spec.managedBy
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name_of_job,
            "namespace": owner.namespace,
            "labels": job_labels,
            "annotations": annotations,
            "ownerReferences": [owner.reference()],
        },
        "spec": job_spec,
    }


def _args(step: str | None, shards: int) -> list[str]:
    """The runner's arguments: ``--config <job.yaml>``, after the step of a sharded run."""
    config = ["--config", f"{CONFIG_DIR}/{CONFIG_FILE}"]
    if step is None:
        return config
    if step == STEP_TRAIN:
        return [STEP_TRAIN, *config]
    return [step, *config, "--shards", str(shards)]


def _train_process_args(spec: SafeSynthesizerJobSpec, step: str | None) -> list[str]:
    """``--train-processes N`` when the pod trains with N > 1 GPUs, else nothing."""
    if spec.resources.gpu > 1 and step in (None, STEP_TRAIN):
        return ["--train-processes", str(spec.resources.gpu)]
    return []


def _index_shards(job_spec: dict[str, Any], backoff_limit: int, shards: int) -> None:
    """The generation step as an Indexed Job: one pod per shard, each index retried alone
    (``backoffLimitPerIndex``), a non-retryable exit code fails only its index (``FailIndex``)."""
    job_spec.pop("backoffLimit", None)  # with backoffLimitPerIndex the global limit stays unbounded
    job_spec["completionMode"] = "Indexed"
    job_spec["completions"] = shards
    job_spec["parallelism"] = shards
    job_spec["backoffLimitPerIndex"] = backoff_limit
    for rule in job_spec["podFailurePolicy"]["rules"]:
        if rule["action"] == "FailJob":
            rule["action"] = "FailIndex"
