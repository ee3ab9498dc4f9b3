"""The DP generation schema (``privacy/schema.py``): the noise, the thresholds and what the schema reveals.

Every test uses a fixed seed (``seed=`` is for tests only: the pipeline draws OS entropy), so the
assertions are deterministic; the distribution tolerances are several standard errors wide, yet far
narrower than the gap to the usual wrong samplers (rounded continuous Laplace, wrong geometric).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from safe_synthesizer.autoconfig import auto_delta
from safe_synthesizer.config import SafeSynthesizerParameters
from safe_synthesizer.privacy import schema as dp_module
from safe_synthesizer.privacy.accounting import (
    LENGTH_SIGMA_FACTOR,
    SCHEMA_DELTA_FRACTION,
    SCHEMA_EPSILON_FRACTION,
    schema_noise_sigma,
    split_budget,
)
from safe_synthesizer.privacy.schema import (
    LENGTH_MAX_EXP,
    MAGNITUDE_MAX_EXP,
    MAGNITUDE_MIN_EXP,
    MARGIN,
    SPURIOUS_BUCKET_PROBABILITY,
    STEPS_PER_OCTAVE,
    bucket_threshold,
    discrete_gaussian,
    discrete_laplace,
    dp_histogram,
    dp_schema,
    histogram_threshold,
    noisy_kept_buckets,
)
from safe_synthesizer.schema import infer_schema

EPSILON = 4.0
OUTLIER = 987654.321


def params_for(epsilon: float = EPSILON, **sections: dict[str, Any]) -> SafeSynthesizerParameters:
    """DP-enabled parameters; ``sections`` update config sections (``data={...}``, ``privacy={...}``)."""
    config: dict[str, Any] = {
        "enable_replace_pii": False,
        "evaluation": {"enabled": False},
        "data": {"random_state": 1},
        "privacy": {"dp_enabled": True, "epsilon": epsilon},
    }
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    return SafeSynthesizerParameters.model_validate(config)


def pmf(epsilon: float, k: int | np.ndarray) -> Any:
    """Exact ``P(Z = k)`` of the discrete Laplace: ``(1 − t) / (1 + t) · t^|k|``, ``t = e^{−ε}``."""
    t = math.exp(-epsilon)
    return (1 - t) / (1 + t) * t ** np.abs(k)


def tail(epsilon: float, m: int) -> float:
    """``P(Z >= m)`` summed from the pmf (to where the terms vanish)."""
    ks = np.arange(m, m + int(80 / epsilon) + 50)
    return float(np.sum(pmf(epsilon, ks)))


def gauss_pmf(sigma: float, ks: np.ndarray) -> np.ndarray:
    """Exact ``P(Z = k)`` of the discrete Gaussian, normalised over ``|k| <= 40σ + 40``."""
    support = np.arange(-int(40 * sigma) - 40, int(40 * sigma) + 41)
    norm = np.exp(-(support.astype(float) ** 2) / (2 * sigma**2)).sum()
    return np.exp(-(np.asarray(ks, dtype=float) ** 2) / (2 * sigma**2)) / norm


def gauss_tail(sigma: float, m: int) -> float:
    """``P(Z >= m)`` of the discrete Gaussian, summed exactly."""
    return float(gauss_pmf(sigma, np.arange(m, m + int(40 * sigma) + 40)).sum())


def is_power_of_two(x: float) -> bool:
    return x > 0 and math.log2(x).is_integer()


def is_bucket_bound(x: float | None, integer: bool = False) -> bool:
    """0 or ± a bucket edge ``2^(k/STEPS_PER_OCTAVE)``; integer columns: the integer next to one."""
    if x is None:
        return False
    if x == 0:
        return True
    k = STEPS_PER_OCTAVE * math.log2(abs(x))
    if not integer:
        return abs(k - round(k)) < 1e-9
    edges = [2.0 ** (j / STEPS_PER_OCTAVE) for j in range(math.floor(k) - 1, math.ceil(k) + 2)]
    return any(abs(x) in (math.ceil(e), math.ceil(e) - 1, math.floor(e), math.floor(e) + 1) for e in edges)


def column(schema: Any, name: str) -> Any:
    return next(c for c in schema.columns if c.name == name)


# ------------------------------------------------------------------ discrete Laplace noise


@pytest.mark.parametrize("epsilon", [0.25, 1.0, 2.0])
def test_discrete_laplace_has_the_two_sided_geometric_distribution(epsilon):
    n = 400_000
    z = discrete_laplace(np.random.default_rng(12345), epsilon, n)
    assert z.shape == (n,) and np.issubdtype(z.dtype, np.integer)
    t = math.exp(-epsilon)
    p0 = (1 - t) / (1 + t)
    variance = 2 * t / (1 - t) ** 2
    assert abs(z.mean()) < 5 * math.sqrt(variance / n)
    assert abs(np.mean(z == 0) - p0) < 5 * math.sqrt(p0 * (1 - p0) / n)
    assert z.var() == pytest.approx(variance, rel=0.03)
    # the whole pmf near the centre, and symmetry
    for k in range(-6, 7):
        p = float(pmf(epsilon, k))
        if p * n < 50:
            continue
        assert abs(np.mean(z == k) - p) < 5 * math.sqrt(p * (1 - p) / n), k
    # geometric tail: P(|Z| >= m) = 2 t^m / (1 + t)
    m = max(1, round(2 / epsilon))
    expected = 2 * t**m / (1 + t)
    assert abs(np.mean(np.abs(z) >= m) - expected) < 5 * math.sqrt(expected / n)


@pytest.mark.parametrize("epsilon", [0.5, 1.0])
def test_wrong_samplers_fail_the_distribution_checks(epsilon):
    """The tolerances above separate the right law from near misses (the check has teeth)."""
    n = 400_000
    rng = np.random.default_rng(7)
    t = math.exp(-epsilon)
    p0 = (1 - t) / (1 + t)
    tolerance = 5 * math.sqrt(p0 * (1 - p0) / n)
    rounded_laplace = np.round(rng.laplace(0.0, 1 / epsilon, n))
    wrong_geometric = rng.geometric(t, n) - rng.geometric(t, n)  # p = e^{−ε} instead of 1 − e^{−ε}
    for z in (rounded_laplace, wrong_geometric):
        assert abs(np.mean(z == 0) - p0) > tolerance


def test_discrete_laplace_is_seeded_by_the_generator_only():
    a = discrete_laplace(np.random.default_rng(3), 1.0, 1000)
    b = discrete_laplace(np.random.default_rng(3), 1.0, 1000)
    c = discrete_laplace(np.random.default_rng(4), 1.0, 1000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# ------------------------------------------------------------------ discrete Gaussian noise


@pytest.mark.parametrize("sigma", [0.7, 3.0, 12.5])
def test_discrete_gaussian_has_the_discrete_gaussian_distribution(sigma):
    n = 400_000
    z = discrete_gaussian(np.random.default_rng(2025), sigma, n)
    assert z.shape == (n,) and np.issubdtype(z.dtype, np.integer)
    for k in range(-int(2 * sigma) - 1, int(2 * sigma) + 2):
        p = float(gauss_pmf(sigma, k))
        assert abs(np.mean(z == k) - p) < 5 * math.sqrt(p * (1 - p) / n), k
    variance = float((gauss_pmf(sigma, np.arange(-500, 501)) * np.arange(-500, 501) ** 2).sum())
    assert z.var() == pytest.approx(variance, rel=0.03)
    assert abs(z.mean()) < 5 * math.sqrt(variance / n)


def test_a_rounded_continuous_gaussian_fails_the_discrete_gaussian_check():
    """The pmf check has teeth: rounding a continuous N(0, σ²) is a different law at small σ."""
    sigma, n = 0.7, 400_000
    z = np.round(np.random.default_rng(8).normal(0.0, sigma, n))
    p = float(gauss_pmf(sigma, 0))
    assert abs(np.mean(z == 0) - p) > 5 * math.sqrt(p * (1 - p) / n)


def test_discrete_gaussian_is_seeded_by_the_generator_only():
    a = discrete_gaussian(np.random.default_rng(3), 9.0, 1000)
    b = discrete_gaussian(np.random.default_rng(3), 9.0, 1000)
    c = discrete_gaussian(np.random.default_rng(4), 9.0, 1000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# ------------------------------------------------------------------ the histogram threshold

THRESHOLD_CASES = [(3.0, 1e-6), (28.3, 2.4e-8), (46.3, 1.6e-7), (1.0, 0.2), (0.8, 1e-9), (10.0, 3.3e-4)]


@pytest.mark.parametrize(("sigma", "delta"), THRESHOLD_CASES)
def test_a_count_one_value_is_released_with_probability_at_most_delta(sigma, delta):
    tau = histogram_threshold(sigma, delta)
    assert isinstance(tau, int) and tau >= 2
    # P(1 + Z >= τ) = P(Z >= τ − 1), summed exactly from the pmf
    assert gauss_tail(sigma, tau - 1) <= delta
    # the subgaussian bound is not wasteful: the exact smallest threshold is at most 25 % lower
    exact = next(m for m in range(0, tau) if gauss_tail(sigma, m) <= delta)
    assert tau - 1 <= 1.25 * exact + 2


def test_dp_histogram_releases_count_one_values_at_the_exact_rate():
    """20,000 values seen once at (σ, δ) = (1, 0.2): τ = 3, each released w.p. P(Z >= 2)."""
    sigma, delta = 1.0, 0.2
    tau = histogram_threshold(sigma, delta)
    assert tau == 3
    values = pd.Series([f"v{i}" for i in range(20_000)])
    kept = dp_histogram(values, sigma, delta, np.random.default_rng(11))
    rate = len(kept) / len(values)
    expected = gauss_tail(sigma, tau - 1)
    assert expected <= delta
    assert abs(rate - expected) < 5 * math.sqrt(expected / len(values))
    assert all(c >= tau for c in kept.values())


def test_dp_histogram_keeps_frequent_values_with_noisy_counts_and_no_unique_value():
    rng = np.random.default_rng(2024)
    unique = [f"uniq-{i:05d}-{rng.integers(1e9)}" for i in range(5000)]
    frequent = {f"common-{j}": 300 + 37 * j for j in range(10)}
    values = unique + [v for v, c in frequent.items() for _ in range(c)] + [None] * 400
    series = pd.Series(values, dtype=object).sample(frac=1.0, random_state=1)
    sigma, delta = 3.0, 1e-6
    kept = dp_histogram(series, sigma, delta, np.random.default_rng(5))
    assert not set(kept) & set(unique)
    assert set(kept) == set(frequent) | {None}
    true = {**frequent, None: 400}
    # noisy: within a plausible noise range, yet not the true counts
    assert all(abs(kept[v] - c) <= 30 for v, c in true.items())
    assert sum(kept[v] != c for v, c in true.items()) >= 3


@pytest.mark.parametrize(
    ("sigma", "n_buckets"), [(28.0, 669), (46.0, 669), (1.0, 19), (20.0, 19), (0.6, 1000)]
)
def test_an_empty_bucket_is_kept_with_probability_at_most_beta_over_k(sigma, n_buckets):
    tau = bucket_threshold(sigma, n_buckets)
    assert gauss_tail(sigma, tau) <= SPURIOUS_BUCKET_PROBABILITY / n_buckets


def test_noisy_kept_buckets_adds_noise_and_thresholds_at_tau():
    """4,000 buckets holding exactly τ records: each kept w.p. P(Z >= 0), not always."""
    sigma, n_buckets = 1.0, 8000
    tau = bucket_threshold(sigma, n_buckets)
    full = np.arange(0, n_buckets, 2)
    buckets = np.repeat(full, tau)
    kept = noisy_kept_buckets(buckets, list(range(n_buckets)), sigma, np.random.default_rng(6))
    rate = np.isin(full, kept).mean()
    expected = gauss_tail(sigma, 0)
    assert abs(rate - expected) < 5 * math.sqrt(expected * (1 - expected) / len(full))
    assert set(kept) <= set(full.tolist())  # the empty half: P(spurious) <= β / K each


# ------------------------------------------------------------------ dp_schema


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    n = 5000
    rng = np.random.default_rng(99)
    return pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], n),
            "customer_id": [f"CID-{i:05d}-{h:08x}" for i, h in enumerate(rng.integers(0, 2**32, n))],
            "amount": np.round(rng.normal(50.0, 8.0, n), 3),
            "age": rng.integers(18, 90, n),
            "active": rng.random(n) < 0.5,
            "sex": rng.choice(["F", "M"], n),
            "score": rng.integers(0, 100, n),
        }
    )


PUBLIC = {"sex": {"values": ["F", "M", "X"]}, "score": {"minimum": 0, "maximum": 1000}}


@pytest.fixture(scope="module")
def released(table):
    params = params_for(privacy={"public_domains": PUBLIC})
    return dp_schema(table, params, seed=17)


def test_dp_schema_spends_at_most_the_reserved_share(table, released):
    _, ledger = released
    delta = auto_delta(len(table))
    budget = split_budget(EPSILON, delta)
    assert budget.schema_epsilon == pytest.approx(SCHEMA_EPSILON_FRACTION * EPSILON)
    assert budget.schema_delta == pytest.approx(SCHEMA_DELTA_FRACTION * delta)
    assert ledger["epsilon_reserved"] == budget.schema_epsilon
    assert ledger["delta_reserved"] == budget.schema_delta
    assert ledger["epsilon"] <= budget.schema_epsilon * (1 + 1e-12)
    assert ledger["delta"] <= budget.schema_delta * (1 + 1e-12)
    # 2 numeric columns (magnitudes + unit integers each, plus the fractional count of the float one)
    # and 2 text columns (values): 7, plus 2 joint histograms reserved for determined pairs (2 text
    # columns: one text pair and 4 text x numeric pairs are possible): H = 9 at σ; and the 2 text
    # columns' length histograms at LENGTH_SIGMA_FACTOR · σ
    assert ledger["pairs"]["histograms"] == 2
    assert ledger["histograms"] == 9
    assert ledger["length_histograms"] == 2
    assert ledger["length_sigma"] == ledger["sigma"] * LENGTH_SIGMA_FACTOR
    assert ledger["delta_gaussian"] == pytest.approx(budget.schema_delta / 2, rel=1e-12)
    assert ledger["delta_thresholds"] == pytest.approx(budget.schema_delta / 2, rel=1e-12)
    assert ledger["sigma"] == pytest.approx(
        schema_noise_sigma(budget.schema_epsilon, 9, budget.schema_delta / 2, coarse_histograms=2)
    )
    # the accounted ε uses most of the share (σ is the smallest to 1 %), and meets the zCDP bound
    assert ledger["epsilon"] >= 0.9 * budget.schema_epsilon
    rho = 9 / (2 * ledger["sigma"] ** 2) + 2 / (2 * ledger["length_sigma"] ** 2)
    assert ledger["epsilon"] <= rho + 2 * math.sqrt(rho * math.log(1 / ledger["delta_gaussian"]))
    columns = ledger["columns"]
    assert set(columns) == set(table.columns)
    assert (
        sum(c["histograms"] for c in columns.values()) + ledger["pairs"]["histograms"]
        == ledger["histograms"] + ledger["length_histograms"]
    )
    assert sum(c["delta"] for c in columns.values()) == pytest.approx(ledger["delta_thresholds"], rel=1e-12)
    for name in ("amount", "age"):  # public bucket domain: no δ
        assert columns[name]["delta"] == 0.0 and columns[name]["sigma"] == ledger["sigma"]
    for name in ("color", "customer_id"):
        assert columns[name]["delta"] == pytest.approx(budget.schema_delta / 4, rel=1e-12)
    for name in ("sex", "score", "active"):  # declared and boolean: free
        assert columns[name]["histograms"] == 0 and columns[name]["delta"] == 0.0
    assert ledger["privacy_unit"] == "record" and ledger["n_units"] == len(table)


def test_text_threshold_in_the_ledger_bounds_the_release_of_a_unique_value_by_its_delta(released):
    _, ledger = released
    for name in ("color", "customer_id"):
        info = ledger["columns"][name]
        assert info["threshold"] == histogram_threshold(info["sigma"], info["delta"])
        assert gauss_tail(info["sigma"], info["threshold"] - 1) <= info["delta"]


def test_the_mechanisms_run_spend_no_more_than_the_ledger_says(table, monkeypatch):
    """Spy on the mechanisms: every noisy histogram uses the ledger's σ and they number at most H."""
    calls: list[tuple[str, float, float]] = []
    sizes: list[int] = []
    real_histogram, real_buckets, real_noise = (
        dp_module.dp_histogram,
        dp_module.noisy_bucket_counts,
        discrete_gaussian,
    )

    def histogram(values, sigma, delta, rng):
        calls.append(("histogram", sigma, delta))
        return real_histogram(values, sigma, delta, rng)

    def buckets(values, domain, sigma, rng):
        calls.append(("buckets", sigma, 0.0))
        before = len(sizes)
        noisy = real_buckets(values, domain, sigma, rng)
        assert sizes[before:] == [len(domain)]  # noise on every bucket of the public domain, empty ones too
        return noisy

    def noise(rng, sigma, size):
        sizes.append(size)
        return real_noise(rng, sigma, size)

    monkeypatch.setattr(dp_module, "dp_histogram", histogram)
    monkeypatch.setattr(dp_module, "noisy_bucket_counts", buckets)
    monkeypatch.setattr(dp_module, "discrete_gaussian", noise)
    schema, ledger = dp_schema(table, params_for(privacy={"public_domains": PUBLIC}), seed=17)
    # the joint histograms of candidate pairs draw one noise value per cell of their public grid
    domains = {c.name: dp_module.finite_domain(c) for c in schema.columns}
    grids = [
        len(domains[a] or []) * len(domains[b] or [])
        for a, b in (t["columns"] for t in ledger["pairs"]["tested"])
    ]
    assert len(grids) <= ledger["pairs"]["histograms"]
    for grid in grids:
        sizes.remove(grid)
    # every release at σ but the string column's length bound, at the coarser length σ
    at_length_sigma = [kind for kind, sigma, _ in calls if sigma == ledger["length_sigma"]]
    assert at_length_sigma == ["buckets"]
    assert all(sigma in (ledger["sigma"], ledger["length_sigma"]) for _, sigma, _ in calls)
    assert len(calls) <= ledger["histograms"] + ledger["length_histograms"]
    assert sum(d for _, _, d in calls) <= ledger["delta_thresholds"] * (1 + 1e-12)
    # 2 text columns (one histogram each), 2 numeric (one bucket histogram each), the integer age's
    # unit-integer histogram, 1 string length bound
    assert [kind for kind, _, _ in calls].count("histogram") == 2
    assert [kind for kind, _, _ in calls].count("buckets") == 4
    # value histograms: one draw per observed value (3 colors, 5,000 ids); buckets: the whole domain
    magnitudes = 2 * ((MAGNITUDE_MAX_EXP + 1 - MAGNITUDE_MIN_EXP) * STEPS_PER_OCTAVE + 1) + 1
    lengths = LENGTH_MAX_EXP + 2
    # ... and one draw for the float column's count of fractional values
    assert sorted(sizes)[:3] == [1, 3, lengths]
    assert magnitudes in sizes and sizes.count(magnitudes) == 2 and 5000 in sizes
    assert len(sizes) == 7  # ... plus the unit-integer histogram over age's magnitude range


