"""Sampling details of the field-token engine: the DP probability floor."""

from __future__ import annotations

import torch

from safe_synthesizer.tabular.generate import _sample


def test_tokens_below_the_floor_are_never_drawn_and_the_top_token_always_can_be():
    generator = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.6, 0.3985, 0.0015])  # the last token: under a 0.002 floor
    logits = torch.log(probs).expand(20000, -1)
    drawn = _sample(logits, 1.0, 1.0, generator, min_prob=0.002)
    counts = torch.bincount(drawn, minlength=3)
    assert counts[2] == 0 and counts[0] > counts[1] > 0
    unfloored = torch.bincount(_sample(logits, 1.0, 1.0, generator), minlength=3)
    assert unfloored[2] > 0  # without the floor it is drawn (about 30 times in 20,000)
    # a flat distribution over many tokens (every one under the floor) still yields its argmax
    flat = torch.zeros(5, 1000)
    flat[:, 7] = 1e-3
    assert (_sample(flat, 1.0, 1.0, generator, min_prob=0.002) == 7).all()
