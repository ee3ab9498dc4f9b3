"""Sharded generation on the operator side, without a cluster: the step Jobs (train, the Indexed
generation Job, merge), per-shard status from the Indexed Job and its pods, and the reconciler
walking train -> generate -> merge with an in-memory stand-in of ``KubeApi``."""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes_validate

from safe_synthesizer.config import SafeSynthesizerJobSpec, SafeSynthesizerJobStatus
from safe_synthesizer.contract import ShardReport, TerminationMessage
from safe_synthesizer_operator import jobs, status
from safe_synthesizer_operator.reconciler import Reconciler
from safe_synthesizer_operator.settings import OperatorSettings

NS, NAME, UID = "team", "big", "0b5c1d6e-1111-2222-3333-444455556666"
OWNER = jobs.Owner(name=NAME, namespace=NS, uid=UID, generation=1)
SPEC = {
    "dataSource": "s3://b/in.csv",
    "output": "s3://b/out/",
    "backoffLimit": 2,
    "config": {"generation": {"num_records": 10, "shards": 4}},
}


def build(step: str | None, **spec_fields: Any) -> dict[str, Any]:
    spec = SafeSynthesizerJobSpec.model_validate({**SPEC, **spec_fields})
    name = jobs.step_job_name(NAME, UID, 1, step) if step else jobs.job_name(NAME, UID, 1)
    return jobs.build_job(
        OWNER, spec, OperatorSettings(), name, step=step, shards=4, run_name=jobs.job_name(NAME, UID, 1)
    )


def test_step_names_fit_and_differ() -> None:
    long_name = "x" * 63
    names = {jobs.step_job_name(long_name, UID, 1, s) for s in jobs.STEPS}
    assert len(names) == 3 and all(len(n) <= 63 for n in names)
    assert jobs.step_job_name(NAME, UID, 1, "generate").startswith(jobs.job_name(NAME, UID, 1))
    assert jobs.shard_count(SPEC) == 4
    assert jobs.shard_count({"config": {"generation": {"shards": True}}}) == 1
    assert jobs.shard_count({}) == 1


def test_unsharded_job_is_unchanged_by_the_new_parameters() -> None:
    spec = SafeSynthesizerJobSpec.model_validate({**SPEC, "config": {}})
    plain = jobs.build_job(OWNER, spec, OperatorSettings(), jobs.job_name(NAME, UID, 1))
    assert plain["spec"]["completions"] == 1 and "completionMode" not in plain["spec"]
    assert plain["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--config",
        "/etc/safe-synthesizer/job.yaml",
    ]
    assert jobs.LABEL_STEP not in plain["metadata"]["labels"]


def test_generation_step_is_an_indexed_job_retrying_each_shard_alone() -> None:
    job = build(jobs.STEP_GENERATE)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 4
    assert spec["backoffLimitPerIndex"] == 2 and "backoffLimit" not in spec
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailIndex" and rules[0]["onExitCodes"]["values"] == [1, 2, 4]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["generate", "--config", "/etc/safe-synthesizer/job.yaml", "--shards", "4"]
    assert not any(e["name"].startswith("SAFE_SYNTH_CR_") for e in container["env"])  # no progress fights
    assert pod["volumes"][0]["configMap"]["name"] == jobs.config_map_name(jobs.job_name(NAME, UID, 1))
    assert spec["template"]["metadata"]["labels"][jobs.LABEL_STEP] == "generate"
    kubernetes_validate.validate(job, "1.33", strict=True)


def test_train_and_merge_steps() -> None:
    train, merge = build(jobs.STEP_TRAIN), build(jobs.STEP_MERGE)
    assert train["spec"]["template"]["spec"]["containers"][0]["args"][0] == "train"
    assert merge["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "merge",
        "--config",
        "/etc/safe-synthesizer/job.yaml",
        "--shards",
        "4",
    ]
    for job in (train, merge):
        assert job["spec"]["backoffLimit"] == 2 and "completionMode" not in job["spec"]
        names = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert "SAFE_SYNTH_CR_NAME" in names
        kubernetes_validate.validate(job, "1.33", strict=True)


def test_parse_indexes() -> None:
    assert status.parse_indexes("0-2,5") == {0, 1, 2, 5}
    assert status.parse_indexes("") == set() and status.parse_indexes(None) == set()
    assert status.parse_indexes("3,x,7-8") == {3, 7, 8}