def test_a_float_column_of_whole_numbers_becomes_integer_and_a_real_float_stays_number():
    n = 4000
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "months": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 90, n)).astype(float),
            "rate": np.round(rng.normal(12.0, 3.0, n), 2),
        }
    )
    schema, ledger = dp_schema(frame, params_for(), seed=3)
    assert column(schema, "months").kind == "integer" and column(schema, "months").decimals == 0
    assert column(schema, "rate").kind == "number"
    assert ledger["histograms"] == 6 and ledger["columns"]["months"]["histograms"] == 3
    months = column(schema, "months")
    assert months.minimum >= 0 and months.maximum <= 89  # trimmed on unit integers


def test_declared_and_boolean_columns_are_used_as_given(released):
    schema, _ = released
    sex, score, active = column(schema, "sex"), column(schema, "score"), column(schema, "active")
    assert sex.kind == "categorical" and sex.categories == ["F", "M", "X"]
    assert score.kind == "integer" and (score.minimum, score.maximum) == (0.0, 1000.0)
    assert active.kind == "boolean"
    assert schema.names == ["color", "customer_id", "amount", "age", "active", "sex", "score"]
    assert all(c.nullable for c in schema.columns)


def test_frequent_categories_become_categorical_and_identifiers_a_string_without_values(table, released):
    schema, ledger = released
    color = column(schema, "color")
    assert color.kind == "categorical" and color.categories == ["blue", "green", "red"]
    assert ledger["columns"]["color"]["outcome"] == "categorical"
    ids = column(schema, "customer_id")
    assert ids.kind == "string" and ids.categories is None
    assert ledger["columns"]["customer_id"]["outcome"] == "string"
    text = schema.to_json()
    for value in table["customer_id"]:
        assert value not in text
    assert "CID-" not in text
    # the length bound is MARGIN × a power of two, not the observed maximum length (16)
    if ids.max_length is not None:
        assert is_power_of_two(ids.max_length / MARGIN)
        assert ids.max_length != int(table["customer_id"].str.len().max())


