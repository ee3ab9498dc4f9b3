"""Prometheus metrics of the operator (``prometheus_client``), served on ``SSO_METRICS_PORT``.

* ``safesynth_jobs{phase}``: SafeSynthesizerJobs by phase, collected at scrape time from the
  operator's in-memory view of the CRs (no stale series: deleted CRs simply stop counting);
* ``safesynth_job_duration_seconds{result}``: histogram of start→completion time of finished jobs
  (observed once, when the operator records the terminal phase);
* ``safesynth_reconcile_errors_total{trigger}``: reconciles that raised (API errors, bugs);
* ``safesynth_reconcile_total{trigger}`` and ``safesynth_jobs_created_total``: activity counters.

Labels carry no uid or name, so cardinality stays bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

disable_created_metrics()  # no *_created series: they double the output and nobody graphs them

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Cancelled")
DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, float("inf"))


class _PhaseCollector(Collector):
    """``safesynth_jobs{phase}`` computed from a callable that returns the current phases."""

    def __init__(self, phases: Callable[[], Iterable[str | None]]) -> None:
        self._phases = phases

    def collect(self) -> Iterable[GaugeMetricFamily]:
        counts = dict.fromkeys(PHASES, 0)
        for phase in self._phases():
            key = phase if phase in counts else "Pending"
            counts[key] += 1
        family = GaugeMetricFamily("safesynth_jobs", "SafeSynthesizerJobs by phase.", labels=["phase"])
        for phase, count in counts.items():
            family.add_metric([phase], count)
        yield family


class Metrics:
    """The operator's metrics in their own registry (tests can make several)."""

    def __init__(self, phases: Callable[[], Iterable[str | None]] = lambda: ()) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_PhaseCollector(phases))
        self.job_duration = Histogram(
            "safesynth_job_duration_seconds",
            "Start to completion time of finished SafeSynthesizerJobs.",
            ["result"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.reconcile_errors = Counter(
            "safesynth_reconcile_errors_total",
            "Reconciles that raised an error.",
            ["trigger"],
            registry=self.registry,
        )
        self.reconciles = Counter(
            "safesynth_reconcile_total", "Reconciles run.", ["trigger"], registry=self.registry
        )
        self.jobs_created = Counter(
            "safesynth_jobs_created_total", "Runner Jobs created.", registry=self.registry
        )
        self._server: Any = None
        self._lock = threading.Lock()

    def serve(self, port: int, address: str = "0.0.0.0") -> int:
        """Start the HTTP endpoint (``/metrics``) in a thread; returns the bound port."""
        with self._lock:
            if self._server is None and port > 0:
                self._server, _thread = start_http_server(port, addr=address, registry=self.registry)
            return int(self._server.server_port) if self._server is not None else 0

    def stop(self) -> None:
        """Stop the HTTP endpoint."""
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None
