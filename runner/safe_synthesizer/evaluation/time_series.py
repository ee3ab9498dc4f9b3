"""Time-series similarity: autocorrelation, within-series cross-correlation, interval regularity.

Series are the groups of the series key (one series without a key), each sorted by its parsed
timestamp; numeric columns are those numeric in the training table other than the key and the
timestamp. Up to ``MAX_SERIES`` series per table are used (a seeded sample).

* Autocorrelation of a series x of length n at lag k (1 ≤ k ≤ K):
  ``acf_k(x) = Σ_{t<n−k} (x_t − x̄)(x_{t+k} − x̄) / Σ_t (x_t − x̄)²`` (undefined when n ≤ k + 1 or x
  is constant). ``ACF̄(c, k)`` is its mean over a table's series for column c.
  **Autocorrelation similarity** ``= 1 − mean_{c,k} |ACF̄_real(c,k) − ACF̄_syn(c,k)| / 2`` over the
  (column, lag) pairs defined in both tables, with ``K = min(MAX_LAG, ⌊median real length / 2⌋)``.
  1 means the same mean ACF profile; shuffling the rows of each series drives ACF̄ towards 0.
* Cross-correlation: ``C̄(i, j)`` is the mean over series of the Pearson correlation of columns i and
  j within a series (lag 0). **Cross-correlation similarity**
  ``= 1 − mean_{i<j} |C̄_real(i,j) − C̄_syn(i,j)| / 2`` (needs two numeric columns).
* **Interval regularity**: the share of consecutive steps within series equal to the grid interval
  (relative tolerance 1e-6), for each table.
* **Per-step value distributions.** Step t is a record's position in its sorted series (0 = first).
  Steps t < L, ``L = min(MAX_STEPS, median real length)``, fall into ``B = min(STEP_BUCKETS, L)``
  buckets ``b(t) = ⌊t·B/L⌋``. For column c, values are binned on the deciles of the training
  column (edges shared by both tables); ``p_{c,b}`` and ``q_{c,b}`` are the two tables' binned
  distributions of the values at the steps of bucket b. **Step distribution similarity**
  ``= mean_{c,b} (1 − ½ Σ_bin |p_{c,b} − q_{c,b}|)`` over the (column, bucket) cells both tables
  fill; ``step_distribution_by_step`` is its mean over columns per bucket (the curve the report
  shows). It catches a series whose values are right overall but at the wrong time (a trend
  reversed, a level that starts where it should end), which the ACF and pooled marginals miss.

The holdout is scored against the training table the same way (its series are real but unseen):
the level a faithful generator can reach. Not part of SQS. Aggregates only, never values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NAME = "time_series"
MAX_LAG = 10
MAX_SERIES = 500
MAX_STEPS = 50
STEP_BUCKETS = 10


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """``acf_1..acf_max_lag`` of one series (NaN where undefined: too short, or constant)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    out = np.full(max_lag, np.nan)
    centred = x - x.mean() if len(x) else x
    denominator = float((centred**2).sum())
    if denominator <= 0:
        return out
    for k in range(1, max_lag + 1):
        if len(x) <= k + 1:
            break
        out[k - 1] = float((centred[:-k] * centred[k:]).sum()) / denominator
    return out


