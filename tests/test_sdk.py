"""The Python SDK without a cluster: spec translation, typed errors, the builder, the job handle,
``wait``, and results read from a real runner's output (local folder) and from the loopback S3 server.

The cluster half (create/wait/list/download/delete through a real API server and operator) is
``tests/operator/test_sdk_cluster.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from safe_synthesizer import contract
from safe_synthesizer.cli import main as cli_main
from safe_synthesizer.config import S3Settings, SafeSynthesizerJobSpec
from safe_synthesizer.sdk import (
    PROJECT_LABEL,
    AlreadyExists,
    ApiError,
    Forbidden,
    InvalidSpec,
    Job,
    JobFailed,
    NotFound,
    SafeSynthesizerClient,
    SafeSynthesizerJobBuilder,
    Timeout,
    build_manifest,
)
from safe_synthesizer.sdk.client import wait_until_done
from safe_synthesizer.sdk.errors import from_api_exception
from safe_synthesizer_operator import status as st

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
NOW = "2026-01-02T03:04:05Z"

# The seeds' REST job request, as in their documentation (seed-rest-api.txt), unchanged.
SEEDS_REQUEST: dict[str, Any] = {
    "name": "my-safe-synthesizer-job",
    "project": "default",
    "spec": {
        "data_source": "s3://datasets/default/my-dataset.csv",
        "config": {
            "enable_synthesis": True,
            "enable_replace_pii": True,
            "replace_pii": {
                "globals": {"locales": ["en_US"]},
                "steps": [
                    {
                        "rows": {
                            "update": [{"entity": ["email", "phone_number"], "value": "column.entity | fake"}]
                        }
                    }
                ],
            },
            "generation": {"num_records": 5000, "temperature": 0.8},
            "privacy": {"privacy_hyperparams": {"dp": True, "epsilon": 6.0}},
            "evaluation": {"mia_enabled": True, "aia_enabled": True},
        },
    },
}


def offline_client(**kwargs: Any) -> SafeSynthesizerClient:
    """A client that never reaches a cluster: these tests only use its local and S3 parts."""
    return SafeSynthesizerClient(namespace="data-team", kubeconfig="/nonexistent/kubeconfig", **kwargs)


# -- spec translation ------------------------------------------------------------------------------


def test_seeds_request_becomes_a_manifest_unchanged() -> None:
    request = json.loads(json.dumps(SEEDS_REQUEST))
    manifest = build_manifest(
        request["name"], request["spec"], namespace="data-team", project=request["project"], description="d"
    )
    assert (
        manifest["apiVersion"] == "safesynthesizer.io/v1alpha1" and manifest["kind"] == "SafeSynthesizerJob"
    )
    assert manifest["metadata"] == {
        "name": "my-safe-synthesizer-job",
        "namespace": "data-team",
        "labels": {PROJECT_LABEL: "default"},
        "annotations": {"safesynthesizer.io/description": "d"},
    }
    assert manifest["spec"] == {
        "dataSource": "s3://datasets/default/my-dataset.csv",
        "config": SEEDS_REQUEST["spec"]["config"],  # the user's values, not filled-in defaults
    }
    assert request == SEEDS_REQUEST  # the caller's request is not modified


def test_cr_spec_and_spec_model_pass_through() -> None:
    spec = {"dataSource": "s3://b/in.csv", "output": "s3://b/out/", "resources": {"gpu": 0}}
    assert build_manifest("a", spec)["spec"] == spec
    model = SafeSynthesizerJobSpec.model_validate({**spec, "config": {"generation": {"num_records": 7}}})
    sent = build_manifest("a", model)["spec"]
    assert sent["config"] == {"generation": {"num_records": 7}} and sent["resources"] == {"gpu": 0}


def test_invalid_spec_lists_every_field_error() -> None:
    spec = {
        "data_source": "s3://b/table.txt",
        "config": {"generation": {"num_records": -5, "temprature": 0.5}, "privacy": {"epsilon": -1}},
    }
    with pytest.raises(InvalidSpec) as info:
        build_manifest("Bad_Name", spec, project="not a label!")
    paths = info.value.paths
    assert "metadata.name" in paths
    assert f"metadata.labels.{PROJECT_LABEL}" in paths
    assert "spec.dataSource" in paths
    assert "spec.config.generation.num_records" in paths
    assert "spec.config.generation.temprature" in paths
    assert "spec.config.privacy.epsilon" in paths
    assert len(info.value.errors) == 6, info.value
    assert "temperature" in str(info.value)  # the typo gets a suggestion
    with pytest.raises(InvalidSpec) as missing:
        build_manifest(None, {"dataSource": "s3://b/x.csv"})
    assert missing.value.paths == ["metadata.name"]
    assert build_manifest(None, {"dataSource": "x"}, validate=False)["spec"] == {"dataSource": "x"}


# -- typed errors from the API server ------------------------------------------------------------------


def api_exception(status: int, body: dict[str, Any] | str) -> ApiException:
    """A real ``ApiException`` carrying what the API server sends (a ``Status`` object)."""
    exc = ApiException(status=status, reason="reason")
    exc.body = body if isinstance(body, str) else json.dumps(body)
    return exc


def test_api_server_422_becomes_invalid_spec_with_every_cause() -> None:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'SafeSynthesizerJob.safesynthesizer.io "x" is invalid: [...]',
        "reason": "Invalid",
        "details": {
            "name": "x",
            "group": "safesynthesizer.io",
            "kind": "SafeSynthesizerJob",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: 100: spec.backoffLimit in body should be less than or equal to 20",
                    "field": "spec.backoffLimit",
                },
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: -1: spec.resources.gpu in body should be greater than or equal to 0",
                    "field": "spec.resources.gpu",
                },
            ],
        },
        "code": 422,
    }
    error = from_api_exception(api_exception(422, body), "create ns/x")
    assert isinstance(error, InvalidSpec) and error.status == 422
    assert error.paths == ["spec.backoffLimit", "spec.resources.gpu"]
    assert "less than or equal to 20" in str(error)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, NotFound), (403, Forbidden), (401, Forbidden), (409, AlreadyExists), (500, ApiError)],
)
def test_api_errors_are_typed(status: int, kind: type) -> None:
    body = {"kind": "Status", "message": f'safesynthesizerjobs "x" says {status}', "code": status}
    error = from_api_exception(api_exception(status, body), "job ns/x")
    assert type(error) is kind and error.status == status
    assert str(error) == f'job ns/x: safesynthesizerjobs "x" says {status}'
    assert isinstance(from_api_exception(api_exception(status, "not json")), kind)


# -- builder ---------------------------------------------------------------------------------------


def test_builder_spells_the_config_sections() -> None:
    builder = (
        SafeSynthesizerJobBuilder(offline_client(), project="default")
        .with_data_source("s3://b/in.csv")
        .with_replace_pii({"globals": {"locales": ["en_GB"]}})
        .with_train(num_input_records_to_sample=5000, learning_rate=0.001)
        .with_generate(num_records=100, temperature=0.7)
        .with_generate(top_p=0.9)
        .with_differential_privacy(epsilon=4.0, delta=1e-5)
        .with_evaluate(mia_enabled=False)
        .with_resources(gpu=0)
    )
    manifest = builder.build("customers")
    assert manifest["metadata"]["labels"] == {PROJECT_LABEL: "default"}
    assert manifest["metadata"]["namespace"] == "data-team"
    assert manifest["spec"] == {
        "dataSource": "s3://b/in.csv",
        "resources": {"gpu": 0},
        "config": {
            "enable_replace_pii": True,
            "replace_pii": {"globals": {"locales": ["en_GB"]}},
            "training": {"num_input_records_to_sample": 5000, "learning_rate": 0.001},
            "generation": {"num_records": 100, "temperature": 0.7, "top_p": 0.9},
            "privacy": {"dp_enabled": True, "epsilon": 4.0, "delta": 1e-5},
            "evaluation": {"enabled": True, "mia_enabled": False},
        },
    }
    bad = SafeSynthesizerJobBuilder(offline_client()).with_data_source("s3://b/in.csv")
    with pytest.raises(InvalidSpec) as info:
        bad.with_generate(num_records=0).with_differential_privacy(epsilon=-2).build("x")
    assert set(info.value.paths) == {"spec.config.generation.num_records", "spec.config.privacy.epsilon"}
    with pytest.raises(TypeError):
        bad.with_data_source(42)


def test_invalid_spec_uploads_nothing(s3_env, tmp_path) -> None:
    s3 = s3_env.client()
    s3.create_bucket(Bucket="uploads")
    client = offline_client(upload_prefix="s3://uploads/sdk/", s3_client=s3)
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with pytest.raises(InvalidSpec) as info:
        client.jobs.create(name="bad", spec={"config": {"generation": {"num_records": -1}}}, data=df)
    assert info.value.paths == ["spec.config.generation.num_records"]
    assert s3.list_objects_v2(Bucket="uploads").get("KeyCount") == 0
    with pytest.raises(InvalidSpec, match="upload_prefix"):
        offline_client().jobs.create(name="x", spec={}, data=df)
    with pytest.raises(InvalidSpec, match="local file"):
        client.jobs.create(name="x", spec={"dataSource": "s3://b/in.csv"}, upload=True)


# -- the job handle and wait ---------------------------------------------------------------------------


def cr(phase: str | None, progress: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "safesynthesizer.io/v1alpha1",
        "kind": "SafeSynthesizerJob",
        "metadata": {
            "name": "j",
            "namespace": "data-team",
            "uid": "u",
            "creationTimestamp": NOW,
            "labels": {PROJECT_LABEL: "p"},
        },
        "spec": {"dataSource": "s3://b/in.csv"},
        "status": {"phase": phase, "progress": progress, **status},
    }


def test_job_handle_reads_the_status() -> None:
    job = Job.from_resource(
        cr(
            "Failed",
            {"stage": "generate", "percent": 80.0, "message": "m", "updatedAt": NOW},
            scores={"sqs": 5.0},
            results=[{"id": "summary", "format": "json", "url": "s3://b/o/summary.json"}, {"id": "broken"}],
            conditions=[{"type": "Failed", "status": "True", "reason": "NoValidRecords", "message": "m"}],
            message="no valid record",
        )
    )
    assert (job.id, job.namespace, job.project, job.phase, job.status) == (
        "j",
        "data-team",
        "p",
        "Failed",
        "error",
    )
    assert job.progress is not None and job.progress.stage == "generate" and job.progress.percent == 80.0
    assert job.scores is not None and job.scores.sqs == 5.0 and job.scores.dps is None
    assert [r.id for r in job.results] == ["summary"] and len(job.results) == 1
    assert job.reason == "NoValidRecords" and job.done
    assert Job.from_resource(cr(None)).status == "created"
    newer = Job.from_resource(cr("Running", {"stage": "train", "percent": 5, "etaSeconds": 30}))
    assert newer.progress is not None and newer.progress.stage == "train"  # unknown keys are ignored
    assert Job.from_resource(cr("Running", {"percent": "lots"})).progress is None
    with pytest.raises(Exception, match="no client"):
        job.refresh()


class ScriptedFetch:
    """TEST STAND-IN for reading the CR: returns the given states in turn, with a fake clock."""

    def __init__(self, *states: dict[str, Any]) -> None:
        self.states = list(states)
        self.now = 0.0
        self.calls = 0

    def fetch(self) -> Job:
        self.calls += 1
        return Job.from_resource(self.states[min(self.calls - 1, len(self.states) - 1)])

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_reports_each_change_once_and_returns_the_finished_job() -> None:
    running = {"stage": "train", "percent": 30.0, "message": "", "updatedAt": NOW}
    script = ScriptedFetch(
        cr("Pending"), cr("Pending"), cr("Running", running), cr("Running", running), cr("Succeeded")
    )
    seen: list[str | None] = []
    job = wait_until_done(
        script.fetch, 60, lambda j: seen.append(j.phase), 1.0, clock=script.clock, sleep=script.sleep
    )
    assert job.phase == "Succeeded" and seen == ["Pending", "Running", "Succeeded"]
    assert script.now == 4.0


def test_wait_times_out_and_raises_on_failure_when_asked() -> None:
    script = ScriptedFetch(cr("Running"))
    with pytest.raises(Timeout) as info:
        wait_until_done(script.fetch, 5, poll_interval=2, clock=script.clock, sleep=script.sleep)
    assert info.value.job.phase == "Running" and script.now == 5.0
    failed = ScriptedFetch(cr("Failed", message="bad input"))
    with pytest.raises(JobFailed, match="bad input"):
        wait_until_done(failed.fetch, 5, raise_on_failure=True, clock=failed.clock, sleep=failed.sleep)
    assert wait_until_done(failed.fetch, 5, clock=failed.clock, sleep=failed.sleep).phase == "Failed"


# -- results: a real runner's output, read through the operator's status --------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> dict[str, Any]:
    """A real ``safe-synthesizer run`` (240 rows, 10 records) to a local folder, and the CR the
    operator's status code makes of its termination message."""
    tmp = tmp_path_factory.mktemp("sdk-run")
    data = tmp / "data.csv"
    pd.read_csv(DEMO)[["age", "workclass", "education", "sex", "income"]].head(240).to_csv(data, index=False)
    config = tmp / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"enable_replace_pii": False, "evaluation": {"enabled": False}, "generation": {"num_records": 10}}
        )
    )
    log = tmp / "termination-log"
    log.write_text("")
    out = tmp / "out"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(contract.ENV_TERMINATION_LOG, str(log))
        env.setenv(contract.ENV_CACHE, str(tmp / "cache"))
        argv = ["run", "-c", str(config), "--data-source", str(data), "-o", str(out), "-q", "--device", "cpu"]
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            code = cli_main(argv)
    assert code == 0
    pod = {
        "metadata": {"name": "p", "creationTimestamp": NOW},
        "status": {
            "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "message": log.read_text()}}}]
        },
    }
    job = {
        "metadata": {"name": "ssj-j-1"},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    status = st.status_from_job({}, st.observe_job(job, [pod]), 1, NOW)
    resource = cr(None)
    resource["status"] = status
    return {"out": out, "resource": resource}


@pytest.mark.slow
def test_results_of_a_real_run_list_download_and_load(finished_run, tmp_path) -> None:
    out: Path = finished_run["out"]
    client = offline_client()
    job = Job.from_resource(finished_run["resource"], client)
    assert job.phase == "Succeeded" and job.status == "completed"
    listed = client.jobs.results.list(job)
    index = json.loads((out / "results.json").read_text())
    assert [(r.id, r.format, r.canonical, r.url, r.size_bytes) for r in listed] == [
        (r["id"], r["format"], r["canonical"], r["url"], r["sizeBytes"]) for r in index["results"]
    ]
    canonical = next(r for r in listed if r.canonical)
    assert (
        canonical.id == "synthetic_data"
        and canonical.size_bytes == (out / "synthetic_data.csv").stat().st_size
    )
    assert client.jobs.results.download("synthetic_data", job) == (out / "synthetic_data.csv").read_bytes()
    written = job.results.download("synthetic_data_parquet", tmp_path / "copy.parquet")
    assert (
        written == tmp_path / "copy.parquet"
        and written.read_bytes() == (out / "synthetic_data.parquet").read_bytes()
    )
    adapter = client.jobs.results.download("adapter", job, path=tmp_path / "adapter")
    assert sorted(p.name for p in Path(adapter).iterdir()) == sorted(
        p.name for p in (out / "adapter").iterdir()
    )
    table = job.results.to_pandas()
    assert list(table.columns) == ["age", "workclass", "education", "sex", "income"] and len(table) == 10
    assert job.results.to_pandas("synthetic_data_parquet").shape == table.shape
    with pytest.raises(NotFound):
        client.jobs.results.download("nope", job)


def test_results_from_s3_index_and_missing_objects(s3_env, tmp_path) -> None:
    s3 = s3_env.client()
    s3.create_bucket(Bucket="out")
    table = b"a,b\n1,x\n2,y\n"
    index = contract.ResultsIndex(
        status="succeeded",
        results=[
            contract.ResultRef(
                id="synthetic_data",
                format="csv",
                canonical=True,
                url="s3://out/j/synthetic_data.csv",
                sizeBytes=len(table),
            ),
            contract.ResultRef(
                id="evaluation_report", format="html", url="s3://out/j/evaluation_report.html"
            ),
            contract.ResultRef(id="summary", format="json", url="s3://out/j/summary.json", sizeBytes=2),
        ],
    )
    s3.put_object(Bucket="out", Key="j/synthetic_data.csv", Body=table)
    s3.put_object(Bucket="out", Key="j/summary.json", Body=b"{}")
    s3.put_object(Bucket="out", Key="j/results.json", Body=json.dumps(index.to_wire()).encode())
    resource = cr(
        "Succeeded", results=[{"id": "summary", "format": "json", "url": "s3://out/j/summary.json"}]
    )
    resource["spec"]["s3"] = {"endpoint": s3_env.endpoint_url, "addressingStyle": "path"}
    client = offline_client()  # the job's own spec.s3 endpoint + the AWS environment
    job = Job.from_resource(resource, client)
    assert [r.id for r in client.jobs.results.list(job)] == ["synthetic_data", "evaluation_report", "summary"]
    assert client.jobs.results.download("synthetic_data", job) == table
    assert job.results.to_pandas().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    with pytest.raises(NotFound, match="evaluation_report"):  # listed, but not in the bucket
        client.jobs.results.download("evaluation_report", job)
    explicit = offline_client(s3=S3Settings(endpoint=s3_env.endpoint_url, addressingStyle="path"))
    assert (
        explicit.jobs.results.download("synthetic_data", job, path=tmp_path / "d.csv").read_bytes() == table
    )
    s3.delete_object(Bucket="out", Key="j/results.json")  # no index: the status' references
    assert [r.id for r in client.jobs.results.list(job)] == ["summary"]
