"""Synthetic Quality Score (SQS, 0–10): the aggregation of the five quality components, and the
real-data reference (the holdout scored against the training data the same way).

``tabular = (0.84·DeepStructure + 0.86·Distribution + 1.0·Correlation) / Σ weights of the parts that
ran``; ``text = (0.7·Semantic + 0.3·Structure) / Σ weights of the parts that ran``;

``SQS = (n_tab·tabular + n_text·text) / (n_tab + n_text)`` with n_tab, n_text the numbers of scored
tabular and text columns. A component scoring 0 counts as 0; a skipped one is left out.

Real-data reference: each component is computed for holdout-vs-train (m holdout rows, N training
rows), distance ``d_m``, with σ̂ the bootstrap standard deviation of that distance (B holdout
resamples). Between two independent samples of one population these distances are sampling noise,
which shrinks like ``√(1/m + 1/N)``; the synthetic sample has n rows, so

``f = √((1/n + 1/N) / (1/m + 1/N))``, ``d_ref = f·d_m``, 95% range ``f·(d_m ± 1.96·√2·σ̂)``

and ``reference_score`` (and ``reference_sqs``, aggregated as above) is the score of ``d_ref``:
what an independent real sample **of the synthetic sample's size** gets, the bar the synthetic
score is read against. Weak-reference handling: a small holdout (the default 5% of a 2,000-row
table is 100 rows) is a noisy sample whose distance to the training data is mostly its own
sampling noise; read at its own size it scored below a fresh real sample of 1,900 rows (on UCI
Adult: SQS 7.5 vs 9.3) and even level with a table whose associations had vanished, i.e. the
reference's noise made a bad table look as good as real data. The rescaling removes the noise
that belongs to the holdout's size and not to the comparison (on Adult, ``f·d_m`` from 100 rows
matches the distance of fresh 500- and 1,900-row samples within about 30%, all three tabular
components), and the chance-adjusted association measures (:mod:`.correlation`) keep the small
holdout from showing spurious associations in the first place. The measured values stay in the
output as ``holdout_distance`` / ``holdout_score`` / ``holdout_sqs``.

The synthetic data is "too good to be true" when its distance is below ``f·(d_m − 3.29·√2·σ̂)``
(the 99.9% lower end at the synthetic size, so independent real-like samples almost never trip
it), or exactly 0 while the real reference is not: closer to the training data than fresh real
data of that size gets — a sign of copying (a copy has distance 0). The text semantic reference
is a score, not a distance, and is reported as measured (holdout halves).
"""

from __future__ import annotations

import math
from collections.abc import Callable

TABULAR_WEIGHTS = {
    "deep_structure_stability": 0.84,
    "column_distribution_stability": 0.86,
    "column_correlation_stability": 1.0,
}
TEXT_WEIGHTS = {"text_semantic_similarity": 0.7, "text_structure_similarity": 0.3}
Z95 = 1.959963984540054
Z_WARN = 3.2905267314919255  # two-sided 99.9%


def _weighted(scores: dict[str, float | None], weights: dict[str, float]) -> float | None:
    parts = [(weights[k], s) for k, s in scores.items() if k in weights and s is not None]
    total = sum(w for w, _ in parts)
    return sum(w * s for w, s in parts) / total if total > 0 else None


def aggregate_sqs(scores: dict[str, float | None], n_tabular: int, n_text: int) -> float | None:
    """The overall score from the component scores (None when nothing could be scored)."""
    tabular = _weighted(scores, TABULAR_WEIGHTS)
    text = _weighted(scores, TEXT_WEIGHTS)
    parts = []
    if tabular is not None:
        parts.append((max(n_tabular, 1), tabular))
    if text is not None:
        parts.append((max(n_text, 1), text))
    if not parts:
        return None
    return sum(n * s for n, s in parts) / sum(n for n, _ in parts)


def prediction_range(d_ref: float, boot_sd: float, z: float = Z95) -> tuple[float, float]:
    """Range (95% by default) of the distance an independent real sample would get."""
    half = z * math.sqrt(2.0) * boot_sd
    return max(0.0, d_ref - half), d_ref + half


def size_factor(m: int, n: int, n_train: int) -> float:
    """Noise-scaling factor from a reference sample of m rows to a synthetic sample of n rows."""
    return math.sqrt((1.0 / n + 1.0 / n_train) / (1.0 / m + 1.0 / n_train))


def score_range(lo: float, hi: float, to_score: Callable[[float], float]) -> list[float]:
    """Score interval from a distance interval (scores fall as distances grow)."""
    return [round(min(10.0, max(0.0, to_score(hi))), 2), round(min(10.0, max(0.0, to_score(lo))), 2)]
