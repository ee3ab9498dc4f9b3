"""The generated CRD: in sync with the models, structural, and valid against the Kubernetes schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safe_synthesizer.crd import build_crd, render_crd

ROOT = Path(__file__).resolve().parents[1]
CRD_PATH = ROOT / "crds" / "safesynthesizer.io_safesynthesizerjobs.yaml"

_VALUE_KEYS = {
    "description",
    "default",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "maxProperties",
    "format",
    "nullable",
    "x-kubernetes-validations",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
}
_STRUCT_KEYS = {"type", "properties", "items", "additionalProperties", "required"}


def _structural_problems(node: dict, path: str = "") -> list[str]:
    """Kubernetes' structural-schema rules that our generator could break."""
    problems = []
    unknown = set(node) - _VALUE_KEYS - _STRUCT_KEYS
    if unknown:
        problems.append(f"{path}: keys not allowed in a CRD schema: {sorted(unknown)}")
    has_escape = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if "type" not in node and not has_escape:
        problems.append(f"{path}: no type")
    if node.get("x-kubernetes-int-or-string") and "type" in node:
        problems.append(f"{path}: int-or-string with a type")
    if "default" in node and node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{path}: default under preserve-unknown-fields")
    for name, child in (node.get("properties") or {}).items():
        problems += _structural_problems(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        problems += _structural_problems(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        problems += _structural_problems(node["additionalProperties"], f"{path}{{}}")
    return problems


def test_committed_crd_matches_models():
    assert CRD_PATH.exists(), "run `make crds`"
    assert CRD_PATH.read_text() == render_crd(), "crds/ is stale: run `make crds` and commit the result"


def test_chart_crd_copy_matches_models():
    chart_copy = ROOT / "charts" / "safe-synthesizer" / "crds" / CRD_PATH.name
    assert chart_copy.exists(), "run `make crds` (it also writes the Helm chart's copy)"
    assert chart_copy.read_text() == render_crd(), "the chart's CRD copy is stale: run `make crds` and commit"


def test_crd_is_structural():
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert _structural_problems(schema) == []


def test_crd_validates_against_kubernetes_schema():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    crd = yaml.safe_load(CRD_PATH.read_text())
    kubernetes_validate.validate(crd, "1.34", strict=True)


def test_crd_shape():
    crd = build_crd()
    version = crd["spec"]["versions"][0]
    assert crd["metadata"]["name"] == "safesynthesizerjobs.safesynthesizer.io"
    assert crd["spec"]["names"]["shortNames"] == ["ssj"]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Phase", "Stage", "SQS", "DPS", "Age"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    training = spec["properties"]["config"]["properties"]["training"]["properties"]
    assert training["lora_r"]["default"] == 32 and training["lora_r"]["minimum"] == 0
    assert training["lora_r"]["exclusiveMinimum"] is True
    assert training["quantization_bits"]["enum"] == [4, 8]
    assert "default" not in training["pretrained_model"], "the exclusivity rule needs no server default"
    assert training["num_input_records_to_sample"]["x-kubernetes-int-or-string"] is True
    assert "description" in training["learning_rate"]
    rules = " ".join(r["rule"] for r in spec["x-kubernetes-validations"])
    assert "oldSelf.config" in rules and "oldSelf.suspend" not in rules
    steps = spec["properties"]["config"]["properties"]["replace_pii"]["properties"]["steps"]
    assert steps["minItems"] == 1 and steps["maxItems"] == 10
