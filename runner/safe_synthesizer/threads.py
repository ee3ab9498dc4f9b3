"""CPU threads that fit the CPUs this process may actually use.

``usable_cpus()`` = min(CPUs in the scheduler affinity mask, ⌊cgroup CPU quota⌋) (cgroup v2
``cpu.max`` or v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``; at least 1). A pod with a 2-CPU limit on a
64-core node gets 2, not 64: more threads than that only queue behind the CFS quota, and torch's
default (every core of the node) makes small kernels many times slower when the CPUs are shared.
``SAFE_SYNTH_THREADS`` overrides the figure.

The field-token engine's kernels are small (a batch of 256 records × a few hundred features): one
thread per two usable CPUs (:func:`field_engine_threads`) measured 0.023-0.040 s per step beside
other CPU-bound processes on 2 cores, against 0.07-0.16 s with 2 threads.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

ENV_OVERRIDE = "SAFE_SYNTH_THREADS"


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup quota, or None when unlimited or unknown."""
    v2 = root / "cpu.max"
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota_file, period_file = root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"
        if quota_file.exists() and period_file.exists():
            quota_us = int(quota_file.read_text())
            return None if quota_us <= 0 else quota_us / int(period_file.read_text())
    except (OSError, ValueError):
        return None
    return None


def usable_cpus(root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use (module docstring), or the override."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        try:
            return max(1, int(override))
        except ValueError:
            raise ValueError(f"{ENV_OVERRIDE} must be a positive integer, got {override!r}") from None
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota(root)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def configure_threads(count: int | None = None) -> int:
    """Size torch's intra-op and inter-op pools (and OpenMP/BLAS through the environment for
    libraries started later) to ``count`` or :func:`usable_cpus`; returns the count."""
    n = count or usable_cpus()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    # Threads that sleep at barriers instead of spinning (read when torch's OpenMP starts): with a
    # busy neighbour a 2-thread step of the field model took 0.16 s spinning, 0.07 s passive.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        return n
    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):  # only settable before the first parallel work
        torch.set_num_interop_threads(max(1, min(n, 2)))
    return n


def field_engine_threads(cpus: int | None = None) -> int:
    """Threads for the field-token engine: half the usable CPUs, at least 1 (module docstring)."""
    n = cpus or usable_cpus()
    return max(1, n // 2)
