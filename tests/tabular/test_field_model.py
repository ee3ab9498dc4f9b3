"""The masked decoder: autoregressive property, per-sample gradients for DP, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from safe_synthesizer.tabular.model import ModelShape, build_model, load_model, save_model
from safe_synthesizer.tabular.tokenizer import fit_tokenizer
from safe_synthesizer.tabular.train import token_matrix


def _setup(n: int = 300):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.choice(["x", "y", "z"], n),
            "b": rng.integers(0, 5, n),
            "c": rng.normal(size=n).round(2),
            "d": rng.choice(["p", "q"], n),
        }
    )
    tok = fit_tokenizer(frame)
    model = build_model(tok, ModelShape(hidden=32, layers=2, embed=4, dropout=0.0), seed=0)
    return tok, model, token_matrix(tok.encode(frame))


def test_position_q_depends_only_on_earlier_positions():
    tok, model, tokens = _setup()
    model.eval()
    base = model(tokens[:8])
    for q in range(tokens.shape[1]):
        changed = tokens[:8].clone()
        start, size = model.layout[q]
        if size == 1:  # a single-token position (an exact column's filler) cannot change
            continue
        changed[:, q] = start + (changed[:, q] - start + 1) % size
        out = model(changed)
        for r in range(tokens.shape[1]):
            a, b = model.offsets[r], model.offsets[r + 1]
            same = torch.allclose(out[:, a:b], base[:, a:b])
            assert same == (r <= q), f"output {r} after changing input {q}"


def test_masked_per_sample_gradients_match_one_record_at_a_time():
    from opacus import GradSampleModule

    tok, model, tokens = _setup()
    batch = tokens[:5]
    gsm = GradSampleModule(model, batch_first=True, loss_reduction="sum")
    gsm._module.per_record_loss(batch).sum().backward()
    for i in range(len(batch)):
        model.zero_grad()
        reference = build_model(tok, ModelShape(hidden=32, layers=2, embed=4, dropout=0.0), seed=0)
        reference.load_state_dict({k: v for k, v in model.state_dict().items()})
        reference.per_record_loss(batch[i : i + 1]).sum().backward()
        for (name, p), (_, q) in zip(model.named_parameters(), reference.named_parameters(), strict=True):
            assert torch.allclose(p.grad_sample[i], q.grad, atol=1e-5), name
    # masked weights get no gradient at all, so clipping sees only the weights in use
    assert float((model.first.weight.grad_sample * (1 - model.first.mask)).abs().sum()) == 0.0
    gsm._close()


def test_save_and_load_give_the_same_outputs(tmp_path):
    _, model, tokens = _setup()
    model.eval()
    save_model(model, tmp_path / "m")
    again = load_model(tmp_path / "m", "cpu")
    assert torch.allclose(model(tokens[:10]), again(tokens[:10]))
