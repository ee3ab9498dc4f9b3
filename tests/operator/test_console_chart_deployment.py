"""The chart's console Deployment, run in the test cluster as the chart renders it.

A control plane of its own with the deployment and replicaset controllers; the node agent runs the
console pod's command (gunicorn, the image playing no part: see docs/test-cluster.md) with the
chart's environment and volumes (the cluster CA from ``kube-root-ca.crt``). What it shows beyond the
browser tests: the console's ServiceAccount holds no token and no rights, the pod still serves, and
a user who signs in with their own token sees their namespace and is refused another.
"""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import CHART, Cluster, free_port, wait_for

pytestmark = pytest.mark.cluster

NAMESPACE = "ssj-console"
FULLNAME = "ssjc"


@pytest.fixture(scope="module")
def deployed() -> Iterator[dict[str, Any]]:
    from harness import default_bin_dir, missing_binaries

    missing = missing_binaries() + [b for b in ("helm",) if not (default_bin_dir() / b).is_file()]
    if missing:
        pytest.fail(f"Kubernetes test binaries missing: {', '.join(missing)}; run `make cluster-bins`")
    cluster = Cluster.start(gpus=0, extra_controllers=("deployment-controller", "replicaset-controller"))
    failed = True
    try:
        port = free_port()
        cluster.kubectl("create", "namespace", NAMESPACE)
        result = cluster.helm(
            "upgrade", "--install", "ssj", str(CHART), "--namespace", NAMESPACE,
            "--set", f"fullnameOverride={FULLNAME}",
            "--set", "console.enabled=true",
            # host network: a free port, one small worker; the operator pod on a free port too
            "--set", f"console.port={port}",
            "--set", "console.workers=1",
            "--set", "console.threads=2",
            "--set", "console.urlPrefix=/synth",
            "--set", f"operator.healthPort={free_port()}",
            "--set", "metrics.enabled=false",
        )  # fmt: skip
        assert result.returncode == 0, f"helm install failed: {result.stderr}"
        yield {"cluster": cluster, "port": port}
        failed = False
    finally:
        cluster.stop(keep_logs=failed)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


class Browser:
    """Cookies and CSRF tokens over urllib (the browser tests use a real browser)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as answer:
                return answer.status, answer.url, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.url, err.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        request = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(fields).encode())
        try:
            with self.opener.open(request, timeout=30) as answer:
                return answer.status, answer.url, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.url, err.read().decode()


def test_the_chart_console_runs_without_rights_and_acts_as_each_user(deployed: dict[str, Any]) -> None:
    cluster: Cluster = deployed["cluster"]
    port = deployed["port"]
    pod = wait_for(
        lambda: next(
            (
                p
                for p in cluster.kubectl_json(
                    "get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=console"
                )["items"]
                if (p.get("status") or {}).get("phase") == "Running"
            ),
            None,
        ),
        120,
        "the console pod to run",
    )
    wait_for(lambda: _healthy(port), 90, "the console pod's /healthz")
    # no token in the pod, and its ServiceAccount may do nothing with jobs anywhere
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert not any(
        "serviceAccountToken" in str(v) or v["name"].startswith("kube-api-access") for v in spec["volumes"]
    )
    console_sa = f"system:serviceaccount:{NAMESPACE}:{FULLNAME}-console"
    for verb in ("list", "get", "create", "delete"):
        answer = subprocess.run(
            [cluster.binary("kubectl"), "--kubeconfig", str(cluster.kubeconfig), "auth", "can-i", verb,
             "safesynthesizerjobs.safesynthesizer.io", "-A", f"--as={console_sa}"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert answer.returncode == 1 and answer.stdout.strip() == "no", (verb, answer.stdout, answer.stderr)

    # a user of team-x signs in with their own token
    cluster.kubectl("create", "namespace", "team-x")
    cluster.kubectl("create", "serviceaccount", "bob", "-n", "team-x")
    cluster.kubectl(
        "create", "rolebinding", "bob-editor", "-n", "team-x",
        f"--clusterrole={FULLNAME}-editor", "--serviceaccount=team-x:bob",
    )  # fmt: skip
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        stdin=(
            "apiVersion: safesynthesizer.io/v1alpha1\nkind: SafeSynthesizerJob\n"
            "metadata: {name: bobs-job, namespace: team-x}\n"
            "spec: {dataSource: 's3://b/in.csv', suspend: true}\n"
        ),
    )
    token = cluster.kubectl("create", "token", "bob", "-n", "team-x", "--duration=1h").strip()
    browser = Browser(f"http://127.0.0.1:{port}")
    status, url, page = browser.get("/synth/namespaces/team-x/jobs")
    assert status == 200 and "/synth/login" in url and "bobs-job" not in page
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert csrf
    status, url, page = browser.post(urllib.parse.urlsplit(url).path + "?" + urllib.parse.urlsplit(url).query,
                                     {"csrf_token": csrf.group(1), "token": token})  # fmt: skip
    assert status == 200 and url.endswith("/synth/namespaces/team-x/jobs"), (status, url, page[-2000:])
    assert "system:serviceaccount:team-x:bob" in page and 'data-job="bobs-job"' in page
    status, _, page = browser.get(f"/synth/namespaces/{NAMESPACE}/jobs")
    assert status == 403 and "Not allowed" in page and "bob" in page