def test_numeric_bounds_are_bucket_edges_around_the_bulk(table, released):
    schema, _ = released
    amount, age = column(schema, "amount"), column(schema, "age")
    assert amount.kind == "number" and age.kind == "integer"
    # an integer range of <= MAX_UNIT_INTEGERS values is trimmed to noisy unit counts: inside the data
    assert table["age"].min() <= age.minimum < age.maximum <= table["age"].max()
    for col, values, integer in ((amount, table["amount"], False), (age, table["age"], True)):
        if not integer:
            assert is_bucket_bound(col.minimum) and is_bucket_bound(col.maximum), (col.minimum, col.maximum)
        # the bulk is inside (a rare extreme need not be: its bucket may not clear the threshold,
        # ~4.4 σ = 57 records here, 1.1 % of the table)
        assert col.minimum <= values.quantile(0.02) and col.maximum >= values.quantile(0.98)
        assert col.minimum != values.min() or col.maximum != values.max()


@pytest.mark.parametrize(
    ("low", "high", "floats", "integers"),
    [(33, 63, (32.0, 64.0), (33.0, 62.0)), (-63, -33, (-64.0, -32.0), (-63.0, -34.0))],
)
def test_data_in_one_octave_get_exactly_its_buckets(low, high, floats, integers):
    """All values in ``[33, 63)``: the kept buckets span ``[32, 64)`` (no widening margin); the
    integer column, 33..62, is trimmed on unit counts to exactly that (negative: −63..−34)."""
    rng = np.random.default_rng(10)
    frame = pd.DataFrame({"f": np.round(rng.uniform(low, high, 3000), 4), "i": rng.integers(low, high, 3000)})
    schema, _ = dp_schema(frame, params_for(), seed=12)
    assert (column(schema, "f").minimum, column(schema, "f").maximum) == pytest.approx(floats)
    assert (column(schema, "i").minimum, column(schema, "i").maximum) == integers


