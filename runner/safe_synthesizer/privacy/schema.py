"""The generation schema under differential privacy: every data-derived field is a DP estimate.

The plain schema (:func:`safe_synthesizer.schema.infer_schema`) copies observed categories and the
exact min/max, which reveals rare values and extremes of the training data. Here:

* **public** (no budget): column names, order and pandas dtypes (the table's declared layout);
  ``nullable`` is always true; float columns allow ``FLOAT_DECIMALS`` decimals; a column given in
  ``public_domains`` uses the declared categories or ``(minimum, maximum)``.
* **boolean** columns (bool dtype): no estimate needed.
* **noise**: every released count gets **discrete Gaussian** noise ``Z`` with parameter ``σ``
  (``P(Z = k) ∝ exp(−k² / (2σ²))``, integers: no floating-point attack surface; sampled exactly as
  in Canonne, Kamath & Steinke 2020, Algorithm 3). It is σ²-subgaussian, so
  ``P(Z >= k) <= exp(−k² / (2σ²))``, the tail bound every threshold below uses.
* **numeric** columns: a histogram over a **public, finite** set of signed magnitude buckets, four
  per octave (``[2^(k/4), 2^((k+1)/4))`` and its negative, ``k/4`` in ``[MAGNITUDE_MIN_EXP,
  MAGNITUDE_MAX_EXP]``, plus a near-zero bucket), noise on every bucket (one record is in one
  bucket; no δ since the domain is public). Buckets whose noisy count reaches
  ``ceil(σ √(2 ln(K / β)))`` (K buckets, β = ``SPURIOUS_BUCKET_PROBABILITY``) are kept, and
  ``[lo, hi]`` spans them (integer columns: the integers inside). The bounds never reveal an
  extreme (they are bucket edges, 19 % apart) and stay within one bucket of the data's range: a
  generator that samples a few values far outside the real range is punished hard by scorers that
  bin numbers over the synthetic range (one education year of 34 among 24,421 rows dropped an
  SDMetrics pair score from 0.99 to 0.01), so there is no widening margin. When nothing is kept
  (too little budget for the data size), the column has no bounds: the schema becomes permissive
  rather than wrong.
* **text** columns: a thresholded histogram of the observed values, ``c̃_v = c_v + Z``; a value is
  kept iff ``c̃_v >= τ`` with ``τ = 1 + ceil(σ √(2 ln(1 / δ_c)))``. Removing a unit changes one
  count by 1 (the Gaussian part) unless that count was 1 and the value vanishes, which is released
  with probability ``P(Z >= τ − 1) <= δ_c``. If the kept values (noisy counts, missing values
  included) cover ``>= CATEGORICAL_COVERAGE`` of the units, the column is categorical with the kept
  values; otherwise it is a string column whose ``max_length`` is ``MARGIN ×`` the top of the
  longest kept log2 length bucket (the same bucket histogram on lengths; none kept: no length bound).

* **determined pairs** (a code and its label, e.g. ``education`` and ``education_num``): DP-SGD
  learns such a 1:1 mapping for common levels but not for rare ones, whose few records drown in the
  gradient noise. Up to ``P`` candidate pairs, chosen from the DP schema alone (a categorical column
  and another with a finite DP value set within one value of its size), get a discrete-Gaussian
  joint histogram over those value sets; when the levels' top cells hold ``>= DETERMINED_SHARE`` of
  its noisy total, the dependent column records ``determined_by`` and the map, and generation sets
  it from the determinant (:func:`safe_synthesizer.schema.apply_determined_columns`; post-processing).

The released noisy counts are kept in the schema (``noisy_counts`` of the kept categories,
``noisy_buckets`` of the magnitude buckets in range, ``noisy_integers`` of a trimmed integer
range): the field engine starts its output biases there and matches each column's generated
marginal to them (:mod:`safe_synthesizer.tabular.marginals`). That is post-processing of values
already released and accounted here; nothing else is read from the data.

Per-unit contribution: with ``data.group_training_examples_by`` a unit is a group, which may hold
many records; every estimate uses **one uniformly drawn record per group**, so one unit changes one
count by at most 1 and moves one point of each quantile input.

Budget (see :mod:`.accounting`): ``(ε_schema, δ_schema)`` is reserved from the target. The schema
releases ``H = 2·#numeric + #float + #text + P`` histograms at noise ``σ`` (a numeric column's
magnitude buckets and, when it is integer with at most ``MAX_UNIT_INTEGERS`` values in range, a
histogram of those integers to trim the range; a float-dtype column also releases a noisy count of
its fractional values, integer-valued when under the ``β`` threshold; a text column's values; every
column is counted as if it released all of them; ``P = min(MAX_PAIR_HISTOGRAMS, candidate pairs by
kind)`` joint histograms are reserved for determined pairs, below) and ``#text`` length histograms at
``LENGTH_SIGMA_FACTOR · σ`` (each text column counted, whether or not it turns out free text), each
of sensitivity 1; ``δ_schema`` is halved between the Gaussian part (``δ_g``) and the thresholds
(``δ_c = δ_schema / 2 / #text`` per text column; no text column: all of it to ``δ_g``), and
``σ = schema_noise_sigma(ε_schema, H, δ_g, coarse_histograms=#text)`` (PLD of the composed discrete
Gaussians, :mod:`.accounting`). By the standard thresholding argument the schema is
``(ε_gauss, δ_g + Σ δ_c) <= (ε_schema, δ_schema)``-DP, and with DP-SGD at
``(ε − ε_schema, δ − δ_schema)`` the whole release is ``(ε, δ)``-DP. The ledger reports the
accounted ``ε_gauss`` and the whole ``δ_schema``. Noise comes from OS entropy, never from the run's
recorded seed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..autoconfig import auto_delta
from ..config import SafeSynthesizerParameters, is_auto
from ..errors import UserInputError
from ..schema import ColumnSchema, TableSchema
from .accounting import LENGTH_SIGMA_FACTOR, schema_epsilon_for, schema_noise_sigma, split_budget

MARGIN = 2.0  # string length bounds are widened by this factor (post-processing)
FLOAT_DECIMALS = 6
CATEGORICAL_COVERAGE = 0.75  # kept values covering less: a string column (free text, identifiers)
MAX_CATEGORIES = 1000


def discrete_laplace(rng: np.random.Generator, epsilon: float, size: int) -> np.ndarray:
    """Integer noise with ``P(Z = k) ∝ exp(−ε |k|)``: the difference of two geometric variables."""
    p = 1.0 - math.exp(-epsilon)
    return rng.geometric(p, size) - rng.geometric(p, size)


def discrete_gaussian(rng: np.random.Generator, sigma: float, size: int) -> np.ndarray:
    """Integer noise with ``P(Z = k) ∝ exp(−k² / (2σ²))`` (Canonne, Kamath & Steinke 2020, Algorithm 3):
    a discrete Laplace proposal of scale ``t = ⌊σ⌋ + 1``, accepted with probability
    ``exp(−(|Y| − σ²/t)² / (2σ²))``."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:  # no noise (no budget was needed); the acceptance test below would divide by 0
        return np.zeros(size, dtype=np.int64)
    t = math.floor(sigma) + 1
    out = np.empty(0, dtype=np.int64)
    while out.size < size:
        need = size - out.size
        proposal = discrete_laplace(rng, 1.0 / t, 2 * need + 16)
        accept = np.exp(-((np.abs(proposal) - sigma**2 / t) ** 2) / (2.0 * sigma**2))
        out = np.concatenate([out, proposal[rng.random(proposal.size) < accept]])
    return out[:size]


