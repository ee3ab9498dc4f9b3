"""Column Distribution Stability (SQS component, 0–10).

For every scored column c (numeric, datetime, binary, categorical, constant):

* numeric/datetime: shared Doane bins over the combined range of both samples (500 equal bins as a
  fallback), plus one bin for missing values; ``P_c``, ``Q_c`` are the normalised counts;
* nominal: relative frequencies of the canonical labels (missing is a category);
* ``d_c = JSD(P_c, Q_c)`` — the Jensen-Shannon **distance**, base 2, in [0, 1].

``d̄ = (1/|S|) Σ_{c∈S} d_c`` over the scored columns S only (skipped columns — empty, identifier,
text — are left out instead of counting as perfect), and

``score = 10 if d̄ < 0.02; 0 if d̄ > 0.99; else 7.44·d̄² − 16.646·d̄ + 10.305``.
"""

from __future__ import annotations

import numpy as np

from ._frame import MISSING_LABEL, ColumnProfile, EncodedFrame, Encoding
from ._stats import histogram_with_missing, nominal_js, numeric_js, shared_edges
from .component import Component, skipped
from .grading import clip_score, distribution_score

NAME = "column_distribution_stability"


def column_distance(
    prof: ColumnProfile, ref: EncodedFrame, other: EncodedFrame, enc: Encoding
) -> float | None:
    """JS distance of one column between two tables (None when the column is not scored)."""
    if prof.is_number:
        return numeric_js(ref.numbers[prof.name], other.numbers[prof.name])
    if prof.is_nominal:
        return nominal_js(ref.codes[prof.name], other.codes[prof.name], len(enc.categories[prof.name]))
    return None


def mean_distance(
    profiles: list[ColumnProfile], ref: EncodedFrame, other: EncodedFrame, enc: Encoding
) -> tuple[float | None, dict[str, float]]:
    """Mean JS distance over scored columns, and the per-column distances."""
    per_column: dict[str, float] = {}
    for prof in profiles:
        d = column_distance(prof, ref, other, enc)
        if d is not None:
            per_column[prof.name] = d
    if not per_column:
        return None, per_column
    return float(np.mean(list(per_column.values()))), per_column


def column_distribution(
    profiles: list[ColumnProfile], ref: EncodedFrame, other: EncodedFrame, enc: Encoding
) -> Component:
    """The component over all columns."""
    d_mean, per_column = mean_distance(profiles, ref, other, enc)
    if d_mean is None:
        return skipped(NAME, "no numeric or categorical columns")
    comp = Component(
        NAME,
        clip_score(distribution_score(d_mean)),
        round(d_mean, 6),
        {"per_column_js": {k: round(v, 6) for k, v in per_column.items()}, "n_columns": len(per_column)},
    )
    not_scored = [p.name for p in profiles if p.name not in per_column]
    if not_scored:
        comp.notes.append(f"{len(not_scored)} column(s) not scored (empty, identifier or text)")
    return comp


def column_chart(
    prof: ColumnProfile,
    ref: EncodedFrame,
    other: EncodedFrame,
    enc: Encoding,
    *,
    show_labels: bool = True,
    min_count: int = 5,
    top: int = 12,
) -> dict | None:
    """Aggregated chart data of one column: shares per bin or per category, never single records.

    Categories seen fewer than ``min_count`` times in the reference are pooled into "other";
    with ``show_labels`` false (PII columns) category names are replaced by their rank.
    """
    if prof.is_number:
        a, b = ref.numbers[prof.name], other.numbers[prof.name]
        edges = shared_edges(a, b)
        if len(edges) - 1 > 40:  # coarser bins for the picture only
            edges = np.linspace(edges[0], edges[-1], 41)
        pa, pb = histogram_with_missing(a, edges), histogram_with_missing(b, edges)
        pa, pb = pa / max(pa.sum(), 1), pb / max(pb.sum(), 1)
        return {
            "type": "numeric",
            "datetime": prof.kind == "datetime",
            "edges": [float(f"{e:.4g}") for e in edges],
            "reference": [round(float(x), 5) for x in pa[:-1]],
            "synthetic": [round(float(x), 5) for x in pb[:-1]],
            "missing": [round(float(pa[-1]), 5), round(float(pb[-1]), 5)],
        }
    if prof.is_nominal:
        cats = enc.categories[prof.name]
        ca = np.bincount(ref.codes[prof.name], minlength=len(cats)).astype(float)
        cb = np.bincount(other.codes[prof.name], minlength=len(cats)).astype(float)
        order = [i for i in np.argsort(-ca, kind="stable") if ca[i] >= min_count][:top]
        labels = []
        for rank, i in enumerate(order):
            label = cats[i] if show_labels or cats[i] == MISSING_LABEL else f"value #{rank + 1}"
            labels.append(label[:40])
        rest_a = ca.sum() - ca[order].sum()
        rest_b = cb.sum() - cb[order].sum()
        na, nb = max(ca.sum(), 1), max(cb.sum(), 1)
        return {
            "type": "nominal",
            "labels": labels + ["(other)"],
            "reference": [round(float(ca[i] / na), 5) for i in order] + [round(float(rest_a / na), 5)],
            "synthetic": [round(float(cb[i] / nb), 5) for i in order] + [round(float(rest_b / nb), 5)],
        }
    return None
