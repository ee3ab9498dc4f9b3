"""The web console's pages through Flask's test client (no cluster): CSRF refusal, form validation
errors that name their field, and no record value on any page but the user's own downloads.

The Kubernetes side is a small in-memory stand-in for ``client.jobs`` (the real API server is used
by ``tests/operator/test_console_browser.py``); S3 is the real loopback moto server, so uploads
really travel.
"""

from __future__ import annotations

import copy
import io
import re
from typing import Any

import pytest

pytest.importorskip("flask_wtf")

from safe_synthesizer.config import S3Settings  # noqa: E402
from safe_synthesizer.console import ConsoleSettings, create_app  # noqa: E402
from safe_synthesizer.sdk import Job, SafeSynthesizerClient  # noqa: E402
from safe_synthesizer.sdk.errors import Forbidden, NotFound  # noqa: E402
from safe_synthesizer.sdk.spec import build_manifest  # noqa: E402

NS = "team-a"
BUCKET = "console-unit"
# Values that must never appear on a page: they are records of the uploaded table.
SECRET_ROWS = [
    ("Zebulon Quartermaine", "zebulon.q@example.org", "987-65-4329", "41", "Private"),
    ("Philippa Oyelaran-Voss", "p.oyelaran@example.net", "123-45-6781", "37", "Self-emp"),
]
SECRET_VALUES = [v for row in SECRET_ROWS for v in row[:3]]
CSV = ("name,email,ssn,age,workclass\n" + "\n".join(",".join(r) for r in SECRET_ROWS * 20) + "\n").encode()


class MemoryJobs:
    """``client.jobs`` over a dict of CRs (what the API server would hold)."""

    def __init__(self, store: dict[str, dict[str, Any]], client: Any, forbidden: set[str]) -> None:
        self.store = store
        self.client = client
        self.forbidden = forbidden
        self.results = self

    def _check(self, namespace: str) -> None:
        if namespace in self.forbidden:
            raise Forbidden(
                f'safesynthesizerjobs.safesynthesizer.io is forbidden: User "alice" cannot list in "{namespace}"'
            )

    def list(self, namespace: str | None = None, **_: Any) -> list[Job]:
        self._check(namespace or NS)
        return [
            Job.from_resource(r, self.client)
            for r in self.store.values()
            if r["metadata"]["namespace"] == namespace
        ]

    def retrieve(self, name: str, namespace: str | None = None) -> Job:
        self._check(namespace or NS)
        if name not in self.store:
            raise NotFound(f"job {namespace}/{name}: not found")
        return Job.from_resource(self.store[name], self.client)

    def create(
        self,
        name: str,
        spec: dict[str, Any],
        project: str | None = None,
        namespace: str | None = None,
        **_: Any,
    ) -> Job:
        self._check(namespace or NS)
        manifest = build_manifest(name, spec, namespace=namespace, project=project)
        manifest["metadata"].update(uid="u-1", creationTimestamp="2026-12-02T10:00:00Z")
        manifest["status"] = {
            "phase": "Running",
            "startTime": "2026-12-02T10:00:00Z",
            "jobName": f"{name}-run",
            "progress": {"stage": "train", "percent": 40.0, "message": "training step 40 of 100"},
        }
        self.store[name] = manifest
        return Job.from_resource(manifest, self.client)

    def delete(self, name: str, namespace: str | None = None, **_: Any) -> None:
        self._check(namespace or NS)
        if self.store.pop(name, None) is None:
            raise NotFound(name)

    def logs(self, name: str, namespace: str | None = None, **_: Any) -> str:
        return '{"stage": "train", "percent": 40, "message": "training step 40 of 100"}\n'

    def list_results(self, job: Job) -> list[Any]:
        return list(job.result_refs)


