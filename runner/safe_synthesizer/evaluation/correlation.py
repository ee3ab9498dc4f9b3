"""Column Correlation Stability (SQS component, 0–10).

An association matrix C over the tabular columns (numeric, datetime, binary, categorical; constant,
empty, identifier and text columns are left out), computed for the **training data** (the
reference for the synthetic data and for the holdout alike) and for the table compared with it:

==================================  =============================================================
pair                                measure
==================================  =============================================================
numeric – numeric                   Pearson r (signed), pairwise complete rows; 0 if constant
nominal – nominal                   Theil's U, asymmetric: ``C[i, j] = U(i | j)``, chance-adjusted
nominal (<= 10% unique) – numeric   correlation ratio, chance-adjusted: √ε² (both cells)
nominal (> 10% unique) – numeric    Theil's U both ways, the numeric side in 20 quantile bins
==================================  =============================================================

(which of η or U a nominal column gets is decided by its unique share in the training data, the
same on both sides). Missing nominal values are a category of their own.

Chance adjustment (:mod:`._stats`): ``U(x|y) = (I − E[I]) / (H(x) − E[I])`` with E[I] the mutual
information of independent columns of the same size and category counts (the adjusted-mutual-
information expectation), and ``ε² = (η² − (k−1)/(n−1)) / (1 − (k−1)/(n−1))`` (Kelley), both
clipped to [0, 1]. Pearson r needs none (E[r] = 0 under independence). Without it a 100-row
sample shows strong spurious associations (η² ≈ (k−1)/(n−1), U ≈ (k_x−1)(k_y−1)/(2n·H)), so a
small holdout looked worse than a table whose associations had vanished.

The error is the mean absolute difference over the **off-diagonal** cells (the diagonal is 1 on
both sides), each cell weighted by the strength of the association on either side:

``w_ij = max(|C_ref[i,j]|, |C_syn[i,j]|)``,
``E = Σ_{i≠j} w_ij·|C_ref[i,j] − C_syn[i,j]| / Σ_{i≠j} w_ij`` (0 when every w is 0).

A vanished association costs its full strength with weight equal to that strength, and so does an
invented one; cells where neither table has an association (most cells of a wide table, carrying
only sampling noise) barely count. A plain mean let those cells dilute the error: a table with
every association lost scored MAE = mean |C_ref| ≈ 0.1 on UCI Adult, "Good". ``mae`` (the plain
off-diagonal mean) is still reported in the details.

``score = 10 if E < 0.01; 0 if E > 0.46; else 37.562·E² − 35.643·E + 10.056``.
"""

from __future__ import annotations

import numpy as np

from ._frame import BINARY, CATEGORICAL, DATETIME, NUMERIC, ColumnProfile, EncodedFrame
from ._stats import correlation_ratio, correlation_ratios, quantile_bins, theils_u_pair
from .component import Component, skipped
from .grading import clip_score, correlation_score

NAME = "column_correlation_stability"
CORRELATION_KINDS = (NUMERIC, DATETIME, BINARY, CATEGORICAL)


def correlation_columns(profiles: list[ColumnProfile]) -> list[ColumnProfile]:
    """Columns that enter the matrix."""
    return [p for p in profiles if p.kind in CORRELATION_KINDS]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return 0.0
    a, b = x[ok], y[ok]
    sa, sb = a.std(), b.std()
    if sa == 0 or sb == 0:
        return 0.0
    return float(np.clip(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb), -1, 1))


