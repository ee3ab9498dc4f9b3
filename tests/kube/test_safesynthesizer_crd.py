"""Our generated CRD on the real kube-apiserver: it installs, the examples pass server-side
validation, and the CEL rules (cross-field, immutability, name length) reject what they should."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "safesynthesizer.io_safesynthesizerjobs.yaml"

pytestmark = pytest.mark.cluster


def _kubectl(cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [cluster.plane.binary("kubectl"), "--kubeconfig", str(cluster.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def crd_installed(kube_cluster):
    result = _kubectl(kube_cluster, "apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    assert result.returncode == 0, result.stderr
    # Poll rather than `kubectl wait`: right after the apply the CRD has no status.conditions yet, and
    # `kubectl wait --for=condition=...` fails on a null conditions list instead of waiting.
    deadline = time.monotonic() + 60
    while True:
        result = _kubectl(
            kube_cluster,
            "get",
            "crd/safesynthesizerjobs.safesynthesizer.io",
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        )
        if result.returncode == 0 and result.stdout.strip() == "True":
            return kube_cluster
        assert time.monotonic() < deadline, f"CRD not Established after 60 s: {result.stdout} {result.stderr}"
        time.sleep(0.2)


def _manifest(name: str, **spec) -> str:
    body = {
        "apiVersion": "safesynthesizer.io/v1alpha1",
        "kind": "SafeSynthesizerJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"dataSource": "s3://b/in.csv", "output": "s3://b/out/", **spec},
    }
    return yaml.safe_dump(body)


def test_examples_pass_server_side_validation(crd_installed):
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        doc = yaml.safe_load(example.read_text())
        doc["metadata"]["namespace"] = "default"
        result = _kubectl(crd_installed, "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(doc))
        assert result.returncode == 0, f"{example.name}: {result.stderr}"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"config": {"training": {"lora_r": -3}}}, "spec.config.training.lora_r"),
        ({"config": {"training": {"quantization_bits": 5}}}, "quantization_bits"),
        ({"config": {"data": {"order_training_examples_by": "t"}}}, "requires group_training_examples_by"),
        (
            {"config": {"privacy": {"dp_enabled": True}, "data": {"max_sequences_per_example": 4}}},
            "must be 1 or 'auto'",
        ),
        ({"config": {"data": {"max_sequences_per_example": "lots"}}}, "must be 'auto' or an integer"),
        (
            {"pretrainedModelJob": "other", "config": {"training": {"pretrained_model": "x"}}},
            "mutually exclusive",
        ),
        ({"config": {"replace_pii": {"steps": []}}}, "steps"),
    ],
)
def test_apiserver_rejects_invalid_specs(crd_installed, spec, message):
    result = _kubectl(crd_installed, "apply", "--dry-run=server", "-f", "-", stdin=_manifest("bad", **spec))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_name_length_and_immutability(crd_installed):
    long_name = "x" * 64
    result = _kubectl(crd_installed, "apply", "--dry-run=server", "-f", "-", stdin=_manifest(long_name))
    assert result.returncode != 0 and "63" in result.stderr
    created = _kubectl(crd_installed, "apply", "-f", "-", stdin=_manifest("immutable"))
    assert created.returncode == 0, created.stderr
    try:
        changed = _kubectl(
            crd_installed,
            "apply",
            "-f",
            "-",
            stdin=_manifest("immutable", config={"generation": {"num_records": 5}}),
        )
        assert changed.returncode != 0 and "immutable" in changed.stderr
        suspended = _kubectl(crd_installed, "apply", "-f", "-", stdin=_manifest("immutable", suspend=True))
        assert suspended.returncode == 0, suspended.stderr
        got = yaml.safe_load(_kubectl(crd_installed, "get", "ssj", "immutable", "-o", "yaml").stdout)
        assert got["spec"]["suspend"] is True
        assert got["spec"]["config"]["training"]["lora_r"] == 32  # server-side defaults
        assert "pretrained_model" not in got["spec"]["config"]["training"]
    finally:
        _kubectl(crd_installed, "delete", "ssj", "immutable", "--wait=false")