@pytest.fixture
def console(s3_env: Any) -> Any:
    s3 = s3_env.client()
    s3.create_bucket(Bucket=BUCKET)
    store: dict[str, dict[str, Any]] = {}
    settings = ConsoleSettings(
        auth="kubeconfig",
        namespace=NS,
        upload_prefix=f"s3://{BUCKET}/uploads/",
        s3_endpoint=s3_env.endpoint_url,
        s3_addressing_style="path",
        secret_key="unit-test",
        job_defaults={"resources": {"gpu": 0}},
    )
    forbidden = {"team-b"}

    def factory(namespace: str) -> SafeSynthesizerClient:
        client = SafeSynthesizerClient(
            namespace=namespace, s3=S3Settings(endpoint=s3_env.endpoint_url, addressingStyle="path")
        )
        jobs = MemoryJobs(store, client, forbidden)
        jobs.results = _Results(jobs)  # type: ignore[assignment]
        client.jobs = jobs  # type: ignore[assignment]
        return client

    app = create_app(settings, client_factory=factory)
    app.config["TESTING"] = True
    return app, store, s3


class _Results:
    def __init__(self, jobs: MemoryJobs) -> None:
        self.jobs = jobs

    def list(self, job: Job) -> list[Any]:
        return list(job.result_refs)


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        rb'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page
    )
    assert match, page[:2000]
    return match.group(1).decode()


def _form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "customers-v1",
        "project": "",
        "dataset_url": "",
        "group_by": "",
        "order_by": "",
        "num_records": "500",
        "privacy": "standard",
        "epsilon": "8",
        "temperature": "",
        "top_p": "",
        "num_input_records_to_sample": "",
        "rope_scaling_factor": "",
        "enable_replace_pii": "y",
    }
    data.update(overrides)
    return data


def test_posts_without_a_csrf_token_are_refused(console: Any) -> None:
    app, store, _ = console
    store["keep-me"] = copy.deepcopy(
        build_manifest("keep-me", {"dataSource": "s3://b/in.csv"}, namespace=NS)
        | {"status": {"phase": "Succeeded"}}
    )
    client = app.test_client()
    answer = client.post(f"/namespaces/{NS}/jobs/delete", data={"selected": ["keep-me"], "confirm": "yes"})
    assert answer.status_code == 400 and b"The form was refused" in answer.data
    assert "keep-me" in store
    answer = client.post(f"/namespaces/{NS}/new", data=_form(dataset_url="s3://b/in.csv", submit="yes"))
    assert answer.status_code == 400 and "customers-v1" not in store
    # a token from another session is refused too
    other = app.test_client()
    token = _csrf(other.get(f"/namespaces/{NS}/new").data)
    answer = client.post(
        f"/namespaces/{NS}/jobs/delete", data={"selected": ["keep-me"], "confirm": "yes", "csrf_token": token}
    )
    assert answer.status_code == 400 and "keep-me" in store
    # with its own token the same request works
    token = _csrf(client.get(f"/namespaces/{NS}/jobs").data)
    answer = client.post(
        f"/namespaces/{NS}/jobs/delete", data={"selected": ["keep-me"], "confirm": "yes", "csrf_token": token}
    )
    assert answer.status_code == 302 and "keep-me" not in store


def test_every_form_has_a_csrf_token(console: Any) -> None:
    app, store, _ = console
    client = app.test_client()
    store["j1"] = build_manifest("j1", {"dataSource": "s3://b/in.csv"}, namespace=NS)
    for url in (f"/namespaces/{NS}/jobs", f"/namespaces/{NS}/new", f"/namespaces/{NS}/jobs/j1"):
        page = client.get(url).data.decode()
        forms = re.findall(r"<form\b.*?</form>", page, re.S)
        assert forms, url
        for form in forms:
            assert 'name="csrf_token"' in form, (url, form[:300])