def histogram_threshold(sigma: float, delta: float) -> int:
    """``τ`` of the thresholded histogram: ``1 + ceil(σ √(2 ln(1/δ)))``, so ``P(1 + Z >= τ) <= δ``."""
    return 1 + math.ceil(sigma * math.sqrt(2.0 * math.log(1.0 / delta)))


def dp_histogram(values: pd.Series, sigma: float, delta: float, rng: np.random.Generator) -> dict[Any, int]:
    """Values (``None`` for missing) whose noisy count clears ``τ``, with their noisy counts."""
    counts = values.value_counts(dropna=False)
    noisy = counts.to_numpy() + discrete_gaussian(rng, sigma, len(counts))
    tau = histogram_threshold(sigma, delta)
    keys = [None if pd.isna(k) else k for k in counts.index]
    return {key: int(c) for key, c in zip(keys, noisy, strict=True) if c >= tau}


MAGNITUDE_MIN_EXP, MAGNITUDE_MAX_EXP = -20, 62  # |x| buckets from 2^MIN to 2^(MAX+1)
STEPS_PER_OCTAVE = 4  # buckets [2^(k/4), 2^((k+1)/4)): bounds within 19 % of the data's range
LENGTH_MAX_EXP = 17  # length buckets 0, [1, 2), [2, 4), ..., [2^17, 2^18)
SPURIOUS_BUCKET_PROBABILITY = 0.05  # accuracy target of the bucket threshold (post-processing)
TRIM_BLOCKS = (4, 16, 64)  # block sizes the integer trim also tests (K/b blocks each: < β/b spurious)
MAX_UNIT_INTEGERS = 1024  # integer ranges up to this size are trimmed on unit counts (a quarter-octave bucket of years, 1723-2047, holds 325)
GROUPINGS = (1, 4, 16)  # quarter-octave buckets, then octaves, then 4 octaves (kept_magnitude_buckets)


def bucket_threshold(sigma: float, n_buckets: int) -> int:
    """Noisy count a bucket needs to be kept: ``ceil(σ √(2 ln(K / β)))``, so an empty bucket passes
    w.p. ``<= β / K``."""
    return math.ceil(sigma * math.sqrt(2.0 * math.log(n_buckets / SPURIOUS_BUCKET_PROBABILITY)))


