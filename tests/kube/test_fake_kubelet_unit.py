"""Unit tests of the node agent's pure helpers (no cluster needed)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

CLUSTER_DIR = Path(__file__).resolve().parents[1] / "cluster"
if str(CLUSTER_DIR) not in sys.path:
    sys.path.insert(0, str(CLUSTER_DIR))

from fake_kubelet import PYTHON_NAMES, expand_vars, pod_requests, rewrite_paths  # noqa: E402


def test_expand_vars_follows_kubernetes_rules() -> None:
    """$(VAR) expands when defined, stays otherwise; $$ escapes."""
    env = {"A": "1", "B": "two"}
    assert expand_vars("x-$(A)-$(B)", env) == "x-1-two"
    assert expand_vars("$(MISSING) $$(A) $", env) == "$(MISSING) $(A) $"
    assert expand_vars("$(A", env) == "$(A"


def test_rewrite_paths_only_whole_paths() -> None:
    """Mount paths are rewritten on path boundaries only, longest first."""
    mapping = [("/data/in", "/h/in"), ("/data", "/h/data"), ("/dev/termination-log", "/h/term")]
    assert rewrite_paths("--out=/data/x", mapping) == "--out=/h/data/x"
    assert rewrite_paths("/data/in/f.csv", mapping) == "/h/in/f.csv"
    assert rewrite_paths("open('/dev/termination-log','w')", mapping) == "open('/h/term','w')"
    assert rewrite_paths("/a:/data", mapping) == "/a:/h/data"
    assert rewrite_paths("s3://bucket/data/x", mapping) == "s3://bucket/data/x"
    assert rewrite_paths("/database /data2 /data.csv", mapping) == "/database /data2 /data.csv"


def test_rewrite_paths_leaves_the_image_alone() -> None:
    """A checkout under a mount path (/tmp/cc with an emptyDir at /tmp) keeps its own paths."""
    mapping = [("/tmp", "/h/tmp")]
    roots = ("/tmp/cc/.venv", "/tmp/cc")
    assert rewrite_paths("/tmp/cc/.venv/bin:/usr/bin", mapping, roots) == "/tmp/cc/.venv/bin:/usr/bin"
    assert rewrite_paths("/tmp/cc/tests/x.py /tmp/out", mapping, roots) == "/tmp/cc/tests/x.py /h/tmp/out"
    assert rewrite_paths("/tmp/ccc/x /tmp/cc", mapping, roots) == "/h/tmp/ccc/x /tmp/cc"
    assert rewrite_paths("/tmp/cc/x", mapping) == "/h/tmp/cc/x"  # without roots: the plain rule


def test_pod_requests_counts_limits_init_and_overhead() -> None:
    """Limits stand in for requests; init containers take the max; overhead adds."""
    pod = {
        "spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "500m"}, "limits": {"nvidia.com/gpu": "1"}}},
                {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "4"}}}],
            "overhead": {"memory": "100Mi"},
        }
    }
    req = pod_requests(pod)
    assert req["cpu"] == Decimal(4)
    assert req["nvidia.com/gpu"] == Decimal(1)
    assert req["memory"] == Decimal(2**30 + 100 * 2**20)


def test_python_names_map_to_the_venv() -> None:
    """python, python3, python3.11 and /usr/bin/python3 are the venv's python."""
    for name in ("python", "python3", "python3.11", "/usr/bin/python3", "/usr/local/bin/python"):
        assert PYTHON_NAMES.match(name)
    for name in ("pythonx", "/opt/python3", "ipython"):
        assert not PYTHON_NAMES.match(name)
