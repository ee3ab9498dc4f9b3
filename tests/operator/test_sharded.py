"""Sharded generation end to end on the test cluster (the node agent runs pods as local processes):
a ``SafeSynthesizerJob`` with ``config.generation.shards: 4`` runs the real runner as a training
Job, a 4-pod Indexed generation Job and a merge Job. One shard's runner process is killed
(SIGKILL, exit code 137) while it runs: the Job retries that index alone (``backoffLimitPerIndex``),
the other indexes run once, and the merge publishes one canonical table of exactly the requested
rows, from four distinct seeds."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from typing import Any

import pandas as pd
import pytest
import yaml
from e2e_support import Release, ssj_manifest, wait_for
from kubernetes import client as k8s
from kubernetes import config as k8s_config

pytestmark = pytest.mark.cluster

GROUP, VERSION, PLURAL = "safesynthesizer.io", "v1alpha1", "safesynthesizerjobs"
NAME = "sharded"
SHARDS, RECORDS, KILLED = 4, 42, 1
OUTPUT = "s3://safe-synth-demo/output/sharded/"
INDEX = "batch.kubernetes.io/job-completion-index"


@pytest.fixture(scope="module")
def api(release: Release) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(
        k8s_config.new_client_from_config(config_file=str(release.cluster.kubeconfig))
    )


def _cr(api: k8s.CustomObjectsApi, namespace: str) -> dict[str, Any]:
    return api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, NAME)


def _pods(release: Release, uid: str) -> list[dict[str, Any]]:
    return release.cluster.kubectl_json(
        "get", "pods", "-n", release.namespace, "-l", f"safesynthesizer.io/job-uid={uid}"
    )["items"]


def _kill_running_shard(release: Release, uid: str, index: int) -> str:
    """SIGKILL the runner process of shard ``index`` once it has run for a moment (mid-way: the
    runner is loading, fetching the adapter or generating). Returns the killed pod's name."""

    def running_pod() -> dict[str, Any] | None:
        for pod in _pods(release, uid):
            annotations = pod["metadata"].get("annotations") or {}
            states = [c.get("state") or {} for c in (pod.get("status") or {}).get("containerStatuses") or []]
            if annotations.get(INDEX) == str(index) and any("running" in s for s in states):
                return pod
        return None

    pod = wait_for(running_pod, 180, f"shard {index}'s pod to run")
    time.sleep(1.5)
    runtime = release.cluster.agent._runtimes.get(pod["metadata"]["uid"])  # the test node agent's process
    assert runtime is not None, "the node agent does not run this pod"
    process = runtime.runs[0].process
    assert process is not None and process.poll() is None, "the shard finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    return pod["metadata"]["name"]


