"""Tests against the real control plane (kube-apiserver, etcd, kube-controller-manager) + the test node agent.

They check what the operator will rely on: CRD schema validation by the real apiserver, batch/v1 Jobs
driven by the real job controller (completion, termination messages, backoffLimit), cascading deletion
by the real garbage collector, and scheduling of GPU requests.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import kubernetes
import pytest
from cluster_fixture import KubeCluster, k8s_body
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.cluster

T = TypeVar("T")
GROUP = "widgets.test.safesynthesizer.io"


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``predicate`` until it returns a truthy value; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def job_condition(batch: k8s.BatchV1Api, namespace: str, name: str, ctype: str) -> k8s.V1JobCondition | None:
    """The Job's condition of type ``ctype`` if it is True."""
    job = batch.read_namespaced_job_status(name, namespace)
    for cond in (job.status and job.status.conditions) or []:
        if cond.type == ctype and cond.status == "True":
            return cond
    return None


def job_pods(core: k8s.CoreV1Api, namespace: str, job: str) -> list[k8s.V1Pod]:
    """Pods created for ``job``."""
    return core.list_namespaced_pod(namespace, label_selector=f"batch.kubernetes.io/job-name={job}").items


def python_job(name: str, code: str, backoff_limit: int = 0, **container: Any) -> dict[str, Any]:
    """A batch/v1 Job running ``python -c code`` once (restartPolicy Never)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "main",
                            "image": "local/python",
                            "command": ["python", "-c", code],
                            **container,
                        }
                    ],
                }
            },
        },
    }


# --------------------------------------------------------------------------------------------------
def test_version_and_node(kube_cluster: KubeCluster) -> None:
    """The apiserver reports the pinned version; the node agent's Node is Ready with a GPU."""
    version = k8s.VersionApi(kube_cluster.api_client()).get_code()
    assert version.git_version.startswith("v1.")
    assert version.git_version != "v0.0.0-master"
    node = kube_cluster.core().read_node(kube_cluster.node_name)
    assert node.status.allocatable["nvidia.com/gpu"] == "1"
    ready = [c for c in node.status.conditions if c.type == "Ready"]
    assert ready and ready[0].status == "True"


def test_crd_schema_rejection(kube_cluster: KubeCluster, namespace: str) -> None:
    """A CRD's OpenAPI schema is enforced by the real apiserver: 422 naming the field path."""
    plural = f"w{uuid.uuid4().hex[:6]}s"
    crd_name = f"{plural}.{GROUP}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": f"W{plural[1:-1]}"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["replicas"],
                                    "properties": {
                                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                                        "mode": {"type": "string", "enum": ["fast", "careful"]},
                                        "outputUri": {
                                            "type": "string",
                                            "x-kubernetes-validations": [
                                                {
                                                    "rule": "self.startsWith('s3://')",
                                                    "message": "must be s3://",
                                                }
                                            ],
                                        },
                                    },
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }
    ext = kube_cluster.apiextensions()
    ext.create_custom_resource_definition(k8s_body(k8s.V1CustomResourceDefinition, crd))
    try:

        def established() -> bool:
            got = ext.read_custom_resource_definition(crd_name)
            return any(c.type == "Established" and c.status == "True" for c in got.status.conditions or [])

        wait_for(established, 30, "CRD Established")
        custom = kube_cluster.custom()

        def create(spec: dict[str, Any], name: str) -> dict[str, Any]:
            body = {
                "apiVersion": f"{GROUP}/v1alpha1",
                "kind": crd["spec"]["names"]["kind"],
                "metadata": {"name": name},
                "spec": spec,
            }
            return custom.create_namespaced_custom_object(GROUP, "v1alpha1", namespace, plural, body)

        # The first request may race the discovery of the new resource: retry on 404.
        ok = wait_for(
            lambda: _try(lambda: create({"replicas": 2, "mode": "fast", "outputUri": "s3://b/k"}, "good")),
            20,
            "a valid custom object to be accepted",
        )
        assert ok["spec"]["replicas"] == 2

        cases = [
            ({"replicas": "three"}, "spec.replicas", "must be of type integer"),
            ({"replicas": 50}, "spec.replicas", "less than or equal to 10"),
            ({"replicas": 1, "mode": "reckless"}, "spec.mode", "Unsupported value"),
            ({"replicas": 1, "outputUri": "gs://x"}, "spec.outputUri", "must be s3://"),
            ({"mode": "fast"}, "spec.replicas", "Required value"),
        ]
        for i, (spec, field_path, fragment) in enumerate(cases):
            with pytest.raises(ApiException) as excinfo:
                create(spec, f"bad-{i}")
            assert excinfo.value.status == 422, excinfo.value.body
            body = json.loads(excinfo.value.body)
            assert body["reason"] == "Invalid"
            causes = body["details"]["causes"]
            assert any(c.get("field") == field_path for c in causes), causes
            assert fragment in body["message"], body["message"]
    finally:
        ext.delete_custom_resource_definition(crd_name)


