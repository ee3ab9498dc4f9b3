"""DP-SGD fine-tuning with opacus: plan before training, Poisson sampling, per-unit clipping, a ledger.

Privacy unit: a record, or a whole group when ``data.group_training_examples_by`` is set. With DP
every training example holds exactly one unit (``max_sequences_per_example`` resolves to 1) and the
training set handed to :meth:`DPTrainer.train` holds every unit **once** (no epoch duplication):
it is the dataset the sampler draws from.

Plan (:meth:`DPTrainer.plan`, before the model sees any data)::

    n = privacy units                     B = batch_size × gradient_accumulation_steps
    q = min(1, B / n)                     expected batch  B̄ = q · n   (= B when B <= n)
    epochs = num_input_records_to_sample / (n · records_per_unit)
    T = ceil(epochs / q)                  (= ceil(num_input_records_to_sample / records_per_unit / B))
    (ε_train, δ_train) = target minus the schema share   (see :mod:`.accounting`)
    σ = min { σ : ε_PLD(σ, q, T, δ_train) <= ε_train }   (bisection, σ <= 50 else refused)

One step (:meth:`DPTrainer.train`)::

    S ~ Poisson(q): every unit independently with probability q (S may be empty)
    g_i = ∇ ℓ_i,  ℓ_i = mean token cross-entropy of unit i's example     (per-sample, opacus hooks)
    ḡ = ( Σ_{i∈S} g_i · min(1, C / ||g_i||) + N(0, σ² C² I) ) / B̄
    θ ← AdamW(θ, ḡ)  with the configured learning-rate schedule

The loss is summed over the units of the batch (``loss_reduction="sum"`` in the grad-sample hooks, so
``g_i`` is exactly unit ``i``'s gradient) and the noisy sum is divided by the *expected* batch size
``B̄``, not the drawn ``|S|`` (which would leak ``|S|``). A drawn batch larger than
``training.batch_size`` is processed in chunks whose clipped gradients are accumulated before the one
noise addition. An empty draw still takes the noise-only step, and it is counted. Before each step
the loop checks that ``ε`` after that step stays within ``ε_train``
(:func:`~.accounting.max_steps_within`); the reported ε is recomputed from the steps actually taken.

What leaves training: the adapter (DP), the schema (DP, :mod:`.schema`) and public quantities (n,
the number of records per unit, which every DP-SGD deployment treats as public, and the plan). The
training loss, token counts and validation loss are computed on raw data and are therefore **not**
reported under DP; ``tokens_per_record`` in the model card comes from the DP schema
(``serialization.public_tokens_per_record``). Randomness for sampling and noise is seeded from OS entropy
(the run's ``random_state`` is recorded in ``summary.json``, so noise derived from it could be
replayed). Limits: the noise is floating-point Gaussian from torch's generator, not a
cryptographically secure source (opacus' ``secure_mode`` needs torchcsprng, which does not build with
current torch).
"""

from __future__ import annotations

import logging
import math
import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..autoconfig import ResolvedConfig, auto_delta
from ..batching import IGNORE_INDEX, collate, lr_scheduler
from ..config import SafeSynthesizerParameters
from ..errors import UserInputError
from ..progress import NullProgress, Progress
from .accounting import (
    ACCOUNTANT,
    SIGMA_MAX,
    Budget,
    epsilon_for,
    find_noise_multiplier,
    max_steps_within,
    opacus_prv_epsilon,
    split_budget,
)

log = logging.getLogger(__name__)

MIN_UNITS = 10


@dataclass
class DPOutcome:
    """What :meth:`DPTrainer.train` did (losses and token counts are withheld: see module docstring)."""

    steps: int
    losses: list[float]
    tokens: int
    records: int
    stopped_early: bool
    ledger: dict[str, Any]
    batch_sizes: list[int] = field(default_factory=list)
    interrupted: bool = False  # a termination request stopped it before the planned steps
    step_seconds: float = 0.0  # time in the DP-SGD steps themselves (accounting excluded)
    accounting_seconds: float = 0.0  # time in the progress ε and the final ledger


