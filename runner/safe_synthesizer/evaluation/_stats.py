"""Small statistics shared by the metrics: shared histogram bins, Jensen-Shannon distance, entropy,
chance-adjusted Theil's U and correlation ratio, ROC AUC and bootstrap helpers."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import gammaln
from scipy.stats import rankdata

MAX_BINS = 500


def shared_edges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Doane bin edges over the combined finite values of ``a`` and ``b`` (500 bins as fallback)."""
    both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    if both.size == 0:
        return np.array([0.0, 1.0])
    lo, hi = float(both.min()), float(both.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    try:
        edges = np.histogram_bin_edges(both, bins="doane", range=(lo, hi))
    except (ValueError, MemoryError):
        edges = np.array([])
    if len(edges) < 2 or len(edges) - 1 > MAX_BINS:
        edges = np.linspace(lo, hi, MAX_BINS + 1)
    return edges


def histogram_with_missing(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin plus one last bin for missing (NaN/inf) values."""
    finite = np.isfinite(values)
    counts, _ = np.histogram(values[finite], bins=edges)
    return np.append(counts, (~finite).sum()).astype(np.float64)


def js_distance(p: np.ndarray, q: np.ndarray) -> float | None:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors; None when one is empty."""
    sp, sq = float(p.sum()), float(q.sum())
    if sp <= 0 or sq <= 0:
        return None
    d = float(jensenshannon(p / sp, q / sq, base=2))
    return 0.0 if not np.isfinite(d) else min(max(d, 0.0), 1.0)


def numeric_js(a: np.ndarray, b: np.ndarray) -> float | None:
    """JS distance of two numeric samples over shared Doane bins (missing values as their own bin)."""
    edges = shared_edges(a, b)
    return js_distance(histogram_with_missing(a, edges), histogram_with_missing(b, edges))


def nominal_js(a: np.ndarray, b: np.ndarray, n_categories: int) -> float | None:
    """JS distance of two coded nominal samples (relative frequencies)."""
    return js_distance(
        np.bincount(a, minlength=n_categories).astype(float),
        np.bincount(b, minlength=n_categories).astype(float),
    )


def entropy_of_counts(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of a count vector."""
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def dense_codes(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel integer codes as 0..k-1."""
    uniq, inv = np.unique(x, return_inverse=True)
    return inv.astype(np.int64), len(uniq)


def expected_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """E[I(x; y)] (nats) of two columns with category counts ``a`` and ``b`` under independence: the
    mutual information a random pairing of the same values gets (the permutation/hypergeometric
    model of adjusted mutual information, Vinh, Epps & Bailey 2010):

    ``E[I] = Σ_i Σ_j Σ_k (k/n)·log(n·k / (a_i·b_j))·P(k; n, a_i, b_j)`` with P the hypergeometric
    probability that a category of size a_i and one of size b_j share k rows.

    Categories of equal size are grouped, and k runs over the hypergeometric mean ± (12σ + 12)
    (the mass outside is below 1e-9), so the cost stays small for high-cardinality columns.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    a, b = a[a > 0], b[b > 0]
    n = int(a.sum())
    if n <= 1 or len(a) < 2 or len(b) < 2:
        return 0.0
    ua, ma = np.unique(a, return_counts=True)
    ub, mb = np.unique(b, return_counts=True)
    big_a = np.repeat(ua, len(ub)).astype(float)
    big_b = np.tile(ub, len(ua)).astype(float)
    mult = np.repeat(ma, len(ub)).astype(float) * np.tile(mb, len(ua))
    mean = big_a * big_b / n
    sd = np.sqrt(big_a * big_b * (n - big_a) * (n - big_b) / (n * n * (n - 1.0)))
    lo = np.maximum(np.maximum(1.0, big_a + big_b - n), np.floor(mean - 12 * sd - 12))
    hi = np.minimum(np.minimum(big_a, big_b), np.ceil(mean + 12 * sd + 12))
    length = np.maximum(hi - lo + 1, 0).astype(np.int64)
    if length.sum() == 0:
        return 0.0
    pair = np.repeat(np.arange(len(length)), length)
    start = np.cumsum(length) - length
    k = lo[pair] + (np.arange(int(length.sum())) - start[pair])
    ai, bj = big_a[pair], big_b[pair]
    log_p = (
        gammaln(ai + 1)
        + gammaln(bj + 1)
        + gammaln(n - ai + 1)
        + gammaln(n - bj + 1)
        - gammaln(n + 1.0)
        - gammaln(k + 1)
        - gammaln(ai - k + 1)
        - gammaln(bj - k + 1)
        - gammaln(n - ai - bj + k + 1)
    )
    terms = mult[pair] * (k / n) * np.log(n * k / (ai * bj)) * np.exp(log_p)
    return float(max(terms.sum(), 0.0))


def theils_u_pair(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Chance-adjusted Theil's uncertainty coefficients (U(x|y), U(y|x)) of two code arrays.

    ``U(x|y) = (I(x;y) − E[I]) / (H(x) − E[I])``: the share of x's entropy that y explains, less
    what independent columns of the same size and category counts explain by chance
    (:func:`expected_mutual_information`); clipped to [0, 1], 0 if H(x) = 0. The plain plug-in
    coefficient ``I/H(x)`` is biased upwards in small samples (about (k_x−1)(k_y−1)/(2n) nats of
    spurious information), enough to make a 100-row sample look strongly associated.
    """
    xc, nx = dense_codes(x)
    yc, ny = dense_codes(y)
    joint = np.bincount(xc * ny + yc, minlength=nx * ny).astype(float)
    px = np.bincount(xc, minlength=nx).astype(float)
    py = np.bincount(yc, minlength=ny).astype(float)
    hx = entropy_of_counts(px)
    hy = entropy_of_counts(py)
    mi = max(hx + hy - entropy_of_counts(joint), 0.0)
    emi = expected_mutual_information(px, py) if hx > 0 and hy > 0 else 0.0

    def adjusted(h: float) -> float:
        if h <= 0 or h - emi <= 1e-12:
            return 0.0
        return min(1.0, max(0.0, (mi - emi) / (h - emi)))

    return adjusted(hx), adjusted(hy)


def _adjusted_eta(ss_between: np.ndarray, ss_total: np.ndarray, n: int, k: int) -> np.ndarray:
    """√ε² with Kelley's ε² = (η² − E[η²]) / (1 − E[η²]), E[η²] = (k−1)/(n−1) under independence."""
    eta2 = np.divide(ss_between, ss_total, out=np.zeros_like(ss_total), where=ss_total > 0)
    if n - k <= 0:
        return np.zeros_like(eta2)
    chance = (k - 1) / (n - 1)
    eps2 = (eta2 - chance) / (1.0 - chance)
    return np.where(ss_total > 0, np.sqrt(np.clip(eps2, 0.0, 1.0)), 0.0)


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """Chance-adjusted correlation ratio of a numeric variable over nominal groups.

    ``η² = SS_between / SS_total`` over k non-empty groups and n rows with a finite value;
    ``ε² = (η² − (k−1)/(n−1)) / (1 − (k−1)/(n−1))`` (Kelley; (k−1)/(n−1) is E[η²] when the groups
    are unrelated to the values, so independent columns get 0 at any n, not ≈ √((k−1)/n));
    returns ``√ε²`` clipped to [0, 1].
    """
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return 0.0
    c, k = dense_codes(codes[ok])
    v = values[ok]
    counts = np.bincount(c, minlength=k).astype(float)
    sums = np.bincount(c, weights=v, minlength=k)
    mean = v.mean()
    ss_total = float(((v - mean) ** 2).sum())
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    ss_between = float((counts * (means - mean) ** 2).sum())
    return float(_adjusted_eta(np.array([ss_between]), np.array([ss_total]), len(v), k)[0])


def correlation_ratios(codes: np.ndarray, block: np.ndarray) -> np.ndarray:
    """:func:`correlation_ratio` of every column of a complete (no NaN) numeric block."""
    c, k = dense_codes(codes)
    counts = np.bincount(c, minlength=k).astype(float)
    onehot = np.zeros((len(c), k))
    onehot[np.arange(len(c)), c] = 1.0
    sums = onehot.T @ block  # (k, m)
    mean = block.mean(axis=0)
    means = sums / np.maximum(counts, 1)[:, None]
    ss_between = (counts[:, None] * (means - mean) ** 2).sum(axis=0)
    ss_total = ((block - mean) ** 2).sum(axis=0)
    return _adjusted_eta(ss_between, ss_total, len(c), k)


def quantile_bins(values: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Codes of ``values`` in up to ``n_bins`` quantile bins; NaN gets its own code."""
    out = np.full(len(values), n_bins + 1, dtype=np.int64)
    ok = np.isfinite(values)
    if ok.any():
        edges = np.unique(np.quantile(values[ok], np.linspace(0, 1, n_bins + 1)[1:-1]))
        out[ok] = np.searchsorted(edges, values[ok], side="right")
    return out


def auc_score(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney, ties count one half) of scores where higher means 'positive'."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float = 0.01) -> float:
    """True-positive rate at the strictest threshold whose false-positive rate is <= ``fpr``."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    neg_sorted = np.sort(neg)[::-1]
    allowed = int(np.floor(fpr * len(neg)))
    # Predict positive when score > threshold; at most `allowed` negatives may exceed it.
    threshold = neg_sorted[allowed] if allowed < len(neg_sorted) else -np.inf
    return float((pos > threshold).mean())


def percentile_ci(samples: list[float] | np.ndarray, level: float = 0.95) -> list[float] | None:
    """Percentile interval of bootstrap replicates (None when there are none)."""
    arr = np.asarray([s for s in samples if s is not None and np.isfinite(s)], dtype=float)
    if arr.size < 2:
        return None
    lo, hi = np.quantile(arr, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [float(lo), float(hi)]
