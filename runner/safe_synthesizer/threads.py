"""CPU threads that fit the CPUs this process may actually use.

``usable_cpus()`` = min(CPUs in the scheduler affinity mask, ⌊cgroup CPU quota⌋) (cgroup v2
``cpu.max`` or v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``; at least 1). A pod with a 2-CPU limit on a
64-core node gets 2, not 64: more threads than that only queue behind the CFS quota, and torch's
default (every core of the node) makes small kernels many times slower when the CPUs are shared.
``SAFE_SYNTH_THREADS`` overrides the figure.

The field-token engine's kernels are mostly small (a batch of 256 records × a few hundred
features): :func:`field_engine_threads` gives it one thread per two usable CPUs, and all usable
CPUs only when a record has at least ``WIDE_LOGITS`` output logits (long free-text columns), where
the work per step is large enough to split. ``make bench-pipeline`` (section 4) on 2 idle cores,
steps/s alone / beside one busy process (2026-12-02):

- Adult, 605 logits per record: torch default (2 threads, spinning waits) 36.3 / 10.0; 2 threads
  with passive waits 24.8 / 26.4; 1 thread (the runner's choice) 33.9 / 33.7.
- loans, 5,683 logits: 4.36 / 1.20; 2.28 / 2.23; 1 thread (runner) 2.69 / 2.76.
- the demo table with every column, 17,818 logits: 1.29 / 0.42; 2 threads passive (runner)
  1.20 / 0.79; 1 thread 0.80 / 0.72.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

from .contract import ENV_THREADS

ENV_OVERRIDE = ENV_THREADS
WIDE_LOGITS = 8192  # output logits per record from which the field engine uses every usable CPU


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


def field_engine_threads(cpus: int | None = None, logits_per_record: int = 0) -> int:
    """Threads for the field-token engine (module docstring): every usable CPU when a record has at
    least ``WIDE_LOGITS`` output logits, else half of them; at least 1. ``SAFE_SYNTH_THREADS``
    (through :func:`usable_cpus`) is taken as is."""
    n = cpus or usable_cpus()
    if os.environ.get(ENV_OVERRIDE) and cpus is None:
        return n
    return n if logits_per_record >= WIDE_LOGITS else max(1, n // 2)