def _pod(
    index: int, created: str, *, running: bool = False, exit_code: int | None = None, message: str = ""
) -> dict:
    state: dict[str, Any] = {"running": {}} if running else {}
    if exit_code is not None:
        state = {"terminated": {"exitCode": exit_code, "message": message}}
    return {
        "metadata": {
            "name": f"p{index}-{created}",
            "creationTimestamp": created,
            "annotations": {status.INDEX_ANNOTATION: str(index)},
        },
        "status": {"containerStatuses": [{"state": state}]},
    }


def _done(index: int, records: int, seed: int) -> str:
    return TerminationMessage(
        status="succeeded",
        message=f"{records} records",
        results=[
            {
                "id": "synthetic_data",
                "format": "csv",
                "canonical": True,
                "url": f"s3://b/out/shards/{index}/d.csv",
            }
        ],
        shard=ShardReport(index=index, count=4, seed=seed, records=records),
    ).to_text()


def test_observe_shards_phases_attempts_records_and_seeds() -> None:
    job = {"status": {"completedIndexes": "0,2", "failedIndexes": "3"}}
    pods = [
        _pod(0, "t1", exit_code=0, message=_done(0, 3, 11)),
        _pod(1, "t1", exit_code=137),  # killed: retried
        _pod(1, "t2", running=True),
        _pod(2, "t1", exit_code=0, message=_done(2, 2, 33)),
        _pod(3, "t1", exit_code=1, message=json.dumps({"status": "failed", "message": "bad input"})),
    ]
    shards = status.observe_shards(job, pods, 4)
    assert [s["phase"] for s in shards] == ["Succeeded", "Running", "Succeeded", "Failed"]
    assert [s["attempts"] for s in shards] == [1, 2, 1, 1]
    assert (shards[0]["records"], shards[0]["seed"], shards[0]["url"]) == (3, 11, "s3://b/out/shards/0/d.csv")
    assert shards[3]["message"] == "bad input"
    block = status.sharding_status("generate", 4, shards)
    assert (block["step"], block["succeeded"], block["failed"]) == ("Generate", 2, 1)
    SafeSynthesizerJobStatus.model_validate({"sharding": block})  # the CRD's shape
    progress = status.shard_progress(shards, "2026-12-02T00:00:00Z")
    assert progress["percent"] == 50.0 and progress["message"].startswith("2 of 4 generation shards done")
    refs = status.shard_results(
        shards, [{"id": "summary", "format": "json", "url": "s3://b/out/summary.json"}]
    )
    assert [r["id"] for r in refs] == ["summary", "shard-0", "shard-2"]


# -- the reconciler walking the steps ---------------------------------------------------------------


class FakeKube:
    """The API calls a sharded reconcile makes, in memory; Jobs change only when a test says so."""

    def __init__(self, cr: dict[str, Any]) -> None:
        self.cr = cr
        self.jobs: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.config_maps: list[str] = []
        self.events: list[tuple[str, str]] = []

    def get_cr(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.cr)

    def list_jobs(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(j) for j in self.jobs.values()]

    def create_config_map(self, namespace: str, body: dict) -> dict | None:
        self.config_maps.append(body["metadata"]["name"])
        return body

    def create_job(self, namespace: str, body: dict) -> dict:
        body = copy.deepcopy(body)
        body["metadata"]["uid"] = "uid-" + body["metadata"]["name"]
        body["status"] = {}
        self.jobs[body["metadata"]["name"]] = body
        return copy.deepcopy(body)

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        uid = selector.split("=", 1)[1]
        return copy.deepcopy(self.pods.get(uid, []))

    def service_account_exists(self, namespace: str, name: str) -> bool:
        return True

    def patch_cr_status(self, namespace: str, name: str, patch: dict, resource_version: str) -> dict:
        current = dict(self.cr.get("status") or {})
        for key, value in patch.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        self.cr["status"] = current
        self.cr["metadata"]["resourceVersion"] = str(int(resource_version) + 1)
        return copy.deepcopy(self.cr)

    def post_event(self, cr: dict, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason))

    def finish(self, name: str, job_status: dict[str, Any], pods: list[dict] | None = None) -> None:
        self.jobs[name]["status"] = job_status
        self.pods["uid-" + name] = pods or []


def _complete(**extra: Any) -> dict[str, Any]:
    return {
        "conditions": [{"type": "Complete", "status": "True"}],
        "startTime": "2026-12-02T00:00:00Z",
        **extra,
    }


def _cr() -> dict[str, Any]:
    return {
        "apiVersion": "safesynthesizer.io/v1alpha1",
        "kind": "SafeSynthesizerJob",
        "metadata": {"name": NAME, "namespace": NS, "uid": UID, "generation": 1, "resourceVersion": "1"},
        "spec": copy.deepcopy(SPEC),
    }


