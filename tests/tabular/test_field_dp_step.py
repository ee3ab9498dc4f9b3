"""One DP-SGD step of the field-token engine through DPTrainer (ghost clipping): the update is the
clipped sum over the expected batch, and the noise has the planned standard deviation."""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from safe_synthesizer.privacy.dp import DPTrainer, add_noise_and_scale
from safe_synthesizer.tabular.model import ModelShape, build_model
from safe_synthesizer.tabular.tokenizer import fit_tokenizer
from safe_synthesizer.tabular.train import _DPData, token_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "privacy"))
from dp_helpers import dp_params, resolved_for  # noqa: E402


def _data(n: int):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"a": rng.choice(["x", "y", "z"], n), "b": rng.normal(size=n).round(1), "c": rng.integers(0, 4, n)}
    )
    tok = fit_tokenizer(frame)
    return tok, tok.encode(frame)


@pytest.mark.parametrize(("clip", "batch_size", "accumulation"), [(1e6, 4, 3), (0.05, 4, 3), (0.05, 5, 1)])
def test_update_is_the_clipped_sum_over_the_expected_batch(clip, batch_size, accumulation):
    """σ = 0, SGD lr 1, one step: θ − θ' = Σ_{i drawn} clip(g_i) / B̄, g_i from one backward per record."""
    n = 12
    tok, rows = _data(n)
    model = build_model(tok, ModelShape(hidden=16, layers=2, embed=4, dropout=0.0), seed=0)
    reference = copy.deepcopy(model)
    params = dp_params(
        8.0,
        training={"batch_size": batch_size, "gradient_accumulation_steps": accumulation},
        privacy={"per_sample_max_grad_norm": clip},
    )
    expected_batch = min(n, batch_size * accumulation)
    resolved = dataclasses.replace(resolved_for(params, n), num_input_records_to_sample=expected_batch)
    trainer = DPTrainer.plan(params, resolved, n)
    assert trainer.steps == 1
    trainer.plan_ = dataclasses.replace(trainer.plan_, noise_multiplier=0.0)

    def draw(seed: int) -> np.ndarray:
        return np.flatnonzero(np.random.default_rng(seed).random(n) < trainer.sampling_rate)

    trainer.noise_seed = next(s for s in range(100) if expected_batch == n or len(draw(s)) != expected_batch)
    drawn = draw(trainer.noise_seed)
    outcome = trainer.train(
        model,
        torch.optim.SGD(model.parameters(), lr=1.0),
        _DPData(rows, rows, [1] * n),
        0,
        "cpu",
        collate_fn=lambda ids, _labels, _pad: {"tokens": token_matrix(ids)},
        clipped_sum_fn=lambda m, b, c: m.clipped_gradient_sum(b["tokens"], c),
    )
    assert outcome.batch_sizes == [len(drawn)] and len(drawn) > 0
    tokens = token_matrix(rows)
    expected = [torch.zeros_like(p) for p in reference.parameters()]
    clipped = 0
    for i in drawn:
        reference.zero_grad()
        reference.per_record_loss(tokens[i : i + 1]).sum().backward()
        grads = [p.grad.detach().clone() for p in reference.parameters()]
        norm = float(torch.sqrt(sum((g**2).sum() for g in grads)))
        factor = min(1.0, clip / (norm + 1e-6))
        clipped += factor < 1.0
        expected = [e + factor * g for e, g in zip(expected, grads, strict=True)]
    assert (clipped > 0) == (clip < 1)
    for before, after, e in zip(reference.parameters(), model.parameters(), expected, strict=True):
        torch.testing.assert_close(before.detach() - after.detach(), e / expected_batch, rtol=1e-3, atol=1e-7)


def test_noise_has_the_planned_deviation_and_is_divided_by_the_expected_batch():
    params = [torch.nn.Parameter(torch.zeros(200, 100)), torch.nn.Parameter(torch.zeros(5000))]
    for p in params:
        p.grad = torch.full_like(p, 3.0)  # the clipped sum
    generator = torch.Generator().manual_seed(0)
    add_noise_and_scale(params, noise_std=2.0, expected_batch=8, generator=generator)
    values = torch.cat([p.grad.reshape(-1) for p in params])
    assert abs(float(values.mean()) - 3.0 / 8) < 0.01
    assert abs(float(values.std()) - 2.0 / 8) < 0.01