def _try(func: Callable[[], T]) -> T | None:
    try:
        return func()
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def test_job_completes_with_termination_message_and_gc_cascade(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    """Job → pod run by the node agent → Complete; message in pod status; owner deletion cascades via GC."""
    core, batch = kube_cluster.core(), kube_cluster.batch()
    owner = core.create_namespaced_config_map(
        namespace,
        k8s_body(
            k8s.V1ConfigMap,
            {"metadata": {"name": "owner"}, "data": {"config.json": '{"rows": 3}', "GREETING": "hello"}},
        ),
    )
    code = (
        "import json, os, sys\n"
        "cfg = json.load(open('/etc/ss/config.json'))\n"
        "print(os.environ['GREETING'], os.environ['POD_NAME'], os.environ['POD_NAMESPACE'])\n"
        "assert os.environ['KUBERNETES_SERVICE_HOST'] == '127.0.0.1'\n"
        "json.dump({'rows': cfg['rows'], 'pod': os.environ['POD_NAME']}, open('/dev/termination-log', 'w'))\n"
    )
    job = python_job(
        "complete",
        code,
        env=[
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "owner", "key": "GREETING"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        volumeMounts=[{"name": "cfg", "mountPath": "/etc/ss"}],
    )
    job["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    ]
    job["spec"]["template"]["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "owner"}}]
    batch.create_namespaced_job(namespace, k8s_body(k8s.V1Job, job))

    wait_for(lambda: job_condition(batch, namespace, "complete", "Complete"), 60, "Job Complete")
    pods = job_pods(core, namespace, "complete")
    assert len(pods) == 1
    pod = pods[0]
    assert pod.status.phase == "Succeeded"
    assert pod.spec.node_name == kube_cluster.node_name
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 0
    assert terminated.reason == "Completed"
    assert json.loads(terminated.message) == {"rows": 3, "pod": pod.metadata.name}
    log = kube_cluster.agent.pod_log(namespace, pod.metadata.name)
    assert f"hello {pod.metadata.name} {namespace}" in log
    # pods/log through the apiserver, served by the node agent's log server.
    assert f"hello {pod.metadata.name} {namespace}" in core.read_namespaced_pod_log(
        pod.metadata.name, namespace
    )

    # Deleting the owner: the real garbage collector deletes the Job, then the Job's pods.
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")

    def job_gone() -> bool:
        return _try(lambda: batch.read_namespaced_job("complete", namespace)) is None

    wait_for(job_gone, 60, "the garbage collector to delete the Job")
    wait_for(lambda: not job_pods(core, namespace, "complete"), 60, "the Job's pods to be deleted")


def test_job_fails_after_backoff_limit(kube_cluster: KubeCluster, namespace: str) -> None:
    """A pod exiting non-zero twice with backoffLimit 1 fails the Job with BackoffLimitExceeded."""
    core, batch = kube_cluster.core(), kube_cluster.batch()
    job = python_job(
        "fails",
        "import sys; print('boom: bad input', file=sys.stderr); sys.exit(3)",
        backoff_limit=1,
        terminationMessagePolicy="FallbackToLogsOnError",
    )
    batch.create_namespaced_job(namespace, k8s_body(k8s.V1Job, job))
    # The job controller waits ~10 s (its pod-failure back-off) before the second pod.
    cond = wait_for(lambda: job_condition(batch, namespace, "fails", "Failed"), 90, "Job Failed")
    assert cond.reason == "BackoffLimitExceeded"
    status = batch.read_namespaced_job_status("fails", namespace).status
    assert status.failed == 2
    pods = job_pods(core, namespace, "fails")
    failed = [p for p in pods if p.status.phase == "Failed"]
    assert len(failed) == 2, [(p.metadata.name, p.status.phase) for p in pods]
    for pod in failed:
        terminated = pod.status.container_statuses[0].state.terminated
        assert terminated.exit_code == 3
        assert terminated.reason == "Error"
        assert "boom: bad input" in terminated.message  # FallbackToLogsOnError


def test_gpu_request_beyond_node_stays_pending(kube_cluster: KubeCluster, namespace: str) -> None:
    """8 GPUs on a 1-GPU node: Pending, PodScheduled=False/Unschedulable; 1 GPU fits and runs."""
    core = kube_cluster.core()

    def gpu_pod(name: str, gpus: int) -> k8s.V1Pod:
        return k8s_body(
            k8s.V1Pod,
            {
                "metadata": {"name": name},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": "local/python",
                            "command": ["python", "-c", "print('gpu pod ran')"],
                            "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                        }
                    ],
                },
            },
        )

    core.create_namespaced_pod(namespace, gpu_pod("greedy", 8))
    core.create_namespaced_pod(namespace, gpu_pod("modest", 1))

    def unschedulable() -> k8s.V1PodCondition | None:
        pod = core.read_namespaced_pod_status("greedy", namespace)
        for cond in pod.status.conditions or []:
            if cond.type == "PodScheduled" and cond.status == "False":
                return cond
        return None

    cond = wait_for(unschedulable, 30, "PodScheduled=False on the 8-GPU pod")
    assert cond.reason == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in cond.message
    wait_for(
        lambda: core.read_namespaced_pod_status("modest", namespace).status.phase == "Succeeded",
        30,
        "the 1-GPU pod to succeed",
    )
    time.sleep(1.5)  # a few more scheduling rounds: still not bound
    greedy = core.read_namespaced_pod("greedy", namespace)
    assert greedy.status.phase == "Pending"
    assert not greedy.spec.node_name


def test_pod_deletion_kills_process(kube_cluster: KubeCluster, namespace: str) -> None:
    """Deleting a running pod kills its process group; the agent removes the pod object (grace 0)."""
    core = kube_cluster.core()
    core.create_namespaced_pod(
        namespace,
        k8s_body(
            k8s.V1Pod,
            {
                "metadata": {"name": "sleeper"},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 10,
                    "containers": [
                        {
                            "name": "main",
                            "image": "local/python",
                            "command": [
                                "python",
                                "-c",
                                "import time; print('up', flush=True); time.sleep(600)",
                            ],
                        }
                    ],
                },
            },
        ),
    )
    wait_for(lambda: core.read_namespaced_pod("sleeper", namespace).status.phase == "Running", 30, "Running")
    pids = wait_for(lambda: kube_cluster.agent.process_ids(namespace, "sleeper"), 10, "the pod's process")
    core.delete_namespaced_pod("sleeper", namespace)
    wait_for(
        lambda: _try(lambda: core.read_namespaced_pod("sleeper", namespace)) is None,
        30,
        "the pod to be deleted",
    )
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _grant_pod_reader(kube_cluster: KubeCluster, namespace: str) -> None:
    """Let the namespace's default ServiceAccount get pods (RBAC Role + RoleBinding)."""
    rbac = k8s.RbacAuthorizationV1Api(kube_cluster.api_client())
    rbac.create_namespaced_role(
        namespace,
        k8s_body(
            k8s.V1Role,
            {
                "metadata": {"name": "pod-reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
            },
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        k8s_body(
            k8s.V1RoleBinding,
            {
                "metadata": {"name": "pod-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
            },
        ),
    )


def _run_pod_to_end(
    kube_cluster: KubeCluster, namespace: str, name: str, code: str, *args: str, **container: Any
) -> k8s.V1Pod:
    """Run ``python -c code args...`` in a pod (restartPolicy Never) and return it once finished."""
    core = kube_cluster.core()
    spec = {
        "name": "main",
        "image": "local/python",
        "command": ["python", "-c", code],
        "args": list(args),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        **container,
    }
    core.create_namespaced_pod(
        namespace,
        k8s_body(
            k8s.V1Pod,
            {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": [spec]}},
        ),
    )

    def finished() -> k8s.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase in ("Succeeded", "Failed") else None

    return wait_for(finished, 60, f"pod {name} to finish")


def test_service_account_token_works_in_pod(kube_cluster: KubeCluster, namespace: str) -> None:
    """The projected kube-api-access token, ca.crt and namespace let the pod call the apiserver as its SA."""
    _grant_pod_reader(kube_cluster, namespace)
    code = (
        "import json, os, ssl, sys, urllib.request\n"
        "sa = sys.argv[1]\n"
        "ns = open(sa + '/namespace').read()\n"
        "token = open(sa + '/token').read()\n"
        "ctx = ssl.create_default_context(cafile=sa + '/ca.crt')\n"
        "url = 'https://%s:%s/api/v1/namespaces/%s/pods/%s' % (os.environ['KUBERNETES_SERVICE_HOST'],\n"
        "    os.environ['KUBERNETES_SERVICE_PORT'], ns, os.environ['HOSTNAME'])\n"
        "req = urllib.request.Request(url, headers={'Authorization': 'Bearer ' + token})\n"
        "pod = json.load(urllib.request.urlopen(req, context=ctx))\n"
        "open('/dev/termination-log', 'w').write(pod['spec']['serviceAccountName'] + ' ' + ns)\n"
    )
    pod = _run_pod_to_end(
        kube_cluster, namespace, "in-cluster", code, "/var/run/secrets/kubernetes.io/serviceaccount"
    )
    terminated = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Succeeded", terminated.message
    assert terminated.message == f"default {namespace}"


@pytest.mark.xfail(
    kubernetes.__version__ == "36.0.0",
    reason="kubernetes==36.0.0 never sends bearer tokens from kubeconfig/in-cluster config "
    "(kubernetes-client/python#2582, fixed in 36.0.1)",
    strict=True,
)
def test_python_client_in_pod_uses_service_account(kube_cluster: KubeCluster, namespace: str) -> None:
    """The kubernetes client in a pod authenticates with the projected token via the agent's KUBECONFIG."""
    _grant_pod_reader(kube_cluster, namespace)
    code = (
        "import os\n"
        "from kubernetes import client, config\n"
        "config.load_kube_config()  # KUBECONFIG: the token kubeconfig written by the node agent\n"
        "pod = client.CoreV1Api().read_namespaced_pod(os.environ['HOSTNAME'], os.environ['NS'])\n"
        "open('/dev/termination-log', 'w').write(pod.spec.service_account_name)\n"
    )
    pod = _run_pod_to_end(
        kube_cluster,
        namespace,
        "py-client",
        code,
        env=[{"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
    )
    terminated = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Succeeded", terminated.message
    assert terminated.message == "default"


def test_finished_job_is_deleted_by_ttl_controller(kube_cluster: KubeCluster, namespace: str) -> None:
    """ttlSecondsAfterFinished: the real ttl-after-finished controller deletes the finished Job."""
    batch = kube_cluster.batch()
    job = python_job("short-lived", "print('bye')")
    job["spec"]["ttlSecondsAfterFinished"] = 0
    batch.create_namespaced_job(namespace, k8s_body(k8s.V1Job, job))
    wait_for(
        lambda: _try(lambda: batch.read_namespaced_job("short-lived", namespace)) is None,
        60,
        "the ttl-after-finished controller to delete the Job",
    )
