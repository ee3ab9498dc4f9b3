"""The operator end to end on a real control plane: the chart, the real runner, S3 on loopback.

One operator process (the chart's ServiceAccount, the Deployment's settings) serves the module;
``test_operator_restart_mid_job`` kills it and starts another. Jobs run the real
``safe-synthesizer run`` in pods (the node agent runs them as local processes) against the moto S3
server, with a small CPU configuration (``builtin:tiny-llama``, 64 training records, 10 generated
records) so that a whole job takes 15-40 s here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import JOB_SA, ROOT, SMALL_CONFIG, OperatorProcess, Release, ssj_manifest, wait_for
from kubernetes import client as k8s
from kubernetes import config as k8s_config

pytestmark = pytest.mark.cluster

GROUP, VERSION, PLURAL = "safesynthesizer.io", "v1alpha1", "safesynthesizerjobs"
JOB_TIMEOUT = 240


@pytest.fixture(scope="module")
def api(release: Release) -> k8s.CustomObjectsApi:
    """Admin client for reading CRs quickly (no kubectl process per poll)."""
    return k8s.CustomObjectsApi(
        k8s_config.new_client_from_config(config_file=str(release.cluster.kubeconfig))
    )


@pytest.fixture(scope="module")
def operator(release: Release, demo_data: str) -> Iterator[OperatorProcess]:
    """The operator for this module: every namespace, as the chart installs it by default (this
    control plane is the operator tests' own), with a fast resync so that waits are short."""
    process = release.operator(clusterwide=True, SSO_RESYNC_SECONDS="3", SSO_WAIT_SECONDS="2").start()
    yield process
    process.stop()


def get_cr(api: k8s.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def phase_of(api: k8s.CustomObjectsApi, namespace: str, name: str) -> str | None:
    cr = get_cr(api, namespace, name) or {}
    return (cr.get("status") or {}).get("phase")


def wait_phase(
    api: k8s.CustomObjectsApi, namespace: str, name: str, *phases: str, timeout: float = JOB_TIMEOUT
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        cr = get_cr(api, namespace, name)
        return cr if cr and (cr.get("status") or {}).get("phase") in phases else None

    return wait_for(check, timeout, f"{namespace}/{name} to reach {'/'.join(phases)}")


def condition(cr: dict[str, Any], ctype: str) -> dict[str, Any]:
    for entry in (cr.get("status") or {}).get("conditions") or []:
        if entry["type"] == ctype:
            return entry
    raise AssertionError(f"no condition {ctype} in {cr.get('status')}")


def jobs_of(release: Release, uid: str) -> list[dict[str, Any]]:
    return release.cluster.kubectl_json(
        "get", "jobs", "-n", release.namespace, "-l", f"safesynthesizer.io/job-uid={uid}"
    )["items"]


def pods_of(release: Release, uid: str) -> list[dict[str, Any]]:
    return release.cluster.kubectl_json(
        "get", "pods", "-n", release.namespace, "-l", f"safesynthesizer.io/job-uid={uid}"
    )["items"]


def events_of(release: Release, name: str) -> list[dict[str, Any]]:
    return release.cluster.kubectl_json(
        "get",
        "events",
        "-n",
        release.namespace,
        "--field-selector",
        f"involvedObject.name={name},involvedObject.kind=SafeSynthesizerJob",
    )["items"]


def apply(release: Release, *manifests: dict[str, Any]) -> str:
    return release.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(manifests))


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "examples" / name).read_text())


