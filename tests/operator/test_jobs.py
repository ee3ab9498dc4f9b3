"""Unit tests of the Job/ConfigMap builder (pure functions; no cluster)."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from safe_synthesizer.config import SafeSynthesizerJobSpec
from safe_synthesizer_operator import jobs
from safe_synthesizer_operator.settings import OperatorSettings

OWNER = jobs.Owner(
    name="minimal", namespace="data-team", uid="0b5c1d6e-1111-2222-3333-444455556666", generation=1
)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def spec(**fields) -> SafeSynthesizerJobSpec:
    return SafeSynthesizerJobSpec.model_validate(
        {"dataSource": "s3://b/in.csv", "output": "s3://b/out/", **fields}
    )


def container(job: dict) -> dict:
    return job["spec"]["template"]["spec"]["containers"][0]


def env(job: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container(job)["env"]}


def test_job_name_is_deterministic_short_and_changes_per_run() -> None:
    name = jobs.job_name("minimal", OWNER.uid, 1)
    assert name == jobs.job_name("minimal", OWNER.uid, 1)
    assert name.startswith("ssj-minimal-") and DNS_LABEL.match(name)
    assert jobs.job_name("minimal", OWNER.uid, 3) != name  # a re-run after suspend
    assert jobs.job_name("minimal", "another-uid", 1) != name  # a re-created CR
    long = jobs.job_name("a" * 62 + "-", OWNER.uid, 1)
    assert len(long) <= 63 and DNS_LABEL.match(long)
    assert len(jobs.config_map_name(long)) <= 253


def test_job_has_every_required_field() -> None:
    job = jobs.build_job(OWNER, spec(), OperatorSettings(), "ssj-minimal-abc", service_account="ssj-job")
    meta = job["metadata"]
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "safesynthesizer.io/v1alpha1",
            "kind": "SafeSynthesizerJob",
            "name": "minimal",
            "uid": OWNER.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert meta["labels"]["safesynthesizer.io/job-uid"] == OWNER.uid
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "safe-synthesizer-operator"
    job_spec = job["spec"]
    assert job_spec["backoffLimit"] == 2 and job_spec["ttlSecondsAfterFinished"] == 86400
    assert "activeDeadlineSeconds" not in job_spec
    assert job_spec["podFailurePolicy"]["rules"] == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "runner", "operator": "In", "values": [1, 2, 4]},
        },
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]
    pod = job_spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "ssj-job"
    assert pod["terminationGracePeriodSeconds"] == 120  # time to publish partial results on SIGTERM
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(job)
    assert c["command"] == ["safe-synthesizer", "run"]
    assert c["args"] == ["--config", "/etc/safe-synthesizer/job.yaml"]
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert c["resources"] == {"limits": {"nvidia.com/gpu": "1"}}  # the default: one GPU
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    variables = env(job)
    assert variables["SAFE_SYNTH_TERMINATION_LOG"]["value"] == "/dev/termination-log"
    for name in ("HOME", "TMPDIR", "SAFE_SYNTH_CACHE", "HF_HOME"):
        value = variables[name]["value"]
        assert any(
            value == m["mountPath"] or value.startswith(m["mountPath"] + "/") for m in c["volumeMounts"]
        ), name
    assert variables["SAFE_SYNTH_CR_UID"]["value"] == OWNER.uid
    assert "SAFE_SYNTH_ADAPTER_URL" not in variables
    kubernetes_validate.validate(job, "1.33", strict=True)


def test_job_passes_scheduling_and_secrets_through() -> None:
    s = spec(
        resources={
            "gpu": 2,
            "gpuResourceName": "amd.com/gpu",
            "gpuMemory": "40Gi",
            "cpu": "8",
            "memory": "32Gi",
        },
        nodeSelector={"pool": "a100"},
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
        priorityClassName="batch-high",
        serviceAccountName="custom",
        image="registry.local/runner:1",
        activeDeadlineSeconds=3600,
        backoffLimit=0,
        hfTokenSecret="hf",
        pseudonymKeySecret="pseudo",
        s3={"credentialsSecret": "creds"},
    )
    settings = OperatorSettings(
        default_node_selector={"zone": "x", "pool": "default"}, image_pull_secrets=("pull",)
    )
    job = jobs.build_job(
        OWNER, s, settings, "n", adapter_url="s3://b/prev/adapter/", service_account="ssj-job"
    )
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"zone": "x", "pool": "a100"}  # the spec wins
    assert pod["priorityClassName"] == "batch-high" and pod["serviceAccountName"] == "custom"
    assert pod["imagePullSecrets"] == [{"name": "pull"}]
    assert {"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]
    assert term["matchExpressions"] == [
        {"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["40959"]}
    ]
    c = container(job)
    assert c["image"] == "registry.local/runner:1"
    assert c["resources"] == {
        "requests": {"cpu": "8", "memory": "32Gi"},
        "limits": {"cpu": "8", "memory": "32Gi", "amd.com/gpu": "2"},
    }
    variables = env(job)
    assert variables["SAFE_SYNTH_ADAPTER_URL"]["value"] == "s3://b/prev/adapter/"
    assert variables["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "creds",
        "key": "AWS_ACCESS_KEY_ID",
    }
    assert variables["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert variables["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "hf",
        "key": "token",
        "optional": True,
    }
    assert c["envFrom"] == [{"secretRef": {"name": "hf", "optional": False}}]
    assert variables["SAFE_SYNTH_PSEUDONYM_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "pseudo",
        "key": "key",
    }
    assert job["spec"]["activeDeadlineSeconds"] == 3600 and job["spec"]["backoffLimit"] == 0
    kubernetes_validate.validate(job, "1.33", strict=True)


def test_cpu_job_requests_no_gpu_and_gets_no_gpu_toleration() -> None:
    job = jobs.build_job(OWNER, spec(resources={"gpu": 0}), OperatorSettings(), "n")
    assert "nvidia.com/gpu" not in str(container(job).get("resources"))
    assert "tolerations" not in job["spec"]["template"]["spec"]
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]


def test_progress_reporting_off_means_no_token_and_no_cr_env() -> None:
    job = jobs.build_job(OWNER, spec(), OperatorSettings(progress_reporting=False), "n")
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert not {"SAFE_SYNTH_CR_NAME", "SAFE_SYNTH_CR_NAMESPACE"} & set(env(job))


def test_output_and_s3_defaults_are_resolved_into_the_document() -> None:
    settings = OperatorSettings(
        default_output="s3://lake/synth/", default_s3_endpoint="http://minio:9000", default_s3_secret="s3"
    )
    s = SafeSynthesizerJobSpec.model_validate({"dataSource": "s3://b/in.csv"})
    output = jobs.resolve_output(s, OWNER, settings)
    assert output == "s3://lake/synth/data-team/minimal/"
    assert jobs.resolve_output(s, OWNER, OperatorSettings()) is None
    raw = {"dataSource": "s3://b/in.csv", "config": {"generation": {"num_records": 5}}}
    document = jobs.resolved_document(raw, OWNER, output, settings)
    assert document["metadata"] == {"name": "minimal", "namespace": "data-team"}
    assert document["spec"]["output"] == output
    assert document["spec"]["s3"] == {"endpoint": "http://minio:9000", "credentialsSecret": "s3"}
    assert document["spec"]["config"] == {"generation": {"num_records": 5}}  # unset fields stay unset
    assert raw == {"dataSource": "s3://b/in.csv", "config": {"generation": {"num_records": 5}}}  # not mutated
    config_map = jobs.build_config_map(OWNER, "ssj-minimal-abc", document)
    assert config_map["metadata"]["name"] == "ssj-minimal-abc-config"
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == OWNER.uid
    assert yaml.safe_load(config_map["data"]["job.yaml"]) == document
    # a spec's own endpoint wins over the default
    own = jobs.resolved_document({**raw, "s3": {"endpoint": "http://own:9000"}}, OWNER, output, settings)
    assert own["spec"]["s3"]["endpoint"] == "http://own:9000"


@pytest.mark.parametrize(("quantity", "mib"), [("40Gi", 40960), ("512Mi", 512)])
def test_gpu_memory_mib(quantity: str, mib: int) -> None:
    assert jobs.gpu_memory_mib(quantity) == mib


def test_gpu_memory_rejects_other_units() -> None:
    with pytest.raises(ValueError):
        jobs.gpu_memory_mib("40G")


def test_queue_labels_and_configured_annotations_are_copied_and_a_queued_job_starts_suspended() -> None:
    settings = OperatorSettings(propagate_annotations=("example.com/",))
    cr_labels = {
        "kueue.x-k8s.io/queue-name": "gpu-queue",
        "kueue.x-k8s.io/priority-class": "high",
        "team": "not-copied",
        "app.kubernetes.io/managed-by": "someone-else",  # ours always win
    }
    cr_annotations = {"example.com/cost-center": "42", "other": "not-copied"}
    job = jobs.build_job(
        OWNER, spec(), settings, "ssj-minimal-abc", cr_labels=cr_labels, cr_annotations=cr_annotations
    )
    labels = job["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "gpu-queue"
    assert labels["kueue.x-k8s.io/priority-class"] == "high"
    assert "team" not in labels and labels["app.kubernetes.io/managed-by"] == "safe-synthesizer-operator"
    assert "kueue.x-k8s.io/queue-name" not in job["spec"]["template"]["metadata"]["labels"]
    assert job["metadata"]["annotations"]["example.com/cost-center"] == "42"
    assert "other" not in job["metadata"]["annotations"]
    assert job["spec"]["suspend"] is True  # the queue's admission controller unsuspends it
    kubernetes_validate.validate(job, "1.33", strict=True)
    # no queue name: created running, nothing copied when nothing is configured
    plain = jobs.build_job(OWNER, spec(), OperatorSettings(propagate_labels=()), "j", cr_labels=cr_labels)
    assert "suspend" not in plain["spec"] and "kueue.x-k8s.io/queue-name" not in plain["metadata"]["labels"]


def test_managed_by_is_passed_to_the_job() -> None:
    job = jobs.build_job(OWNER, spec(managedBy="kueue.x-k8s.io/multikueue"), OperatorSettings(), "j")
    assert job["spec"]["managedBy"] == "kueue.x-k8s.io/multikueue"
    assert "managedBy" not in jobs.build_job(OWNER, spec(), OperatorSettings(), "j")["spec"]
    with pytest.raises(ValueError):
        spec(managedBy="no-slash")


@pytest.mark.parametrize("gpu", [0, 1])
def test_one_gpu_or_none_runs_the_runner_in_one_process(gpu: int) -> None:
    job = jobs.build_job(OWNER, spec(resources={"gpu": gpu}), OperatorSettings(), "ssj-one-gpu")
    c = container(job)
    assert c["command"] == ["safe-synthesizer", "run"]
    assert c["args"] == ["--config", "/etc/safe-synthesizer/job.yaml"]
    assert "dshm" not in {v["name"] for v in job["spec"]["template"]["spec"]["volumes"]}
    assert all(m["mountPath"] != "/dev/shm" for m in c["volumeMounts"])


def test_four_gpus_train_in_four_processes_with_shared_memory() -> None:
    """resources.gpu 4: `run --train-processes 4` (one training process per GPU, see
    safe_synthesizer.distributed) and a memory-backed /dev/shm for NCCL; only steps that train."""
    four = spec(resources={"gpu": 4})
    job = jobs.build_job(OWNER, four, OperatorSettings(), "ssj-four-gpus")
    c = container(job)
    assert c["command"] == ["safe-synthesizer", "run"]
    assert c["args"] == ["--config", "/etc/safe-synthesizer/job.yaml", "--train-processes", "4"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "4"
    pod = job["spec"]["template"]["spec"]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}} in pod["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"]
    kubernetes_validate.validate(job, "1.33", strict=True)
    train = jobs.build_job(OWNER, four, OperatorSettings(), "ssj-four-train", step="train", shards=3)
    assert container(train)["args"] == [
        "train",
        "--config",
        "/etc/safe-synthesizer/job.yaml",
        "--train-processes",
        "4",
    ]
    for step in ("generate", "merge"):  # generation and the merge do not train
        other = jobs.build_job(OWNER, four, OperatorSettings(), f"ssj-four-{step}", step=step, shards=3)
        assert "--train-processes" not in container(other)["args"]
        assert all(m["mountPath"] != "/dev/shm" for m in container(other)["volumeMounts"])