def _series(
    frame: pd.DataFrame, columns: list[str], seconds: np.ndarray, group_by: str | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sorted timestamps, values matrix) per series, at most MAX_SERIES (seeded sample)."""
    values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    codes = pd.factorize(frame[group_by], sort=False)[0] if group_by else np.zeros(len(frame), dtype=int)
    groups = [np.flatnonzero(codes == c) for c in range(int(codes.max(initial=-1)) + 1)]
    if len(groups) > MAX_SERIES:
        rng = np.random.default_rng(seed)
        groups = [groups[i] for i in sorted(rng.choice(len(groups), MAX_SERIES, replace=False))]
    out = []
    for rows in groups:
        order = rows[np.argsort(seconds[rows], kind="stable")]
        out.append((seconds[order], values[order]))
    return out


def _mean_acf(series: list[tuple[np.ndarray, np.ndarray]], n_columns: int, max_lag: int) -> np.ndarray:
    """ACF̄: (column, lag) mean over series (NaN where no series defines it)."""
    stack = np.full((len(series), n_columns, max_lag), np.nan)
    for s, (_, values) in enumerate(series):
        for c in range(n_columns):
            stack[s, c] = autocorrelation(values[:, c], max_lag)
    return _nanmean(stack)


def _mean_cross(series: list[tuple[np.ndarray, np.ndarray]], n_columns: int) -> np.ndarray:
    """C̄: within-series Pearson correlations averaged over series."""
    stack = np.full((len(series), n_columns, n_columns), np.nan)
    for s, (_, values) in enumerate(series):
        keep = ~np.isnan(values).any(axis=1)
        v = values[keep]
        if len(v) < 3:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            stack[s] = np.corrcoef(v, rowvar=False)
    return _nanmean(stack)


def _nanmean(stack: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(stack)).sum(axis=0)
    sums = np.nansum(stack, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _similarity(a: np.ndarray, b: np.ndarray) -> float | None:
    both = ~np.isnan(a) & ~np.isnan(b)
    if not both.any():
        return None
    return round(float(1 - np.abs(a[both] - b[both]).mean() / 2), 4)


def _decile_edges(series: list[tuple[np.ndarray, np.ndarray]], n_columns: int) -> list[np.ndarray]:
    """Inner decile edges of each training column (unique, so a point mass is one bin)."""
    values = np.concatenate([v for _, v in series]) if series else np.empty((0, n_columns))
    edges = []
    for c in range(n_columns):
        x = values[:, c]
        x = x[~np.isnan(x)]
        edges.append(np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9))) if len(x) else np.array([]))
    return edges


def _step_histograms(
    series: list[tuple[np.ndarray, np.ndarray]], edges: list[np.ndarray], length: int, buckets: int
) -> np.ndarray:
    """Counts (column, bucket, bin) of the values at the steps t < length of every series."""
    n_bins = max((len(e) for e in edges), default=0) + 1
    counts = np.zeros((len(edges), buckets, n_bins))
    for _, values in series:
        steps = min(len(values), length)
        bucket = (np.arange(steps) * buckets) // length
        for c, e in enumerate(edges):
            x = values[:steps, c]
            ok = ~np.isnan(x)
            np.add.at(counts[c], (bucket[ok], np.searchsorted(e, x[ok], side="right")), 1)
    return counts


def step_distribution_similarity(
    real: list[tuple[np.ndarray, np.ndarray]], other: list[tuple[np.ndarray, np.ndarray]], n_columns: int
) -> tuple[float | None, list[float | None]]:
    """The module docstring's step distribution similarity and its per-bucket curve."""
    lengths = [len(ts) for ts, _ in real]
    if not n_columns or not lengths or not other:
        return None, []
    length = int(min(MAX_STEPS, max(1, int(np.median(lengths)))))
    buckets = min(STEP_BUCKETS, length)
    edges = _decile_edges(real, n_columns)
    p, q = _step_histograms(real, edges, length, buckets), _step_histograms(other, edges, length, buckets)
    p_total, q_total = p.sum(axis=2, keepdims=True), q.sum(axis=2, keepdims=True)
    filled = (p_total[..., 0] > 0) & (q_total[..., 0] > 0)
    if not filled.any():
        return None, []
    with np.errstate(invalid="ignore", divide="ignore"):
        tv = 0.5 * np.abs(p / p_total - q / q_total).sum(axis=2)
    similarity = np.where(filled, 1 - tv, np.nan)
    curve = [
        round(float(np.nanmean(similarity[:, b])), 4) if filled[:, b].any() else None for b in range(buckets)
    ]
    return round(float(np.nanmean(similarity)), 4), curve


