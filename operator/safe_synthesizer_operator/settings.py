"""The operator's settings: one immutable object read from the environment (``SSO_*`` variables).

The Helm chart sets these on the operator Deployment from its values; tests and local runs set
them in the process environment. Every setting has a default that works in a real cluster except
the runner image tag, which the chart pins to its appVersion.

========================================  ======================================================
variable                                  meaning (default)
========================================  ======================================================
``SSO_RUNNER_IMAGE``                      runner image for job pods (``ghcr.io/nvidia/...``)
``SSO_RUNNER_IMAGE_PULL_POLICY``          ``IfNotPresent``
``SSO_IMAGE_PULL_SECRETS``                comma-separated Secret names for job pods
``SSO_RUNNER_COMMAND``                    JSON list or shell words: the container command
                                          (``safe-synthesizer run``); ``--config <file>`` is
                                          passed as args
``SSO_DEFAULT_OUTPUT``                    output prefix for jobs without ``spec.output``;
                                          ``<namespace>/<name>/`` is appended (none)
``SSO_DEFAULT_S3_ENDPOINT``               S3 endpoint for jobs without ``spec.s3.endpoint``
``SSO_DEFAULT_S3_REGION``                 S3 region for jobs without ``spec.s3.region``
``SSO_DEFAULT_S3_SECRET``                 credentials Secret for jobs without
                                          ``spec.s3.credentialsSecret`` (none: the pod's own
                                          identity, e.g. IRSA)
``SSO_NAMESPACES``                        comma-separated namespaces to watch; empty = all
``SSO_JOB_SERVICE_ACCOUNT``               ServiceAccount of job pods without
                                          ``spec.serviceAccountName`` (none: ``default``)
``SSO_PROGRESS_REPORTING``                ``true``: job pods get a token and patch their own
                                          CR's ``status.progress`` (``true``)
``SSO_JOB_TTL_SECONDS``                   ``ttlSecondsAfterFinished`` of the child Job (86400)
``SSO_DEFAULT_CPU`` / ``SSO_DEFAULT_MEMORY`` / ``SSO_DEFAULT_GPU_MEMORY``
                                          job pod resources when the spec leaves them unset
``SSO_GPU_TOLERATION``                    add a ``<gpuResourceName>:NoSchedule`` toleration to
                                          GPU pods (``true``)
``SSO_DEFAULT_NODE_SELECTOR``             JSON object merged under ``spec.nodeSelector``
``SSO_DEFAULT_TOLERATIONS``               JSON list added to ``spec.tolerations``
``SSO_PROPAGATE_LABELS``                  comma-separated CR label keys copied to the Job (a key
                                          ending in ``/`` is a prefix); unset:
                                          ``kueue.x-k8s.io/queue-name,kueue.x-k8s.io/priority-class``.
                                          A Job with the queue-name label is created suspended
                                          for the queue's admission controller (Kueue)
``SSO_PROPAGATE_ANNOTATIONS``             the same for annotations (none)
``SSO_RUN_AS_USER``                       numeric uid of job pods (1000)
``SSO_SCRATCH_SIZE_LIMIT``                ``sizeLimit`` of the job's ``/tmp`` and cache emptyDirs
``SSO_RESYNC_SECONDS``                    how often every unfinished CR is re-checked (15)
``SSO_WAIT_SECONDS``                      requeue delay while waiting for a pretrained job (10)
``SSO_METRICS_PORT``                      Prometheus port; 0 disables (9090)
``SSO_METRICS_ADDRESS``                   Prometheus bind address (``0.0.0.0``)
``SSO_MAX_WORKERS``                       threads for reconciles (16)
========================================  ======================================================
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_RUNNER_IMAGE = "ghcr.io/nvidia/safe-synthesizer-runner:0.1.0"
DEFAULT_RUNNER_COMMAND = ("safe-synthesizer", "run")
DEFAULT_PROPAGATE_LABELS = ("kueue.x-k8s.io/queue-name", "kueue.x-k8s.io/priority-class")


class SettingsError(ValueError):
    """An ``SSO_*`` variable has a value the operator cannot use."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name}: must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name}: must be > 0, got {value}")
    return value