def test_reconciler_runs_train_then_indexed_generation_then_merge() -> None:
    kube = FakeKube(_cr())
    reconciler = Reconciler(kube, OperatorSettings())  # type: ignore[arg-type]
    names = {s: jobs.step_job_name(NAME, UID, 1, s) for s in jobs.STEPS}

    reconciler.reconcile(NS, NAME)
    assert list(kube.jobs) == [names["train"]]
    assert kube.config_maps == [jobs.config_map_name(jobs.job_name(NAME, UID, 1))]
    st = kube.cr["status"]
    assert st["sharding"]["step"] == "Train" and st["jobName"] == names["train"]

    # SuccessCriteriaMet comes before Complete (the Job controller still finishing its pods): done
    kube.finish(names["train"], {"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]})
    reconciler.reconcile(NS, NAME)
    assert list(kube.jobs) == [names["train"], names["generate"]]
    st = kube.cr["status"]
    assert st["phase"] != "Succeeded" and st["sharding"]["step"] == "Generate"

    kube.jobs[names["generate"]]["status"] = {"completedIndexes": "0", "active": 3, "ready": 3}
    kube.pods["uid-" + names["generate"]] = [_pod(0, "t1", exit_code=0, message=_done(0, 3, 5))] + [
        _pod(i, "t1", running=True) for i in (1, 2, 3)
    ]
    reconciler.reconcile(NS, NAME)
    st = kube.cr["status"]
    assert st["phase"] == "Running"
    assert [s["phase"] for s in st["sharding"]["shards"]] == ["Succeeded", "Running", "Running", "Running"]
    assert st["progress"]["percent"] == 25.0

    kube.finish(
        names["generate"],
        _complete(completedIndexes="0-3"),
        [_pod(i, "t1", exit_code=0, message=_done(i, [3, 3, 2, 2][i], 10 + i)) for i in range(4)],
    )
    del kube.jobs[names["train"]]  # e.g. its TTL: a finished step is not re-created
    reconciler.reconcile(NS, NAME)
    assert set(kube.jobs) == {names["generate"], names["merge"]}
    st = kube.cr["status"]
    assert st["sharding"]["step"] == "Merge" and st["sharding"]["succeeded"] == 4
    assert [s["seed"] for s in st["sharding"]["shards"]] == [10, 11, 12, 13]

    merged = TerminationMessage(
        status="succeeded",
        message="10 records",
        results=[
            {
                "id": "synthetic_data",
                "format": "csv",
                "canonical": True,
                "url": "s3://b/out/synthetic_data.csv",
            }
        ],
    ).to_text()
    merge_pod = {
        "metadata": {"name": "m", "creationTimestamp": "t"},
        "status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 0, "message": merged}}}]},
    }
    kube.finish(names["merge"], _complete(), [merge_pod])
    reconciler.reconcile(NS, NAME)
    st = kube.cr["status"]
    assert st["phase"] == "Succeeded" and st["jobName"] == names["merge"]
    assert st["results"][0]["url"] == "s3://b/out/synthetic_data.csv"
    assert st["sharding"]["step"] == "Merge" and st["sharding"]["succeeded"] == 4
    SafeSynthesizerJobStatus.model_validate(st)


def test_a_failed_shard_fails_the_run_and_keeps_the_finished_shards() -> None:
    kube = FakeKube(_cr())
    reconciler = Reconciler(kube, OperatorSettings())  # type: ignore[arg-type]
    names = {s: jobs.step_job_name(NAME, UID, 1, s) for s in jobs.STEPS}
    reconciler.reconcile(NS, NAME)
    kube.finish(names["train"], _complete())
    reconciler.reconcile(NS, NAME)
    failed_message = json.dumps(
        {"status": "failed", "reason": "NoValidRecords", "message": "no valid record"}
    )
    kube.finish(
        names["generate"],
        {
            "completedIndexes": "0-2",
            "failedIndexes": "3",
            "conditions": [
                {"type": "Failed", "status": "True", "reason": "FailedIndexes", "message": "failed"}
            ],
        },
        [_pod(i, "t1", exit_code=0, message=_done(i, 3, i)) for i in range(3)]
        + [_pod(3, "t1", exit_code=4, message=failed_message)],
    )
    reconciler.reconcile(NS, NAME)
    st = kube.cr["status"]
    assert st["phase"] == "Failed"
    assert "shard 3: no valid record" in st["message"]
    assert [r["id"] for r in st["results"]] == ["shard-0", "shard-1", "shard-2"]
    partial = status.get_condition(st["conditions"], "PartialResults")
    assert partial is not None and partial["status"] == "True"
    assert names["merge"] not in kube.jobs
