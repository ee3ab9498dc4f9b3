"""Distance to Closest Record (DCR) share and exact copies (privacy diagnostics, not part of DPS).

With equal-size samples T (training) and H (holdout) of n records each and a sample S of synthetic
records, for every s ∈ S: ``d_T(s) = min_{t∈T} ‖x_s − x_t‖`` and ``d_H(s)`` likewise.

``DCR share = (1/|S|) Σ_s [d_T(s) < d_H(s)] + ½·[d_T(s) = d_H(s)]``

A generator that does not memorise places synthetic records as close to unseen real records as to
training records: 0.5 is the no-memorisation level; values well above 0.5 mean synthetic records
sit closer to training records. 95% percentile bootstrap interval over S.

Exact copies: synthetic rows identical to a training row on every compared column (canonical
labels, so 1 and 1.0 match), counted over all rows; the same count against the holdout is the
real-data baseline (rows that are common in the population are expected to recur).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._frame import labels_of
from ._stats import percentile_ci

NAME = "dcr"


def dcr_share(d_train: np.ndarray, d_holdout: np.ndarray, *, seed: int = 5, n_boot: int = 500) -> dict:
    """Share of synthetic records closer to the training sample than to the holdout sample."""
    closer = (d_train < d_holdout).astype(float) + 0.5 * (d_train == d_holdout)
    rng = np.random.default_rng(seed)
    boots = [float(closer[rng.integers(0, len(closer), len(closer))].mean()) for _ in range(n_boot)]
    edges = np.linspace(0, float(max(d_train.max(initial=0), d_holdout.max(initial=0)) or 1.0), 31)
    ht, _ = np.histogram(d_train, edges)
    hh, _ = np.histogram(d_holdout, edges)
    ci = percentile_ci(boots)
    return {
        "share_closer_to_train": round(float(closer.mean()), 4),
        "share_ci95": None if ci is None else [round(x, 4) for x in ci],
        "ideal": 0.5,
        "n_synthetic": int(len(closer)),
        "median_dcr_train": round(float(np.median(d_train)), 5),
        "median_dcr_holdout": round(float(np.median(d_holdout)), 5),
        "share_zero_distance_train": round(float((d_train == 0).mean()), 4),
        "histogram": {
            "edges": [round(float(e), 4) for e in edges],
            "to_train": (ht / max(len(d_train), 1)).round(5).tolist(),
            "to_holdout": (hh / max(len(d_holdout), 1)).round(5).tolist(),
        },
    }


def row_hashes(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One 64-bit hash per row over canonical labels of ``columns``."""
    if not columns:
        return np.zeros(len(df), dtype=np.uint64)
    canon = pd.DataFrame({c: labels_of(df[c]) for c in columns})
    return pd.util.hash_pandas_object(canon, index=False).to_numpy()


def exact_copies(
    train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None, columns: list[str]
) -> dict:
    """Counts of synthetic rows that copy a training (and, for reference, a holdout) row."""
    h_train = row_hashes(train, columns)
    h_syn = row_hashes(synthetic, columns)
    in_train = np.isin(h_syn, h_train)
    out = {
        "columns_compared": len(columns),
        "synthetic_rows_copying_train": int(in_train.sum()),
        "share_synthetic_copying_train": round(float(in_train.mean()) if len(h_syn) else 0.0, 6),
        "unique_train_rows_copied": int(len(np.unique(h_syn[in_train]))),
        "duplicate_rows_in_train": int(len(h_train) - len(np.unique(h_train))),
        "duplicate_rows_in_synthetic": int(len(h_syn) - len(np.unique(h_syn))),
    }
    if holdout is not None and len(holdout):
        h_hold = row_hashes(holdout, columns)
        in_hold = np.isin(h_syn, h_hold)
        out["synthetic_rows_copying_holdout"] = int(in_hold.sum())
        out["holdout_rows_copying_train"] = int(np.isin(h_hold, h_train).sum())
        out["share_holdout_copying_train"] = round(float(np.isin(h_hold, h_train).mean()), 6)
    return out