def test_validation_errors_name_their_field(console: Any) -> None:
    app, store, _ = console
    client = app.test_client()
    token = _csrf(client.get(f"/namespaces/{NS}/new").data)
    answer = client.post(
        f"/namespaces/{NS}/new",
        data=_form(
            csrf_token=token,
            name="Bad_Name",
            num_records="0",
            privacy="highest",
            epsilon="",
            order_by="ts",
            top_p="1.5",
        ),
    )
    page = answer.data.decode()
    assert answer.status_code == 422
    for message in (
        "Job name: lower-case letters, digits and &#39;-&#39;",
        "Number of records:",
        "Epsilon: the Highest privacy level needs a privacy budget",
        "Order column: ordering needs a group column too",
        "top_p: between 0.01 and 1",
        "Dataset: upload a CSV, JSONL or Parquet file, or name an existing object",
    ):
        assert message in page, message
    assert not store

    answer = client.post(
        f"/namespaces/{NS}/new", data=_form(csrf_token=token, dataset_url="s3://b/table.txt")
    )
    assert answer.status_code == 422 and "Existing object: must end in .csv" in answer.data.decode()
    answer = client.post(
        f"/namespaces/{NS}/new",
        data={**_form(csrf_token=token), "dataset_file": (io.BytesIO(b"a,b\n1,2\n"), "table.xlsx")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422 and "only .csv, .jsonl, .json or .parquet files" in answer.data.decode()
    assert not store


def test_wizard_uploads_creates_and_no_record_value_reaches_a_page(console: Any) -> None:
    app, store, s3 = console
    client = app.test_client()
    token = _csrf(client.get(f"/namespaces/{NS}/new").data)
    review = client.post(
        f"/namespaces/{NS}/new",
        data={
            **_form(csrf_token=token, group_by="", temperature="0.8", top_p="0.95", rope_scaling_factor="2"),
            "dataset_file": (io.BytesIO(CSV), "customers.csv"),
        },
        content_type="multipart/form-data",
    )
    assert review.status_code == 200, review.data.decode()[:3000]
    pages = {"review": review.data.decode()}
    url = f"s3://{BUCKET}/uploads/{NS}/customers-v1/input/customers.csv"
    assert url in pages["review"] and not store  # uploaded, not yet created
    body = s3.get_object(Bucket=BUCKET, Key=f"uploads/{NS}/customers-v1/input/customers.csv")["Body"].read()
    assert body == CSV

    submitted = client.post(
        f"/namespaces/{NS}/new",
        data=_form(
            csrf_token=token,
            dataset_url=url,
            temperature="0.8",
            top_p="0.95",
            rope_scaling_factor="2",
            submit="yes",
        ),
    )
    assert submitted.status_code == 302 and submitted.headers["Location"].endswith(
        f"/namespaces/{NS}/jobs/customers-v1"
    )
    spec = store["customers-v1"]["spec"]
    assert spec["dataSource"] == url and spec["resources"] == {"gpu": 0}
    assert spec["config"]["generation"] == {"num_records": 500, "temperature": 0.8, "top_p": 0.95}
    assert (
        spec["config"]["training"] == {"rope_scaling_factor": 2}
        and spec["config"]["enable_replace_pii"] is True
    )

    pages["list"] = client.get(f"/namespaces/{NS}/jobs").data.decode()
    pages["detail"] = client.get(f"/namespaces/{NS}/jobs/customers-v1").data.decode()
    pages["status"] = client.get(f"/namespaces/{NS}/jobs/customers-v1/status.json").data.decode()
    assert "customers.csv" in pages["list"] and "active" in pages["list"]
    assert "train" in pages["detail"] and "40 %" in pages["detail"]
    status = client.get(f"/namespaces/{NS}/jobs/customers-v1/status.json").get_json()
    assert (
        status["stage"] == "train" and status["etaSeconds"] is not None and status["eta"].startswith("about")
    )
    for page_name, page in pages.items():
        for value in SECRET_VALUES:
            assert value not in page, f"{value!r} (a record value) on the {page_name} page"


def test_forbidden_namespace_shows_an_error_not_jobs(console: Any) -> None:
    app, store, _ = console
    store["their-job"] = build_manifest("their-job", {"dataSource": "s3://b/in.csv"}, namespace="team-b")
    answer = app.test_client().get("/namespaces/team-b/jobs")
    page = answer.data.decode()
    assert answer.status_code == 403 and "Not allowed" in page and "their-job" not in page


def test_url_prefix_links(s3_env: Any) -> None:
    settings = ConsoleSettings(
        auth="token", api_server="https://127.0.0.1:1", url_prefix="/synth", secret_key="x"
    )
    app = create_app(settings)
    client = app.test_client()
    answer = client.get("/synth/namespaces/a/jobs")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/synth/login")
    page = client.get("/synth/login").data.decode()
    assert 'href="/synth/static/console.css"' in page and 'action="/synth/' not in page  # posts to itself
    assert client.get("/healthz").status_code == 200