def magnitude_buckets(values: np.ndarray) -> np.ndarray:
    """Bucket of each value: 0 for ``|x| < 2^MIN``, else ``±(k − 4·MIN + 1)`` for ``|x| ∈ [2^(k/4), 2^((k+1)/4))``."""
    x = np.asarray(values, dtype=float)
    magnitude = np.abs(x)
    with np.errstate(divide="ignore"):
        step = np.floor(np.log2(np.where(magnitude > 0, magnitude, 1.0)) * STEPS_PER_OCTAVE)
    low_step, high_step = MAGNITUDE_MIN_EXP * STEPS_PER_OCTAVE, (MAGNITUDE_MAX_EXP + 1) * STEPS_PER_OCTAVE - 1
    step = np.clip(step, low_step - 1, high_step)
    index = (step - low_step + 1).astype(int)
    index[magnitude < 2.0**MAGNITUDE_MIN_EXP] = 0
    return np.sign(x).astype(int) * index


def magnitude_domain() -> list[int]:
    """Every bucket :func:`magnitude_buckets` can return (the public domain of the histogram)."""
    top = (MAGNITUDE_MAX_EXP + 1 - MAGNITUDE_MIN_EXP) * STEPS_PER_OCTAVE + 1
    return list(range(-top, top + 1))


