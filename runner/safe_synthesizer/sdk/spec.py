"""Job requests -> ``SafeSynthesizerJob`` manifests (pure functions, no I/O).

Two spellings are accepted, and both are checked by the same pydantic models the operator uses
(:func:`safe_synthesizer.config.parse_document`), so every problem is reported at once:

* the seeds' REST job request: ``{name, project, description?, spec: {data_source, config}}``
  (snake_case ``data_source``, ``pretrained_model_job``, ``hf_token_secret``);
* our CR spec: ``{dataSource, output?, config, s3?, resources?, ...}`` (camelCase, see the CRD).

``project`` becomes the label :data:`PROJECT_LABEL` (so jobs can be listed per project) and
``description`` the annotation :data:`DESCRIPTION_ANNOTATION`. The manifest sent to the API server
holds the request's own values, not the defaults filled in by validation (the operator fills them).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ..config import (
    API_VERSION,
    KIND,
    ConfigError,
    FieldError,
    SafeSynthesizerJobSpec,
    parse_document,
)
from ..config.job import normalize_rest_job_request
from ..config.loader import is_rest_request
from .errors import InvalidSpec

PROJECT_LABEL = "safesynthesizer.io/project"
DESCRIPTION_ANNOTATION = "safesynthesizer.io/description"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

__all__ = ["DESCRIPTION_ANNOTATION", "PROJECT_LABEL", "build_manifest", "spec_dict"]


def spec_dict(spec: Mapping[str, Any] | SafeSynthesizerJobSpec | None) -> dict[str, Any]:
    """A deep copy of ``spec`` as a plain dict (a model keeps only the fields that were set)."""
    if spec is None:
        return {}
    if isinstance(spec, SafeSynthesizerJobSpec):
        return spec.model_dump(mode="json", exclude_unset=True)
    if not isinstance(spec, Mapping):
        raise InvalidSpec([FieldError("spec", f"expected a mapping, got {type(spec).__name__}")])
    return copy.deepcopy(dict(spec))


def build_manifest(
    name: str | None,
    spec: Mapping[str, Any] | SafeSynthesizerJobSpec | None,
    *,
    namespace: str | None = None,
    project: str | None = None,
    description: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """The ``SafeSynthesizerJob`` manifest for a seeds-style or CR-style ``spec``.

    Raises :class:`~safe_synthesizer.sdk.errors.InvalidSpec` listing every problem (name, labels
    and the whole spec) when ``validate`` (the default); with ``validate=False`` only the shape is
    translated and the API server's schema is the judge."""
    request: dict[str, Any] = {"spec": spec_dict(spec)}
    if name:
        request["name"] = name
    if is_rest_request(request):
        manifest = normalize_rest_job_request(request)
    else:
        manifest = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {}, "spec": request["spec"]}
        if name:
            manifest["metadata"]["name"] = name
    metadata = manifest["metadata"]
    if namespace:
        metadata["namespace"] = namespace
    all_labels = dict(labels or {})
    if project:
        all_labels[PROJECT_LABEL] = project
    if all_labels:
        metadata["labels"] = all_labels
    all_annotations = dict(annotations or {})
    if description:
        all_annotations[DESCRIPTION_ANNOTATION] = description
    if all_annotations:
        metadata["annotations"] = all_annotations
    if validate:
        validate_manifest(manifest)
    return manifest


def validate_manifest(manifest: Mapping[str, Any]) -> None:
    """Check ``manifest`` as the operator will; raises :class:`InvalidSpec` with every error."""
    errors: list[FieldError] = []
    metadata = manifest.get("metadata") or {}
    if not metadata.get("name"):
        errors.append(FieldError("metadata.name", "required: give the job a name"))
    for key, value in (metadata.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(
                FieldError(
                    f"metadata.labels.{key}",
                    f"must be a label value (63 characters at most: letters, digits, '-', '_', '.'), "
                    f"got {value!r}",
                )
            )
    try:
        parse_document(dict(manifest))
    except ConfigError as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidSpec(errors)