def test_an_extreme_outlier_is_not_revealed():
    rng = np.random.default_rng(8)
    base = pd.DataFrame({"x": np.round(rng.normal(40.0, 5.0, 3000), 3), "k": rng.integers(1, 60, 3000)})
    with_outlier = pd.concat(
        [base, pd.DataFrame({"x": [OUTLIER], "k": [2**40 + 12345]})], ignore_index=True
    ).sample(frac=1.0, random_state=3)
    # the plain schema copies it (what DP has to avoid)
    plain = infer_schema(with_outlier)
    assert column(plain, "x").maximum == OUTLIER
    params = params_for()
    for seed in (1, 2, 3):
        without_schema, _ = dp_schema(base, params, seed=seed)
        with_schema, _ = dp_schema(with_outlier, params, seed=seed)
        text = with_schema.to_json()
        assert "987654" not in text and str(2**40 + 12345) not in text
        for name in ("x", "k"):
            a, b = column(without_schema, name), column(with_schema, name)
            if name == "x":
                assert is_bucket_bound(b.minimum) and is_bucket_bound(b.maximum)
            else:  # integers trimmed on unit counts: inside the base data's 1..59
                assert 1 <= b.minimum < b.maximum <= 59
            assert b.maximum < 2**20  # the outlier's bucket [2^19, 2^20) was not kept
            # same noise, neighbouring data: the one record moves nothing
            assert (a.minimum, a.maximum) == (b.minimum, b.maximum)


