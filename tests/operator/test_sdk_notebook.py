"""docs/sdk-quickstart.ipynb, executed cell by cell against the real control plane, the operator,
the real runner and the loopback S3 server (only its ``parameters`` cell is replaced)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ROOT, OperatorProcess, Release, demo_slice

from safe_synthesizer.sdk import NotFound, SafeSynthesizerClient

pytestmark = pytest.mark.cluster
nbformat = pytest.importorskip("nbformat")
BUCKET = "safe-synth-demo"


@pytest.fixture(scope="module")
def operator(release: Release, demo_data: str) -> Iterator[OperatorProcess]:
    process = release.operator(
        SSO_RESYNC_SECONDS="3",
        SSO_WAIT_SECONDS="2",
        SSO_DEFAULT_OUTPUT=f"s3://{BUCKET}/notebook-output/",
        SSO_DEFAULT_S3_SECRET="s3-credentials",
    ).start()
    yield process
    process.stop()


def test_quickstart_notebook_runs(
    release: Release, operator: OperatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from s3_server import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY

    (tmp_path / "customers.csv").write_bytes(demo_slice())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(release.cluster.kubeconfig))
    for name, value in (
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ENDPOINT_URL", release.s3_endpoint),
    ):
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(ROOT / "docs" / "sdk-quickstart.ipynb", as_version=4)
    scope: dict[str, Any] = {}
    for index, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source = (
                f"NAMESPACE = {release.namespace!r}\n"
                f"UPLOAD_PREFIX = 's3://{BUCKET}/notebook-uploads/'\n"
                "TABLE = 'customers.csv'\n"
            )
        exec(compile(source, f"sdk-quickstart.ipynb cell {index}", "exec"), scope)  # noqa: S102 - the documented notebook
        if "problems" in scope and index <= 3:
            assert {
                "spec.dataSource",
                "spec.config.generation.num_records",
                "spec.config.generation.top_p",
            } <= set(scope["problems"])
        if "job" in scope and "synthetic" in scope and "synthetic_checked" not in scope:
            job = scope["job"]
            assert job.phase == "Succeeded", (job.phase, job.message)
            assert len(scope["synthetic"]) == 200
            assert (tmp_path / "evaluation_report.html").is_file()
            assert job.spec["dataSource"] == (
                f"s3://{BUCKET}/notebook-uploads/{release.namespace}/customers-quickstart/input/data.csv"
            )
            scope["synthetic_checked"] = True
    assert scope.get("synthetic_checked"), "the notebook never produced the synthetic table"
    admin = SafeSynthesizerClient(namespace=release.namespace, kubeconfig=release.cluster.kubeconfig)
    with pytest.raises(NotFound):
        admin.jobs.retrieve("customers-quickstart")
    with pytest.raises(NotFound):
        admin.jobs.retrieve("customers-bad")