def s3_key(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


class StatusRecorder:
    """Polls CRs in a thread and records every (phase, progress) seen: the live progress check."""

    def __init__(self, api: k8s.CustomObjectsApi, namespace: str, names: list[str]) -> None:
        self.api, self.namespace, self.names = api, namespace, names
        self.seen: dict[str, list[tuple[str | None, dict[str, Any] | None, list[dict[str, Any]]]]] = {
            n: [] for n in names
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in self.names:
                try:
                    cr = get_cr(self.api, self.namespace, name)
                except Exception:  # noqa: BLE001 - a missed poll is fine
                    continue
                status = (cr or {}).get("status") or {}
                entry = (status.get("phase"), status.get("progress"), status.get("conditions") or [])
                if not self.seen[name] or self.seen[name][-1] != entry:
                    self.seen[name].append(entry)
            time.sleep(0.3)

    def __enter__(self) -> StatusRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# the chart


def test_chart_install_creates_crd_rbac_and_deployment(release: Release) -> None:
    cluster, ns = release.cluster, release.namespace
    crd = cluster.kubectl_json("get", "crd", "safesynthesizerjobs.safesynthesizer.io")
    established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert established.get("Established") == "True"
    chart_crd = yaml.safe_load(
        (ROOT / "charts/safe-synthesizer/crds/safesynthesizer.io_safesynthesizerjobs.yaml").read_text()
    )
    assert crd["spec"]["versions"][0]["schema"] == chart_crd["spec"]["versions"][0]["schema"]

    deployment = cluster.kubectl_json("get", "deployment", "safe-synthesizer-operator", "-n", ns)
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "safe-synthesizer-operator"

    job_sa = cluster.kubectl_json("get", "serviceaccount", JOB_SA, "-n", ns)
    assert job_sa["automountServiceAccountToken"] is False
    role = cluster.kubectl_json("get", "role", f"{JOB_SA}-progress", "-n", ns)
    assert role["rules"] == [
        {
            "apiGroups": ["safesynthesizer.io"],
            "resources": ["safesynthesizerjobs/status"],
            "verbs": ["get", "patch"],
        }
    ]
    for name in ("operator", "operator-discovery", "editor", "viewer"):
        cluster.kubectl("get", "clusterrole", f"safe-synthesizer-{name}")
    cluster.kubectl("get", "service", "safe-synthesizer-metrics", "-n", ns)

    def can(account: str, *args: str) -> bool:
        out = cluster.kubectl(
            "auth", "can-i", *args, "-n", ns, f"--as=system:serviceaccount:{ns}:{account}", check=False
        )
        return out.strip() == "yes"

    # least privilege: the job account may only report progress; the operator never reads Secrets.
    assert can(JOB_SA, "patch", "safesynthesizerjobs.safesynthesizer.io", "--subresource=status")
    assert not can(JOB_SA, "patch", "safesynthesizerjobs.safesynthesizer.io")
    assert not can(JOB_SA, "get", "secrets")
    assert not can(JOB_SA, "create", "pods")
    assert can("safe-synthesizer-operator", "create", "jobs.batch")
    assert can(
        "safe-synthesizer-operator", "patch", "safesynthesizerjobs.safesynthesizer.io", "--subresource=status"
    )
    assert not can("safe-synthesizer-operator", "get", "secrets")
    assert not can("safe-synthesizer-operator", "create", "pods")


# ---------------------------------------------------------------------------------------------
# validation


def test_schema_invalid_manifest_is_rejected_by_the_api_server(
    release: Release, operator: OperatorProcess
) -> None:
    bad = ssj_manifest(
        "schema-bad",
        release.namespace,
        {"dataSource": "s3://b/in.csv", "backoffLimit": 99, "resources": {"gpu": -1}},
    )
    out = release.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(bad), check=False)
    assert "is invalid" in out and "spec.backoffLimit" in out and "spec.resources.gpu" in out, out
    assert "NotFound" in release.cluster.kubectl(
        "get", "ssj", "schema-bad", "-n", release.namespace, check=False
    )


def test_semantically_invalid_spec_fails_with_every_error_and_no_job(
    release: Release, operator: OperatorProcess, api
) -> None:
    # Accepted by the API server (no schema can say these), rejected by the runner's models.
    spec = {
        "dataSource": "s3://safe-synth-demo/input/demo.txt",
        "resources": {"gpu": 0},
        "config": {"training": {"learning_rate": "fast"}, "privacy": {"delta": 3}},
    }
    apply(release, ssj_manifest("semantic-bad", release.namespace, spec))
    cr = wait_phase(api, release.namespace, "semantic-bad", "Failed", timeout=60)
    failed = condition(cr, "Failed")
    assert failed["status"] == "True" and failed["reason"] == "InvalidSpec"
    for path in ("spec.dataSource", "spec.config.training.learning_rate", "spec.config.privacy"):
        assert path in failed["message"], failed["message"]
    assert "3 error(s)" in cr["status"]["message"]
    assert jobs_of(release, cr["metadata"]["uid"]) == []
    events = events_of(release, "semantic-bad")
    assert any(e["type"] == "Warning" and e["reason"] == "InvalidSpec" for e in events), events
    assert not cr["metadata"].get("finalizers")


def test_spec_the_job_api_rejects_fails_with_the_api_message(
    release: Release, operator: OperatorProcess, api
) -> None:
    # Valid for the CRD and the models, but the Job API refuses tolerationSeconds with NoSchedule.
    spec = {
        "dataSource": "s3://safe-synth-demo/input/demo.csv",
        "output": "s3://safe-synth-demo/output/job-bad/",
        "resources": {"gpu": 0},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}],
    }
    apply(release, ssj_manifest("job-bad", release.namespace, spec))
    cr = wait_phase(api, release.namespace, "job-bad", "Failed", timeout=60)
    failed = condition(cr, "Failed")
    assert failed["reason"] == "InvalidJob" and "tolerations[0]" in failed["message"], failed
    assert jobs_of(release, cr["metadata"]["uid"]) == []


