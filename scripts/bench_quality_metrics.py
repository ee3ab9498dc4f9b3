"""Pure parts of ``make bench-quality``: the split, the reference generators and the privacy metrics.

Only numpy and pandas (either major version): this module is imported both by the orchestrator in the
project venv and by the peer/scorer script in the bench venv, and by ``tests/test_bench_quality.py``.
It is written independently of ``safe_synthesizer.evaluation`` so that the benchmark's privacy figures
do not share code (or bugs) with the project they measure.

* :func:`split_train_holdout`: shuffled 50/50 split with a fixed seed.
* :func:`independent_marginals`, :func:`copy_of_train`: the two reference "generators".
* :func:`align_to`: coerce a synthetic table to the training table's columns and kinds.
* :func:`dcr_share`: share of synthetic rows whose nearest neighbour (Euclidean on a Gower-like
  normalised mixed encoding) lies in the training rows rather than in an equally large holdout;
  0.5 = the generator is as close to unseen rows as to its training rows, 1.0 = it copies them.
* :func:`exact_copies`: number of synthetic rows identical (all columns) to a training row.
* :func:`tstr_classes`: the target classes of the train-synthetic-test-real task, fixed from the real
  training split before any generator is scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOP_CATEGORIES = 30  # one-hot width of a categorical column in the DCR encoding (the rest: "other")
DCR_MAX_SYNTHETIC = 5000  # synthetic rows queried for DCR (a seeded sample beyond that)
DCR_MAX_REFERENCE = 25000  # train and holdout rows each (equal sizes; a seeded sample beyond that)
# A class needs this many rows of the real training split to enter the TSTR task. It is the scorer's
# HistGradientBoosting ``min_samples_leaf`` default: a rarer class fits no leaf of its own, and with
# 2-10 rows of it the multiclass booster's leaf values blow up. Measured on birds (``Parked``: 3 of
# 9,651 training rows, 8 of the holdout): seven samples of one adapter (temperature 0.9-1.1) scored TSTR AUC
# 0.739-0.898 with that class and 0.892-0.901 without it; the real training split itself 0.874 with, 0.919
# without, so a generator that happened to drop the class scored above the real data.
TSTR_MIN_CLASS_ROWS = 20


def split_train_holdout(df: pd.DataFrame, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle with ``seed`` and cut in half: (train, holdout), train taking the odd row if any."""
    order = np.random.default_rng(seed).permutation(len(df))
    cut = (len(df) + 1) // 2
    train = df.iloc[np.sort(order[:cut])].reset_index(drop=True)
    holdout = df.iloc[np.sort(order[cut:])].reset_index(drop=True)
    return train, holdout


def independent_marginals(train: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Each column resampled independently (with replacement) from ``train``: right marginals, no
    relationships between columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {c: train[c].to_numpy()[rng.integers(0, len(train), n)] for c in train.columns}, columns=train.columns
    )


