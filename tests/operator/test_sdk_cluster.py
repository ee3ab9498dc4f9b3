"""The Python SDK against the real control plane, the operator and the loopback S3 server.

The operator runs as in ``test_e2e`` (the chart's ServiceAccount and settings) with a default output
prefix, so the seeds' REST request can be sent unchanged (it names no output). Jobs run the real
``safe-synthesizer run`` in pods (the node agent runs them as local processes) with the small CPU
configuration of ``test_e2e``. The README's SDK example is executed as written, with only the
namespace, the bucket and the CSV file replaced.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from e2e_support import ROOT, SMALL_CONFIG, OperatorProcess, Release, demo_slice

from safe_synthesizer.sdk import (
    PROJECT_LABEL,
    Forbidden,
    InvalidSpec,
    Job,
    NotFound,
    SafeSynthesizerClient,
    SafeSynthesizerJobBuilder,
)

pytestmark = pytest.mark.cluster

BUCKET = "safe-synth-demo"
JOB_TIMEOUT = 300


@pytest.fixture(scope="module")
def operator(release: Release, demo_data: str) -> Iterator[OperatorProcess]:
    """The operator for this module, with a default output prefix and S3 Secret for requests
    without them (as a platform team would install it for the seeds' API)."""
    process = release.operator(
        SSO_RESYNC_SECONDS="3",
        SSO_WAIT_SECONDS="2",
        SSO_DEFAULT_OUTPUT=f"s3://{BUCKET}/sdk-output/",
        SSO_DEFAULT_S3_SECRET="s3-credentials",  # the seeds' request names no credentials
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(release: Release, operator: OperatorProcess) -> SafeSynthesizerClient:
    """The SDK as an admin user, with the test S3 client and an upload prefix."""
    return SafeSynthesizerClient(
        namespace=release.namespace,
        kubeconfig=release.cluster.kubeconfig,
        upload_prefix=f"s3://{BUCKET}/sdk-uploads/",
        s3_client=release.s3,
    )


def test_seeds_request_create_wait_list_download_logs_delete(
    client: SafeSynthesizerClient, release: Release, demo_data: str, tmp_path: Path
) -> None:
    request = {
        "name": "sdk-seeds",
        "project": "default",
        "description": "the seeds' REST request, unchanged",
        "spec": {"data_source": demo_data, "config": SMALL_CONFIG},
    }
    job = client.jobs.create(**request)
    assert job.id == "sdk-seeds" and job.project == "default" and job.status in ("created", "pending")
    assert job.spec["dataSource"] == demo_data and job.description == request["description"]

    seen: list[Job] = []
    final = client.jobs.wait(job.id, timeout=JOB_TIMEOUT, on_progress=seen.append, poll_interval=1)
    assert final.phase == "Succeeded", (final.phase, final.message, final.conditions)
    assert final.status == "completed" and str(client.jobs.get_status(job.id)) == "Succeeded"
    assert [j.phase for j in seen][-1] == "Succeeded" and len(seen) >= 2
    assert final.scores is not None and 0 <= (final.scores.sqs or 0) <= 10

    results = {r.id: r for r in client.jobs.results.list(job.id)}
    assert {"synthetic_data", "summary", "logs", "adapter", "evaluation_report"} <= set(results)
    data = results["synthetic_data"]
    assert data.canonical and data.format == "csv"
    assert data.url == f"s3://{BUCKET}/sdk-output/{release.namespace}/sdk-seeds/synthetic_data.csv"
    body = client.jobs.results.download("synthetic_data", job_id=job.id)
    assert isinstance(body, bytes) and len(body) == data.size_bytes
    assert len(body.decode().strip().splitlines()) == 11  # header + 10 records
    report = client.jobs.results.download("evaluation_report", job.id, path=tmp_path / "report.html")
    assert Path(report).read_text().lstrip().lower().startswith("<!doctype html")
    frame = client.jobs.results.to_pandas(job.id)
    assert len(frame) == 10 and list(frame.columns) == body.decode().splitlines()[0].split(",")

    assert "succeeded" in client.jobs.logs(job.id)
    assert any(j.id == "sdk-seeds" for j in client.jobs.list(project="default"))
    assert all(j.project == "other" for j in client.jobs.list(project="other"))

    client.jobs.delete(job.id, wait=True)
    with pytest.raises(NotFound):
        client.jobs.retrieve(job.id)
    with pytest.raises(NotFound):
        client.jobs.delete(job.id)


def test_invalid_spec_returns_every_field_error(client: SafeSynthesizerClient, demo_data: str) -> None:
    # our validation (the operator's pydantic models): nothing is created
    request = {
        "name": "sdk-invalid",
        "project": "default",
        "spec": {
            "data_source": "s3://b/table.txt",
            "config": {"generation": {"num_records": -1, "top_p": 2}, "training": {"lora_r": 0}},
        },
    }
    with pytest.raises(InvalidSpec) as ours:
        client.jobs.create(**request)
    assert set(ours.value.paths) == {
        "spec.dataSource",
        "spec.config.generation.num_records",
        "spec.config.generation.top_p",
        "spec.config.training.lora_r",
    }
    with pytest.raises(NotFound):
        client.jobs.retrieve("sdk-invalid")

    # the API server's schema (HTTP 422), every cause
    spec = {"dataSource": demo_data, "backoffLimit": 100, "resources": {"gpu": -1}}
    with pytest.raises(InvalidSpec) as server:
        client.jobs.create(name="sdk-invalid", spec=spec, validate=False)
    assert server.value.status == 422
    assert {"spec.backoffLimit", "spec.resources.gpu"} <= set(server.value.paths), server.value
    with pytest.raises(NotFound):
        client.jobs.retrieve("sdk-invalid")


def test_a_user_without_rights_gets_forbidden(
    release: Release, operator: OperatorProcess, tmp_path: Path
) -> None:
    release.cluster.kubectl("create", "serviceaccount", "sdk-nobody", "-n", release.namespace)
    kubeconfig = release.cluster.token_kubeconfig(
        release.namespace, "sdk-nobody", tmp_path / "nobody.kubeconfig"
    )
    nobody = SafeSynthesizerClient(namespace=release.namespace, kubeconfig=kubeconfig)
    with pytest.raises(Forbidden) as info:
        nobody.jobs.list()
    assert info.value.status == 403 and "sdk-nobody" in str(info.value)
    with pytest.raises(Forbidden):
        nobody.jobs.create(name="sdk-forbidden", spec={"dataSource": f"s3://{BUCKET}/input/demo.csv"})


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- sdk-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md: the SDK example (after <!-- sdk-example -->) is missing"
    return match.group(1)


def test_readme_sdk_example_runs(
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
    code = _readme_example().replace('"data-team"', repr(release.namespace)).replace("my-bucket", BUCKET)
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md#sdk-example", "exec"), scope)  # noqa: S102 - the documented example
    job: Job = scope["job"]
    assert job.phase == "Succeeded", (job.phase, job.message)
    assert job.spec["dataSource"] == f"s3://{BUCKET}/uploads/{release.namespace}/{job.name}/input/data.csv"
    assert job.labels[PROJECT_LABEL] == "default"
    synthetic: pd.DataFrame = scope["synthetic"]
    assert len(synthetic) == job.spec["config"]["generation"]["num_records"]
    assert (tmp_path / "evaluation_report.html").is_file()
    job.delete(wait=True)


def test_builder_with_a_dataframe_upload(client: SafeSynthesizerClient, release: Release) -> None:
    frame = pd.read_csv(ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv").head(240)
    frame = frame[["age", "workclass", "education", "sex", "hours_per_week", "income"]]
    job = (
        SafeSynthesizerJobBuilder(client, project="builder")
        .with_data_source(frame)
        .with_replace_pii(enabled=False)
        .with_train(**SMALL_CONFIG["training"])
        .with_generate(**SMALL_CONFIG["generation"])
        .with_evaluate(enabled=False)
        .with_resources(gpu=0)
        .synthesize(name="sdk-builder")
    )
    key = f"sdk-uploads/{release.namespace}/sdk-builder/input/data.csv"
    assert job.spec["dataSource"] == f"s3://{BUCKET}/{key}"
    uploaded = release.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()  # type: ignore[attr-defined]
    assert pd.read_csv(io.BytesIO(uploaded)).equals(frame)
    job.wait(timeout=JOB_TIMEOUT, raise_on_failure=True)
    assert job.results.to_pandas().shape == (10, frame.shape[1])
    assert [j.name for j in client.jobs.list(project="builder")] == ["sdk-builder"]
    job.delete(wait=True)
