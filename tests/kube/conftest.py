"""Session-scoped real Kubernetes control plane for the ``cluster`` tests.

``kube_cluster`` starts etcd + kube-apiserver + kube-controller-manager (built by ``make cluster-bins``,
see docs/test-cluster.md) on loopback ports, plus the test node agent ``fake_kubelet`` (a thread that
stands in for kubelet+scheduler and runs pod containers as local processes). One control plane is
shared by the whole session.

If the binaries are missing the fixture FAILS and says to run ``make cluster-bins``; with
``SAFE_SYNTH_SKIP_CLUSTER=1`` it skips instead. On any failure of a test that used the cluster the
component logs (and pod logs) are kept and their folder is printed in the report;
``SAFE_SYNTH_KEEP_CLUSTER_LOGS=1`` keeps them always.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

CLUSTER_DIR = Path(__file__).resolve().parents[1] / "cluster"
if str(CLUSTER_DIR) not in sys.path:
    sys.path.insert(0, str(CLUSTER_DIR))

from cluster_fixture import KubeCluster, k8s_body  # noqa: E402
from fake_kubelet import FakeKubelet, NodeConfig  # noqa: E402
from harness import ClusterError, ControlPlane, default_bin_dir, missing_binaries, venv_python  # noqa: E402
from kubernetes import client as k8s  # noqa: E402

_RUN: dict[str, object] = {"failed": False, "logs": None}


def _keep_always() -> bool:
    return os.environ.get("SAFE_SYNTH_KEEP_CLUSTER_LOGS") == "1"


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    """A real control plane plus the test node agent, shared by the session."""
    missing = missing_binaries()
    if missing:
        message = (
            f"Kubernetes test binaries missing in {default_bin_dir()}: {', '.join(missing)}. "
            "Run `make cluster-bins` (builds them from Go modules, see docs/test-cluster.md); "
            "set SAFE_SYNTH_SKIP_CLUSTER=1 to skip the cluster tests instead."
        )
        if os.environ.get("SAFE_SYNTH_SKIP_CLUSTER") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    state_dir = Path(tempfile.mkdtemp(prefix="safe-synth-kube-"))
    plane = ControlPlane(state_dir)
    _RUN["logs"] = plane.logs_dir
    try:
        plane.start()
    except ClusterError as err:
        _RUN["failed"] = True
        pytest.fail(f"control plane did not start: {err}\ncomponent logs: {plane.logs_dir}", pytrace=False)
    handler = logging.FileHandler(plane.logs_dir / "node-agent.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
    agent_logger = logging.getLogger("fake_kubelet")
    agent_logger.addHandler(handler)
    agent_logger.setLevel(logging.INFO)
    agent = FakeKubelet(
        plane.kubeconfig,
        state_dir / "node-agent",
        NodeConfig(gpus=1),
        log_dir=plane.logs_dir / "pods",
        python=venv_python(),
    )
    try:
        agent.start()
    except Exception:
        _RUN["failed"] = True
        plane.stop(keep_logs=True)
        raise
    try:
        yield KubeCluster(plane, agent)
    finally:
        agent.stop()
        agent_logger.removeHandler(handler)
        handler.close()
        plane.stop(keep_logs=bool(_RUN["failed"]) or _keep_always())


@pytest.fixture
def namespace(kube_cluster: KubeCluster) -> Iterator[str]:
    """A fresh namespace for one test (deleted afterwards, without waiting)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core = kube_cluster.core()
    core.create_namespace(k8s_body(k8s.V1Namespace, {"metadata": {"name": name}}))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the cluster log folder to failed cluster tests (and keep the logs)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and "kube_cluster" in getattr(item, "fixturenames", ()):
        _RUN["failed"] = True
        if _RUN["logs"]:
            report.sections.append(("kube cluster logs", f"component and pod logs kept in {_RUN['logs']}"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print where the cluster logs were kept."""
    logs = _RUN["logs"]
    if logs and (_RUN["failed"] or _keep_always()) and Path(str(logs)).exists():
        terminalreporter.write_sep("-", "kube cluster")
        terminalreporter.write_line(f"kube cluster component and pod logs kept in: {logs}")
