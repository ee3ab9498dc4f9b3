"""DPTrainer.train on a very small Llama: Poisson sampling with empty draws, the clipped-sum /
expected-batch update, the ledger and its ε against an independent accountant, the budget guard,
LoRA-only training, and the grouped DP path of ``training.train_model``."""

from __future__ import annotations

import copy
import dataclasses
import math

import pandas as pd
import pytest
import torch
from dp_helpers import dp_params, resolved_for, tiny_model, tokenize_lines

from safe_synthesizer.privacy.accounting import epsilon_for, opacus_prv_epsilon
from safe_synthesizer.privacy.dp import DPTrainer, per_sample_loss
from safe_synthesizer.training import collate

LEDGER_KEYS = {
    "epsilon_spent",
    "epsilon_training",
    "epsilon_preprocessing",
    "epsilon_target",
    "delta",
    "noise_multiplier",
    "sampling_rate",
    "steps",
    "expected_batch_size",
    "max_grad_norm",
    "accountant",
    "privacy_unit",
    "n_units",
}


def _lines(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return [f"{rng.choice(['red', 'blue', 'green'])}|{rng.randint(10, 99)}" for _ in range(n)]


def _trainer(params, n: int, records: int) -> DPTrainer:
    resolved = dataclasses.replace(resolved_for(params, n), num_input_records_to_sample=records)
    trainer = DPTrainer.plan(params, resolved, n)
    trainer.noise_seed = 0
    return trainer


def test_poisson_sampling_with_empty_draws_counts_every_step():
    model, tokenizer = tiny_model(hidden=32, layers=1)
    data = tokenize_lines(tokenizer, _lines(40))
    params = dp_params(2.0, training={"batch_size": 1})
    trainer = _trainer(params, 40, records=40)  # q = 1/40, 1 epoch -> 40 steps
    assert trainer.steps == 40
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    outcome = trainer.train(model, optimizer, data, tokenizer.pad_token_id, "cpu")
    sizes = outcome.batch_sizes
    assert outcome.steps == len(sizes) == 40 and not outcome.stopped_early
    empty = sum(1 for s in sizes if s == 0)
    # P(empty) = (1 - 1/40)^40 ~ 0.36; sizes are Binomial(40, 1/40), not a fixed batch of 1
    assert 5 <= empty <= 25 and max(sizes) >= 2
    assert 0.5 <= sum(sizes) / len(sizes) <= 1.6
    assert outcome.ledger["empty_batches"] == empty and outcome.ledger["steps"] == 40
    assert outcome.records == sum(sizes)


@pytest.mark.parametrize(("clip", "batch_size", "accumulation"), [(1e6, 4, 3), (1e-3, 4, 3), (1e6, 2, 2)])
def test_update_is_the_clipped_sum_over_the_expected_batch(clip, batch_size, accumulation):
    """σ = 0, SGD lr 1, one step: θ − θ' = Σ_{i drawn} clip(g_i) / B̄ (chunks of the physical batch).

    B = 12 = n: q = 1, every unit drawn, 3 chunks. B = 4: q = 1/3, B̄ = 4 while the draw has
    another size: the divisor must be the expected batch, not the drawn one.
    """
    import numpy as np

    model, tokenizer = tiny_model(hidden=32, layers=1)
    reference = copy.deepcopy(model)
    n = 12
    data = tokenize_lines(tokenizer, _lines(n))
    params = dp_params(
        8.0,
        training={"batch_size": batch_size, "gradient_accumulation_steps": accumulation},
        privacy={"per_sample_max_grad_norm": clip},
    )
    expected_batch = min(n, batch_size * accumulation)
    trainer = _trainer(params, n, records=expected_batch)  # one step
    assert trainer.steps == 1 and trainer.plan_.expected_batch_size == expected_batch
    trainer.plan_ = dataclasses.replace(trainer.plan_, noise_multiplier=0.0)

    def draw(seed: int) -> np.ndarray:  # the trainer's Poisson draw for a given seed
        return np.flatnonzero(np.random.default_rng(seed).random(n) < trainer.sampling_rate)

    # a seed whose draw size differs from B̄ (when q < 1)
    trainer.noise_seed = next(s for s in range(100) if expected_batch == n or len(draw(s)) != expected_batch)
    drawn = draw(trainer.noise_seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    outcome = trainer.train(model, optimizer, data, tokenizer.pad_token_id, "cpu")
    assert outcome.batch_sizes == [len(drawn)] and len(drawn) > 0

    expected = [torch.zeros_like(p) for p in reference.parameters()]
    for i in drawn:
        reference.zero_grad()
        batch = collate([data.input_ids[i]], [data.labels[i]], tokenizer.pad_token_id)
        per_sample_loss(reference, batch).sum().backward()
        grads = [p.grad.detach().clone() for p in reference.parameters()]
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        factor = min(1.0, clip / (float(norm) + 1e-6))
        expected = [e + factor * g for e, g in zip(expected, grads, strict=True)]
    for before, after, e in zip(reference.parameters(), model.parameters(), expected, strict=True):
        torch.testing.assert_close(before.detach() - after.detach(), e / expected_batch, rtol=1e-3, atol=1e-7)


def test_ledger_and_its_epsilon_match_an_independent_accountant():
    model, tokenizer = tiny_model(hidden=32, layers=1)
    data = tokenize_lines(tokenizer, _lines(60))
    params = dp_params(3.0, training={"batch_size": 6})
    trainer = _trainer(params, 60, records=180)  # q = 0.1, 30 steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    outcome = trainer.train(model, optimizer, data, tokenizer.pad_token_id, "cpu")
    ledger = outcome.ledger
    assert set(ledger) >= LEDGER_KEYS
    assert ledger["privacy_unit"] == "record" and ledger["n_units"] == 60 and ledger["steps"] == 30
    assert ledger["epsilon_spent"] <= ledger["epsilon_target"] == 3.0
    assert ledger["epsilon_spent"] == pytest.approx(
        ledger["epsilon_training"] + ledger["epsilon_preprocessing"], abs=2e-4
    )
    delta_train = ledger["delta_training"]
    independent = opacus_prv_epsilon(ledger["noise_multiplier"], ledger["sampling_rate"], 30, delta_train)
    print(f"run epsilon_training {ledger['epsilon_training']:.4f} vs opacus PRV {independent:.4f}")
    assert abs(ledger["epsilon_training"] - independent) / independent < 0.01
    assert outcome.losses == [] and outcome.tokens == 0  # raw-data statistics are withheld
    assert not any(hasattr(p, "grad_sample") for p in model.parameters())  # hooks are gone
    assert ledger["noise_source"].startswith("fixed seed")


def test_budget_guard_stops_before_the_target_would_be_exceeded():
    model, tokenizer = tiny_model(hidden=32, layers=1)
    data = tokenize_lines(tokenizer, _lines(40))
    params = dp_params(2.0, training={"batch_size": 4})
    trainer = _trainer(params, 40, records=200)
    plan = trainer.plan_
    # pretend the plan asks for more steps than the budget allows
    trainer.plan_ = dataclasses.replace(plan, steps=plan.allowed_steps + 5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    outcome = trainer.train(model, optimizer, data, tokenizer.pad_token_id, "cpu")
    assert outcome.stopped_early and outcome.steps == plan.allowed_steps
    budget = plan.budget
    assert epsilon_for(plan.noise_multiplier, plan.sampling_rate, outcome.steps, budget.training_delta) <= (
        budget.training_epsilon
    )
    assert outcome.ledger["epsilon_spent"] <= 2.0


def test_lora_training_changes_only_the_adapter():
    from safe_synthesizer.models import LoadedModel
    from safe_synthesizer.training import _lora_model

    base, tokenizer = tiny_model(hidden=32, layers=1)
    params = dp_params(8.0, training={"batch_size": 8, "lora_r": 4})
    model = _lora_model(LoadedModel(base, tokenizer, "test", True, 256, "cpu"), params)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    lora = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert lora and all("lora_" in n for n in lora)
    data = tokenize_lines(tokenizer, _lines(40))
    trainer = _trainer(params, 40, records=80)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    outcome = trainer.train(model, optimizer, data, tokenizer.pad_token_id, "cpu")
    assert outcome.steps == trainer.steps
    params_now = dict(model.named_parameters())
    assert all(torch.equal(params_now[n].detach(), v) for n, v in frozen.items())
    assert any(not torch.equal(params_now[n].detach(), v) for n, v in lora.items())


def test_grouped_dp_through_train_model(tmp_path):
    """training.train_model's DP path: each group once, re-planned with the records per group."""
    from safe_synthesizer.models import LoadedModel
    from safe_synthesizer.privacy.schema import dp_schema
    from safe_synthesizer.training import train_model

    rows = [
        {"g": f"id{i:03d}", "t": t, "color": ["red", "blue"][(i + t) % 2]}
        for i in range(30)
        for t in range(3)
    ]
    frame = pd.DataFrame(rows)
    params = dp_params(
        20.0,
        data={"group_training_examples_by": "g", "order_training_examples_by": "t"},
        training={"batch_size": 5, "num_input_records_to_sample": 180},
    )
    schema, _ = dp_schema(frame, params, seed=0)
    resolved = resolved_for(params, 30, 90)
    trainer = DPTrainer.plan(params, resolved, 30)  # records per group unknown here: 1 assumed
    assert trainer.steps == math.ceil(180 / 1 / 5)
    trainer.noise_seed = 0
    model, tokenizer = tiny_model(hidden=32, layers=1)
    loaded = LoadedModel(model, tokenizer, "test", False, 256, "cpu")
    result = train_model(loaded, frame, schema, params, resolved, tmp_path / "adapter", None, trainer)
    dp = result.dp
    assert dp["privacy_unit"] == "group" and dp["n_units"] == 30
    assert result.examples == 30  # every group exactly once: the Poisson sampler's dataset
    assert dp["steps"] == math.ceil(180 / 3 / 5)  # re-planned: 3 records per group -> 6 epochs / q
    assert result.train_loss is None and result.tokens_seen == 0 and result.validation_loss is None
    assert (tmp_path / "adapter" / "dataset_schema.json").exists()


def test_bf16_base_with_fp32_lora_trains_under_dp():
    """The GPU set-up (bf16 base weights, LoRA adapters upcast to fp32) runs DP-SGD; checked on CPU."""
    from safe_synthesizer.models import LoadedModel
    from safe_synthesizer.training import _lora_model

    base, tokenizer = tiny_model(hidden=32, layers=1)
    base = base.to(torch.bfloat16)
    params = dp_params(8.0, training={"batch_size": 8, "lora_r": 4})
    model = _lora_model(LoadedModel(base, tokenizer, "test", True, 256, "cpu"), params)
    adapters = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert {p.dtype for p in adapters.values()} == {torch.float32}  # noise is added in fp32
    assert {p.dtype for p in model.parameters() if not p.requires_grad} == {torch.bfloat16}
    before = {n: p.detach().clone() for n, p in adapters.items()}
    trainer = _trainer(params, 40, records=80)
    optimizer = torch.optim.AdamW(list(adapters.values()), lr=1e-2)
    outcome = trainer.train(
        model, optimizer, tokenize_lines(tokenizer, _lines(40)), tokenizer.pad_token_id, "cpu"
    )
    assert outcome.steps == trainer.steps == 10
    assert all(not torch.equal(before[n], p.detach()) for n, p in adapters.items())
    assert all(torch.isfinite(p).all() for p in adapters.values())
