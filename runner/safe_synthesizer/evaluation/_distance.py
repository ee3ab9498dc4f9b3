"""Record encoding and nearest-neighbour distances for the privacy metrics.

Every record becomes a vector in which each tabular column weighs about the same:

* numeric/datetime: the empirical CDF (mid-rank) of the value among the fitted (real) records,
  in [0, 1]; a missing value is 0, and a 0/1 missing indicator follows every numeric column;
* nominal: one-hot over the 30 most frequent training categories plus "other", scaled by 1/√2 so
  a mismatch adds exactly 1 to the squared Euclidean distance.

Distances are Euclidean on these vectors (brute force, chunked matrix products).
"""

from __future__ import annotations

import os

import numpy as np
from threadpoolctl import threadpool_limits

from ._frame import ColumnProfile, EncodedFrame

TOP_CATEGORIES = 30


class RecordEncoder:
    """Fit on real records, transform any table over the same columns."""

    def __init__(self, cols: list[ColumnProfile]) -> None:
        self.cols = cols
        self.sorted: dict[str, np.ndarray] = {}
        self.has_missing: dict[str, bool] = {}
        self.top: dict[str, np.ndarray] = {}

    def fit(self, *frames: EncodedFrame) -> RecordEncoder:
        """Learn CDFs and category lists from the real tables."""
        for p in self.cols:
            if p.is_number:
                vals = np.concatenate([f.numbers[p.name] for f in frames])
                fin = np.isfinite(vals)
                self.sorted[p.name] = np.sort(vals[fin])
                self.has_missing[p.name] = bool((~fin).any())
            else:
                codes = frames[0].codes[p.name]
                counts = np.bincount(codes)
                self.top[p.name] = np.argsort(-counts, kind="stable")[
                    : min(TOP_CATEGORIES, int((counts > 0).sum()))
                ]
        return self

    def transform(self, frame: EncodedFrame) -> np.ndarray:
        """(n, d) float64 matrix."""
        parts = []
        for p in self.cols:
            if p.is_number:
                x = frame.numbers[p.name]
                fin = np.isfinite(x)
                ref = self.sorted[p.name]
                u = np.zeros(len(x))
                if len(ref):
                    xs = x[fin]
                    u[fin] = (np.searchsorted(ref, xs, "left") + np.searchsorted(ref, xs, "right")) / (
                        2 * len(ref)
                    )
                parts.append(u[:, None])
                parts.append((~fin).astype(float)[:, None])
            else:
                codes = frame.codes[p.name]
                top = self.top[p.name]
                lookup = np.full(int(max(codes.max(initial=0), top.max(initial=0))) + 1, len(top))
                lookup[top] = np.arange(len(top))
                onehot = np.zeros((len(codes), len(top) + 1))
                onehot[np.arange(len(codes)), lookup[codes]] = 1.0
                parts.append(onehot / np.sqrt(2.0))
        return np.hstack(parts) if parts else np.zeros((frame.n_rows, 0))


def nn_distances(
    queries: np.ndarray, index: np.ndarray, k: int = 1, max_cells: int = 8_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices of the ``k`` nearest ``index`` rows for every query row
    (queries in chunks of at most ``max_cells`` distance cells, to bound memory)."""
    k = min(k, len(index))
    chunk = max(1, max_cells // max(len(index), 1))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with threadpool_limits(limits=cores if len(queries) * len(index) > 4_000_000 else 1, user_api="blas"):
        return _nn(queries, index, k, chunk)


def _nn(queries: np.ndarray, index: np.ndarray, k: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    sq_index = (index**2).sum(1)
    dist = np.empty((len(queries), k))
    idx = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        d2 = (q**2).sum(1)[:, None] + sq_index[None, :] - 2.0 * (q @ index.T)
        np.maximum(d2, 0.0, out=d2)
        if k == 1:
            j = d2.argmin(1)[:, None]
        else:
            j = np.argpartition(d2, k - 1, axis=1)[:, :k]
            order = np.take_along_axis(d2, j, 1).argsort(1)
            j = np.take_along_axis(j, order, 1)
        dd = np.sqrt(np.take_along_axis(d2, j, 1))
        dd[dd < 1e-6] = 0.0
        dist[start : start + chunk] = dd
        idx[start : start + chunk] = j
    return dist, idx