def test_negative_values_give_negative_bucket_bounds():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"t": np.round(rng.normal(-20.0, 3.0, 4000), 2)})
    schema, _ = dp_schema(frame, params_for(), seed=9)
    t = column(schema, "t")
    assert t.minimum < 0 and t.maximum < 0
    assert is_bucket_bound(t.minimum) and is_bucket_bound(t.maximum)
    assert t.minimum <= frame["t"].quantile(0.01) and t.maximum >= frame["t"].quantile(0.99)
    assert (t.minimum, t.maximum) != (frame["t"].min(), frame["t"].max())


def grouped_table() -> pd.DataFrame:
    """1,500 users with 1–3 ordinary rows each, and one user with 1,000 rows of a rare city and amount."""
    rng = np.random.default_rng(31)
    users = np.repeat(np.arange(1500), rng.integers(1, 4, 1500))
    ordinary = pd.DataFrame(
        {
            "user": [f"user-{u:04d}" for u in users],
            "city": rng.choice(["Oslo", "Lima", "Pune"], len(users)),
            "amount": np.round(rng.uniform(10, 60, len(users)), 2),
        }
    )
    heavy = pd.DataFrame({"user": "user-9999", "city": "Xanadu", "amount": [5_000_000.0] * 1000})
    return pd.concat([ordinary, heavy], ignore_index=True).sample(frac=1.0, random_state=2)


