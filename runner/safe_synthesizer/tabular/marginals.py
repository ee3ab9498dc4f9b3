"""Marginal targets of a DP run: each column's released noisy histogram on its first token position.

The DP schema (:mod:`safe_synthesizer.privacy.schema`) keeps the noisy counts its categories and
ranges came from (``ColumnSchema.noisy_counts`` / ``noisy_buckets`` / ``noisy_integers``). Noise of
``σ ≈ 30`` on counts of hundreds to thousands is a few per cent, while a DP-SGD model's marginals
are off by more (UCI Adult at ε = 4: `education` total variation 0.054 from the training split).
Generation matches each position's batch-mean predicted distribution to the target
(:func:`~safe_synthesizer.tabular.generate.match_marginal`) and DP training starts its output biases
there; both only read released values (post-processing: no privacy cost).

A target is a vector over the position's tokens: ``NaN`` marks a *free* token whose mass stays the
model's (a numeric column's missing token: missing values are not counted by its histogram); the
other entries are shares summing to 1 over the constrained tokens.

* **categorical**: each level's noisy count clipped at 0; a level without a kept count gets 0 (it
  was not released). Training encodes a record of a level the DP schema dropped as missing, so the
  missing token gets the kept count of missing values plus the records no kept count holds: the
  table's size, estimated as the median over categorical columns of their summed noisy counts,
  less this column's sum (clipped at 0). Those records come out as missing values: UCI Adult's
  `education` levels under the threshold (`Preschool`, `1st-4th`: 162 records) keep their mass
  and their place in `education_num` (2) instead of being spread over the kept levels.
* **numeric**: each magnitude bucket's clipped count is spread over the values in it: over its
  integers by their clipped noisy counts when the integer trim released them (uniformly when those
  are all 0), else over up to ``POINTS_PER_BUCKET`` evenly spaced points (the near-zero bucket is
  exactly 0); points outside the column's range are dropped. The points are encoded with the
  column's own codec and the masses summed per coarse token, so within a token the model's fine
  distribution is kept: only the mass per coarse token is corrected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..schema import ColumnSchema, TableSchema
from .tokenizer import NA_LABEL, ColumnCodec, FieldTokenizer, _encode_numeric

POINTS_PER_BUCKET = 64


def released_units(schema: TableSchema) -> float | None:
    """The table's size from released values only: the median over categorical columns of their
    summed (clipped) noisy counts (None: no column has any)."""
    sums = [
        sum(max(0.0, float(c)) for _, c in column.noisy_counts)
        for column in schema.columns
        if column.kind == "categorical" and column.noisy_counts
    ]
    return float(np.median(sums)) if sums else None


def categorical_target(
    codec: ColumnCodec, column: ColumnSchema, units: float | None = None
) -> np.ndarray | None:
    """Shares of the codec's labels from the column's noisy counts (None: nothing released); with
    ``units`` (:func:`released_units`) the records of dropped levels go to the missing token."""
    if not column.noisy_counts:
        return None
    counts = {None if key is None else str(key): max(0.0, float(c)) for key, c in column.noisy_counts}
    target = np.array(
        [counts.get(None if label == NA_LABEL else label, 0.0) for label in codec.labels], dtype=float
    )
    if units is not None and NA_LABEL in codec.labels:
        target[codec.labels.index(NA_LABEL)] += max(0.0, units - sum(counts.values()))
    total = target.sum()
    return target / total if total > 0 else None


def _bucket_points(low: float, high: float, integer: bool) -> np.ndarray:
    """Evenly spread values standing for a bucket ``[low, high)`` (``low == high``: that value)."""
    if high <= low:
        return np.array([low])
    if integer:
        first, last = math.ceil(low), math.ceil(high) - 1
        if last < first:
            return np.array([], dtype=float)
        if last - first + 1 <= POINTS_PER_BUCKET:
            return np.arange(first, last + 1, dtype=float)
        return np.unique(np.round(np.linspace(first, last, POINTS_PER_BUCKET)))
    return low + (high - low) * (np.arange(POINTS_PER_BUCKET) + 0.5) / POINTS_PER_BUCKET


def numeric_value_masses(column: ColumnSchema, integer: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """``(values, masses)`` standing for the column's noisy distribution (rules in the module docstring)."""
    if not column.noisy_buckets:
        return None
    unit = {float(v): max(0.0, float(c)) for v, c in (column.noisy_integers or [])}
    lo = -math.inf if column.minimum is None else float(column.minimum)
    hi = math.inf if column.maximum is None else float(column.maximum)
    values: list[np.ndarray] = []
    masses: list[np.ndarray] = []
    for low, high, count in column.noisy_buckets:
        points = _bucket_points(float(low), float(high), integer)
        points = points[(points >= lo) & (points <= hi)]
        total = max(0.0, float(count))
        if len(points) == 0 or total <= 0:
            continue
        weights = np.array([unit.get(float(p), 0.0) for p in points]) if unit else np.zeros(len(points))
        if weights.sum() <= 0:
            weights = np.ones(len(points))
        values.append(points)
        masses.append(total * weights / weights.sum())
    if not values:
        return None
    return np.concatenate(values), np.concatenate(masses)


def numeric_target(codec: ColumnCodec, column: ColumnSchema) -> np.ndarray | None:
    """Shares of the codec's coarse tokens (its missing token free) from the column's noisy buckets."""
    found = numeric_value_masses(column, codec.integer)
    if found is None:
        return None
    values, masses = found
    coarse, _ = _encode_numeric(codec, pd.Series(values))
    local = coarse - codec.start
    target = np.zeros(codec.coarse_size, dtype=float)
    np.add.at(target, local, masses)
    missing = codec.coarse_size - 1
    target[missing] = 0.0
    total = target.sum()
    if total <= 0:
        return None
    target = target / total
    target[missing] = np.nan
    return target


def marginal_targets(tokenizer: FieldTokenizer, schema: TableSchema) -> dict[int, np.ndarray]:
    """Target of every position that has one, by position index (module docstring)."""
    by_name = {c.name: c for c in schema.columns}
    units = released_units(schema)
    out: dict[int, np.ndarray] = {}
    seen: set[int] = set()
    for q, position in enumerate(tokenizer.positions):
        if position.column in seen:
            continue  # only the first position of a column (a numeric column's coarse token)
        seen.add(position.column)
        codec = tokenizer.columns[position.column]
        column = by_name.get(codec.name)
        if column is None or codec.datetime_format:
            continue
        target: Any = None
        if codec.kind == "categorical":
            target = categorical_target(codec, column, units)
        elif codec.kind == "numeric":
            target = numeric_target(codec, column)
        if target is not None:
            out[q] = target
    return out
