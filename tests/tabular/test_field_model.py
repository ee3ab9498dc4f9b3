"""The masked decoder: autoregressive property, per-sample gradients for DP, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from safe_synthesizer.tabular.model import ModelShape, build_model, load_model, save_model, text_positions
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


def _text_setup(n: int = 200):
    """A table with a free-text column, whose positions share one vocabulary (repeated tokens)."""
    rng = np.random.default_rng(1)
    words = ["red", "blue", "green", "small", "big", "bird", "cat"]
    frame = pd.DataFrame(
        {
            "a": rng.choice(["x", "y", "z"], n),
            "c": rng.normal(size=n).round(2),
            "note": [" ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(n)],
        }
    )
    tok = fit_tokenizer(frame)
    assert [c.kind for c in tok.columns] == ["categorical", "numeric", "text"]
    model = build_model(tok, ModelShape(hidden=32, layers=2, embed=4, dropout=0.0), seed=0)
    return tok, model, token_matrix(tok.encode(frame))


def _brute_force_clipped_sum(tok, model, batch, max_norm):
    """Σ_i clip(g_i) from one autograd backward per record (the definition)."""
    total = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    norms = []
    for i in range(len(batch)):
        model.zero_grad()
        model.per_record_loss(batch[i : i + 1]).sum().backward()
        norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters()))
        norms.append(float(norm))
        factor = min(1.0, max_norm / (float(norm) + 1e-6))
        for name, p in model.named_parameters():
            total[name] += p.grad * factor
    model.zero_grad()
    return total, norms


def test_ghost_clipping_equals_clipping_each_record_gradient():
    for setup in (_setup, _text_setup):
        tok, model, tokens = setup()
        batch = tokens[:12]
        if setup is _text_setup:  # repeated tokens in one record: their embedding rows add up
            assert any(len(set(row.tolist())) < len(row) for row in batch)
        expected, expected_norms = _brute_force_clipped_sum(tok, model, batch, max_norm=0.5)
        norms = model.clipped_gradient_sum(batch, max_norm=0.5)
        assert np.allclose(norms.numpy(), expected_norms, rtol=1e-4), setup.__name__
        assert max(expected_norms) > 0.5  # clipping acts on some records
        for name, p in model.named_parameters():
            assert torch.allclose(p.grad, expected[name], atol=1e-5), (setup.__name__, name)


def test_ghost_clipping_norms_match_opacus_per_sample_gradients():
    from opacus import GradSampleModule

    tok, model, tokens = _text_setup()
    batch = tokens[:8]
    norms = model.clipped_gradient_sum(batch, max_norm=1.0)
    model.zero_grad()
    gsm = GradSampleModule(model, batch_first=True, loss_reduction="sum")
    gsm._module.per_record_loss(batch).sum().backward()
    opacus_norms = torch.sqrt(
        sum((p.grad_sample.reshape(len(batch), -1) ** 2).sum(dim=1) for p in model.parameters())
    )
    gsm._close()
    assert torch.allclose(norms, opacus_norms, rtol=1e-4)


def test_calibrated_biases_reproduce_every_position_frequency():
    from safe_synthesizer.tabular.train import calibrate_output_bias

    tok, model, tokens = _setup()

    def worst_gap() -> float:
        model.eval()
        with torch.no_grad():
            logits = model(tokens)
        gaps = []
        for q, (start, size) in enumerate(model.layout):
            a, b = model.offsets[q], model.offsets[q + 1]
            mean = torch.softmax(logits[:, a:b], dim=1).mean(dim=0)
            target = torch.bincount(tokens[:, q] - start, minlength=size).float() / len(tokens)
            gaps.append(0.5 * float((mean - target).abs().sum()))
        return max(gaps)

    before = worst_gap()  # an untrained network: far from the data's frequencies
    assert before > 0.05
    reported = calibrate_output_bias(model, tokens)
    after = worst_gap()
    assert after < 2e-3 and abs(after - reported) < 1e-4


def test_a_text_column_weighs_as_much_as_one_tabular_column_in_the_loss():
    from safe_synthesizer.tabular.model import hidden_degrees, position_weights

    tok, model, tokens = _text_setup()
    text = [p.column == 2 for p in tok.positions]
    weights = position_weights(model.layout)
    assert sum(text) > 5
    assert abs(sum(w for w, t in zip(weights, text, strict=True) if t) - 1.0) < 1e-9
    assert [w for w, t in zip(weights, text, strict=True) if not t] == [1.0] * (len(text) - sum(text))
    # the loss is the weighted mean of the positions' negative log-likelihoods
    with torch.no_grad():
        logits = model(tokens[:4])
        local = tokens[:4] - model.starts[None, :]
        expected = torch.zeros(4)
        for q in range(len(model.layout)):
            z = logits[:, model.offsets[q] : model.offsets[q + 1]]
            nll = torch.logsumexp(z, 1) - z.gather(1, local[:, q : q + 1]).squeeze(1)
            expected += weights[q] * nll / sum(weights)
        assert torch.allclose(model.per_record_loss(tokens[:4]), expected, atol=1e-5)
    # the tabular degrees keep the base width; each text degree adds its own units
    degrees = hidden_degrees(model.layout, model.shape)
    tabular_positions = len(text) - sum(text)
    assert sum(1 for d in degrees if d <= tabular_positions) == model.shape.hidden
    assert len(degrees) == model.shape.hidden + model.shape.text_units * (sum(text) - 1)


def test_position_runs_group_consecutive_positions_of_one_slice_size():
    from safe_synthesizer.tabular.model import position_runs

    layout = [(0, 3), (3, 5), (8, 5), (13, 5), (18, 2), (20, 5)]
    assert position_runs(layout) == [(0, 1, 3), (1, 3, 5), (4, 1, 2), (5, 1, 5)]
    assert position_runs([]) == []


def test_loss_equals_the_per_position_cross_entropy():
    """The run-wise loss is Σ_q w_q (logsumexp(z_q) − z_q[x_q]) computed position by position."""
    rng = np.random.default_rng(1)
    n = 200
    words = ["alpha", "beta", "gamma", "delta", "eps"]
    frame = pd.DataFrame(
        {
            "a": rng.choice(["x", "y", "z"], n),
            "note": [" ".join(rng.choice(words, rng.integers(1, 6))) for _ in range(n)],
            "c": rng.normal(size=n).round(2),
        }
    )
    tok = fit_tokenizer(frame)
    model = build_model(tok, ModelShape(hidden=32, layers=2, embed=4, dropout=0.0), seed=0)
    tokens = token_matrix(tok.encode(frame))[:16]
    assert any(text_positions(model.layout))  # the case that matters: a free-text run of positions
    logits = model(tokens)
    expected = torch.zeros(tokens.shape[0])
    for q, (start, _) in enumerate(model.layout):
        z = logits[:, model.offsets[q] : model.offsets[q + 1]]
        target = (tokens[:, q] - start).unsqueeze(1)
        expected += model.weights[q] * (torch.logsumexp(z, dim=1) - z.gather(1, target).squeeze(1))
    torch.testing.assert_close(model.per_record_loss(tokens), expected)


def test_dropout_is_higher_for_small_tables_and_off_under_dp():
    from safe_synthesizer.tabular.model import dropout_for, size_model

    assert dropout_for(500) == dropout_for(10_000) == 0.3
    assert dropout_for(15_000) == 0.2
    assert dropout_for(20_000) == dropout_for(1_000_000) == 0.1
    assert size_model(8_700, 54).dropout == 0.3
    assert size_model(24_000, 20).dropout == 0.1
    assert size_model(8_700, 54, dp=True).dropout == 0.0