def test_a_group_contributes_one_record_however_many_rows_it_has():
    frame = grouped_table()
    grouped, ledger = dp_schema(frame, params_for(data={"group_training_examples_by": "user"}), seed=21)
    assert ledger["privacy_unit"] == "group" and ledger["n_units"] == 1501
    city = column(grouped, "city")
    assert city.kind == "categorical" and city.categories == ["Lima", "Oslo", "Pune"]
    assert column(grouped, "amount").maximum < 2**22  # the heavy user's [2^22, 2^23) bucket is not kept
    text = grouped.to_json()
    assert "Xanadu" not in text and "user-" not in text
    # control: with records as units the same 1,000 rows are a frequent value and a kept bucket
    plain, _ = dp_schema(frame, params_for(), seed=21)
    assert "Xanadu" in column(plain, "city").categories
    assert column(plain, "amount").maximum >= 5_000_000  # its bucket is kept


def test_dp_schema_refuses_without_dp():
    frame = pd.DataFrame({"a": ["x", "y"]})
    params = SafeSynthesizerParameters.model_validate({"enable_replace_pii": False})
    with pytest.raises(Exception, match="dp_enabled"):
        dp_schema(frame, params, seed=0)


# ------------------------------------------------------------------ the pipeline uses it


def test_the_pipeline_schema_under_dp_is_the_dp_schema_with_os_entropy():
    from safe_synthesizer.pipeline import _training_schema

    rng = np.random.default_rng(13)
    n = 3000
    frame = pd.DataFrame(
        {
            "token": [f"tok-{h:010x}" for h in rng.integers(0, 2**40, n)],
            "kind": rng.choice(["a", "b"], n),
            "value": np.round(rng.normal(100.0, 10.0, n), 2),
        }
    )
    frame.loc[0, "value"] = OUTLIER
    schema, ledger = _training_schema(frame, params_for())
    assert ledger is not None
    assert ledger["noise_source"] == "OS entropy"  # never the run's seed
    assert ledger["epsilon"] <= SCHEMA_EPSILON_FRACTION * EPSILON * (1 + 1e-12)
    token = column(schema, "token")
    assert token.kind == "string" and token.categories is None
    text = schema.to_json()
    assert not re.search(r"tok-[0-9a-f]{10}", text) and "987654" not in text
    value = column(schema, "value")
    assert is_bucket_bound(value.minimum) and is_bucket_bound(value.maximum)
    # control: without DP the plain schema reveals the extreme
    plain, plain_ledger = _training_schema(frame, SafeSynthesizerParameters.model_validate({}))
    assert column(plain, "value").maximum == OUTLIER and plain_ledger is None


