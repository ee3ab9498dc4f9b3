"""``SafeSynthesizerJobBuilder``: a job spelled step by step, in the style of the seeds' SDK.

    job = (
        SafeSynthesizerJobBuilder(client, project="default")
        .with_data_source(df)                       # a DataFrame or local file (uploaded), or a URL
        .with_replace_pii()                         # PII replacement on (the default config)
        .with_train(num_input_records_to_sample=5000)
        .with_generate(num_records=1000, temperature=0.8)
        .with_differential_privacy(epsilon=8.0)
        .with_evaluate(mia_enabled=True)
        .synthesize(name="customers")               # -> a Job handle; .wait(), .results...
    )

Each ``with_*`` merges its keyword arguments into one section of ``spec.config`` (the seeds'
parameter names); nothing is checked until :meth:`build` or :meth:`synthesize`, which report every
problem at once (:class:`~safe_synthesizer.sdk.errors.InvalidSpec`).
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .spec import build_manifest

if TYPE_CHECKING:
    from .client import Job, SafeSynthesizerClient

__all__ = ["SafeSynthesizerJobBuilder"]


def _merge(target: dict[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``updates`` into ``target`` (dicts merge, everything else replaces)."""
    for key, value in updates.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    return target


class SafeSynthesizerJobBuilder:
    """Build and submit one job through ``client`` (see the module docstring)."""

    def __init__(self, client: SafeSynthesizerClient, *, project: str | None = None, name: str | None = None):
        self.client = client
        self.project = project
        self.name = name
        self.config: dict[str, Any] = {}
        self.spec_fields: dict[str, Any] = {}
        self.data: Any = None
        self.data_source: str | None = None

    def with_data_source(self, source: Any) -> SafeSynthesizerJobBuilder:
        """The input table: a pandas DataFrame or a local file (uploaded under the client's
        ``upload_prefix`` on :meth:`synthesize`), or a URL the runner reads (``s3://...``)."""
        self.data = self.data_source = None
        if isinstance(source, str) and "://" in source and not source.startswith("file://"):
            self.data_source = source
        elif isinstance(source, str | os.PathLike) or hasattr(source, "to_csv"):
            self.data = source
        else:
            raise TypeError(f"a DataFrame, a local file or a URL, got {type(source).__name__}")
        return self

    def with_replace_pii(
        self, config: Mapping[str, Any] | None = None, *, enabled: bool = True
    ) -> SafeSynthesizerJobBuilder:
        """Replace PII before training (``enable_replace_pii``), with ``config`` as ``replace_pii``
        (globals, steps) when given; ``enabled=False`` switches it off."""
        self.config["enable_replace_pii"] = enabled
        if config is not None:
            self.config["replace_pii"] = copy.deepcopy(dict(config))
        return self

    def with_train(self, **params: Any) -> SafeSynthesizerJobBuilder:
        """Training parameters (``config.training``: pretrained_model, num_input_records_to_sample,
        learning_rate, engine, ...)."""
        _merge(self.config.setdefault("training", {}), params)
        return self

    def with_generate(self, **params: Any) -> SafeSynthesizerJobBuilder:
        """Generation parameters (``config.generation``: num_records, temperature, top_p, ...)."""
        _merge(self.config.setdefault("generation", {}), params)
        return self

    def with_differential_privacy(
        self, epsilon: float | None = None, delta: float | str | None = None, **params: Any
    ) -> SafeSynthesizerJobBuilder:
        """DP-SGD training (``config.privacy`` with ``dp_enabled: true``) to ``epsilon``/``delta``."""
        privacy = self.config.setdefault("privacy", {})
        privacy["dp_enabled"] = True
        if epsilon is not None:
            privacy["epsilon"] = epsilon
        if delta is not None:
            privacy["delta"] = delta
        _merge(privacy, params)
        return self

    def with_evaluate(self, enabled: bool = True, **params: Any) -> SafeSynthesizerJobBuilder:
        """Evaluation (``config.evaluation``: enabled, mia_enabled, aia_enabled, ...)."""
        _merge(self.config.setdefault("evaluation", {}), {"enabled": enabled, **params})
        return self

    def with_data(self, **params: Any) -> SafeSynthesizerJobBuilder:
        """Data parameters (``config.data``: group_training_examples_by, holdout, ...)."""
        _merge(self.config.setdefault("data", {}), params)
        return self

    def with_config(self, config: Mapping[str, Any]) -> SafeSynthesizerJobBuilder:
        """Deep-merge a whole ``config`` document (the seeds' parameter names)."""
        _merge(self.config, config)
        return self

    def with_output(self, url: str) -> SafeSynthesizerJobBuilder:
        """Where the results go (``spec.output``); default: the operator's output prefix."""
        self.spec_fields["output"] = url
        return self

    def with_resources(self, **resources: Any) -> SafeSynthesizerJobBuilder:
        """Runner pod resources (``spec.resources``: gpu, cpu, memory, ...)."""
        _merge(self.spec_fields.setdefault("resources", {}), resources)
        return self

    def with_spec(self, **fields: Any) -> SafeSynthesizerJobBuilder:
        """Any other ``spec`` field of the CR (s3, nodeSelector, activeDeadlineSeconds, ...)."""
        _merge(self.spec_fields, fields)
        return self

    def spec(self) -> dict[str, Any]:
        """The CR spec built so far (``dataSource`` is filled in by the upload, if any)."""
        spec = copy.deepcopy(self.spec_fields)
        if self.data_source is not None:
            spec["dataSource"] = self.data_source
        if self.config:
            spec["config"] = copy.deepcopy(self.config)
        return spec

    def build(self, name: str | None = None) -> dict[str, Any]:
        """The manifest :meth:`synthesize` would create, validated (``InvalidSpec`` lists every
        problem). With data still to upload, ``dataSource`` names a placeholder file."""
        spec = self.spec()
        if self.data is not None:
            spec.setdefault("dataSource", "upload.csv")
        return build_manifest(
            name or self.name or "job", spec, namespace=self.client.namespace, project=self.project
        )

    def synthesize(self, name: str | None = None) -> Job:
        """Submit the job (uploading the data first, if any); returns its :class:`Job` handle.
        Without a name, one is made up (``synth-`` + 8 hex digits)."""
        job_name = name or self.name or f"synth-{uuid.uuid4().hex[:8]}"
        return self.client.jobs.create(name=job_name, spec=self.spec(), project=self.project, data=self.data)