# ---------------------------------------------------------------------------------------------
# the real runner: examples/minimal.yaml, then generation only with its adapter


@pytest.fixture(scope="module")
def pipeline_runs(release: Release, operator: OperatorProcess, api) -> Iterator[StatusRecorder]:
    """Apply examples/minimal.yaml (+ the small CPU config) and, at once, a generation-only job
    that reuses its adapter (it must wait until ``minimal`` has succeeded)."""
    minimal = example("minimal.yaml")
    minimal["metadata"]["namespace"] = release.namespace
    minimal["spec"]["resources"] = {"gpu": 0}
    minimal["spec"]["config"] = SMALL_CONFIG
    reuse = example("generate-only.yaml")
    reuse["metadata"] = {"name": "more-records", "namespace": release.namespace}
    reuse["spec"].update(
        pretrainedModelJob="minimal",
        dataSource="s3://safe-synth-demo/input/demo.csv",
        output="s3://safe-synth-demo/output/more-records/",
        resources={"gpu": 0},
        config={
            "enable_replace_pii": False,
            "generation": {"num_records": 10, "use_structured_generation": True},
        },
    )
    with StatusRecorder(api, release.namespace, ["minimal", "more-records"]) as recorder:
        apply(release, minimal, reuse)
        wait_phase(api, release.namespace, "minimal", "Succeeded", "Failed")
        wait_phase(api, release.namespace, "more-records", "Succeeded", "Failed")
    yield recorder