# ------------------------------------------------------------------ coarse levels and spurious buckets


def _range_of(values: np.ndarray, sigma: float, seed: int = 0) -> tuple[float, float]:
    lo, hi = dp_module._numeric_range(values, sigma, False, np.random.default_rng(seed))
    assert lo is not None and hi is not None
    return lo, hi


def test_a_spread_out_column_on_a_small_table_gets_its_bulk_from_coarser_levels():
    values = np.random.default_rng(1).lognormal(10, 2, 5000)
    lo, hi = _range_of(values, 46.0)
    assert lo <= np.quantile(values, 0.2) and hi >= np.quantile(values, 0.8)
    # the quarter-octave level alone keeps only the mode's neighbourhood (what the levels fix)
    domain = dp_module.magnitude_domain()
    noisy = dp_module.noisy_bucket_counts(
        dp_module.magnitude_buckets(values), domain, 46.0, np.random.default_rng(0)
    )
    fine = [b for b, c in zip(domain, noisy, strict=True) if c >= bucket_threshold(46.0, len(domain))]
    fine_hi = max(dp_module._bucket_edges(b)[1] for b in fine)
    assert fine_hi < np.quantile(values, 0.8)


def test_coarse_levels_do_not_widen_a_range_the_fine_level_knows():
    values = np.random.default_rng(2).normal(50, 8, 24_000)
    lo, hi = _range_of(values, 28.0)
    assert 16 < lo <= np.quantile(values, 0.01) and np.quantile(values, 0.99) <= hi < 128


def test_an_isolated_spurious_bucket_is_dropped_and_a_real_far_cluster_kept():
    domain = dp_module.magnitude_domain()
    sigma = 46.0
    tau = bucket_threshold(sigma, len(domain))
    noisy = np.zeros(len(domain), dtype=int)
    bulk = [domain.index(b) for b in range(100, 108)]
    noisy[bulk] = 900
    far = domain.index(250)
    noisy[far] = tau + 1  # just over the threshold, no kept neighbour: spurious-looking
    kept = dp_module.kept_magnitude_buckets(domain, noisy, sigma)
    assert kept == [100, 107]
    noisy[far] = 2 * tau + 600  # a genuine far point mass stays
    assert dp_module.kept_magnitude_buckets(domain, noisy, sigma) == [100, 250]


