"""The schema's noise calibration (:func:`schema_noise_sigma`) against independent bounds.

* zCDP (Canonne, Kamath & Steinke 2020): H discrete Gaussians of parameter σ and sensitivity 1 are
  ``H / (2σ²)``-zCDP, hence ``(ρ + 2√(ρ ln(1/δ)), δ)``-DP: the PLD's ε must not exceed it.
* The continuous Gaussian mechanism's PLD (a different construction in the same library, and
  Balle & Wang's analytic formula for one release) at the same σ: for σ >= 5 the discrete and the
  continuous Gaussian differ by far less than 2 % in ε.
"""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from safe_synthesizer.privacy.accounting import (
    LENGTH_SIGMA_FACTOR,
    schema_epsilon_for,
    schema_noise_sigma,
    zcdp_sigma,
)

CASES = [(0.8, 24, 2.6e-7), (0.8, 72, 1.8e-6), (0.16, 6, 1e-6), (2.0, 120, 1e-8)]


@pytest.mark.parametrize(("epsilon", "histograms", "delta"), CASES)
def test_sigma_meets_the_target_and_is_the_smallest_to_one_percent(epsilon, histograms, delta):
    sigma = schema_noise_sigma(epsilon, histograms, delta)
    assert schema_epsilon_for(sigma, histograms, delta) <= epsilon
    assert schema_epsilon_for(sigma / 1.02, histograms, delta) > epsilon


@pytest.mark.parametrize(("epsilon", "histograms", "delta"), CASES)
def test_the_pld_epsilon_is_within_the_zcdp_bound(epsilon, histograms, delta):
    sigma = schema_noise_sigma(epsilon, histograms, delta)
    rho = histograms / (2 * sigma**2)
    assert schema_epsilon_for(sigma, histograms, delta) <= rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert sigma <= zcdp_sigma(epsilon, histograms, delta) * 1.0001


def _analytic_gaussian_delta(epsilon: float, sigma: float) -> float:
    """Balle & Wang 2018, Theorem 8: δ(ε) of one Gaussian release with sensitivity 1."""
    return norm.cdf(0.5 / sigma - epsilon * sigma) - math.exp(epsilon) * norm.cdf(
        -0.5 / sigma - epsilon * sigma
    )


@pytest.mark.parametrize("sigma", [5.0, 12.0, 40.0])
def test_one_discrete_gaussian_matches_the_analytic_continuous_gaussian(sigma):
    delta = 1e-6
    epsilon = schema_epsilon_for(sigma, 1, delta)
    # the analytic continuous Gaussian at this ε has a δ close to the target
    assert _analytic_gaussian_delta(epsilon, sigma) == pytest.approx(delta, rel=0.1)


def test_h_histograms_compose_like_one_gaussian_of_sigma_over_root_h():
    """H sensitivity-1 Gaussians equal one Gaussian with sensitivity √H (σ/√H per unit)."""
    from dp_accounting.pld import privacy_loss_distribution

    sigma, histograms, delta = 46.0, 72, 1e-6
    continuous = privacy_loss_distribution.from_gaussian_mechanism(sigma / math.sqrt(histograms))
    assert schema_epsilon_for(sigma, histograms, delta) == pytest.approx(
        continuous.get_epsilon_for_delta(delta), rel=0.02
    )


@pytest.mark.parametrize(("epsilon", "histograms", "delta"), CASES)
def test_coarse_length_histograms_are_accounted_at_their_own_noise(epsilon, histograms, delta):
    """``L`` histograms at ``k·σ`` besides ``H`` at ``σ``: zCDP adds their ``ρ`` (``L / (2k²σ²)``), the
    continuous-Gaussian PLD equals one Gaussian of ``σ / √(H + L/k²)``, and σ is the smallest that
    meets ε (counting the coarse ones as full histograms would need more noise)."""
    from dp_accounting.pld import privacy_loss_distribution

    coarse = max(1, histograms // 3)
    sigma = schema_noise_sigma(epsilon, histograms, delta, coarse_histograms=coarse)
    spent = schema_epsilon_for(sigma, histograms, delta, coarse_histograms=coarse)
    assert spent <= epsilon < schema_epsilon_for(sigma / 1.02, histograms, delta, coarse_histograms=coarse)
    k = LENGTH_SIGMA_FACTOR
    rho = histograms / (2 * sigma**2) + coarse / (2 * (k * sigma) ** 2)
    assert spent <= rho + 2 * math.sqrt(rho * math.log(1 / delta))
    if sigma >= 5:
        weight = histograms + coarse / k**2
        continuous = privacy_loss_distribution.from_gaussian_mechanism(sigma / math.sqrt(weight))
        assert spent == pytest.approx(continuous.get_epsilon_for_delta(delta), rel=0.02)
    full = schema_noise_sigma(epsilon, histograms + coarse, delta)
    assert sigma < full
    assert schema_epsilon_for(sigma, histograms, delta) < spent  # the coarse ones do count
