"""Generate the ``SafeSynthesizerJob`` CustomResourceDefinition from the pydantic models.

The models are the single source of truth; ``make crds`` writes the result to ``crds/`` and a test
fails when the committed file differs. The pydantic JSON schema is rewritten into a Kubernetes
*structural* schema:

* ``$ref`` and ``allOf`` are inlined; ``X | None`` becomes ``X`` with ``nullable: true``;
* ``"auto" | int`` becomes ``x-kubernetes-int-or-string`` with a CEL rule for the allowed values;
* other mixed types (``"auto" | float``, ``str | list``) and free-form values keep their data with
  ``x-kubernetes-preserve-unknown-fields`` and are checked by the models (the operator's
  ``InvalidSpec``), since OpenAPI v3 in Kubernetes cannot express them;
* strings, lists and maps get upper bounds, so the API server's CEL cost estimate stays in budget;
* cross-field rules and spec immutability (all but ``suspend``) are CEL ``x-kubernetes-validations``.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from .config.job import (
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    SafeSynthesizerJobSpec,
    SafeSynthesizerJobStatus,
)

DEFAULT_MAX_STRING = 4096
DEFAULT_MAX_ITEMS = 1000
DEFAULT_MAX_PROPERTIES = 256

# Defaults the API server must not fill in: their presence means "the user set it".
NO_SERVER_DEFAULT = {("training", "pretrained_model")}

_DROP_KEYS = {"title", "deprecated", "examples"}


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"].split("/")[-1]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**copy.deepcopy(defs[ref]), **extra}
    if "allOf" in node and len(node["allOf"]) == 1:
        extra = {k: v for k, v in node.items() if k != "allOf"}
        node = {**_resolve(node["allOf"][0], defs), **extra}
    return node


def _is_auto_branch(node: dict[str, Any]) -> bool:
    return node.get("const") == "auto" or node.get("enum") == ["auto"]


def _auto_int_rule(branch: dict[str, Any]) -> str:
    checks = []
    if "exclusiveMinimum" in branch:
        checks.append(f"self > {branch['exclusiveMinimum']}")
    if "minimum" in branch:
        checks.append(f"self >= {branch['minimum']}")
    if "maximum" in branch:
        checks.append(f"self <= {branch['maximum']}")
    numeric = " && ".join(checks) or "true"
    return f"type(self) == string ? self == 'auto' : ({numeric})"


def convert(node: dict[str, Any], defs: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Convert one pydantic JSON-schema node into a structural OpenAPI v3 node."""
    node = _resolve(node, defs)
    description = node.get("description")
    default = node.get("default")
    out: dict[str, Any]

    if "anyOf" in node:
        branches = [_resolve(b, defs) for b in node["anyOf"]]
        nullable = any(b.get("type") == "null" for b in branches)
        branches = [b for b in branches if b.get("type") != "null"]
        autos = [b for b in branches if _is_auto_branch(b)]
        others = [b for b in branches if not _is_auto_branch(b)]
        if len(branches) == 1:
            out = convert(
                {**branches[0], **({"description": description} if description else {})}, defs, path
            )
        elif autos and len(others) == 1 and others[0].get("type") == "integer":
            out = {
                "x-kubernetes-int-or-string": True,
                "x-kubernetes-validations": [
                    {"rule": _auto_int_rule(others[0]), "message": "must be 'auto' or an integer in range"}
                ],
            }
        elif {b.get("type") for b in others} <= {"integer", "string"} and not autos and len(others) == 2:
            out = {"x-kubernetes-int-or-string": True}
        else:
            out = {"x-kubernetes-preserve-unknown-fields": True}
        if nullable:
            out["nullable"] = True
    elif "const" in node:
        value = node["const"]
        out = {"type": _json_type(value), "enum": [value]}
    elif node.get("type") == "object" or "properties" in node:
        out = {"type": "object"}
        properties = node.get("properties")
        if properties:
            out["properties"] = {
                name: convert(prop, defs, (*path, name)) for name, prop in properties.items()
            }
            if node.get("required"):
                out["required"] = list(node["required"])
            if "additionalProperties" in node and node["additionalProperties"] not in (False, {}):
                out["x-kubernetes-preserve-unknown-fields"] = True
        else:
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) and extra.get("type") in ("string", "integer", "number", "boolean"):
                out["additionalProperties"] = {"type": extra["type"], "maxLength": DEFAULT_MAX_STRING}
                if extra["type"] != "string":
                    del out["additionalProperties"]["maxLength"]
                out["maxProperties"] = DEFAULT_MAX_PROPERTIES
            elif isinstance(extra, dict) and "properties" in _resolve(extra, defs):  # a map of objects
                out["additionalProperties"] = convert(extra, defs, (*path, "*"))
                out["maxProperties"] = DEFAULT_MAX_PROPERTIES
            else:
                out["x-kubernetes-preserve-unknown-fields"] = True
    elif node.get("type") == "array":
        out = {"type": "array", "items": convert(node.get("items", {}), defs, path)}
        out["maxItems"] = node.get("maxItems", DEFAULT_MAX_ITEMS)
        if "minItems" in node:
            out["minItems"] = node["minItems"]
    elif "type" in node:
        out = {"type": node["type"]}
        for key in ("enum", "minimum", "maximum", "pattern", "minLength", "maxLength", "format"):
            if key in node:
                out[key] = node[key]
        for key, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if key in node:  # JSON Schema 2020 form → OpenAPI v3.0 form
                out[flag] = node[key]
                out[key] = True
        if out["type"] == "string" and "enum" not in out:
            out.setdefault("maxLength", DEFAULT_MAX_STRING)
    else:  # Any
        out = {"x-kubernetes-preserve-unknown-fields": True}

    if description:
        out["description"] = description
    if (
        default is not None
        and path[-2:] not in NO_SERVER_DEFAULT
        and "x-kubernetes-preserve-unknown-fields" not in out
    ):
        out["default"] = default
    for key in _DROP_KEYS:
        out.pop(key, None)
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _object_defaults(schema: dict[str, Any]) -> None:
    """Give nested sections ``default: {}`` so the API server fills in their field defaults."""
    for prop in schema.get("properties", {}).values():
        if prop.get("type") == "object" and "properties" in prop:
            if "default" not in prop and not prop.get("nullable"):
                prop["default"] = {}
            _object_defaults(prop)