def test_minimal_example_runs_the_real_runner_to_success(
    release: Release, operator: OperatorProcess, api, pipeline_runs
) -> None:
    ns = release.namespace
    cr = get_cr(api, ns, "minimal")
    assert cr is not None
    status = cr["status"]
    assert status["phase"] == "Succeeded", status
    assert condition(cr, "Complete")["status"] == "True"
    assert condition(cr, "Created")["reason"] == "JobCreated"
    assert condition(cr, "Running")["status"] == "False"
    assert status["observedGeneration"] == cr["metadata"]["generation"]
    assert status["startTime"] and status["completionTime"]
    assert 0 <= status["scores"]["sqs"] <= 10 and 0 <= status["scores"]["dps"] <= 10

    # kubectl get ssj: the printer columns show the phase and the scores.
    table = release.cluster.kubectl("get", "ssj", "minimal", "-n", ns)
    header, row = table.strip().splitlines()
    assert header.split() == ["NAME", "PHASE", "STAGE", "SQS", "DPS", "AGE"]
    assert row.split()[1] == "Succeeded" and float(row.split()[3]) == status["scores"]["sqs"]

    # result URLs on the CR, and the objects really are in S3
    results = {r["id"]: r for r in status["results"]}
    assert {"synthetic_data", "adapter", "summary", "evaluation_report"} <= set(results)
    assert results["synthetic_data"]["canonical"] is True
    for rid, result in results.items():
        assert result["url"].startswith("s3://safe-synth-demo/output/minimal/"), result
        bucket, key = s3_key(result["url"])
        if rid == "adapter":
            listing = release.s3.list_objects_v2(Bucket=bucket, Prefix=key)  # type: ignore[attr-defined]
            assert listing["KeyCount"] > 0
        else:
            head = release.s3.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
            # logs.jsonl keeps growing while the runner publishes (its sizeBytes is taken later)
            assert rid == "logs" or head["ContentLength"] == result["sizeBytes"], (rid, head["ContentLength"])
    body = release.s3.get_object(Bucket="safe-synth-demo", Key="output/minimal/synthetic_data.csv")[
        "Body"
    ].read()  # type: ignore[attr-defined]
    assert len(body.decode().strip().splitlines()) == 11  # header + 10 records

    # live progress, written by the runner pod itself while the phase was Running
    running = [p for phase, p, _ in pipeline_runs.seen["minimal"] if phase == "Running" and p]
    stages = {p["stage"] for p in running}
    assert stages & {"load", "split", "replace_pii", "train", "generate", "evaluate", "publish"}, (
        pipeline_runs.seen["minimal"]
    )
    assert all(p.get("updatedAt") for p in running)
    assert status["progress"]["stage"] == "done" and status["progress"]["percent"] == 100

    # exactly one Job, shaped as specified
    jobs = jobs_of(release, cr["metadata"]["uid"])
    assert len(jobs) == 1
    job = jobs[0]
    assert job["metadata"]["name"] == status["jobName"]
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "SafeSynthesizerJob",
        "minimal",
        cr["metadata"]["uid"],
    )
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True
    spec = job["spec"]
    assert spec["backoffLimit"] == 2 and spec["ttlSecondsAfterFinished"] == 86400
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob" and rules[0]["onExitCodes"]["values"] == [1, 2, 4]
    assert rules[1] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == JOB_SA
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/nvidia/safe-synthesizer-runner:0.1.0"
    assert container["args"] == ["--config", "/etc/safe-synthesizer/job.yaml"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e for e in container["env"]}
    assert env["SAFE_SYNTH_TERMINATION_LOG"]["value"] == "/dev/termination-log"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "s3-credentials"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "s3-credentials"
    assert "nvidia.com/gpu" not in json.dumps(container.get("resources") or {})  # resources.gpu: 0
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {
        "/etc/safe-synthesizer",
        "/tmp",
        "/var/cache/safe-synthesizer",
        "/home/safe-synthesizer",
    } <= mounts

    # the resolved job document, in a ConfigMap owned by the CR
    config_map = release.cluster.kubectl_json(
        "get", "configmap", f"{job['metadata']['name']}-config", "-n", ns
    )
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == cr["metadata"]["uid"]
    document = yaml.safe_load(config_map["data"]["job.yaml"])
    assert document["spec"]["s3"]["endpoint"] == release.s3_endpoint
    assert document["spec"]["output"] == "s3://safe-synth-demo/output/minimal/"

    reasons = [e["reason"] for e in events_of(release, "minimal")]
    assert {"JobCreated", "Running", "Succeeded"} <= set(reasons), reasons
    assert not cr["metadata"].get("finalizers")

    metrics = operator.metrics()
    assert 'safesynth_jobs{phase="Succeeded"}' in metrics
    succeeded = [
        line for line in metrics.splitlines() if line.startswith('safesynth_jobs{phase="Succeeded"}')
    ]
    assert float(succeeded[0].split()[-1]) >= 1
    assert 'safesynth_job_duration_seconds_count{result="Succeeded"}' in metrics


def test_generation_only_reuses_the_pretrained_jobs_adapter(
    release: Release, operator: OperatorProcess, api, pipeline_runs
) -> None:
    ns = release.namespace
    minimal = get_cr(api, ns, "minimal")
    reuse = get_cr(api, ns, "more-records")
    assert minimal and reuse
    assert reuse["status"]["phase"] == "Succeeded", reuse["status"]
    # it waited for `minimal` with a clear condition before any Job existed
    waited = [
        c
        for _phase, _progress, conditions in pipeline_runs.seen["more-records"]
        for c in conditions
        if c["type"] == "Created" and c["status"] == "False" and c["reason"] == "WaitingForPretrainedModelJob"
    ]
    assert waited, pipeline_runs.seen["more-records"]
    adapter_url = next(r["url"] for r in minimal["status"]["results"] if r["id"] == "adapter")
    (job,) = jobs_of(release, reuse["metadata"]["uid"])
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SAFE_SYNTH_ADAPTER_URL"] == adapter_url
    summary = json.loads(
        release.s3.get_object(Bucket="safe-synth-demo", Key="output/more-records/summary.json")["Body"].read()  # type: ignore[attr-defined]
    )
    assert summary["mode"] == "generate"
    assert "train" not in summary["timings_seconds"] and "fetch_adapter" in summary["timings_seconds"]
    assert summary["rows_out"] == 10