def noisy_bucket_counts(
    buckets: np.ndarray, domain: Sequence[int], sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Discrete-Gaussian noisy count of every bucket of a public finite ``domain`` (the one release)."""
    counts = pd.Series(buckets).value_counts()
    true = np.array([int(counts.get(b, 0)) for b in domain])
    return true + discrete_gaussian(rng, sigma, len(domain))


def noisy_kept_buckets(
    buckets: np.ndarray, domain: Sequence[int], sigma: float, rng: np.random.Generator
) -> list[int]:
    """Buckets of a public finite ``domain`` whose discrete-Gaussian noisy count clears the threshold."""
    noisy = noisy_bucket_counts(buckets, domain, sigma, rng)
    tau = bucket_threshold(sigma, len(domain))
    return [b for b, c in zip(domain, noisy, strict=True) if c >= tau]


def kept_magnitude_buckets(
    domain: Sequence[int], noisy: np.ndarray, sigma: float, integer: bool = False
) -> list[int]:
    """Post-processing of the noisy magnitude histogram: the lowest and highest bucket of the range
    (``[]``: nothing kept; the buckets are ordered by value, so ``[lo, hi]`` spans everything between).

    1. Levels: quarter-octave buckets (threshold :func:`bucket_threshold`), and the same noisy counts
       summed over ``g`` = 4 and 16 adjacent buckets of one sign (noise ``σ√g``, threshold
       ``ceil(σ√g √(2 ln(K_g / β)))``). A spread-out column on a small table has no quarter-octave
       bucket above the threshold, or only those at its mode (lognormal(10, 2), 5,000 rows,
       σ = 46: 13,777-46,341 of a bulk of about 250-2,100,000); its octaves or 4-octave groups do.
    2. Each edge comes from the lowest (highest) kept group of any level, refined to the finest
       level that keeps something inside it, so a coarse level widens a range only where no finer
       one knows better (normal(50, 8): 32-76, not the 4-octave group's 16-256).
    3. A kept group none of whose neighbours is kept and whose noisy count is under twice its
       threshold is dropped, unless it is its level's largest: that is what a spurious group looks
       like (probability ``β / K`` each, and a 55-column table has many columns), while the data's
       bulk is contiguous.
    4. ``integer``: a group that holds no integer (most quarter-octave buckets under 8, every one
       under 1 but the near-zero bucket) holds no record, so it is never kept and is no gap between
       neighbours: with it as a gap, Adult's ``education_num`` 2 (130 records, one bucket, its
       neighbour ``[2.38, 2.83)`` empty by construction) looked isolated and the range started at 3.
    """
    levels: list[list[list[int]]] = []  # per level (fine to coarse): kept groups, each its buckets
    for group in GROUPINGS:
        sums: dict[int, int] = {}
        members: dict[int, list[int]] = {}
        for bucket, count in zip(domain, noisy, strict=True):
            key = 0 if bucket == 0 else int(np.sign(bucket)) * ((abs(bucket) - 1) // group + 1)
            sums[key] = sums.get(key, 0) + int(count)
            members.setdefault(key, []).append(bucket)
        tau = math.ceil(
            sigma * math.sqrt(group) * math.sqrt(2.0 * math.log(len(sums) / SPURIOUS_BUCKET_PROBABILITY))
        )
        # keys in value order (..., -2, -1, 0, 1, 2, ...: -k holds the negatives of k), those that
        # can hold a record; neighbours are adjacent in it
        order = [key for key in sorted(sums) if not integer or any(_holds_integer(b) for b in members[key])]
        kept = {key for key in order if sums[key] >= tau}
        best = max(kept, key=lambda k: sums[k]) if kept else None
        solid = [
            sorted(members[key])
            for i, key in enumerate(order)
            if key in kept
            and (
                key == best
                or sums[key] >= 2 * tau
                or (i > 0 and order[i - 1] in kept)
                or (i + 1 < len(order) and order[i + 1] in kept)
            )
        ]
        levels.append(solid)
    if not any(levels):
        return []

    def edge(low: bool) -> int:
        def extreme(groups: list[list[int]]) -> list[int]:
            return min(groups, key=lambda g: g[0]) if low else max(groups, key=lambda g: g[-1])

        # the extreme group over all levels (the finest level on ties), then refined inside it
        ranked = [(level, extreme(groups)) for level, groups in enumerate(levels) if groups]
        index, current = min(ranked, key=lambda item: (item[1][0] if low else -item[1][-1], item[0]))
        for finer in range(index - 1, -1, -1):
            inside = [g for g in levels[finer] if set(g) <= set(current)]
            if inside:
                current = extreme(inside)
        return current[0] if low else current[-1]

    return [edge(low=True), edge(low=False)]


def _bucket_edges(bucket: int) -> tuple[float, float]:
    """``[low, high)`` of a magnitude bucket (signed)."""
    if bucket == 0:
        return 0.0, 0.0
    k = abs(bucket) + MAGNITUDE_MIN_EXP * STEPS_PER_OCTAVE - 1
    low, high = 2.0 ** (k / STEPS_PER_OCTAVE), 2.0 ** ((k + 1) / STEPS_PER_OCTAVE)
    return (low, high) if bucket > 0 else (-high, -low)


def _one_record_per_unit(train: pd.DataFrame, group_by: str | None, rng: np.random.Generator) -> pd.DataFrame:
    """Contribution bounding: the table itself, or one uniformly drawn record per group."""
    if not group_by:
        return train
    keys = train[group_by].astype(object).where(train[group_by].notna(), "\0missing")
    order = rng.permutation(len(train))
    shuffled = train.iloc[order]
    return shuffled[~keys.iloc[order].duplicated().to_numpy()]


def _numeric_range(
    values: np.ndarray, sigma: float, is_int: bool, rng: np.random.Generator
) -> tuple[float | None, float | None]:
    """``[lo, hi]`` spanned by the kept magnitude buckets (None, None: nothing kept)."""
    lo, hi, _ = _numeric_range_and_edge_buckets(values, sigma, is_int, rng)
    return lo, hi


def _numeric_range_and_edge_buckets(
    values: np.ndarray, sigma: float, is_int: bool, rng: np.random.Generator
) -> tuple[float | None, float | None, tuple[float, float] | None]:
    """:func:`_numeric_range` and, for integers, the inner ends of its two edge buckets (the largest
    integer of the lowest kept bucket, the smallest of the highest): a trim may not pass them."""
    lo, hi, edges, _ = _numeric_release(values, sigma, is_int, rng)
    return lo, hi, edges


def _numeric_release(
    values: np.ndarray, sigma: float, is_int: bool, rng: np.random.Generator
) -> tuple[float | None, float | None, tuple[float, float] | None, list[list[float]] | None]:
    """:func:`_numeric_range_and_edge_buckets` and the noisy counts of the magnitude buckets from the
    lowest to the highest kept one, ``[[low, high, count], ...]`` in value order (``[0, 0, c]``: the
    near-zero bucket); the same release, kept for generation (post-processing)."""
    domain = magnitude_domain()
    noisy = noisy_bucket_counts(magnitude_buckets(values), domain, sigma, rng)
    kept = kept_magnitude_buckets(domain, noisy, sigma, integer=is_int)
    if not kept:
        return None, None, None, None
    first, last = domain.index(kept[0]), domain.index(kept[-1])
    counts = [[*_bucket_edges(domain[i]), float(noisy[i])] for i in range(first, last + 1)]
    if is_int:
        spans = [s for s in (_bucket_integers(b) for b in kept) if s[0] <= s[1]]
        if not spans:
            return None, None, None, None
        lowest = min(spans, key=lambda s: s[0])
        highest = max(spans, key=lambda s: s[1])
        return float(lowest[0]), float(highest[1]), (float(lowest[1]), float(highest[0])), counts
    lo, hi = min(_bucket_edges(b)[0] for b in kept), max(_bucket_edges(b)[1] for b in kept)
    return lo, hi, None, counts


def _trim_integer_range(
    values: np.ndarray,
    lo: float,
    hi: float,
    sigma: float,
    rng: np.random.Generator,
    edge_buckets: tuple[float, float] | None = None,
) -> tuple[float, float, bool]:
    """An integer range of at most ``MAX_UNIT_INTEGERS`` values trimmed on a noisy histogram of its
    integers (the domain ``lo..hi`` is public: it was released): each edge moves in to the first
    integer where the noisy counts summed from that edge clear ``ceil(σ√k √(2 ln(K/β)))`` (k
    integers summed, noise ``σ√k``). A magnitude bucket holds up to 19 % of its edge, so
    ``education_num`` 1-16 came out as 2-19, and a synthetic maximum above the real one shifts every
    bin of scorers that bin over the synthetic range; summing from the edge keeps a thin, long tail
    (Adult's ages 70-90, ~23 records each) that one-integer thresholds cut at 69.
    An edge never moves past its released edge bucket's inner end (``edge_buckets``): that bucket
    cleared its own threshold, so records are in it, and a thin tail spread over it (Adult's ages
    71-90, 440 records, about 20 a year) does not clear the summed threshold before the bulk: the
    trim cut ``age`` at 67-70 and the synthetic ages missed 71-90 (SDMetrics' ``age``/``income``
    pair 0.75). Such an edge stays at the bucket's end (at most 19 % beyond the data).
    An edge also stops at the first aligned block of ``b`` integers (``TRIM_BLOCKS``) whose noisy sum
    clears ``σ√b·spread``: data after a long empty stretch (a column of years inside the bucket
    1723-2047) is found where the sum from the edge, carrying the stretch's noise, is not.
    Returns ``(lo, hi, counts)``, ``counts`` the released noisy count of every integer of the new
    range (``[[value, count], ...]``; None: nothing released); nothing found leaves the range as it was."""
    size = int(hi - lo) + 1
    if size > MAX_UNIT_INTEGERS or size < 2:
        return lo, hi, None
    domain = list(range(int(lo), int(hi) + 1))
    noisy = noisy_bucket_counts(np.round(values).astype(np.int64), domain, sigma, rng)
    spread = math.sqrt(2.0 * math.log(len(domain) / SPURIOUS_BUCKET_PROBABILITY))

    def edge(counts: np.ndarray, sizes: tuple[int, ...] = tuple(reversed(TRIM_BLOCKS))) -> int | None:
        # the first k whose k outermost noisy counts add up past their own threshold σ√k·spread
        total = np.cumsum(counts)
        k = np.arange(1, len(counts) + 1)
        hits = list(np.nonzero(total >= np.ceil(sigma * np.sqrt(k) * spread))[0][:1])
        # or inside the first aligned block of b integers that clears σ√b·spread alone (refined in
        # it with the smaller sizes; its start if none): after a long empty stretch the summed noise
        # hides the data (years 1964-2015 in the bucket 1723-2047: the sums from both edges met at
        # 2006 and every synthetic year was 2006)
        for i, b in enumerate(sizes):
            blocks = len(counts) // b
            if not blocks:
                continue
            sums = counts[: blocks * b].reshape(blocks, b).sum(axis=1)
            first = np.nonzero(sums >= np.ceil(sigma * math.sqrt(b) * spread))[0]
            if len(first):
                start = int(first[0]) * b
                inner = edge(counts[start : start + b], sizes[i + 1 :])
                hits.append(start + (inner or 0))
        return int(min(hits)) if hits else None

    low, high = edge(noisy), edge(noisy[::-1])
    new_lo, new_hi = lo, hi
    if not (low is None or high is None or domain[low] > domain[-1 - high]):
        new_lo, new_hi = float(domain[low]), float(domain[-1 - high])
        if edge_buckets is not None:
            new_lo = lo if new_lo > edge_buckets[0] else new_lo
            new_hi = hi if new_hi < edge_buckets[1] else new_hi
    counts = [[float(v), float(c)] for v, c in zip(domain, noisy, strict=True) if new_lo <= v <= new_hi]
    return new_lo, new_hi, counts


def _bucket_integers(bucket: int) -> tuple[int, int]:
    """Smallest and largest integer in a magnitude bucket (``[low, high)``, or ``(−high, −low]``)."""
    low, high = _bucket_edges(bucket)
    if bucket == 0:
        return 0, 0
    if bucket > 0:
        return math.ceil(low), math.ceil(high) - 1
    return math.floor(low) + 1, math.floor(high)


def _holds_integer(bucket: int) -> bool:
    """Whether a magnitude bucket contains an integer (the near-zero bucket holds 0)."""
    low, high = _bucket_integers(bucket)
    return low <= high


def _length_bound(lengths: np.ndarray, sigma: float, rng: np.random.Generator) -> int | None:
    """``MARGIN ×`` the upper edge of the longest kept length bucket (None: nothing kept)."""
    buckets = np.where(lengths > 0, np.floor(np.log2(np.maximum(lengths, 1))) + 1, 0).astype(int)
    buckets = np.minimum(buckets, LENGTH_MAX_EXP + 1)
    kept = noisy_kept_buckets(buckets, list(range(LENGTH_MAX_EXP + 2)), sigma, rng)
    if not kept:
        return None
    top = max(kept)
    return max(1, int(MARGIN * (2**top if top > 0 else 1)))


def _declared(name: str, domain: Any, series: pd.Series) -> ColumnSchema:
    if isinstance(domain, ColumnSchema):
        return domain
    if isinstance(domain, tuple) and len(domain) == 2:
        is_int = pd.api.types.is_integer_dtype(series)
        return ColumnSchema(
            name,
            "integer" if is_int else "number",
            nullable=True,
            minimum=float(domain[0]),
            maximum=float(domain[1]),
            decimals=0 if is_int else FLOAT_DECIMALS,
        )
    if isinstance(domain, Sequence) and not isinstance(domain, str):
        return ColumnSchema(name, "categorical", nullable=True, categories=[str(v) for v in domain])
    raise UserInputError(f"public domain of column {name!r}: give a list of values or (minimum, maximum)")


MAX_PAIR_HISTOGRAMS = 2  # joint histograms reserved for code <-> label pairs (data-independent)
MAX_PAIR_LEVELS = 64  # neither side of a pair may have more values than this
DETERMINED_SHARE = 0.95  # noisy share of the rows on their level's top cell that makes a pair determined


def reserved_pair_histograms(n_text: int, n_numeric: int) -> int:
    """Joint histograms the budget reserves for determined pairs: a function of the column kinds only."""
    candidates = n_text * (n_text - 1) // 2 + n_text * n_numeric
    return min(MAX_PAIR_HISTOGRAMS, candidates)


def finite_domain(column: ColumnSchema) -> list[Any] | None:
    """The DP schema's finite value set of a column (categories or a short integer range), if any."""
    if column.kind == "categorical" and column.categories:
        values: list[Any] = list(column.categories)
    elif column.kind == "integer" and column.minimum is not None and column.maximum is not None:
        lo, hi = int(column.minimum), int(column.maximum)
        if hi - lo + 1 > MAX_PAIR_LEVELS:
            return None
        values = list(range(lo, hi + 1))
    else:
        return None
    return values if 3 <= len(values) <= MAX_PAIR_LEVELS else None


def _name_parts(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [p for p in re.split(r"[^a-z0-9]+", spaced.lower()) if p]


def related_names(a: str, b: str) -> bool:
    """Whether two column names share a word (``education`` / ``education_num``, ``stateCode`` /
    ``state_name``): code and label columns are usually named after the same thing."""
    return bool(set(_name_parts(a)) & set(_name_parts(b)))


def candidate_pairs(columns: Sequence[ColumnSchema], limit: int) -> list[tuple[str, str]]:
    """``(determinant, dependent)`` pairs worth a joint histogram: a categorical column and another
    with a finite DP value set of about its size (a code and its label: ``education`` and
    ``education_num``). Chosen from the public names and the DP schema alone (post-processing):
    related names first (sizes within 20 %), then any pair within one value; closest sizes first."""
    domains = {c.name: finite_domain(c) for c in columns}
    kinds = {c.name: c.kind for c in columns}
    order = {c.name: i for i, c in enumerate(columns)}
    found: list[tuple[int, int, int, str, str]] = []
    names = [c.name for c in columns if domains[c.name] is not None]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            size_a, size_b = len(domains[a] or []), len(domains[b] or [])
            related = related_names(a, b)
            allowed = max(2, math.ceil(0.2 * max(size_a, size_b))) if related else 1
            if abs(size_a - size_b) > allowed:
                continue
            # the determinant is categorical; of two categorical columns, the one with more values
            if kinds[a] != "categorical" or (kinds[b] == "categorical" and size_b > size_a):
                a, b = b, a
            if kinds[a] != "categorical":
                continue
            found.append((0 if related else 1, abs(size_a - size_b), order[a] + order[b], a, b))
    return [(a, b) for *_, a, b in sorted(found)[:limit]]


def noisy_joint_counts(
    a_values: pd.Series,
    b_values: pd.Series,
    a_domain: Sequence[Any],
    b_domain: Sequence[Any],
    sigma: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Counts of ``(a, b)`` over the public grid ``a_domain × b_domain`` plus discrete Gaussian noise.

    A record outside the grid (missing, a value the DP schema dropped) counts nowhere: one record
    changes one cell by at most 1 (sensitivity 1)."""
    a_index = {str(v): i for i, v in enumerate(a_domain)}
    b_index = {str(v): j for j, v in enumerate(b_domain)}

    def key(v: Any) -> str | None:
        if pd.isna(v):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    rows = a_values.map(lambda v: a_index.get(key(v) or "", -1)).to_numpy()
    cols = b_values.map(lambda v: b_index.get(key(v) or "", -1)).to_numpy()
    inside = (rows >= 0) & (cols >= 0)
    counts = np.zeros((len(a_domain), len(b_domain)), dtype=np.int64)
    np.add.at(counts, (rows[inside], cols[inside]), 1)
    return counts + discrete_gaussian(rng, sigma, counts.size).reshape(counts.shape)


def determined_map(
    noisy: np.ndarray, a_domain: Sequence[Any], b_domain: Sequence[Any], sigma: float
) -> dict[str, Any] | None:
    """``{a: b}`` when the noisy grid says ``a`` and ``b`` are one thing coded twice, else ``None``.

    Determined (post-processing of the noisy grid): the levels' top cells hold ``>=
    DETERMINED_SHARE`` of its noisy total both by row and by column, and the levels whose top cell
    clears the bucket threshold map to distinct values (1:1, so a skewed column such as a country
    that most rows share is never "determined" by everything). Only those levels are mapped; the
    rest keep the model's value.
    """
    total = float(noisy.sum())
    if total <= 0:
        return None
    by_row, by_column = noisy.max(axis=1), noisy.max(axis=0)
    if min(float(by_row.sum()), float(by_column.sum())) / total < DETERMINED_SHARE:
        return None
    threshold = bucket_threshold(sigma, int(noisy.size))
    best = noisy.argmax(axis=1)
    kept = [i for i in range(len(a_domain)) if by_row[i] >= threshold]
    if len({int(best[i]) for i in kept}) < len(kept):
        return None
    mapping = {str(a_domain[i]): b_domain[int(best[i])] for i in kept}
    return mapping or None


def dp_schema(
    train: pd.DataFrame,
    params: SafeSynthesizerParameters,
    *,
    public_domains: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> tuple[TableSchema, dict[str, Any]]:
    """The DP generation schema of ``train`` and its ledger (mechanisms in the module docstring).

    ``public_domains`` maps a column to a declared domain (a list of categories, ``(min, max)`` or a
    :class:`ColumnSchema`) that is used as is and costs no budget; by default the config's
    ``privacy.public_domains``. ``seed`` is for tests only: noise
    from a known seed can be replayed, so the default draws it from OS entropy.
    """
    if params.privacy is None or not params.privacy.dp_enabled:
        raise UserInputError("dp_schema needs privacy.dp_enabled")
    group_by = params.data.group_training_examples_by
    if group_by and group_by not in train.columns:
        raise UserInputError(
            f"config.data.group_training_examples_by names column {group_by!r}, which the data does not have"
        )
    if public_domains is None:
        public_domains = {
            column: domain.values if domain.values is not None else (domain.minimum, domain.maximum)
            for column, domain in params.privacy.public_domains.items()
        }
    declared = dict(public_domains)
    unknown = sorted(set(declared) - {str(c) for c in train.columns})
    if unknown:
        raise UserInputError(f"public domains given for columns the data does not have: {', '.join(unknown)}")
    n_units = int(train[group_by].nunique(dropna=False)) if group_by else len(train)
    delta = auto_delta(n_units) if is_auto(params.privacy.delta) else float(params.privacy.delta)
    budget = split_budget(float(params.privacy.epsilon), delta)
    rng = np.random.default_rng(seed)  # None: OS entropy
    rows = _one_record_per_unit(train, group_by, rng)

    kinds: dict[str, str] = {}
    for column in train.columns:
        name, series = str(column), train[column]
        if name in declared:
            kinds[name] = "declared"
        elif pd.api.types.is_bool_dtype(series):
            kinds[name] = "boolean"
        elif pd.api.types.is_numeric_dtype(series):
            kinds[name] = "numeric"
        else:
            kinds[name] = "text"
    n_numeric = sum(1 for k in kinds.values() if k == "numeric")
    n_text = sum(1 for k in kinds.values() if k == "text")
    # float-dtype columns also release one noisy count: how many values have a fractional part
    n_float = sum(
        1 for c, k in kinds.items() if k == "numeric" and not pd.api.types.is_integer_dtype(train[c])
    )
    # every numeric column may release a unit-integer histogram to trim its range (_trim_integer_range)
    pair_histograms = reserved_pair_histograms(n_text, n_numeric)
    histograms = 2 * n_numeric + n_text + n_float + pair_histograms
    length_histograms = n_text  # at LENGTH_SIGMA_FACTOR · σ (they only bound a length)
    delta_thresholds = budget.schema_delta / 2 if n_text else 0.0
    delta_gauss = budget.schema_delta - delta_thresholds
    delta_column = delta_thresholds / n_text if n_text else 0.0
    # histograms counts every text column, so with none of them there is no length histogram either
    sigma = (
        schema_noise_sigma(
            budget.schema_epsilon, histograms, delta_gauss, coarse_histograms=length_histograms
        )
        if histograms
        else 0.0
    )

    columns: list[ColumnSchema] = []
    mechanisms: dict[str, dict[str, Any]] = {}
    for column in train.columns:
        name, kind = str(column), kinds[str(column)]
        series = rows[column]
        if kind == "declared":
            columns.append(_declared(name, declared[name], train[column]))
            mechanisms[name] = {"mechanism": "declared public domain", "histograms": 0, "delta": 0.0}
        elif kind == "boolean":
            columns.append(ColumnSchema(name, "boolean", nullable=True))
            mechanisms[name] = {"mechanism": "none (boolean dtype)", "histograms": 0, "delta": 0.0}
        elif kind == "numeric":
            is_int = pd.api.types.is_integer_dtype(series)
            present = series.dropna().to_numpy(dtype=float)
            fractional = None
            if not is_int:
                # A float dtype often only means missing values in an integer column (CSV): a
                # noisy count of fractional values decides (σ-noise, one more histogram in H;
                # the decision is post-processing).
                fractional = int(np.sum(np.mod(present, 1) != 0)) + int(discrete_gaussian(rng, sigma, 1)[0])
                is_int = fractional < bucket_threshold(sigma, 1)
            lo, hi, edge_buckets, bucket_counts = _numeric_release(present, sigma, is_int, rng)
            integer_counts = None
            if is_int and lo is not None and hi is not None:
                lo, hi, integer_counts = _trim_integer_range(present, lo, hi, sigma, rng, edge_buckets)
            trimmed = integer_counts is not None
            columns.append(
                ColumnSchema(
                    name,
                    "integer" if is_int else "number",
                    nullable=True,
                    minimum=lo,
                    maximum=hi,
                    decimals=0 if is_int else FLOAT_DECIMALS,
                    noisy_buckets=bucket_counts,
                    noisy_integers=integer_counts,
                )
            )
            mechanisms[name] = {
                "mechanism": "thresholded discrete-Gaussian histogram of magnitude buckets (4 per octave)"
                + (" + noisy count of fractional values" if fractional is not None else "")
                + (" + thresholded histogram of the integers in range" if trimmed else ""),
                "sigma": sigma,
                "histograms": 2 if fractional is None else 3,
                "delta": 0.0,
                "threshold": bucket_threshold(sigma, len(magnitude_domain())),
            }
        else:
            kept = dp_histogram(series.astype(str).where(series.notna()), sigma, delta_column, rng)
            coverage = sum(kept.values()) / max(n_units, 1)
            categories = sorted(str(v) for v in kept if v is not None)
            info: dict[str, Any] = {
                "mechanism": "thresholded discrete-Gaussian histogram",
                "sigma": sigma,
                "histograms": 2,
                "length_sigma": sigma * LENGTH_SIGMA_FACTOR,
                "delta": delta_column,
                "threshold": histogram_threshold(sigma, delta_column),
            }
            if categories and coverage >= CATEGORICAL_COVERAGE and len(categories) <= MAX_CATEGORIES:
                noisy_counts = [[None if v is None else str(v), float(c)] for v, c in kept.items()]
                columns.append(
                    ColumnSchema(
                        name, "categorical", nullable=True, categories=categories, noisy_counts=noisy_counts
                    )
                )
                info["outcome"] = "categorical"
            else:
                lengths = series.dropna().astype(str).str.len().to_numpy(dtype=float)
                max_length = _length_bound(lengths, sigma * LENGTH_SIGMA_FACTOR, rng)
                columns.append(
                    ColumnSchema(name, "string", nullable=True, min_length=0, max_length=max_length)
                )
                info["mechanism"] += " + thresholded discrete-Gaussian histogram of log2 length buckets"
                info["outcome"] = "string"
            mechanisms[name] = info
    pairs: list[dict[str, Any]] = []
    by_name = {c.name: c for c in columns}
    for a, b in candidate_pairs(columns, pair_histograms):
        a_domain, b_domain = finite_domain(by_name[a]), finite_domain(by_name[b])
        assert a_domain is not None and b_domain is not None
        noisy = noisy_joint_counts(rows[a], rows[b], a_domain, b_domain, sigma, rng)
        mapping = determined_map(noisy, a_domain, b_domain, sigma)
        if mapping:
            by_name[b].determined_by, by_name[b].determined_map = a, mapping
        pairs.append({"columns": [a, b], "determined": bool(mapping), "levels_mapped": len(mapping or {})})
    ledger = {
        "epsilon": (
            schema_epsilon_for(sigma, histograms, delta_gauss, coarse_histograms=length_histograms)
            if histograms
            else 0.0
        ),
        "delta": delta_gauss + delta_column * n_text if histograms else 0.0,
        "sigma": sigma,
        "histograms": histograms,
        "length_histograms": length_histograms,
        "length_sigma": sigma * LENGTH_SIGMA_FACTOR,
        "delta_gaussian": delta_gauss if histograms else 0.0,
        "delta_thresholds": delta_column * n_text,
        "epsilon_reserved": budget.schema_epsilon,
        "delta_reserved": budget.schema_delta,
        "privacy_unit": "group" if group_by else "record",
        "n_units": n_units,
        "contribution_bound": "one random record per group" if group_by else "one record per unit",
        "composition": "PLD of the discrete-Gaussian histograms (sensitivity 1 each) at delta_gaussian, "
        "plus the thresholds' delta; (epsilon, delta) <= reserved share",
        "columns": mechanisms,
        "pairs": {
            "mechanism": "discrete-Gaussian joint histogram over the DP value sets of a candidate pair "
            "(sensitivity 1); a pair whose levels' top cells hold >= "
            f"{DETERMINED_SHARE:.0%} of it is determined (post-processing)",
            "histograms": pair_histograms,
            "tested": pairs,
        },
        "noise_source": "fixed seed (tests only: NOT private)" if seed is not None else "OS entropy",
    }
    return TableSchema(columns), ledger