def _str(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    return raw.strip() if raw and raw.strip() else None


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name) or ""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _keys(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of label/annotation keys; unset = ``default``, set but empty = none."""
    if name not in env:
        return default
    return _list(env, name)


def _json(env: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, kind):
        raise SettingsError(f"{name}: expected a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def _command(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return DEFAULT_RUNNER_COMMAND
    text = raw.strip()
    if text.startswith("["):
        value = _json(env, name, list, None)
        if not value or not all(isinstance(part, str) for part in value):
            raise SettingsError(f"{name}: expected a non-empty JSON list of strings")
        return tuple(value)
    return tuple(shlex.split(text))


@dataclass(frozen=True)
class OperatorSettings:
    """Everything the operator is configured with (see the module docstring for the variables)."""

    runner_image: str = DEFAULT_RUNNER_IMAGE
    runner_image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: tuple[str, ...] = ()
    runner_command: tuple[str, ...] = DEFAULT_RUNNER_COMMAND
    default_output: str | None = None
    default_s3_endpoint: str | None = None
    default_s3_region: str | None = None
    default_s3_secret: str | None = None
    namespaces: tuple[str, ...] = ()
    job_service_account: str | None = None
    progress_reporting: bool = True
    job_ttl_seconds: int = 86400
    default_cpu: str | None = None
    default_memory: str | None = None
    default_gpu_memory: str | None = None
    gpu_toleration: bool = True
    default_node_selector: dict[str, str] = field(default_factory=dict)
    default_tolerations: list[dict[str, Any]] = field(default_factory=list)
    propagate_labels: tuple[str, ...] = DEFAULT_PROPAGATE_LABELS
    propagate_annotations: tuple[str, ...] = ()
    run_as_user: int = 1000
    scratch_size_limit: str | None = None
    resync_seconds: float = 15.0
    wait_seconds: float = 10.0
    metrics_port: int = 9090
    metrics_address: str = "0.0.0.0"
    max_workers: int = 16

    @property
    def clusterwide(self) -> bool:
        """True when no namespace list is configured (watch every namespace)."""
        return not self.namespaces

    def warnings(self) -> list[str]:
        """Settings that work but are likely a mistake; the operator logs each at startup."""
        out = []
        if self.progress_reporting and not self.job_service_account:
            out.append(
                "SSO_JOB_SERVICE_ACCOUNT is unset: job pods without spec.serviceAccountName run as their "
                "namespace's 'default' ServiceAccount, which usually may not patch "
                "safesynthesizerjobs/status, so their progress patches get HTTP 403 and STAGE stays "
                "empty until the job ends. Set it to the chart's job ServiceAccount (the chart does; "
                "locally: `make operator-dev-rbac NAMESPACE=<ns>`, then `make operator-run`), or set "
                "SSO_PROGRESS_REPORTING=false."
            )
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        """Read the ``SSO_*`` variables; raises :class:`SettingsError` naming the bad variable."""
        env = os.environ if env is None else env
        pull_policy = _str(env, "SSO_RUNNER_IMAGE_PULL_POLICY") or "IfNotPresent"
        if pull_policy not in ("Always", "IfNotPresent", "Never"):
            raise SettingsError(
                f"SSO_RUNNER_IMAGE_PULL_POLICY: must be Always, IfNotPresent or Never, got {pull_policy!r}"
            )
        node_selector = _json(env, "SSO_DEFAULT_NODE_SELECTOR", dict, {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in node_selector.items()):
            raise SettingsError("SSO_DEFAULT_NODE_SELECTOR: keys and values must be strings")
        tolerations = _json(env, "SSO_DEFAULT_TOLERATIONS", list, [])
        if not all(isinstance(t, dict) for t in tolerations):
            raise SettingsError("SSO_DEFAULT_TOLERATIONS: expected a JSON list of objects")
        default_output = _str(env, "SSO_DEFAULT_OUTPUT")
        if default_output and not default_output.endswith("/"):
            default_output += "/"
        return cls(
            runner_image=_str(env, "SSO_RUNNER_IMAGE") or DEFAULT_RUNNER_IMAGE,
            runner_image_pull_policy=pull_policy,
            image_pull_secrets=_list(env, "SSO_IMAGE_PULL_SECRETS"),
            runner_command=_command(env, "SSO_RUNNER_COMMAND"),
            default_output=default_output,
            default_s3_endpoint=_str(env, "SSO_DEFAULT_S3_ENDPOINT"),
            default_s3_region=_str(env, "SSO_DEFAULT_S3_REGION"),
            default_s3_secret=_str(env, "SSO_DEFAULT_S3_SECRET"),
            namespaces=_list(env, "SSO_NAMESPACES"),
            job_service_account=_str(env, "SSO_JOB_SERVICE_ACCOUNT"),
            progress_reporting=_bool(env, "SSO_PROGRESS_REPORTING", True),
            job_ttl_seconds=_int(env, "SSO_JOB_TTL_SECONDS", 86400),
            default_cpu=_str(env, "SSO_DEFAULT_CPU"),
            default_memory=_str(env, "SSO_DEFAULT_MEMORY"),
            default_gpu_memory=_str(env, "SSO_DEFAULT_GPU_MEMORY"),
            gpu_toleration=_bool(env, "SSO_GPU_TOLERATION", True),
            default_node_selector=node_selector,
            default_tolerations=tolerations,
            propagate_labels=_keys(env, "SSO_PROPAGATE_LABELS", DEFAULT_PROPAGATE_LABELS),
            propagate_annotations=_keys(env, "SSO_PROPAGATE_ANNOTATIONS", ()),
            run_as_user=_int(env, "SSO_RUN_AS_USER", 1000, minimum=1),
            scratch_size_limit=_str(env, "SSO_SCRATCH_SIZE_LIMIT"),
            resync_seconds=_float(env, "SSO_RESYNC_SECONDS", 15.0),
            wait_seconds=_float(env, "SSO_WAIT_SECONDS", 10.0),
            metrics_port=_int(env, "SSO_METRICS_PORT", 9090),
            metrics_address=_str(env, "SSO_METRICS_ADDRESS") or "0.0.0.0",
            max_workers=_int(env, "SSO_MAX_WORKERS", 16, minimum=1),
        )
