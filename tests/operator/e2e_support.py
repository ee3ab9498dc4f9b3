"""Helpers shared by the operator's end-to-end tests and ``scripts/bench_operator.py``.

TEST HARNESS: a dedicated control plane (``harness.ControlPlane`` + the ``fake_kubelet`` node agent,
see docs/test-cluster.md), the operator run as a real process (``python -m
safe_synthesizer_operator``), kubectl/helm invocations and polling helpers.

Why a dedicated control plane (not ``tests/kube``'s ``kube_cluster``): fixtures of another folder's
conftest are not visible here, and its state folder lives under ``/tmp``. The node agent rewrites
every occurrence of a pod's mount paths in the container environment, including the ``KUBECONFIG``
it injects itself, so a runner pod that mounts ``/tmp`` (ours does: read-only root file system)
would lose its ServiceAccount kubeconfig when the agent's folder is under ``/tmp``. Here the state
folder is under ``~/.cache/safe-synthesizer/operator-test-runs/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DIR = ROOT / "tests" / "cluster"
CHART = ROOT / "charts" / "safe-synthesizer"
if str(CLUSTER_DIR) not in sys.path:
    sys.path.insert(0, str(CLUSTER_DIR))

from fake_kubelet import FakeKubelet, NodeConfig  # noqa: E402
from harness import ControlPlane, cache_root, venv_python  # noqa: E402

T = TypeVar("T")
RELEASE = "ssj"
FULLNAME = "safe-synthesizer"
OPERATOR_SA = f"{FULLNAME}-operator"
JOB_SA = f"{FULLNAME}-job"
DEMO_CSV = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
STAND_IN_RUNNER = Path(__file__).resolve().parent / "stand_in_runner.py"

# A CPU runner configuration that finishes a whole job in 15-40 s (the examples' defaults train for
# minutes): shared by the end-to-end, SDK and chart-Deployment tests.
SMALL_CONFIG: dict[str, Any] = {
    "training": {
        "pretrained_model": "builtin:tiny-llama",
        "num_input_records_to_sample": 64,
        "batch_size": 16,
        "gradient_accumulation_steps": 1,
        "learning_rate": 0.004,
    },
    "generation": {"num_records": 10, "use_structured_generation": True},
}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class Cluster:
    """A control plane + node agent with a state folder outside /tmp (see the module docstring)."""

    plane: ControlPlane
    agent: FakeKubelet

    @classmethod
    def start(cls, gpus: int = 1, extra_controllers: tuple[str, ...] = ()) -> Cluster:
        """Start etcd, kube-apiserver, kube-controller-manager (plus ``extra_controllers``) and the
        node agent."""
        runs = cache_root() / "operator-test-runs"
        runs.mkdir(parents=True, exist_ok=True)
        state_dir = Path(tempfile.mkdtemp(prefix="kube-", dir=runs))
        plane = ControlPlane(state_dir, extra_controllers=list(extra_controllers))
        plane.start()
        agent = FakeKubelet(
            plane.kubeconfig,
            state_dir / "node-agent",
            NodeConfig(gpus=gpus),
            log_dir=plane.logs_dir / "pods",
            python=venv_python(),
        )
        try:
            agent.start()
        except Exception:
            plane.stop(keep_logs=True)
            raise
        return cls(plane, agent)

    def stop(self, keep_logs: bool) -> None:
        """Stop everything; keep the logs when asked (failed tests)."""
        self.agent.stop()
        self.plane.stop(keep_logs=keep_logs)

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig."""
        return self.plane.kubeconfig

    def binary(self, name: str) -> str:
        """Path of kubectl/helm/..."""
        return self.plane.binary(name)

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60) -> str:
        """Run kubectl as admin; returns stdout (raises with stderr when ``check`` and it fails)."""
        result = subprocess.run(
            [self.binary("kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result.stdout if result.returncode == 0 else result.stderr

    def kubectl_json(self, *args: str) -> dict[str, Any]:
        """``kubectl get ... -o json`` as a dict."""
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run helm with the admin kubeconfig."""
        return subprocess.run(
            [self.binary("helm"), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def token_kubeconfig(self, namespace: str, service_account: str, path: Path) -> Path:
        """A kubeconfig that authenticates as ``namespace/service_account`` (TokenRequest API)."""
        token = self.kubectl("create", "token", service_account, "-n", namespace, "--duration=2h").strip()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {
                        "server": self.plane.server,
                        "certificate-authority": str(self.plane.state_dir / "pki" / "ca.crt"),
                    },
                }
            ],
            "users": [{"name": service_account, "user": {"token": token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": service_account}}],
            "current-context": "test",
        }
        path.write_text(json.dumps(config))
        return path


@dataclass
class OperatorProcess:
    """``python -m safe_synthesizer_operator`` as a child process (so it can be killed for real)."""

    kubeconfig: Path
    env: dict[str, str]
    log_path: Path
    namespaces: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    health_port: int = 0
    metrics_port: int = 0
    starts: int = 0

    def start(self, timeout: float = 60) -> OperatorProcess:
        """Start and wait until kopf's liveness endpoint answers."""
        self.health_port = free_port()
        self.metrics_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SSO_", "AWS_", "KUBECONFIG"))}
        env.update(self.env)
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            SSO_METRICS_PORT=str(self.metrics_port),
            SSO_METRICS_ADDRESS="127.0.0.1",
            PYTHONUNBUFFERED="1",
        )
        args = [venv_python(), "-m", "safe_synthesizer_operator", "--log-format", "full"]
        args += ["--liveness", f"http://127.0.0.1:{self.health_port}/healthz"]
        for namespace in self.namespaces:
            args += ["-n", namespace]
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== operator start #{self.starts} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
        log.close()
        wait_for(lambda: self.healthy() or self._died(), timeout, "the operator's liveness endpoint")
        if self.proc.poll() is not None:
            raise AssertionError(f"the operator exited with {self.proc.returncode}: see {self.log_path}")
        return self

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def healthy(self) -> bool:
        """Whether /healthz answers 200."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def metrics(self) -> str:
        """The Prometheus text exposition."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()

    def rss_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the operator process, in KiB."""
        assert self.proc is not None
        values: dict[str, int] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        return values

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when a node dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (kopf stops gracefully), SIGKILL after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        """Everything the operator logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Release:
    """The installed chart and what the tests need around it."""

    cluster: Cluster
    namespace: str
    s3_endpoint: str
    s3: Any  # boto3 S3 client
    operator_kubeconfig: Path
    helm_output: str

    def operator(self, clusterwide: bool = False, **env: str) -> OperatorProcess:
        """A (not yet started) operator process with the Deployment's environment plus ``env``,
        watching every namespace (as the chart's default install) or only the release's."""
        settings = deployment_env(self.cluster, self.namespace)
        settings.update(env)
        log_path = self.cluster.plane.logs_dir / "operator.log"
        namespaces = [] if clusterwide else [self.namespace]
        return OperatorProcess(self.operator_kubeconfig, settings, log_path, namespaces=namespaces)


def deployment_env(cluster: Cluster, namespace: str) -> dict[str, str]:
    """The ``SSO_*`` environment the chart gives the operator Deployment (plain values only)."""
    deployment = cluster.kubectl_json("get", "deployment", f"{FULLNAME}-operator", "-n", namespace)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container.get("env") or [] if "value" in e}


def demo_slice(
    rows: int = 240,
    columns: tuple[str, ...] = ("age", "workclass", "education", "sex", "hours_per_week", "income"),
) -> bytes:
    """The first ``rows`` rows of the bundled demo table, a few columns (fast on CPU)."""
    import csv
    import io

    with DEMO_CSV.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for i, row in enumerate(reader):
            if i >= rows:
                break
            writer.writerow({c: row[c] for c in columns})
    return out.getvalue().encode()


def ssj_manifest(
    name: str, namespace: str, spec: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A SafeSynthesizerJob manifest."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "safesynthesizer.io/v1alpha1",
        "kind": "SafeSynthesizerJob",
        "metadata": metadata,
        "spec": spec,
    }


@contextlib.contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """``with timed() as elapsed: ...; elapsed()`` seconds."""
    start = time.monotonic()
    yield lambda: time.monotonic() - start


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


@dataclass
class BurstResult:
    """What a burst of CRs did: phases, Jobs per CR, create→Job latencies, wall time."""

    phases: dict[str, str | None]
    jobs_per_cr: dict[str, int]
    latencies: dict[str, float]
    seconds_to_all_terminal: float

    def summary(self) -> str:
        """One line of figures."""
        values = list(self.latencies.values())
        return (
            f"{len(self.phases)} CRs: create->Job p50 {percentile(values, 0.50):.2f}s "
            f"p95 {percentile(values, 0.95):.2f}s max {max(values):.2f}s; "
            f"all terminal after {self.seconds_to_all_terminal:.1f}s"
        )


def run_burst(
    cluster: Cluster,
    namespace: str,
    count: int,
    failing_every: int = 5,
    prefix: str = "burst",
    timeout: float = 300,
) -> BurstResult:
    """Apply ``count`` SafeSynthesizerJobs in one ``kubectl apply`` (every ``failing_every``-th one
    with missing data) and wait until all are Succeeded or Failed.

    Latency = when the Job's ADDED event arrived minus when the CR's ADDED event arrived, both seen
    on watches of this process (local clock, sub-second resolution)."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes import watch

    api_client = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    custom = k8s.CustomObjectsApi(api_client)
    batch = k8s.BatchV1Api(api_client)
    label = f"safesynthesizer.io/test-burst={prefix}"
    cr_seen: dict[str, float] = {}
    job_seen: dict[str, float] = {}
    stop = threading.Event()

    def watch_crs() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a dropped watch is simply restarted
                for event in watch.Watch().stream(
                    custom.list_namespaced_custom_object,
                    "safesynthesizer.io",
                    "v1alpha1",
                    namespace,
                    "safesynthesizerjobs",
                    label_selector=label,
                    timeout_seconds=2,
                ):
                    cr_seen.setdefault(event["object"]["metadata"]["name"], time.monotonic())

    def watch_jobs() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                for event in watch.Watch().stream(batch.list_namespaced_job, namespace, timeout_seconds=2):
                    owner = (event["object"].metadata.labels or {}).get("safesynthesizer.io/job")
                    if owner and owner.startswith(prefix):
                        job_seen.setdefault(owner, time.monotonic())

    threads = [threading.Thread(target=fn, daemon=True) for fn in (watch_crs, watch_jobs)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let both watches connect
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    manifests = []
    for i, name in enumerate(names):
        missing = failing_every and i % failing_every == failing_every - 1
        spec = {
            "dataSource": f"s3://bench/input/{'missing' if missing else 'data'}-{i}.csv",
            "output": f"s3://bench/output/{name}/",
            "resources": {"gpu": 0},
        }
        manifests.append(
            ssj_manifest(name, namespace, spec, labels={"safesynthesizer.io/test-burst": prefix})
        )
    import yaml

    started = time.monotonic()
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(manifests), timeout=120)

    def phases() -> dict[str, str | None]:
        items = custom.list_namespaced_custom_object(
            "safesynthesizer.io", "v1alpha1", namespace, "safesynthesizerjobs", label_selector=label
        )["items"]
        return {i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in items}

    def all_terminal() -> dict[str, str | None] | None:
        current = phases()
        done = len(current) == count and all(p in ("Succeeded", "Failed") for p in current.values())
        return current if done else None

    final = wait_for(all_terminal, timeout, f"{count} CRs to finish", interval=1.0)
    elapsed = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    jobs = batch.list_namespaced_job(
        namespace, label_selector="app.kubernetes.io/managed-by=safe-synthesizer-operator"
    )
    per_cr = dict.fromkeys(names, 0)
    for job in jobs.items:
        owner = (job.metadata.labels or {}).get("safesynthesizer.io/job")
        if owner in per_cr:
            per_cr[owner] += 1
    latencies = {n: job_seen[n] - cr_seen[n] for n in names if n in job_seen and n in cr_seen}
    return BurstResult(final, per_cr, latencies, elapsed)
