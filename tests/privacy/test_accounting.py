"""Accounting: our ε (dp-accounting PLD) against an independent accountant (opacus PRV), the σ search,
the per-step budget check and the schema/training split."""

from __future__ import annotations

import math

import pytest

from safe_synthesizer.privacy.accounting import (
    SCHEMA_DELTA_FRACTION,
    SCHEMA_EPSILON_FRACTION,
    SIGMA_MAX,
    epsilon_for,
    find_noise_multiplier,
    max_steps_within,
    opacus_prv_epsilon,
    split_budget,
)

CASES = [  # (σ, q, T, δ): DP-SGD-like settings, from few steps to thousands
    (1.0, 0.01, 1000, 1e-5),
    (0.8, 0.06, 40, 1e-3),
    (4.0, 0.075, 400, 1e-3),
    (1.2, 0.1, 300, 2e-4),
    (0.6, 0.004, 5000, 1e-6),
]


@pytest.mark.parametrize(("sigma", "q", "steps", "delta"), CASES)
def test_epsilon_agrees_with_opacus_prv_within_one_percent(sigma, q, steps, delta):
    ours = epsilon_for(sigma, q, steps, delta)
    independent = opacus_prv_epsilon(sigma, q, steps, delta)
    print(f"sigma={sigma} q={q} T={steps} delta={delta}: PLD {ours:.4f} vs opacus PRV {independent:.4f}")
    assert abs(ours - independent) / independent < 0.01


def test_epsilon_grows_with_steps_and_rate_and_shrinks_with_noise():
    base = epsilon_for(1.0, 0.05, 100, 1e-5)
    assert epsilon_for(1.0, 0.05, 200, 1e-5) > base
    assert epsilon_for(1.0, 0.10, 100, 1e-5) > base
    assert epsilon_for(2.0, 0.05, 100, 1e-5) < base
    assert epsilon_for(1.0, 0.05, 0, 1e-5) == 0.0


def test_coarse_accountant_is_an_upper_bound_close_to_the_fine_one():
    for sigma, q, steps, delta in CASES:
        fine, coarse = epsilon_for(sigma, q, steps, delta), epsilon_for(sigma, q, steps, delta, coarse=True)
        assert fine <= coarse * (1 + 1e-9) and coarse <= fine * 1.01


def test_noise_search_meets_the_target_tightly():
    q, steps, delta = 0.02, 500, 1e-5
    for target in (0.5, 2.0, 8.0):
        sigma = find_noise_multiplier(target, q, steps, delta)
        assert sigma is not None
        assert epsilon_for(sigma, q, steps, delta) <= target
        # 1 % less noise would overshoot (the search is tight to 0.5 % in σ)
        assert epsilon_for(sigma * 0.99, q, steps, delta) > target * 0.99


def test_noise_search_refuses_unreachable_targets():
    assert find_noise_multiplier(0.01, 0.5, 1000, 1e-3) is None
    assert epsilon_for(SIGMA_MAX, 0.5, 1000, 1e-3) > 0.01


def test_max_steps_within_is_the_per_step_check():
    sigma, q, delta, target = 1.0, 0.05, 1e-5, 2.0
    allowed = max_steps_within(target, sigma, q, delta, start=10)
    assert 10 <= allowed < 40
    assert epsilon_for(sigma, q, allowed, delta, coarse=True) <= target
    assert epsilon_for(sigma, q, allowed + 1, delta, coarse=True) > target


def test_budget_split_composes_to_the_target():
    budget = split_budget(8.0, 1e-5)
    assert math.isclose(budget.schema_epsilon, SCHEMA_EPSILON_FRACTION * 8.0)
    assert math.isclose(budget.schema_delta, SCHEMA_DELTA_FRACTION * 1e-5)
    assert math.isclose(budget.schema_epsilon + budget.training_epsilon, 8.0)
    assert math.isclose(budget.schema_delta + budget.training_delta, 1e-5)
    with pytest.raises(ValueError):
        split_budget(1.0, 1.5)


@pytest.mark.parametrize(("sigma", "q", "steps", "delta"), CASES)
def test_epsilon_agrees_with_microsoft_prv_accountant_within_one_percent(sigma, q, steps, delta):
    """The independent library the issue names: Microsoft's ``prv-accountant`` on the same σ, q, T, δ."""
    prv = pytest.importorskip("prv_accountant")
    accountant = prv.PRVAccountant(
        prvs=prv.PoissonSubsampledGaussianMechanism(noise_multiplier=sigma, sampling_probability=q),
        max_self_compositions=steps,
        eps_error=0.01,
        delta_error=delta / 1000,
    )
    lower, estimate, upper = accountant.compute_epsilon(delta=delta, num_self_compositions=steps)
    ours = epsilon_for(sigma, q, steps, delta)
    print(f"sigma={sigma} q={q} T={steps} delta={delta}: ours {ours:.4f}, prv-accountant {estimate:.4f}")
    assert abs(ours - estimate) / estimate < 0.01
    assert lower - 1e-6 <= ours <= upper + 1e-6