def _immutability_rule(spec_fields: list[str]) -> str:
    clauses = [
        f"(has(self.{f}) == has(oldSelf.{f}) && (!has(self.{f}) || self.{f} == oldSelf.{f}))"
        for f in spec_fields
        if f != "suspend"
    ]
    return " && ".join(clauses)


def spec_schema() -> dict[str, Any]:
    """Structural schema of ``.spec`` with its CEL rules."""
    raw = SafeSynthesizerJobSpec.model_json_schema(mode="validation")
    schema = convert(raw, raw.get("$defs", {}))
    _object_defaults(schema)
    config = schema["properties"]["config"]
    config.setdefault("x-kubernetes-validations", []).append(
        {
            # A null nullable field is absent for CEL: has() is enough.
            "rule": "!(has(self.privacy) && has(self.privacy.dp_enabled) && self.privacy.dp_enabled && "
            "has(self.data) && has(self.data.max_sequences_per_example) && "
            "self.data.max_sequences_per_example != 'auto' && self.data.max_sequences_per_example != 1)",
            "message": "with differential privacy, data.max_sequences_per_example must be 1 or 'auto'",
            "fieldPath": ".data.max_sequences_per_example",
        }
    )
    data = config["properties"]["data"]
    data.setdefault("x-kubernetes-validations", []).append(
        {
            "rule": "!has(self.order_training_examples_by) || has(self.group_training_examples_by)",
            "message": "order_training_examples_by requires group_training_examples_by",
            "fieldPath": ".order_training_examples_by",
        }
    )
    generation = config["properties"]["generation"]
    # no server-side default: a job that does not ask for shards is stored (and handed to its pod)
    # exactly as before the field existed; the runner's model defaults it to 1
    generation["properties"]["shards"].pop("default", None)
    generation.setdefault("x-kubernetes-validations", []).append(
        {
            "rule": "!has(self.shards) || !has(self.num_records) || self.shards <= self.num_records",
            "message": "generation.shards must be at most generation.num_records",
            "fieldPath": ".shards",
        }
    )
    schema["x-kubernetes-validations"] = [
        {
            "rule": "!(has(self.pretrainedModelJob) && has(self.config) && has(self.config.training) && "
            "has(self.config.training.pretrained_model))",
            "message": "pretrainedModelJob and config.training.pretrained_model are mutually exclusive",
        },
        {
            "rule": _immutability_rule(list(schema["properties"])),
            "message": "spec is immutable after creation except for suspend; create a new job instead",
        },
    ]
    return schema


def status_schema() -> dict[str, Any]:
    """Structural schema of ``.status``."""
    raw = SafeSynthesizerJobStatus.model_json_schema(mode="validation")
    return convert(raw, raw.get("$defs", {}))


def build_crd() -> dict[str, Any]:
    """The whole CRD object."""
    spec = spec_schema()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "safe-synthesizer"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["all", "safesynthesizer"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Stage", "type": "string", "jsonPath": ".status.progress.stage"},
                        {
                            "name": "Progress",
                            "type": "number",
                            "jsonPath": ".status.progress.percent",
                            "priority": 1,
                        },
                        {"name": "SQS", "type": "number", "jsonPath": ".status.scores.sqs"},
                        {"name": "DPS", "type": "number", "jsonPath": ".status.scores.dps"},
                        {
                            "name": "Epsilon",
                            "type": "number",
                            "jsonPath": ".status.epsilonSpent",
                            "priority": 1,
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A private synthetic data job: reads a table, replaces PII, "
                            "fine-tunes a language model (optionally with DP-SGD), generates records, "
                            "evaluates them and publishes the results.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status_schema(),
                            },
                            "x-kubernetes-validations": [
                                {
                                    "rule": "self.metadata.name.size() <= 63",
                                    "message": "metadata.name must be at most 63 characters (it names the Job)",
                                }
                            ],
                        }
                    },
                }
            ],
        },
    }


def render_crd() -> str:
    """The CRD as YAML text (stable order, so the drift test can compare bytes)."""
    header = "# Generated by `make crds` from safe_synthesizer.config; do not edit by hand.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    """CLI: write the CRD to ``--output`` (default: stdout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", "-o", type=Path, action="append", help="file(s) to write")
    args = parser.parse_args(argv)
    text = render_crd()
    if not args.output:
        sys.stdout.write(text)
    for path in args.output or []:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
