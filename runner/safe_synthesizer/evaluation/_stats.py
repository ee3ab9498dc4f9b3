"""Small statistics shared by the metrics: shared histogram bins, Jensen-Shannon distance, entropy,
Theil's U, correlation ratio, ROC AUC and bootstrap helpers."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import rankdata

MAX_BINS = 500


def shared_edges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Doane bin edges over the combined finite values of ``a`` and ``b`` (500 bins as fallback)."""
    both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    if both.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(both.min()), float(both.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    try:
        edges = np.histogram_bin_edges(both, bins="doane", range=(lo, hi))
    except (ValueError, MemoryError):
        edges = np.array([])
    if len(edges) < 2 or len(edges) - 1 > MAX_BINS:
        edges = np.linspace(lo, hi, MAX_BINS + 1)
    return edges


def histogram_with_missing(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin plus one last bin for missing (NaN/inf) values."""
    finite = np.isfinite(values)
    counts, _ = np.histogram(values[finite], bins=edges)
    return np.append(counts, (~finite).sum()).astype(np.float64)


def js_distance(p: np.ndarray, q: np.ndarray) -> float | None:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors; None when one is empty."""
    sp, sq = float(p.sum()), float(q.sum())
    if sp <= 0 or sq <= 0:
        return None
    d = float(jensenshannon(p / sp, q / sq, base=2))
    return 0.0 if not np.isfinite(d) else min(max(d, 0.0), 1.0)


def numeric_js(a: np.ndarray, b: np.ndarray) -> float | None:
    """JS distance of two numeric samples over shared Doane bins (missing values as their own bin)."""
    edges = shared_edges(a, b)
    return js_distance(histogram_with_missing(a, edges), histogram_with_missing(b, edges))


def nominal_js(a: np.ndarray, b: np.ndarray, n_categories: int) -> float | None:
    """JS distance of two coded nominal samples (relative frequencies)."""
    return js_distance(
        np.bincount(a, minlength=n_categories).astype(float),
        np.bincount(b, minlength=n_categories).astype(float),
    )


def entropy_of_counts(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of a count vector."""
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def dense_codes(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel integer codes as 0..k-1."""
    uniq, inv = np.unique(x, return_inverse=True)
    return inv.astype(np.int64), len(uniq)


def theils_u_pair(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Theil's uncertainty coefficients (U(x|y), U(y|x)) of two code arrays.

    ``U(x|y) = (H(x) − H(x|y)) / H(x)``: the share of x's entropy that y explains; 0 if H(x) = 0.
    """
    xc, nx = dense_codes(x)
    yc, ny = dense_codes(y)
    joint = np.bincount(xc * ny + yc, minlength=nx * ny).reshape(nx, ny).astype(float)
    n = joint.sum()
    px = joint.sum(axis=1)
    py = joint.sum(axis=0)
    hx = entropy_of_counts(px)
    hy = entropy_of_counts(py)
    nz = joint > 0
    pj = joint[nz] / n
    # H(x|y) = -Σ p(x,y) log(p(x,y)/p(y)); H(y|x) likewise.
    py_b = np.broadcast_to(py[None, :], joint.shape)[nz] / n
    px_b = np.broadcast_to(px[:, None], joint.shape)[nz] / n
    hx_given_y = float(-(pj * np.log(pj / py_b)).sum())
    hy_given_x = float(-(pj * np.log(pj / px_b)).sum())
    u_xy = (hx - hx_given_y) / hx if hx > 0 else 0.0
    u_yx = (hy - hy_given_x) / hy if hy > 0 else 0.0
    return min(1.0, max(0.0, u_xy)), min(1.0, max(0.0, u_yx))


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio η of a numeric variable over nominal groups: sqrt(SS_between / SS_total)."""
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return 0.0
    c, k = dense_codes(codes[ok])
    v = values[ok]
    counts = np.bincount(c, minlength=k).astype(float)
    sums = np.bincount(c, weights=v, minlength=k)
    mean = v.mean()
    ss_total = float(((v - mean) ** 2).sum())
    if ss_total <= 0:
        return 0.0
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    ss_between = float((counts * (means - mean) ** 2).sum())
    return math.sqrt(min(1.0, max(0.0, ss_between / ss_total)))


def correlation_ratios(codes: np.ndarray, block: np.ndarray) -> np.ndarray:
    """Correlation ratio η of every column of a complete (no NaN) numeric block over nominal groups."""
    c, k = dense_codes(codes)
    counts = np.bincount(c, minlength=k).astype(float)
    onehot = np.zeros((len(c), k))
    onehot[np.arange(len(c)), c] = 1.0
    sums = onehot.T @ block  # (k, m)
    mean = block.mean(axis=0)
    means = sums / np.maximum(counts, 1)[:, None]
    ss_between = (counts[:, None] * (means - mean) ** 2).sum(axis=0)
    ss_total = ((block - mean) ** 2).sum(axis=0)
    ratio = np.divide(ss_between, ss_total, out=np.zeros_like(ss_total), where=ss_total > 0)
    return np.sqrt(np.clip(ratio, 0.0, 1.0))


def quantile_bins(values: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Codes of ``values`` in up to ``n_bins`` quantile bins; NaN gets its own code."""
    out = np.full(len(values), n_bins + 1, dtype=np.int64)
    ok = np.isfinite(values)
    if ok.any():
        edges = np.unique(np.quantile(values[ok], np.linspace(0, 1, n_bins + 1)[1:-1]))
        out[ok] = np.searchsorted(edges, values[ok], side="right")
    return out


def auc_score(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney, ties count one half) of scores where higher means 'positive'."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float = 0.01) -> float:
    """True-positive rate at the strictest threshold whose false-positive rate is <= ``fpr``."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    neg_sorted = np.sort(neg)[::-1]
    allowed = int(np.floor(fpr * len(neg)))
    # Predict positive when score > threshold; at most `allowed` negatives may exceed it.
    threshold = neg_sorted[allowed] if allowed < len(neg_sorted) else -np.inf
    return float((pos > threshold).mean())


def percentile_ci(samples: list[float] | np.ndarray, level: float = 0.95) -> list[float] | None:
    """Percentile interval of bootstrap replicates (None when there are none)."""
    arr = np.asarray([s for s in samples if s is not None and np.isfinite(s)], dtype=float)
    if arr.size < 2:
        return None
    lo, hi = np.quantile(arr, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [float(lo), float(hi)]