def test_integer_buckets_without_an_integer_are_no_gap():
    """Adult's ``education_num`` counts (1: 39, 2: 130, 3: 251, ...), noise-free at its run's σ = 22:
    2's bucket [2, 2.38) clears the threshold, but its upper neighbour [2.38, 2.83) holds no integer.
    As a real-valued column 2 looks isolated and the range starts at 3; as an integer column the
    empty-by-construction bucket is no gap and 2 is kept (1, under the threshold, is not)."""
    domain = dp_module.magnitude_domain()
    sigma = 22.0
    tau = bucket_threshold(sigma, len(domain))
    counts = {1: 39, 2: 130, 3: 251, 4: 486, 5: 384, 6: 700, 7: 850, 8: 320, 9: 7900, 10: 5400}
    values = np.repeat(np.array(list(counts), dtype=float), list(counts.values()))
    buckets = dp_module.magnitude_buckets(values)
    noisy = np.array([int(np.sum(buckets == b)) for b in domain])
    assert tau < counts[2] < 2 * tau and counts[1] < tau
    two = int(dp_module.magnitude_buckets(np.array([2.0]))[0])
    three = int(dp_module.magnitude_buckets(np.array([3.0]))[0])
    assert dp_module.kept_magnitude_buckets(domain, noisy, sigma)[0] == three
    assert dp_module.kept_magnitude_buckets(domain, noisy, sigma, integer=True)[0] == two
    # a bucket with no integer is never kept for an integer column, whatever its (noise) count
    between = int(dp_module.magnitude_buckets(np.array([2.5]))[0])
    noisy[domain.index(between)] = 10 * tau
    assert dp_module.kept_magnitude_buckets(domain, noisy, sigma, integer=True)[0] == two
    noisy[domain.index(two)] = 0
    assert dp_module.kept_magnitude_buckets(domain, noisy, sigma, integer=True)[0] == three
    assert dp_module.kept_magnitude_buckets(domain, noisy, sigma)[0] == between


def test_integer_trim_keeps_a_thin_tail_inside_a_released_edge_bucket():
    """Ages 17-67 (400 a year) and a thin tail 68-90 (20 a year, like Adult's): the magnitude
    buckets release 90; the summed unit-count trim alone cut the tail at about 70, so synthetic ages
    never passed it. The trim may not pass the released edge bucket ([76.1, 90.5): 77..90)."""
    values = np.concatenate([np.repeat(np.arange(17, 68), 400), np.repeat(np.arange(68, 91), 20)]).astype(
        float
    )
    sigma = 31.4
    for seed in range(5):
        lo, hi, edges = dp_module._numeric_range_and_edge_buckets(
            values, sigma, True, np.random.default_rng(seed)
        )
        assert hi == 90.0 and edges is not None and edges[1] == 77.0
        trimmed = dp_module._trim_integer_range(values, lo, hi, sigma, np.random.default_rng(seed), edges)
        assert trimmed[1] == 90.0 and trimmed[0] == 17.0
        unbounded = dp_module._trim_integer_range(values, lo, hi, sigma, np.random.default_rng(seed))
        assert unbounded[1] < 77.0  # what the trim did before: the tail was lost
    # a bucket edge beyond the data is still trimmed (education_num 1-16 released as 2-19)
    codes = np.repeat(np.arange(2, 17), 300).astype(float)
    lo, hi, edges = dp_module._numeric_range_and_edge_buckets(codes, sigma, True, np.random.default_rng(1))
    assert hi == 19.0
    assert dp_module._trim_integer_range(codes, lo, hi, sigma, np.random.default_rng(1), edges)[1] == 16.0


def test_integer_trim_finds_years_after_a_long_empty_stretch_of_their_bucket():
    """Years 1964-2015 lie in one magnitude bucket, released as 1723-2047 (325 integers). Summed
    from each edge, the empty stretch's noise hid the data until the two sums met (every synthetic
    year was 2006); the block test finds the bulk, inside the data on both sides."""
    rng = np.random.default_rng(0)
    years = np.clip(np.round(rng.normal(2000, 8, 5000)), 1964, 2015).astype(float)
    sigma = 41.0
    for seed in range(4):
        lo, hi, edges, _ = dp_module._numeric_release(years, sigma, True, np.random.default_rng(seed))
        assert (lo, hi) == (1723.0, 2047.0)
        new_lo, new_hi, counts = dp_module._trim_integer_range(
            years, lo, hi, sigma, np.random.default_rng(seed), edges
        )
        assert 1964 <= new_lo <= 1995 and 2005 <= new_hi <= 2015
        assert [v for v, _ in counts] == list(range(int(new_lo), int(new_hi) + 1))
