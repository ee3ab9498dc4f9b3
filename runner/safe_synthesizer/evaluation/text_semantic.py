"""Text Semantic Similarity (SQS component, 0–10).

Per text column, with unit-length sentence embeddings (all-MiniLM-L6-v2, offline) of n training
texts, n synthetic texts (n = min of both, at most 1000) and the holdout's texts:

* ``a_i = max_j cos(train_i, syn_j)``, ``b_i = max_{j≠i} cos(train_i, train_j)``;
  ``KS_over = KS(a, b)`` one-sided (``alternative="less"``: synthetic texts closer to training
  texts than training texts are to each other — overfitting);
* ``c_i = max_j cos(test_i, syn_j)``, ``e_i = max_{j≠i} cos(test_i, test_j)``;
  ``KS_under = KS(c, e)`` one-sided (``alternative="greater"``: unseen real texts farther from the
  synthetic texts than from each other — underfitting);
* ``score = 10·exp(−KS_under)·exp(−KS_over)`` (so in [3.7, 10]); averaged over text columns.

Needs a holdout and >= 200 non-missing train+holdout texts (a warning below 2500). Note that a copy
of the training texts scores *below* 10 here by design: ``KS_over`` flags the copying.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from .component import Component, skipped
from .grading import clip_score, text_semantic_score

NAME = "text_semantic_similarity"
MIN_TEXTS = 200
WARN_TEXTS = 2500


def _max_cos(a: np.ndarray, b: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    sims = a @ b.T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    return sims.max(axis=1)


def ks_pair(
    train: np.ndarray, syn: np.ndarray, test: np.ndarray, syn_is_test: bool = False
) -> tuple[float, float]:
    """(KS_under, KS_over) of one column's embeddings. ``syn_is_test``: the "synthetic" texts are
    the holdout itself (real-data reference); self-matches are then excluded."""
    a = _max_cos(train, syn)
    b = _max_cos(train, train, exclude_self=True)
    c = _max_cos(test, syn, exclude_self=syn_is_test)
    e = _max_cos(test, test, exclude_self=True)
    ks_over = float(ks_2samp(a, b, alternative="less").statistic)
    ks_under = float(ks_2samp(c, e, alternative="greater").statistic)
    return ks_under, ks_over


def text_semantic(
    embeddings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], syn_is_test: bool = False
) -> Component:
    """The component; ``embeddings[col] = (train, synthetic, test)`` unit-length matrices."""
    per_column = {}
    for col, (tr, sy, te) in embeddings.items():
        if len(tr) < 2 or len(sy) < 1 or len(te) < 2:
            continue
        ks_under, ks_over = ks_pair(tr, sy, te, syn_is_test)
        per_column[col] = {
            "ks_under": round(ks_under, 4),
            "ks_over": round(ks_over, 4),
            "score": clip_score(text_semantic_score(ks_under, ks_over)),
        }
    if not per_column:
        return skipped(NAME, "no text column with enough texts on every side")
    score = float(np.mean([v["score"] for v in per_column.values()]))
    raw = float(np.mean([v["ks_under"] + v["ks_over"] for v in per_column.values()]))
    return Component(NAME, clip_score(score), round(raw, 6), {"per_column": per_column})