@dataclass
class DPPlan:
    """The numbers a DP-SGD run is planned with (formulas in the module docstring)."""

    n_units: int
    records_per_unit: float
    expected_batch_size: int
    sampling_rate: float
    steps: int
    noise_multiplier: float
    allowed_steps: int
    budget: Budget


def _pretty(x: float) -> str:
    return f"{x:.3g}"


def make_plan(
    params: SafeSynthesizerParameters,
    resolved: ResolvedConfig,
    n_units: int,
    records_per_unit: float = 1.0,
) -> DPPlan:
    """Validate the DP settings for ``n_units`` units and find σ; raises :class:`UserInputError`."""
    privacy = params.privacy
    if privacy is None or not privacy.dp_enabled:
        raise UserInputError("DP training was requested but privacy.dp_enabled is false")
    unit = "group" if params.data.group_training_examples_by else "record"
    if resolved.max_sequences_per_example != 1:
        raise UserInputError(
            "with differential privacy every training example must hold one privacy unit: set "
            f"data.max_sequences_per_example to 1 or 'auto' (got {resolved.max_sequences_per_example})"
        )
    if params.training.validation_ratio > 0:
        raise UserInputError(
            "training.validation_ratio must be 0 with differential privacy: a validation loss on "
            "held-out records (and early stopping on it) would release information outside the budget"
        )
    if n_units < MIN_UNITS:
        raise UserInputError(
            f"differential privacy needs at least {MIN_UNITS} privacy units ({unit}s) in the training "
            f"split; the data has {n_units}"
        )
    delta = float(resolved.delta) if resolved.delta is not None else auto_delta(n_units)
    if delta >= 1.0 / n_units:
        raise UserInputError(
            f"privacy.delta = {_pretty(delta)} is not below 1/n = {_pretty(1.0 / n_units)} (n = {n_units} "
            f"{unit}s): such a delta allows publishing a {unit} outright; use 'auto' (1/n^1.2) or a smaller value"
        )
    budget = split_budget(float(privacy.epsilon), delta)
    batch = resolved.batch_size * params.training.gradient_accumulation_steps
    q = min(1.0, batch / n_units)
    expected = min(batch, n_units)
    epochs = resolved.num_input_records_to_sample / (n_units * max(records_per_unit, 1e-9))
    steps = max(1, math.ceil(epochs / q - 1e-9))
    sigma = find_noise_multiplier(budget.training_epsilon, q, steps, budget.training_delta)
    if sigma is None:
        floor_train = epsilon_for(SIGMA_MAX, q, steps, budget.training_delta)
        floor_total = floor_train / (1.0 - budget.schema_epsilon / budget.epsilon)
        needed = math.ceil(n_units * (floor_total / budget.epsilon) ** 2)
        raise UserInputError(
            f"privacy.epsilon = {_pretty(budget.epsilon)} cannot be reached with n = {n_units} {unit}s, "
            f"batch {batch} (q = {_pretty(q)}) and {steps} steps ({_pretty(epochs)} epochs): the smallest "
            f"feasible epsilon for this data size and training length is about {_pretty(floor_total)} "
            f"(noise multiplier {SIGMA_MAX:g}). Raise privacy.epsilon, train fewer epochs "
            f"(training.num_input_records_to_sample) or with a smaller batch, or provide about {needed} {unit}s"
        )
    allowed = max_steps_within(budget.training_epsilon, sigma, q, budget.training_delta, steps)
    if allowed < steps:  # cannot happen: σ was chosen for T steps with the same accountant
        raise UserInputError("internal: the planned steps exceed the privacy budget")
    return DPPlan(n_units, records_per_unit, expected, q, steps, sigma, allowed, budget)


def per_sample_loss(model: Any, batch: dict[str, Any]) -> Any:
    """``ℓ_i`` = mean cross-entropy over unit ``i``'s label tokens (shifted), one value per row."""
    import torch.nn.functional as F

    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits[:, :-1, :].float()
    labels = batch["labels"][:, 1:]
    token_loss = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none")
    count = (labels != IGNORE_INDEX).sum(dim=1).clamp(min=1)
    return token_loss.sum(dim=1) / count


