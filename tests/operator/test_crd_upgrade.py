"""The documented CRD upgrade path (`make crds-apply`), from the previous CRD version, on the test
cluster: the CRD as it was before ``spec.managedBy`` and phase ``Suspended`` (commit a03ea20) is put
in place, a CR is made under it, then ``make crds-apply`` upgrades the CRD to ``crds/``: the CR
survives, the new field is accepted, and the cluster's schema is the committed one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_support import ROOT, Release, ssj_manifest

pytestmark = pytest.mark.cluster
CRD_FILE = "crds/safesynthesizer.io_safesynthesizerjobs.yaml"
CRD_NAME = "safesynthesizerjobs.safesynthesizer.io"
# The CRD as of commit a03ea20, the last one without spec.managedBy and phase Suspended, kept as a
# file so that the test needs no git history (a shallow CI clone has none).
PREVIOUS_CRD = Path(__file__).parent / "fixtures" / "crd-previous-a03ea20.yaml"


def previous_crd() -> str:
    return PREVIOUS_CRD.read_text(encoding="utf-8")


def make_crds_apply(release: Release) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(release.cluster.kubeconfig)}
    return subprocess.run(
        ["make", "--no-print-directory", "crds-apply", f"KUBECTL={release.cluster.binary('kubectl')}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cluster_schema(release: Release) -> dict:
    crd = release.cluster.kubectl_json("get", "crd", CRD_NAME)
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.fixture()
def old_crd(release: Release, tmp_path: Path) -> Iterator[Path]:
    """The previous CRD in place of the current one (the current one is back afterwards)."""
    path = tmp_path / "previous-crd.yaml"
    path.write_text(previous_crd())
    release.cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
    release.cluster.kubectl("wait", "--for=condition=Established", "-f", str(path))
    yield path
    assert make_crds_apply(release).returncode == 0


def test_make_crds_apply_upgrades_from_the_previous_crd(release: Release, old_crd: Path) -> None:
    ns = release.namespace
    old_spec = cluster_schema(release)["properties"]["spec"]["properties"]
    assert "managedBy" not in old_spec  # the previous version really is in place
    before = ssj_manifest(
        "crd-upgrade-before", ns, {"dataSource": "s3://b/in.csv", "output": "s3://b/o/", "suspend": True}
    )
    release.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(before))
    newer = ssj_manifest(
        "crd-upgrade-after",
        ns,
        {"dataSource": "s3://b/in.csv", "output": "s3://b/o/", "suspend": True, "managedBy": "example.com/x"},
    )
    refused = release.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(newer), check=False)
    assert "managedBy" in refused  # unknown to the previous schema

    result = make_crds_apply(release)
    assert result.returncode == 0, result.stderr
    assert "serverside-applied" in result.stdout and "condition met" in result.stdout

    committed = yaml.safe_load((ROOT / CRD_FILE).read_text())
    assert cluster_schema(release) == committed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    survivor = release.cluster.kubectl_json("get", "ssj", "crd-upgrade-before", "-n", ns)
    assert survivor["spec"]["dataSource"] == "s3://b/in.csv"
    release.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(newer))
    created = release.cluster.kubectl_json("get", "ssj", "crd-upgrade-after", "-n", ns)
    assert created["spec"]["managedBy"] == "example.com/x"
    # applying again changes nothing and still succeeds (idempotent)
    again = make_crds_apply(release)
    assert again.returncode == 0, again.stderr
    managers = {
        m["manager"]
        for m in release.cluster.kubectl_json("get", "crd", CRD_NAME, "--show-managed-fields")["metadata"][
            "managedFields"
        ]
    }
    assert "safe-synthesizer-crds" in managers
    release.cluster.kubectl("delete", "ssj", "crd-upgrade-before", "crd-upgrade-after", "-n", ns)