# ---------------------------------------------------------------------------------------------
# failures, TTL, suspend, delete, restart


def test_runner_failure_is_reported_and_ttl_deletes_the_finished_job(
    release: Release, operator: OperatorProcess, api, demo_data
) -> None:
    ns = release.namespace
    spec = {
        "dataSource": "s3://safe-synth-demo/input/missing.csv",
        "output": "s3://safe-synth-demo/output/missing/",
        "s3": {"credentialsSecret": "s3-credentials"},
        "resources": {"gpu": 0},
        "config": SMALL_CONFIG,
    }
    apply(
        release,
        ssj_manifest("missing-data", ns, spec),
        ssj_manifest("missing-data-ttl", ns, {**spec, "ttlSecondsAfterFinished": 3}),
    )
    cr = wait_phase(api, ns, "missing-data", "Failed", timeout=120)
    failed = condition(cr, "Failed")
    assert failed["reason"] == "InvalidInput", failed  # the runner's reason (exit code 1)
    assert "missing.csv" in failed["message"] and "does not exist" in failed["message"], failed
    assert "missing.csv" in cr["status"]["message"]
    # the failed run still published its summary and logs; the status links them
    links = {r["id"]: r["url"] for r in cr["status"].get("results") or []}
    assert links.get("summary") == "s3://safe-synth-demo/output/missing/summary.json", cr["status"]
    assert links.get("logs") == "s3://safe-synth-demo/output/missing/logs.jsonl", cr["status"]
    (job,) = jobs_of(release, cr["metadata"]["uid"])
    # exit code 1 fails the Job at once through the podFailurePolicy: no retry was spent
    assert job["status"]["failed"] == 1
    assert any(
        c["type"] == "Failed" and c["reason"] == "PodFailurePolicy" for c in job["status"]["conditions"]
    )
    assert any(
        e["type"] == "Warning" and e["reason"] == "InvalidInput" for e in events_of(release, "missing-data")
    )

    ttl_uid = (get_cr(api, ns, "missing-data-ttl") or {"metadata": {"uid": ""}})["metadata"]["uid"]
    wait_for(
        lambda: get_cr(api, ns, "missing-data-ttl") is None,
        90,
        "missing-data-ttl to be deleted after its TTL",
    )
    wait_for(lambda: not jobs_of(release, ttl_uid), 60, "the TTL-deleted job's Job to be garbage-collected")


