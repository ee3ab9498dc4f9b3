"""Privacy accounting for DP-SGD and the split of the budget between the schema and training.

Mechanism accounted (and the one :mod:`.dp` runs): ``T`` steps of the **Poisson-subsampled
Gaussian mechanism** with add/remove-one neighbouring datasets. At each step every privacy unit is
included independently with probability ``q``; the sum of the included units' gradients, each clipped
to L2 norm ``C``, gets ``N(0, σ²C² I)`` noise. The accountant is Google's ``dp-accounting`` privacy
loss distribution (PLD) accountant::

    ε(σ, q, T, δ) = PLD( PoissonSampled(q, Gaussian(σ)) ∘ ... ∘ (T times) ).get_epsilon(δ)

It uses a *pessimistic* discretisation, so the ε it reports is an upper bound of the true ε of the
mechanism; a coarser discretisation (``COARSE_INTERVAL``, used while searching) is still an upper
bound, only looser (by < 0.1 % for typical settings). Opacus' PRV accountant on the same
``(σ, q, T, δ)`` agrees within 1 % (tested); the RDP accountant gives a larger (looser) ε.

Budget split (:func:`split_budget`): a fixed share of the target ``(ε, δ)`` is reserved for the DP
schema estimates (:mod:`.schema`), the rest goes to training::

    ε_schema = SCHEMA_EPSILON_FRACTION · ε        ε_train = ε − ε_schema
    δ_schema = SCHEMA_DELTA_FRACTION · δ          δ_train = δ − δ_schema

Schema noise (:func:`schema_noise_sigma`): the schema releases ``H`` histograms, each of which one
unit changes by at most 1 in one count (sensitivity 1), with discrete Gaussian noise of parameter
``σ`` on every count. Their composition is accounted with the same PLD library::

    ε_gauss(σ, H, δ_g) = PLD( DiscreteGaussian(σ, sensitivity 1) ∘ ... ∘ (H times) ).get_epsilon(δ_g)

and ``σ`` is the smallest (to 1 %) with ``ε_gauss <= ε_schema``. Histograms that need less accuracy
(the log2 length buckets of text columns) get noise ``LENGTH_SIGMA_FACTOR · σ``; their PLDs are
composed with the others' (``coarse_histograms``), so they cost about ``1 / LENGTH_SIGMA_FACTOR²``
of a histogram each. Thresholding the value histograms of
columns with an unknown domain adds ``δ_threshold`` (:mod:`.schema`); ``δ_g + δ_threshold = δ_schema``.
Independent check (tested): the discrete Gaussian is ``1/(2σ²)``-zCDP per histogram (Canonne,
Kamath & Steinke 2020), so ``ε_gauss <= ρ + 2√(ρ ln(1/δ_g))`` with ``ρ = H / (2σ²)``. Against the
old even split of ``ε_schema`` into per-column Laplace histograms, the Gaussian's composition grows
like ``√H`` instead of ``H``: on a 55-column table the text threshold fell from 1,410 to 269 units.

Composition: the schema is ``(ε_schema, δ_schema)``-DP; training is ``(ε_train, δ_train)``-DP. By basic
(sequential) composition the released artefacts (schema + adapter) are
``(ε_schema + ε_train, δ_schema + δ_train) = (ε, δ)``-DP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# 30 % of ε for the schema (MOSTLY AI's engine spends ε = 1 of its default 10 on its value
# ranges; at ε = 4 that is 25 %). At 5 % a 15-column table at ε = 4 kept only categories above
# ~10 % of the records (threshold 2,486 of 24,421 on UCI Adult), so five categorical columns became
# free text. At 20 % (σ ≈ 32 on Adult) a thin tail such as Adult's ages 77-90 (159 records, bucket
# threshold 142) was released in about two runs of three, and without it the synthetic ages stopped
# at 68; the generated marginals are also matched to these counts
# (:mod:`safe_synthesizer.tabular.marginals`), so their noise matters more than before. At 30 %
# (σ ≈ 22, threshold ≈ 97) three Adult runs all kept ages to 90, SDMetrics quality 0.919 → 0.925;
# DP-SGD gets ε_train 2.8 instead of 3.2 (about 10 % more noise) and TSTR did not move.
SCHEMA_EPSILON_FRACTION = 0.3
SCHEMA_DELTA_FRACTION = 0.05
# A text column's length histogram only bounds its length (log2 buckets, widened 2x) and is released
# for every text column though only those that turn out free text use it (9 of Adult's 32
# histograms, none used). At 2x σ each costs about a quarter: Adult's σ 22.1 -> 19.6, its category
# threshold 134 -> 119 records ('1st-4th', 123 training records, is kept in about half the runs
# instead of a third).
LENGTH_SIGMA_FACTOR = 2.0
SIGMA_MAX = 50.0  # above this the model learns next to nothing: refuse instead
SIGMA_MIN = 0.3  # below this the PLD grows expensive; a larger σ than needed is only more private
FINE_INTERVAL = 1e-4  # PLD value discretisation for the reported ε
COARSE_INTERVAL = 1e-3  # ... for the searches (still a pessimistic upper bound)
ACCOUNTANT = "dp-accounting PLD (Poisson-subsampled Gaussian, add/remove-one, pessimistic)"


@dataclass(frozen=True)
class Budget:
    """The target ``(ε, δ)`` and its split between the schema and training (module docstring)."""

    epsilon: float
    delta: float
    schema_epsilon: float
    schema_delta: float

    @property
    def training_epsilon(self) -> float:
        """``ε − ε_schema``."""
        return self.epsilon - self.schema_epsilon

    @property
    def training_delta(self) -> float:
        """``δ − δ_schema``."""
        return self.delta - self.schema_delta


def split_budget(epsilon: float, delta: float) -> Budget:
    """Reserve the schema share of ``(ε, δ)`` (fractions in the module docstring)."""
    if not epsilon > 0 or not 0 < delta < 1:
        raise ValueError(f"need epsilon > 0 and 0 < delta < 1, got {epsilon}, {delta}")
    return Budget(epsilon, delta, SCHEMA_EPSILON_FRACTION * epsilon, SCHEMA_DELTA_FRACTION * delta)


def schema_epsilon_for(
    sigma: float, histograms: int, delta: float, *, coarse: bool = False, coarse_histograms: int = 0
) -> float:
    """``ε`` at ``δ`` of ``histograms`` discrete-Gaussian releases (parameter ``σ``, sensitivity 1) and
    ``coarse_histograms`` more at ``LENGTH_SIGMA_FACTOR · σ``."""
    from dp_accounting.pld import privacy_loss_distribution

    if histograms <= 0 and coarse_histograms <= 0:
        return 0.0
    interval = COARSE_INTERVAL if coarse else FINE_INTERVAL
    plds = [
        privacy_loss_distribution.from_discrete_gaussian_mechanism(
            scale, sensitivity=1, value_discretization_interval=interval
        ).self_compose(int(count))
        for scale, count in ((sigma, histograms), (sigma * LENGTH_SIGMA_FACTOR, coarse_histograms))
        if count > 0
    ]
    total = plds[0]
    for more in plds[1:]:
        total = total.compose(more)
    return float(total.get_epsilon_for_delta(delta))


def smallest_sigma(meets: Callable[[float], bool], low: float, high: float, tolerance: float) -> float:
    """Bisection in ``log σ`` between ``low`` (misses the target) and ``high`` (meets it, ε decreasing
    in σ) until ``log(high / low) <= tolerance``; returns the ``high`` end (it meets the target)."""
    log_low, log_high = math.log(low), math.log(high)
    while log_high - log_low > tolerance:
        middle = 0.5 * (log_low + log_high)
        if meets(math.exp(middle)):
            log_high = middle
        else:
            log_low = middle
    return math.exp(log_high)


def zcdp_sigma(epsilon: float, histograms: float, delta: float) -> float:
    """``σ`` whose zCDP bound ``ρ + 2√(ρ ln(1/δ))`` (``ρ = H / (2σ²)``) equals ``ε``: an upper bound of
    the PLD's ``σ`` (module docstring). ``H`` may be fractional: a histogram at ``k·σ`` counts ``1/k²``."""
    log_term = math.log(1.0 / delta)
    root_rho = math.sqrt(log_term + epsilon) - math.sqrt(log_term)
    return math.sqrt(histograms / (2.0 * root_rho**2))


