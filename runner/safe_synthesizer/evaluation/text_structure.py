"""Text Structure Similarity (SQS component, 0–10).

Per record of a text column three statistics: the number of sentences (runs of characters between
the sentence marks ``.。︀?？؟⸮!！…:।෴።။``), the mean number of words (``\\w+``) per sentence and the
mean number of characters per word. For each statistic s the JS distance ``d_s`` of the two samples
over shared Doane bins; ``d̄ = mean(d_s)`` over the three statistics and

``score = 10 if d̄ < 0.12; 1.5 if d̄ > 0.8; else −12.5·d̄ + 11.5`` per column, averaged over the
text columns. Missing cells are not records here.
"""

from __future__ import annotations

import re

import numpy as np

from ._stats import histogram_with_missing, numeric_js, shared_edges
from .component import Component, skipped
from .grading import clip_score, text_structure_score

NAME = "text_structure_similarity"
_SENTENCE = re.compile(r"[^\.。︀?？؟⸮!！…:।෴።။]+")
_WORD = re.compile(r"\w+")
STATISTICS = ("sentence_count", "words_per_sentence", "characters_per_word")


def text_statistics(texts: list[str | None]) -> np.ndarray:
    """(n, 3) array, one row per cell: sentences, words per sentence, characters per word (NaN for
    missing cells)."""
    rows: list[tuple[float, float, float]] = []
    for t in texts:
        if t is None:
            rows.append((np.nan, np.nan, np.nan))
            continue
        sentences = [s for s in _SENTENCE.findall(t) if _WORD.search(s)]
        words = _WORD.findall(t)
        n_sent = len(sentences)
        rows.append(
            (
                n_sent,
                len(words) / n_sent if n_sent else 0.0,
                sum(len(w) for w in words) / len(words) if words else 0.0,
            )
        )
    return np.asarray(rows, dtype=float).reshape(-1, 3)


def column_distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean JS distance over the three statistics (rows with a missing cell are left out)."""
    a = a[np.isfinite(a).all(1)]
    b = b[np.isfinite(b).all(1)]
    if len(a) == 0 or len(b) == 0:
        return None
    ds = [numeric_js(a[:, k], b[:, k]) for k in range(3)]
    ds = [d for d in ds if d is not None]
    return float(np.mean(ds)) if ds else None


def text_structure(stats_ref: dict[str, np.ndarray], stats_other: dict[str, np.ndarray]) -> Component:
    """The component over the text columns (statistics precomputed per column)."""
    per_column: dict[str, dict] = {}
    for col, a in stats_ref.items():
        d = column_distance(a, stats_other[col])
        if d is not None:
            per_column[col] = {"js": round(d, 6), "score": clip_score(text_structure_score(d))}
    if not per_column:
        return skipped(NAME, "no text columns with values on both sides")
    scores = [v["score"] for v in per_column.values()]
    raw = float(np.mean([v["js"] for v in per_column.values()]))
    return Component(NAME, clip_score(float(np.mean(scores))), round(raw, 6), {"per_column": per_column})


def structure_chart(a: np.ndarray, b: np.ndarray, bins: int = 20) -> dict:
    """Aggregated histograms of the three statistics for the report."""
    a = a[np.isfinite(a).all(1)]
    b = b[np.isfinite(b).all(1)]
    out = {}
    for k, stat in enumerate(STATISTICS):
        edges = shared_edges(a[:, k], b[:, k])
        if len(edges) - 1 > bins:
            edges = np.linspace(edges[0], edges[-1], bins + 1)
        ha = histogram_with_missing(a[:, k], edges)[:-1]
        hb = histogram_with_missing(b[:, k], edges)[:-1]
        out[stat] = {
            "edges": [float(f"{e:.4g}") for e in edges],
            "reference": (ha / max(ha.sum(), 1)).round(5).tolist(),
            "synthetic": (hb / max(hb.sum(), 1)).round(5).tolist(),
        }
    return out