def test_suspend_cancels_resume_reruns_and_delete_removes_job_and_pods(
    release: Release, operator: OperatorProcess, api, demo_data
) -> None:
    ns = release.namespace
    long = example("minimal.yaml")  # unchanged: default config (minutes on CPU), 1 GPU (the node has one)
    long["metadata"] = {"name": "long", "namespace": ns}
    apply(release, long)
    cr = wait_phase(api, ns, "long", "Running", timeout=120)
    uid, first_job = cr["metadata"]["uid"], cr["status"]["jobName"]
    (job,) = jobs_of(release, uid)
    assert job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    wait_for(
        lambda: any(p["status"].get("phase") == "Running" for p in pods_of(release, uid)),
        60,
        "the runner pod",
    )
    # the runner is under way (it reports progress once its SIGTERM handler is in place): a cancel
    # now makes it stop and publish what it has
    wait_for(
        lambda: ((get_cr(api, ns, "long") or {}).get("status") or {}).get("progress"),
        120,
        "the runner's first progress report",
    )

    release.cluster.kubectl(
        "patch", "ssj", "long", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    cr = wait_phase(api, ns, "long", "Cancelled", timeout=60)
    suspended = condition(cr, "Suspended")
    assert suspended["status"] == "True" and suspended["reason"] == "Suspended"
    wait_for(lambda: not jobs_of(release, uid), 60, "the Job to be deleted on suspend")
    wait_for(lambda: not pods_of(release, uid), 60, "the runner pod to stop on suspend")
    # the stopped runner published what it had (summary, logs, adapter): the status links it
    cr = wait_for(
        lambda: (c := get_cr(api, ns, "long")) and c["status"].get("results") and c,
        30,
        "the cancelled run's partial results in the status",
    )
    assert cr["status"]["phase"] == "Cancelled"
    urls = {r["id"]: r["url"] for r in cr["status"]["results"]}
    assert {"summary", "logs"} <= set(urls), urls
    bucket, key = s3_key(urls["summary"])
    summary = json.loads(release.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert summary["status"] == "partial"
    partial = condition(cr, "PartialResults")
    assert partial["status"] == "True" and partial["reason"] == "Cancelled"
    assert "the runner stopped" in cr["status"]["message"]

    release.cluster.kubectl(
        "patch", "ssj", "long", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )
    cr = wait_phase(api, ns, "long", "Running", timeout=120)
    assert cr["status"]["jobName"] != first_job  # a new run, a new Job
    resumed = condition(cr, "Suspended")
    assert resumed["status"] == "False" and resumed["reason"] == "Resumed"
    assert [j["metadata"]["name"] for j in jobs_of(release, uid)] == [cr["status"]["jobName"]]
    reasons = {e["reason"] for e in events_of(release, "long")}
    assert {"Suspended", "Resumed"} <= reasons

    release.cluster.kubectl("delete", "ssj", "long", "-n", ns, "--wait=true", timeout=60)
    wait_for(lambda: not jobs_of(release, uid), 60, "the garbage collector to delete the Job")
    wait_for(lambda: not pods_of(release, uid), 60, "the pods to be deleted with the Job")
    config_maps = release.cluster.kubectl_json(
        "get", "configmaps", "-n", ns, "-l", f"safesynthesizer.io/job-uid={uid}"
    )
    wait_for(
        lambda: (
            not release.cluster.kubectl_json(
                "get", "configmaps", "-n", ns, "-l", f"safesynthesizer.io/job-uid={uid}"
            )["items"]
        ),
        60,
        f"the ConfigMaps to be garbage-collected (had {len(config_maps['items'])})",
    )


def test_operator_restart_mid_job_adopts_the_job_and_completes(
    release: Release, operator: OperatorProcess, api, demo_data
) -> None:
    ns = release.namespace
    spec = {
        "dataSource": "s3://safe-synth-demo/input/demo.csv",
        "output": "s3://safe-synth-demo/output/restart/",
        "s3": {"credentialsSecret": "s3-credentials"},
        "resources": {"gpu": 0},
        "config": {**SMALL_CONFIG, "evaluation": {"enabled": False}},
    }
    orphan = {"dataSource": "s3://safe-synth-demo/input/x.txt", "resources": {"gpu": 0}}
    apply(release, ssj_manifest("restart", ns, spec), ssj_manifest("orphan", ns, orphan))
    wait_phase(api, ns, "orphan", "Failed", timeout=60)
    cr = wait_phase(api, ns, "restart", "Running", timeout=120)
    uid = cr["metadata"]["uid"]

    operator.kill()  # SIGKILL mid-job
    # With the operator gone, a CR can still be deleted: kopf put no finalizer on it.
    release.cluster.kubectl("delete", "ssj", "orphan", "-n", ns, "--wait=true", timeout=30)
    assert get_cr(api, ns, "orphan") is None
    operator.start()

    cr = wait_phase(api, ns, "restart", "Succeeded", "Failed")
    assert cr["status"]["phase"] == "Succeeded", cr["status"]
    jobs = jobs_of(release, uid)
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"] == cr["status"]["jobName"]
    assert cr["status"]["results"]
    assert "Resuming is processed" in operator.log_text()


def test_operator_log_has_no_permission_errors(operator: OperatorProcess) -> None:
    text = operator.log_text()
    assert "forbidden" not in text.lower(), Path(operator.log_path)