def test_four_shards_one_killed_and_retried_one_canonical_output(
    release: Release, demo_data: str, api: k8s.CustomObjectsApi
) -> None:
    operator = release.operator(clusterwide=True, SSO_RESYNC_SECONDS="3", SSO_WAIT_SECONDS="2").start()
    try:
        spec = {
            "dataSource": demo_data,
            "output": OUTPUT,
            "s3": {"credentialsSecret": "s3-credentials"},
            "resources": {"gpu": 0},
            "backoffLimit": 2,
            "config": {
                "enable_replace_pii": False,
                "data": {"random_state": 5},
                "training": {"num_input_records_to_sample": 2000},
                "generation": {"num_records": RECORDS, "shards": SHARDS},
            },
        }
        release.cluster.kubectl(
            "apply", "-f", "-", stdin=yaml.safe_dump(ssj_manifest(NAME, release.namespace, spec))
        )
        uid = wait_for(lambda: _cr(api, release.namespace)["metadata"].get("uid"), 30, "the CR")
        seen_steps: list[str] = []
        live: list[tuple[list[str], dict[str, Any]]] = []  # (shard phases, progress) while generating

        def step_is(step: str) -> bool:
            current = _cr(api, release.namespace).get("status") or {}
            sharding = current.get("sharding") or {}
            if sharding.get("step") and (not seen_steps or seen_steps[-1] != sharding["step"]):
                seen_steps.append(sharding["step"])
            if sharding.get("step") == "Generate" and current.get("phase") == "Running":
                live.append(([s["phase"] for s in sharding["shards"]], current.get("progress") or {}))
            return sharding.get("step") == step

        wait_for(lambda: step_is("Generate"), 240, "the generation step")
        killed = _kill_running_shard(release, uid, KILLED)

        def finished() -> dict[str, Any] | None:
            step_is("Merge")
            cr = _cr(api, release.namespace)
            return cr if (cr.get("status") or {}).get("phase") in ("Succeeded", "Failed") else None

        cr = wait_for(finished, 420, "the sharded job to finish", interval=1.0)
        status = cr["status"]
        assert status["phase"] == "Succeeded", status.get("message")
        assert seen_steps[:1] == ["Train"] and "Generate" in seen_steps and seen_steps[-1] == "Merge"
        # per-shard progress while the shards ran (the operator's, not the runner pods')
        assert any("Running" in phases for phases, _ in live), live
        assert all(p.get("stage") == "generate" and "generation shards done" in p["message"] for _, p in live)

        # the Jobs: train, an Indexed generation Job, merge
        jobs = release.cluster.kubectl_json(
            "get", "jobs", "-n", release.namespace, "-l", f"safesynthesizer.io/job-uid={uid}"
        )["items"]
        by_step = {j["metadata"]["labels"]["safesynthesizer.io/step"]: j for j in jobs}
        assert set(by_step) == {"train", "generate", "merge"}
        generation_job = by_step["generate"]
        assert generation_job["spec"]["completionMode"] == "Indexed"
        assert generation_job["spec"]["completions"] == SHARDS
        assert generation_job["status"]["completedIndexes"] == f"0-{SHARDS - 1}"
        assert generation_job["status"].get("failed") == 1

        # the killed shard was retried alone: two pods for its index, one for each other index
        pods = [
            p
            for p in _pods(release, uid)
            if p["metadata"]["labels"].get("safesynthesizer.io/step") == "generate"
        ]
        per_index: dict[int, list[dict[str, Any]]] = {}
        for pod in pods:
            per_index.setdefault(int(pod["metadata"]["annotations"][INDEX]), []).append(pod)
        assert {i: len(p) for i, p in per_index.items()} == {
            i: 2 if i == KILLED else 1 for i in range(SHARDS)
        }
        killed_pod = next(p for p in per_index[KILLED] if p["metadata"]["name"] == killed)
        terminated = killed_pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 137

        # status.sharding: every shard succeeded, the killed one after two attempts, distinct seeds
        sharding = status["sharding"]
        assert (sharding["step"], sharding["total"], sharding["succeeded"], sharding["failed"]) == (
            "Merge",
            SHARDS,
            SHARDS,
            0,
        )
        shards = sharding["shards"]
        assert [s["phase"] for s in shards] == ["Succeeded"] * SHARDS
        assert [s["attempts"] for s in shards] == [2 if i == KILLED else 1 for i in range(SHARDS)]
        assert [s["records"] for s in shards] == [11, 11, 10, 10]
        seeds = [s["seed"] for s in shards]
        assert len(set(seeds)) == SHARDS

        # one canonical output with exactly the requested rows, and the shards' own summaries
        canonical = next(r for r in status["results"] if r.get("canonical"))
        assert canonical["url"] == OUTPUT + "synthetic_data.csv"
        body = release.s3.get_object(Bucket="safe-synth-demo", Key="output/sharded/synthetic_data.csv")[
            "Body"
        ]
        table = pd.read_csv(io.BytesIO(body.read()))
        assert len(table) == RECORDS
        summary = json.loads(
            release.s3.get_object(Bucket="safe-synth-demo", Key="output/sharded/summary.json")["Body"].read()
        )
        assert summary["status"] == "succeeded" and summary["rows_out"] == RECORDS
        assert [s["seed"] for s in summary["shards"]] == seeds
        shard_seeds = []
        for index in range(SHARDS):
            key = f"output/sharded/shards/{index}/summary.json"
            shard_summary = json.loads(
                release.s3.get_object(Bucket="safe-synth-demo", Key=key)["Body"].read()
            )
            shard_seeds.append(shard_summary["shard"]["seed"])
        assert shard_seeds == seeds
        assert {r["id"] for r in status["results"]} >= {
            "synthetic_data",
            "evaluation_report",
            "adapter",
            "summary",
        }
    finally:
        operator.stop()