def schema_noise_sigma(epsilon: float, histograms: int, delta: float, coarse_histograms: int = 0) -> float:
    """Smallest ``σ`` (to 1 %) with ``schema_epsilon_for(σ, histograms, δ, coarse_histograms=...) <= ε``
    (bisection in ``log σ`` on the fine accountant: the coarse one's pessimism adds up over H
    compositions, ~5 % at H = 72)."""
    if not epsilon > 0 or histograms + coarse_histograms <= 0:
        raise ValueError(f"need epsilon > 0 and at least one histogram, got {epsilon}, {histograms}")

    def meets(sigma: float) -> bool:
        return schema_epsilon_for(sigma, histograms, delta, coarse_histograms=coarse_histograms) <= epsilon

    # The zCDP bound is looser than the PLD, so its σ meets the target: search below it only.
    high = zcdp_sigma(epsilon, histograms + coarse_histograms / LENGTH_SIGMA_FACTOR**2, delta)
    low = high / 4.0
    if meets(low):
        return low
    return smallest_sigma(meets, low, high, 0.01)


def epsilon_for(sigma: float, q: float, steps: int, delta: float, *, coarse: bool = False) -> float:
    """``ε`` of ``steps`` Poisson-subsampled Gaussian steps (noise multiplier ``σ``, rate ``q``) at ``δ``."""
    import dp_accounting
    from dp_accounting.pld import pld_privacy_accountant

    if steps <= 0:
        return 0.0
    accountant = pld_privacy_accountant.PLDAccountant(
        value_discretization_interval=COARSE_INTERVAL if coarse else FINE_INTERVAL
    )
    event = dp_accounting.GaussianDpEvent(sigma)
    if q < 1.0:
        event = dp_accounting.PoissonSampledDpEvent(q, event)
    accountant.compose(event, int(steps))
    return float(accountant.get_epsilon(delta))


