"""Membership Inference Protection (DPS component, 0–10), plus ROC AUC and TPR at 1% FPR.

A black-box, distance-based attack: the attacker sees only the synthetic table and guesses that a
record was a training member when its nearest synthetic record is close. For each real record r,
``d(r) = min_s ‖x_r − x_s‖`` (encoding in :mod:`._distance`). Members are training records,
non-members the holdout (which the model never saw).

Protection score: the attacker's *membership advantage* over guessing, from the ROC of the score
``−d`` over all sampled members and non-members:

``adv = max(2·AUC − 1, (TPR@1%FPR − 0.01) / 0.99)`` clipped to [0, 1], ``score = 10·(1 − adv)``.

AUC 0.5 and TPR@1%FPR 0.01 (chance) give 10; a copy of the training data (every member at
distance 0) gives 0. Both numbers come with 95% percentile bootstrap intervals (members and
non-members resampled separately).

For comparison the reference's attack grid is reported too (``reference_grid_score``): 10 runs;
run k's attack set is |holdout| training records (a different slice per run) plus every holdout
record, shuffled; distances are divided by the largest one. For thresholds T ∈ {0.4, 0.3, 0.2, 0.1}
and prefixes of 20%, 30%, …, 100% of the attack set (36 attacks per run) the attacker predicts
"member" when ``d < T``; precision p and accuracy a (rounded to 0.1; p = 0 when nothing is
predicted) give points:

====================================================  ======  =========
condition                                             points  label
====================================================  ======  =========
p ≤ .5 and a ≤ .5                                     3       Excellent
(p ≤ .8 and a ≤ .5) or (p ≤ .5 and a ≤ .8)            2.5     Very Good
p ≤ .8 and a ≤ .8                                     2       Good
p ≤ .8 or a ≤ .8                                      1.5     Moderate
otherwise                                             1       Poor
====================================================  ======  =========

``reference_grid_score = (mean points − 1) / 2 · 10``. It is coarse: a verbatim copy of the
training data still scores about 4 on it, which is why it is not the headline number.

``AUC = P(−d(member) > −d(non-member))`` with ties counting ½.
"""

from __future__ import annotations

import numpy as np

from ._stats import auc_score, percentile_ci, tpr_at_fpr
from .component import Component, skipped
from .grading import clip_score

NAME = "membership_inference_protection"
THRESHOLDS = (0.4, 0.3, 0.2, 0.1)
PREFIXES = tuple(np.round(np.arange(0.2, 1.0001, 0.1), 1))
LABELS = ("Excellent", "Very Good", "Good", "Moderate", "Poor")


def attack_points(precision: float, accuracy: float) -> tuple[float, str]:
    """Points and label of one attack (inputs already rounded to 0.1)."""
    p, a = precision, accuracy
    if p <= 0.5 and a <= 0.5:
        return 3.0, "Excellent"
    if (p <= 0.8 and a <= 0.5) or (p <= 0.5 and a <= 0.8):
        return 2.5, "Very Good"
    if p <= 0.8 and a <= 0.8:
        return 2.0, "Good"
    if p <= 0.8 or a <= 0.8:
        return 1.5, "Moderate"
    return 1.0, "Poor"


def attack_grid(
    d_members: np.ndarray, d_nonmembers: np.ndarray, n_runs: int = 10, seed: int = 1
) -> tuple[float, dict]:
    """Mean points over runs × thresholds × prefixes, and the label counts."""
    rng = np.random.default_rng(seed)
    n_non = len(d_nonmembers)
    members = rng.permutation(len(d_members))
    labels = dict.fromkeys(LABELS, 0)
    run_means = []
    for run in range(n_runs):
        take = np.take(members, np.arange(run * n_non, (run + 1) * n_non), mode="wrap")
        d = np.concatenate([d_members[take], d_nonmembers])
        y = np.concatenate([np.ones(len(take), bool), np.zeros(n_non, bool)])
        order = rng.permutation(len(d))
        d, y = d[order], y[order]
        scale = d.max() if d.max() > 0 else 1.0
        d = d / scale
        points = []
        for t in THRESHOLDS:
            for frac in PREFIXES:
                n = max(1, int(np.ceil(frac * len(d))))
                pred = d[:n] < t
                truth = y[:n]
                tp = int((pred & truth).sum())
                precision = tp / int(pred.sum()) if pred.any() else 0.0
                accuracy = float((pred == truth).mean())
                pts, label = attack_points(round(precision, 1), round(accuracy, 1))
                points.append(pts)
                labels[label] += 1
        run_means.append(float(np.mean(points)))
    return float(np.mean(run_means)), labels


def advantage(auc: float, tpr_1pct: float) -> float:
    """Membership advantage in [0, 1] from the ROC AUC and the TPR at 1% FPR."""
    return float(min(1.0, max(0.0, 2.0 * auc - 1.0, (tpr_1pct - 0.01) / 0.99)))


def membership_inference(
    d_members: np.ndarray, d_nonmembers: np.ndarray, *, seed: int = 1, n_boot: int = 200
) -> Component:
    """The component from nearest-synthetic distances of members and non-members."""
    if len(d_members) < 10 or len(d_nonmembers) < 10:
        return skipped(NAME, "needs at least 10 training and 10 holdout records")
    mean_points, labels = attack_grid(d_members, d_nonmembers, seed=seed)
    pos, neg = -d_members, -d_nonmembers
    auc = auc_score(pos, neg)
    tpr = tpr_at_fpr(pos, neg, 0.01)
    adv = advantage(auc, tpr)
    score = clip_score(10.0 * (1.0 - adv))
    rng = np.random.default_rng(seed + 7)
    aucs, tprs = [], []
    for _ in range(n_boot):
        bp = pos[rng.integers(0, len(pos), len(pos))]
        bn = neg[rng.integers(0, len(neg), len(neg))]
        aucs.append(auc_score(bp, bn))
        tprs.append(tpr_at_fpr(bp, bn, 0.01))
    total = sum(labels.values())
    return Component(
        NAME,
        score,
        round(adv, 4),
        {
            "advantage": round(adv, 4),
            "reference_grid_score": clip_score((mean_points - 1.0) / 2.0 * 10.0),
            "auc": round(auc, 4),
            "auc_ci95": _round(percentile_ci(aucs)),
            "tpr_at_1pct_fpr": round(tpr, 4),
            "tpr_at_1pct_fpr_ci95": _round(percentile_ci(tprs)),
            "attack_grades": {k: round(v / total, 4) for k, v in labels.items()},
            "n_members": int(len(d_members)),
            "n_nonmembers": int(len(d_nonmembers)),
            "median_distance_members": round(float(np.median(d_members)), 5),
            "median_distance_nonmembers": round(float(np.median(d_nonmembers)), 5),
        },
    )


def _round(ci: list[float] | None) -> list[float] | None:
    return None if ci is None else [round(x, 4) for x in ci]
