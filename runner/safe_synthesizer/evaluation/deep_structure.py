"""Deep Structure Stability (SQS component, 0–10).

Features: numeric/datetime columns (missing → reference median) and nominal columns
(binary/categorical) frequency-encoded with the reference's frequencies (unseen values → 0).
The larger table is subsampled to the smaller one's row count (seed 333). ``StandardScaler`` and
``PCA(n_components=2, random_state=444)`` are **fit on the reference** and applied to both tables.

``raw = ½ Σ_{k=1,2} JSD(PC_k(ref), PC_k(syn))`` (Doane-binned JS distance, base 2)

``score = 10·exp(−1.6·raw)``. Needs at least two feature columns and two rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from ._frame import BINARY, CATEGORICAL, DATETIME, NUMERIC, ColumnProfile, EncodedFrame
from ._stats import numeric_js
from .component import Component, skipped
from .grading import clip_score, deep_structure_score

NAME = "deep_structure_stability"
PCA_KINDS = (NUMERIC, DATETIME, BINARY, CATEGORICAL)


def _features(
    cols: list[ColumnProfile], ref: EncodedFrame, other: EncodedFrame
) -> tuple[np.ndarray, np.ndarray]:
    fa, fb = [], []
    for p in cols:
        if p.is_number:
            a, b = ref.numbers[p.name].copy(), other.numbers[p.name].copy()
            fin = np.isfinite(a)
            med = float(np.median(a[fin])) if fin.any() else 0.0
            a[~fin] = med
            b[~np.isfinite(b)] = med
        else:
            ca, cb = ref.codes[p.name], other.codes[p.name]
            size = int(max(ca.max(initial=0), cb.max(initial=0))) + 1
            freq = np.bincount(ca, minlength=size) / max(len(ca), 1)
            a, b = freq[ca], freq[cb]
        fa.append(a)
        fb.append(b)
    return np.column_stack(fa), np.column_stack(fb)


def _solver(x: np.ndarray) -> str:
    # Exact either way; the covariance route is far cheaper for tall tables with many columns.
    return "covariance_eigh" if x.shape[1] <= 2000 and x.shape[0] >= x.shape[1] else "full"


def project(
    profiles: list[ColumnProfile], ref: EncodedFrame, other: EncodedFrame, seed: int = 333
) -> tuple[np.ndarray, np.ndarray] | None:
    """PC1/PC2 coordinates of both tables (reference-fitted), or None when not computable."""
    cols = [p for p in profiles if p.kind in PCA_KINDS]
    if len(cols) < 2 or ref.n_rows < 2 or other.n_rows < 2:
        return None
    rng = np.random.default_rng(seed)
    n = min(ref.n_rows, other.n_rows)
    if ref.n_rows > n:
        ref = ref.take(np.sort(rng.choice(ref.n_rows, n, replace=False)))
    if other.n_rows > n:
        other = other.take(np.sort(rng.choice(other.n_rows, n, replace=False)))
    xa, xb = _features(cols, ref, other)
    scaler = StandardScaler().fit(xa)
    pca = PCA(n_components=2, random_state=444, svd_solver=_solver(xa)).fit(scaler.transform(xa))
    return pca.transform(scaler.transform(xa)), pca.transform(scaler.transform(xb))


def raw_distance(pa: np.ndarray, pb: np.ndarray) -> float:
    """Mean JS distance over the two principal components."""
    ds = [numeric_js(pa[:, k], pb[:, k]) for k in range(2)]
    return float(np.mean([d for d in ds if d is not None])) if any(d is not None for d in ds) else 0.0


def deep_structure(profiles: list[ColumnProfile], ref: EncodedFrame, other: EncodedFrame) -> Component:
    """The component."""
    proj = project(profiles, ref, other)
    if proj is None:
        return skipped(NAME, "needs at least two numeric or categorical columns and two rows")
    raw = raw_distance(*proj)
    return Component(NAME, clip_score(deep_structure_score(raw)), round(raw, 6))


def density_grid(pa: np.ndarray, pb: np.ndarray, bins: int = 24, min_count: int = 3) -> dict:
    """Binned PC1/PC2 densities of both tables (cells with fewer than ``min_count`` rows are
    suppressed so no single record can be located)."""
    both = np.vstack([pa, pb])
    lo = np.quantile(both, 0.005, axis=0)
    hi = np.quantile(both, 0.995, axis=0)
    hi = np.where(hi > lo, hi, lo + 1)
    ex = np.linspace(lo[0], hi[0], bins + 1)
    ey = np.linspace(lo[1], hi[1], bins + 1)
    ha, _, _ = np.histogram2d(pa[:, 0], pa[:, 1], bins=[ex, ey])
    hb, _, _ = np.histogram2d(pb[:, 0], pb[:, 1], bins=[ex, ey])
    ha[ha < min_count] = 0
    hb[hb < min_count] = 0
    return {
        "x_range": [float(lo[0]), float(hi[0])],
        "y_range": [float(lo[1]), float(hi[1])],
        "reference": (ha / max(len(pa), 1)).round(5).tolist(),
        "synthetic": (hb / max(len(pb), 1)).round(5).tolist(),
        "min_count": min_count,
    }