class DPTrainer:
    """A planned DP-SGD run; :meth:`plan` validates and chooses σ, :meth:`train` runs it."""

    def __init__(self, params: SafeSynthesizerParameters, resolved: ResolvedConfig, plan: DPPlan) -> None:
        self.params = params
        self.resolved = resolved
        self.plan_ = plan
        self.privacy_unit = "group" if params.data.group_training_examples_by else "record"
        self.max_grad_norm = float(params.privacy.per_sample_max_grad_norm) if params.privacy else 1.0
        self.physical_batch_size = max(1, resolved.batch_size)
        self.noise_seed: int | None = None  # tests only: a fixed seed makes the noise replayable

    @classmethod
    def plan(
        cls,
        params: SafeSynthesizerParameters,
        resolved: ResolvedConfig,
        n_units: int,
        *,
        records_per_unit: float = 1.0,
    ) -> DPTrainer:
        """Validate and plan before training (module docstring); raises :class:`UserInputError`.

        ``records_per_unit`` (grouped data: records per group) only sets the step count; when it is
        not known yet, 1 over-estimates the steps, and :meth:`train` re-plans (smaller T, smaller σ)
        from the examples before the first step.
        """
        return cls(params, resolved, make_plan(params, resolved, n_units, records_per_unit))

    # ------------------------------------------------------------------ properties of the plan
    @property
    def noise_multiplier(self) -> float:
        """σ."""
        return self.plan_.noise_multiplier

    @property
    def sampling_rate(self) -> float:
        """q."""
        return self.plan_.sampling_rate

    @property
    def steps(self) -> int:
        """Planned T."""
        return self.plan_.steps

    @property
    def budget(self) -> Budget:
        """Target and split."""
        return self.plan_.budget

    # ------------------------------------------------------------------ training
    def train(
        self,
        model: Any,
        optimizer: Any,
        data: Any,
        pad_id: int,
        device: str,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
        collate_fn: Callable[..., Any] | None = None,
        loss_fn: Callable[[Any, dict[str, Any]], Any] | None = None,
        clipped_sum_fn: Callable[[Any, dict[str, Any], float], Any] | None = None,
    ) -> DPOutcome:
        """Run the planned DP-SGD steps on ``data`` (each unit once: the Poisson sampler's dataset).

        ``should_stop`` (a callable) is asked before every step; stopping early spends less ε, and the
        ledger accounts for the steps actually taken. ``collate_fn(ids, labels, pad_id)`` and
        ``loss_fn(model, batch) -> per-unit losses`` default to the LLM's (:func:`per_sample_loss`);
        the field-token engine passes its own. ``clipped_sum_fn(model, batch, C)``, when given,
        replaces opacus' per-sample gradients: it must add ``Σ_i min(1, C/‖g_i‖) g_i`` of the batch to
        every trainable parameter's ``.grad`` (the field-token engine's ghost clipping); the noise,
        the division by ``B̄`` and the step are then done here (:func:`add_noise_and_scale`).
        """
        import numpy as np
        import torch
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        if collate_fn is None:
            collate_fn = collate
        self._loss_fn = loss_fn or per_sample_loss

        progress = progress or NullProgress()
        n = len(data.input_ids)
        records_per_unit = sum(data.n_records) / max(n, 1)
        plan = self.plan_
        if n != plan.n_units or abs(records_per_unit - plan.records_per_unit) > 1e-9:
            # Before any step: the examples are the exact units (e.g. groups with missing keys).
            plan = self.plan_ = make_plan(self.params, self.resolved, n, records_per_unit)
        q, sigma, total = plan.sampling_rate, plan.noise_multiplier, plan.steps
        fixed_seed = self.noise_seed is not None
        seed = self.noise_seed if fixed_seed else secrets.randbits(63)
        sampler = np.random.default_rng(seed)
        generator = torch.Generator(device=device)
        generator.manual_seed(int(np.random.default_rng(seed + 1).integers(0, 2**62)))

        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        if clipped_sum_fn is None:
            gsm = GradSampleModule(model, batch_first=True, loss_reduction="sum")
            dp_optimizer = DPOptimizer(
                optimizer,
                noise_multiplier=sigma,
                max_grad_norm=self.max_grad_norm,
                expected_batch_size=plan.expected_batch_size,
                loss_reduction="mean",  # divide the noisy sum by the expected batch size B̄
                generator=generator,
            )
        else:
            gsm = dp_optimizer = None
        training = self.params.training
        # A plateau schedule would need the training loss, which is not released under DP.
        schedule = "constant" if training.lr_scheduler == "reduce_lr_on_plateau" else training.lr_scheduler
        scheduler = lr_scheduler(optimizer, schedule, training.warmup_ratio, total)
        progress.update("train", 0, total, "training with DP-SGD", noise_multiplier=round(sigma, 4))
        started = time.time()
        steps, units_drawn, stopped_early, interrupted = 0, 0, False, False
        step_seconds = accounting_seconds = 0.0
        sizes: list[int] = []
        report_every = max(1, math.ceil(total / 4))  # ε for the progress line: 4 coarse evaluations
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*Full backward hook.*")
                for _ in range(total):
                    if steps + 1 > plan.allowed_steps:  # ε after this step would exceed ε_train
                        stopped_early = True
                        break
                    if should_stop is not None and should_stop():
                        stopped_early = interrupted = True
                        break
                    step_started = time.perf_counter()
                    drawn = np.flatnonzero(sampler.random(n) < q)
                    sizes.append(len(drawn))
                    units_drawn += len(drawn)
                    if clipped_sum_fn is None:
                        self._step(gsm, dp_optimizer, trainable, data, drawn, pad_id, device, collate_fn)
                    else:
                        self._ghost_step(
                            model,
                            optimizer,
                            trainable,
                            data,
                            drawn,
                            pad_id,
                            device,
                            collate_fn,
                            clipped_sum_fn,
                            sigma,
                            plan.expected_batch_size,
                            generator,
                        )
                    scheduler.step()
                    steps += 1
                    step_seconds += time.perf_counter() - step_started
                    if steps % report_every == 0 or steps == total:
                        accounting_started = time.perf_counter()
                        spent = epsilon_for(sigma, q, steps, plan.budget.training_delta, coarse=True)
                        accounting_seconds += time.perf_counter() - accounting_started
                        progress.update(
                            "train",
                            steps,
                            total,
                            "training with DP-SGD",
                            epsilon_training=round(spent, 4),
                            steps_per_s=round(steps / max(time.time() - started, 1e-9), 3),
                        )
        finally:
            if gsm is not None:
                gsm._close()  # remove hooks and per-sample attributes: the plain model is saved
            for p in trainable:
                for attr in ("summed_grad", "grad_sample"):
                    if hasattr(p, attr):
                        delattr(p, attr)
        accounting_started = time.perf_counter()
        ledger = self.ledger(plan, steps, sizes, fixed_seed)
        accounting_seconds += time.perf_counter() - accounting_started
        return DPOutcome(
            steps=steps,
            losses=[],
            tokens=0,
            records=units_drawn,
            stopped_early=stopped_early,
            ledger=ledger,
            batch_sizes=sizes,
            interrupted=interrupted,
            step_seconds=step_seconds,
            accounting_seconds=accounting_seconds,
        )

    def _step(
        self,
        gsm: Any,
        dp_optimizer: Any,
        trainable: list[Any],
        data: Any,
        drawn: Any,
        pad_id: int,
        device: str,
        collate: Any,
    ) -> None:
        """One DP-SGD step over the drawn units (chunks accumulate clipped sums; one noise draw)."""
        import torch

        if len(drawn) == 0:
            # Empty Poisson draw: no forward (a Llama cannot run on 0 rows); the step is noise only.
            for p in trainable:
                p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)
            dp_optimizer.step()
            dp_optimizer.zero_grad(set_to_none=True)
            return
        size = self.physical_batch_size
        chunks = [drawn[i : i + size] for i in range(0, len(drawn), size)]
        for index, chunk in enumerate(chunks):
            batch = collate([data.input_ids[i] for i in chunk], [data.labels[i] for i in chunk], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            self._loss_fn(gsm, batch).sum().backward()
            if index < len(chunks) - 1:
                dp_optimizer.signal_skip_step(do_skip=True)  # clip + accumulate, no noise, no update
                dp_optimizer.step()
                dp_optimizer.zero_grad(set_to_none=True)
        dp_optimizer.step()
        dp_optimizer.zero_grad(set_to_none=True)

    def _ghost_step(
        self,
        model: Any,
        optimizer: Any,
        trainable: list[Any],
        data: Any,
        drawn: Any,
        pad_id: int,
        device: str,
        collate: Any,
        clipped_sum_fn: Callable[[Any, dict[str, Any], float], Any],
        sigma: float,
        expected_batch: int,
        generator: Any,
    ) -> None:
        """One DP-SGD step with the model's own clipped sums (chunks accumulate; one noise draw)."""
        optimizer.zero_grad(set_to_none=True)
        size = self.physical_batch_size
        for start in range(0, len(drawn), size):
            chunk = drawn[start : start + size]
            batch = collate([data.input_ids[i] for i in chunk], [data.labels[i] for i in chunk], pad_id)
            clipped_sum_fn(model, {k: v.to(device) for k, v in batch.items()}, self.max_grad_norm)
        add_noise_and_scale(trainable, sigma * self.max_grad_norm, expected_batch, generator)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def ledger(self, plan: DPPlan, steps: int, sizes: list[int], fixed_seed: bool) -> dict[str, Any]:
        """The privacy ledger (``summary.json`` ``privacy``, the report, the CR's ``epsilonSpent``)."""
        budget = plan.budget
        q, sigma = plan.sampling_rate, plan.noise_multiplier
        eps_train = epsilon_for(sigma, q, steps, budget.training_delta) if sigma > 0 else math.inf
        try:
            cross_check: float | None = round(opacus_prv_epsilon(sigma, q, steps, budget.training_delta), 4)
            if not sigma > 0:
                cross_check = None
        except Exception:  # noqa: BLE001 - a cross-check only; PRV refuses some extreme settings
            cross_check = None
        return {
            "epsilon_spent": _up(budget.schema_epsilon + eps_train),
            "epsilon_training": _up(eps_train),
            "epsilon_preprocessing": _up(budget.schema_epsilon),
            "epsilon_target": budget.epsilon,
            "delta": budget.delta,
            "delta_training": budget.training_delta,
            "delta_preprocessing": budget.schema_delta,
            "noise_multiplier": round(sigma, 6),
            "sampling_rate": q,
            "steps": steps,
            "steps_planned": plan.steps,
            "expected_batch_size": plan.expected_batch_size,
            "max_grad_norm": self.max_grad_norm,
            "accountant": ACCOUNTANT,
            "epsilon_training_opacus_prv": cross_check,
            "privacy_unit": self.privacy_unit,
            "n_units": plan.n_units,
            "sampling": "poisson",
            "empty_batches": sum(1 for s in sizes if s == 0),
            "composition": "basic: schema (eps_pre, delta_pre) + DP-SGD (eps_train, delta_train) "
            "-> (eps_pre + eps_train, delta)",
            "noise_source": "fixed seed (tests only: NOT private)" if fixed_seed else "OS entropy",
            "withheld_under_dp": [
                "train_loss",
                "validation_loss",
                "tokens_seen",
                "measured tokens_per_record",
            ],
        }


def add_noise_and_scale(params: list[Any], noise_std: float, expected_batch: int, generator: Any) -> None:
    """``p.grad ← (p.grad + N(0, noise_std² I)) / B̄`` for every parameter (an empty draw: noise only).

    ``p.grad`` holds the clipped sum; as in opacus' DPOptimizer, the noise is drawn per parameter
    from ``generator`` and the noisy sum is divided by the expected batch size, never the drawn one.
    """
    import torch

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        noise = torch.normal(0.0, noise_std, size=p.shape, device=p.device, generator=generator)
        p.grad.add_(noise.to(p.dtype)).div_(expected_batch)


def _up(x: float, places: int = 4) -> float:
    """Round ε up (a reported bound must not shrink by rounding)."""
    if not math.isfinite(x):
        return x
    scale = 10**places
    return math.ceil(x * scale) / scale