def copy_of_train(train: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """Training rows themselves (without replacement while ``n <= len(train)``): a privacy failure
    that the DCR share and the exact-copy count must flag."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(train))[:n] if n <= len(train) else rng.integers(0, len(train), n)
    return train.iloc[idx].reset_index(drop=True)


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def align_to(train: pd.DataFrame, synthetic: pd.DataFrame) -> pd.DataFrame:
    """``synthetic`` restricted to (and ordered as) ``train``'s columns; a missing column becomes all
    missing; numeric training columns are coerced to numbers, the others to strings (missing kept)."""
    out = {}
    for c in train.columns:
        s = synthetic[c] if c in synthetic.columns else pd.Series([np.nan] * len(synthetic), dtype=object)
        s = s.reset_index(drop=True)
        if _is_numeric(train[c]):
            out[c] = pd.to_numeric(s, errors="coerce").astype(float)
        else:
            out[c] = s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return pd.DataFrame(out, columns=train.columns)


def _days(s: pd.Series) -> pd.Series:
    """ISO date strings as days since 1970 (anything else missing)."""
    when = pd.to_datetime(s.astype(object).where(s.notna(), None), errors="coerce", format="ISO8601")
    return (when - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0


def _column_kind(s: pd.Series) -> str:
    """ "number", "date" (a column of ISO date strings) or "category"."""
    if _is_numeric(s):
        return "number"
    if pd.api.types.is_bool_dtype(s):
        return "category"
    values = s.dropna().astype(str)
    if values.empty or not values.head(200).str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return "category"
    return "date" if _days(s).notna().sum() >= 0.95 * s.notna().sum() else "category"


def _as_number(s: pd.Series, kind: str) -> pd.Series:
    if kind == "date":
        return _days(s)
    return pd.to_numeric(s, errors="coerce").astype(float)


def mixed_encoding(ref: pd.DataFrame, *frames: pd.DataFrame) -> list[np.ndarray]:
    """Encode ``frames`` (same columns as ``ref``) as float32 matrices, scaled on ``ref``.

    Numbers (and ISO dates): min-max scaled by ``ref``'s 1st-99th percentile range (clipped to
    [-0.5, 1.5]), missing as 0 plus a missing flag. Other columns: one-hot of ``ref``'s
    :data:`TOP_CATEGORIES` most frequent values plus "other" and "missing", times 1/sqrt(2), so
    that a mismatch costs 1 in squared distance, as a full-range numeric difference does.
    """
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for c in ref.columns:
        kind = _column_kind(ref[c])
        if kind != "category":
            ref_num = _as_number(ref[c], kind)
            lo, hi = np.nanpercentile(ref_num, [1, 99]) if ref_num.notna().any() else (0.0, 1.0)
            span = hi - lo if hi > lo else 1.0
            for out, f in zip(blocks, frames, strict=True):
                num = _as_number(f[c], kind)
                x = np.clip((num.to_numpy(dtype=float) - lo) / span, -0.5, 1.5)
                miss = np.isnan(x)
                out.append(np.where(miss, 0.0, x)[:, None])
                out.append(miss.astype(float)[:, None])
            continue
        ref_str = ref[c].astype(object).where(ref[c].notna(), None).map(lambda v: v if v is None else str(v))
        top = list(ref_str.dropna().value_counts().index[:TOP_CATEGORIES])
        codes = {v: i for i, v in enumerate(top)}
        width = len(top) + 2  # + other, missing
        for out, f in zip(blocks, frames, strict=True):
            vals = f[c].astype(object).where(f[c].notna(), None).map(lambda v: v if v is None else str(v))
            idx = np.array([len(top) + 1 if v is None else codes.get(v, len(top)) for v in vals], dtype=int)
            onehot = np.zeros((len(f), width))
            onehot[np.arange(len(f)), idx] = 1.0 / np.sqrt(2.0)
            out.append(onehot)
    return [
        np.hstack(b).astype(np.float32) if b else np.zeros((len(f), 0), np.float32)
        for b, f in zip(blocks, frames, strict=True)
    ]


def nearest_distances(query: np.ndarray, ref: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Euclidean distance from each row of ``query`` to its nearest row of ``ref`` (exact, chunked)."""
    ref = ref.astype(np.float64)
    ref_sq = (ref**2).sum(axis=1)
    out = np.empty(len(query))
    for start in range(0, len(query), chunk):
        q = query[start : start + chunk].astype(np.float64)
        d2 = (q**2).sum(axis=1)[:, None] + ref_sq[None, :] - 2.0 * q @ ref.T
        out[start : start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def dcr_share(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    seed: int = 0,
    max_synthetic: int = DCR_MAX_SYNTHETIC,
    max_reference: int = DCR_MAX_REFERENCE,
) -> dict[str, float]:
    """Share of synthetic rows closer to ``train`` than to ``holdout`` (ties count one half).

    Train and holdout are cut to the same size (a seeded sample), so a generator that has not
    memorised its training rows scores about 0.5; a copy of the training rows scores 1.0.
    Also returns the median distances to either side.
    """
    rng = np.random.default_rng(seed)
    n = min(len(train), len(holdout), max_reference)
    tr = train.iloc[np.sort(rng.permutation(len(train))[:n])].reset_index(drop=True)
    ho = holdout.iloc[np.sort(rng.permutation(len(holdout))[:n])].reset_index(drop=True)
    syn = align_to(train, synthetic)
    if len(syn) > max_synthetic:
        syn = syn.iloc[np.sort(rng.permutation(len(syn))[:max_synthetic])].reset_index(drop=True)
    ref = pd.concat([tr, ho], ignore_index=True)
    e_tr, e_ho, e_syn = mixed_encoding(ref, tr, align_to(train, ho), syn)
    d_tr = nearest_distances(e_syn, e_tr)
    d_ho = nearest_distances(e_syn, e_ho)
    closer = (d_tr < d_ho - 1e-9).mean() + 0.5 * (np.abs(d_tr - d_ho) <= 1e-9).mean()
    return {
        "dcr_share": float(closer),
        "dcr_median_train": float(np.median(d_tr)),
        "dcr_median_holdout": float(np.median(d_ho)),
        "dcr_rows": int(len(syn)),
        "dcr_reference_rows": int(n),
    }


def _row_keys(df: pd.DataFrame, numeric: dict[str, bool]) -> pd.Series:
    """One canonical string per row: numbers as %.10g, missing as a fixed token."""
    parts = []
    for c in df.columns:
        s = df[c]
        if numeric[c]:
            x = pd.to_numeric(s, errors="coerce").astype(float)
            parts.append(x.map(lambda v: "\x00" if np.isnan(v) else f"{v:.10g}"))
        else:
            parts.append(s.astype(object).map(lambda v: "\x00" if v is None or v != v else str(v)))
    if not parts:
        return pd.Series([""] * len(df))
    key = parts[0].astype(str)
    for p in parts[1:]:
        key = key + "\x1f" + p.astype(str)
    return key.reset_index(drop=True)


def exact_copies(train: pd.DataFrame, synthetic: pd.DataFrame) -> int:
    """Number of synthetic rows equal in every training column to some training row."""
    numeric = {c: _is_numeric(train[c]) for c in train.columns}
    syn = align_to(train, synthetic)
    train_keys = set(_row_keys(train, numeric))
    return int(_row_keys(syn, numeric).isin(train_keys).sum())


def tstr_classes(train_target: pd.Series, min_rows: int = TSTR_MIN_CLASS_ROWS) -> list[str]:
    """The classes of the train-synthetic-test-real task: target values (as strings) held by at least
    ``min_rows`` rows of the real training split, sorted. Fixed from the real data, so every generator
    is scored on the same task; rows of other classes leave both the synthetic fit set and the
    holdout (:data:`TSTR_MIN_CLASS_ROWS` says why)."""
    counts = train_target.dropna().astype(str).value_counts()
    return sorted(str(c) for c, n in counts.items() if n >= min_rows)