def correlation_matrix(
    cols: list[ColumnProfile], frame: EncodedFrame, ref_unique: dict[str, float]
) -> np.ndarray:
    """The association matrix of one table (``ref_unique``: unique share per nominal column in the
    reference, which picks η or Theil's U the same way on both sides)."""
    k = len(cols)
    mat = np.eye(k)
    numeric_idx = [i for i, p in enumerate(cols) if p.is_number]
    if len(numeric_idx) > 1:
        # Fast path: Pearson over complete rows when nothing is missing, pairwise otherwise.
        block = np.column_stack([frame.numbers[cols[i].name] for i in numeric_idx])
        if np.isfinite(block).all():
            std = block.std(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.corrcoef(block, rowvar=False)
            r = np.nan_to_num(r, nan=0.0)
            r[std == 0, :] = 0.0
            r[:, std == 0] = 0.0
            np.fill_diagonal(r, 1.0)
            idx = np.asarray(numeric_idx)
            mat[np.ix_(idx, idx)] = np.clip(r, -1.0, 1.0)
        else:
            for a, i in enumerate(numeric_idx):
                for j in numeric_idx[a + 1 :]:
                    mat[i, j] = mat[j, i] = _pearson(frame.numbers[cols[i].name], frame.numbers[cols[j].name])
    binned: dict[str, np.ndarray] = {}
    # Vectorised η for low-uniqueness nominal columns against the complete numeric columns.
    complete = [i for i in numeric_idx if np.isfinite(frame.numbers[cols[i].name]).all()]
    done: set[tuple[int, int]] = set()
    if complete:
        block = np.column_stack([frame.numbers[cols[i].name] for i in complete])
        for i, p in enumerate(cols):
            if p.is_nominal and ref_unique.get(p.name, 0.0) <= 0.10:
                etas = correlation_ratios(frame.codes[p.name], block)
                for j, eta in zip(complete, etas, strict=True):
                    mat[i, j] = mat[j, i] = float(eta)
                    done.add((min(i, j), max(i, j)))
    for i in range(k):
        for j in range(i + 1, k):
            pi, pj = cols[i], cols[j]
            if (pi.is_number and pj.is_number) or (i, j) in done:
                continue
            if pi.is_nominal and pj.is_nominal:
                u_ij, u_ji = theils_u_pair(frame.codes[pi.name], frame.codes[pj.name])
                mat[i, j], mat[j, i] = u_ij, u_ji
                continue
            nom, num = (pi, pj) if pi.is_nominal else (pj, pi)
            if ref_unique.get(nom.name, 0.0) <= 0.10:
                mat[i, j] = mat[j, i] = correlation_ratio(frame.codes[nom.name], frame.numbers[num.name])
            else:
                if num.name not in binned:
                    binned[num.name] = quantile_bins(frame.numbers[num.name])
                u_nom, u_num = theils_u_pair(frame.codes[nom.name], binned[num.name])
                if pi.is_nominal:
                    mat[i, j], mat[j, i] = u_nom, u_num
                else:
                    mat[i, j], mat[j, i] = u_num, u_nom
    return mat


def off_diagonal_mae(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a − b| over cells i ≠ j."""
    k = a.shape[0]
    if k < 2:
        return float("nan")
    mask = ~np.eye(k, dtype=bool)
    return float(np.abs(a - b)[mask].mean())


def association_error(a: np.ndarray, b: np.ndarray) -> float:
    """Strength-weighted mean |a − b| over cells i ≠ j, weights ``max(|a|, |b|)``."""
    k = a.shape[0]
    if k < 2:
        return float("nan")
    mask = ~np.eye(k, dtype=bool)
    x, y = a[mask], b[mask]
    w = np.maximum(np.abs(x), np.abs(y))
    total = float(w.sum())
    return float((w * np.abs(x - y)).sum() / total) if total > 0 else 0.0


def unique_shares(cols: list[ColumnProfile]) -> dict[str, float]:
    """Unique share per nominal column from its profile."""
    return {p.name: p.n_unique / max(p.n_rows - p.n_missing, 1) for p in cols if p.is_nominal}


def column_correlation(
    cols: list[ColumnProfile],
    ref_matrix: np.ndarray | None,
    other: EncodedFrame,
    ref_unique: dict[str, float],
) -> tuple[Component, np.ndarray | None]:
    """The component, given the reference matrix; also returns the other table's matrix."""
    if ref_matrix is None or len(cols) < 2:
        return skipped(NAME, "fewer than two numeric or categorical columns"), None
    mat = correlation_matrix(cols, other, ref_unique)
    err = association_error(ref_matrix, mat)
    details = {"n_columns": len(cols), "mae": round(off_diagonal_mae(ref_matrix, mat), 6)}
    comp = Component(NAME, clip_score(correlation_score(err)), round(err, 6), details)
    return comp, mat
