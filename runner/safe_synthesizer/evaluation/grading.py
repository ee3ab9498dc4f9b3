"""Scaling of raw distances to 0–10 scores, and grades (reference §5.4).

Scores are clipped to [0, 10] and rounded to 0.1. Grade index = ``min(int(score) // 2, 4)``:

=========  ==============  ==============
score      quality grade   privacy grade
=========  ==============  ==============
[0, 2)     Very Poor       Poor
[2, 4)     Poor            Moderate
[4, 6)     Moderate        Good
[6, 8)     Good            Very Good
[8, 10]    Excellent       Excellent
=========  ==============  ==============
"""

from __future__ import annotations

import math

QUALITY_GRADES = ("Very Poor", "Poor", "Moderate", "Good", "Excellent")
PRIVACY_GRADES = ("Poor", "Moderate", "Good", "Very Good", "Excellent")


def clip_score(score: float | None) -> float | None:
    """Clip to [0, 10] and round to one decimal; None stays None."""
    if score is None or not math.isfinite(score):
        return None
    return round(min(10.0, max(0.0, float(score))), 1)


def grade_index(score: float) -> int:
    """0..4 bucket of a 0–10 score."""
    return max(0, min(int(score) // 2, 4))


def quality_grade(score: float | None) -> str | None:
    """Quality label of an SQS-style score."""
    return None if score is None else QUALITY_GRADES[grade_index(score)]


def privacy_grade(score: float | None) -> str | None:
    """Privacy label of a DPS-style score."""
    return None if score is None else PRIVACY_GRADES[grade_index(score)]


def distribution_score(mean_js: float) -> float:
    """Column distribution stability: 10 if d < 0.02, 0 if d > 0.99, else 7.44d² − 16.646d + 10.305."""
    if mean_js < 0.02:
        return 10.0
    if mean_js > 0.99:
        return 0.0
    return 7.44 * mean_js**2 - 16.646 * mean_js + 10.305


def correlation_score(error: float) -> float:
    """Column correlation stability from the strength-weighted association error E
    (:mod:`.correlation`): 10 if E < 0.01, 0 if E > 0.46, else 37.562E² − 35.643E + 10.056."""
    if error < 0.01:
        return 10.0
    if error > 0.46:
        return 0.0
    return 37.562 * error**2 - 35.643 * error + 10.056


def deep_structure_score(raw: float) -> float:
    """Deep structure stability: 10·exp(−1.6·raw) with raw the mean JS distance over two PCs."""
    return 10.0 * math.exp(-1.6 * raw)


def text_structure_score(mean_js: float) -> float:
    """Text structure similarity: 10 if d < 0.12, 1.5 if d > 0.8, else −12.5d + 11.5."""
    if mean_js < 0.12:
        return 10.0
    if mean_js > 0.8:
        return 1.5
    return -12.5 * mean_js + 11.5


def text_semantic_score(ks_under: float, ks_over: float) -> float:
    """Text semantic similarity: 10·exp(−KS_under)·exp(−KS_over)."""
    return 10.0 * math.exp(-ks_under) * math.exp(-ks_over)