def find_noise_multiplier(
    target_epsilon: float, q: float, steps: int, delta: float, *, sigma_max: float = SIGMA_MAX
) -> float | None:
    """Smallest ``σ`` in ``[SIGMA_MIN, sigma_max]`` (to 0.5 %) with ``ε(σ, q, T, δ) <= target``; None if none.

    ε is decreasing in σ, so bisection in ``log σ`` on the coarse (upper-bound) accountant; the
    returned σ satisfies the target for the fine accountant too.
    """
    if epsilon_for(sigma_max, q, steps, delta, coarse=True) > target_epsilon:
        return None
    if epsilon_for(SIGMA_MIN, q, steps, delta, coarse=True) <= target_epsilon:
        return SIGMA_MIN
    return smallest_sigma(
        lambda sigma: epsilon_for(sigma, q, steps, delta, coarse=True) <= target_epsilon,
        SIGMA_MIN,
        sigma_max,
        0.005,
    )


def max_steps_within(target_epsilon: float, sigma: float, q: float, delta: float, start: int) -> int:
    """Largest ``T`` (searched up to ``4 · start``) with ``ε(σ, q, T, δ) <= target`` (0 if even one step exceeds).

    ε is non-decreasing in ``T``, so "ε after the next step still within the target" is exactly
    ``steps_done + 1 <= max_steps_within(...)``: the per-step check of the training loop.
    """
    limit = max(1, 4 * start)
    if epsilon_for(sigma, q, 1, delta, coarse=True) > target_epsilon:
        return 0
    if epsilon_for(sigma, q, limit, delta, coarse=True) <= target_epsilon:
        return limit
    low, high = 1, limit  # ε(low) within, ε(high) not
    while high - low > 1:
        middle = (low + high) // 2
        if epsilon_for(sigma, q, middle, delta, coarse=True) <= target_epsilon:
            low = middle
        else:
            high = middle
    return low


def opacus_prv_epsilon(sigma: float, q: float, steps: int, delta: float, eps_error: float = 0.001) -> float:
    """The same ε from opacus' PRV accountant (an independent implementation; used as a cross-check)."""
    import warnings

    from opacus.accountants import PRVAccountant

    accountant = PRVAccountant()
    accountant.history = [(sigma, q, int(steps))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its RDP-based domain estimate warns about alpha ranges
        return float(accountant.get_epsilon(delta, eps_error=eps_error))