def interval_regularity(series: list[tuple[np.ndarray, np.ndarray]], interval: float) -> float | None:
    """Share of within-series steps equal to ``interval`` (None without any step)."""
    diffs = np.concatenate([np.diff(ts[~np.isnan(ts)]) for ts, _ in series]) if series else np.array([])
    if not len(diffs):
        return None
    return round(float((np.abs(diffs - interval) <= 1e-6 * interval).mean()), 4)


def time_series_similarity(
    train: pd.DataFrame,
    other: pd.DataFrame,
    *,
    columns: list[str],
    train_seconds: np.ndarray,
    other_seconds: np.ndarray,
    group_by: str | None,
    interval: float,
    seed: int = 5,
) -> dict[str, Any]:
    """The figures of the module docstring for ``other`` against ``train``."""
    real = _series(train, columns, train_seconds, group_by, seed)
    syn = _series(other, columns, other_seconds, group_by, seed)
    lengths = [len(ts) for ts, _ in real]
    max_lag = int(min(MAX_LAG, max(1, int(np.median(lengths)) // 2))) if lengths else 1
    out: dict[str, Any] = {
        "series": len(syn),
        "rows": len(other),
        "median_series_length": float(np.median([len(ts) for ts, _ in syn])) if syn else None,
        "max_lag": max_lag,
        "autocorrelation_similarity": None,
        "cross_correlation_similarity": None,
        "interval_regularity": interval_regularity(syn, interval),
        "autocorrelation_by_column": {},
        "step_distribution_similarity": None,
        "step_distribution_by_step": [],
    }
    if columns and real and syn:
        acf_real = _mean_acf(real, len(columns), max_lag)
        acf_syn = _mean_acf(syn, len(columns), max_lag)
        out["autocorrelation_similarity"] = _similarity(acf_real, acf_syn)
        out["autocorrelation_by_column"] = {
            c: _similarity(acf_real[i], acf_syn[i]) for i, c in enumerate(columns)
        }
        step, curve = step_distribution_similarity(real, syn, len(columns))
        out["step_distribution_similarity"], out["step_distribution_by_step"] = step, curve
        if len(columns) >= 2:
            upper = np.triu_indices(len(columns), k=1)
            out["cross_correlation_similarity"] = _similarity(
                _mean_cross(real, len(columns))[upper], _mean_cross(syn, len(columns))[upper]
            )
    return out


def time_series_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    *,
    plan: Any,
    seed: int = 5,
) -> dict[str, Any]:
    """Synthetic (and holdout, when there is one) against training; ``plan`` is the run's
    :class:`~safe_synthesizer.timeseries.TimeSeriesPlan`."""
    from ..timeseries import DATETIME, ELAPSED, parse_timestamps

    fmt = (plan.output_format or "%Y-%m-%d %H:%M:%S") if plan.kind == DATETIME else ELAPSED
    skip = {plan.column, plan.group_by}
    columns = [
        str(c) for c in train.columns if c not in skip and pd.api.types.is_numeric_dtype(train[c].dtype)
    ]

    def seconds(frame: pd.DataFrame) -> np.ndarray:
        return parse_timestamps(frame[plan.column], fmt, plan.column)[0]

    common = {"columns": columns, "group_by": plan.group_by, "interval": plan.interval, "seed": seed}
    train_seconds = seconds(train)
    out: dict[str, Any] = {
        "columns": columns,
        "interval_seconds": plan.interval,
        "training": {
            "series": len(_series(train, columns, train_seconds, plan.group_by, seed)),
            "interval_regularity": interval_regularity(
                _series(train, columns, train_seconds, plan.group_by, seed), plan.interval
            ),
        },
        "synthetic": time_series_similarity(
            train, synthetic, train_seconds=train_seconds, other_seconds=seconds(synthetic), **common
        ),
        "holdout": None,
    }
    if holdout is not None and len(holdout):
        out["holdout"] = time_series_similarity(
            train, holdout, train_seconds=train_seconds, other_seconds=seconds(holdout), **common
        )
    return out
