"""Planted canaries: DP-SGD stops a model from memorising single records.

Each canary is a random 8-letter string planted **once** in a training set of ordinary
``colour|number`` lines; each control is drawn the same way but never trained on. After training,
the attack scores each string by the model's mean token loss on it (lower = more likely a member),
and its ROC AUC is ``P(loss(canary) < loss(control))`` (ties count one half):

- without DP the same model, data and number of steps ranks the canaries far above the controls
  (measurable memorisation);
- with DP-SGD at ε = 1 the AUC must be near chance.

Both AUCs are printed (``pytest -s``) and asserted. 24 canaries vs 24 controls: under the null
(no memorisation) the AUC's standard deviation is about 0.085, so the ``|AUC − 0.5| < 0.25`` band is
about 3 standard deviations wide. For reference, the pure ε-DP trade-off curve
``β(α) = max(1 − e^ε α, e^{−ε}(1 − α))`` bounds any membership test's AUC by 0.731 at ε = 1. Seeds 1-5 of this set-up gave
(no DP, DP) = (1.00, 0.59), (1.00, 0.61), (0.98, 0.57), (0.99, 0.55), (0.99, 0.72).
"""

from __future__ import annotations

import dataclasses
import random
import string

import torch
from dp_helpers import dp_params, resolved_for, tiny_model, tokenize_lines

from safe_synthesizer.privacy.dp import DPTrainer, per_sample_loss
from safe_synthesizer.training import collate

N_ORDINARY = 72
N_CANARIES = 24
STEPS = 240
BATCH = 16
LEARNING_RATE = 1e-2


def _strings(seed: int) -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(seed)
    ordinary = [f"{rng.choice(['red', 'blue', 'green'])}|{rng.randint(10, 99)}" for _ in range(N_ORDINARY)]

    def secret() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(8)) + f"|{rng.randint(10, 99)}"

    canaries = [secret() for _ in range(N_CANARIES)]
    controls = [secret() for _ in range(N_CANARIES)]
    return ordinary, canaries, controls


def _losses(model, tokenizer, lines: list[str]) -> list[float]:
    data = tokenize_lines(tokenizer, lines)
    model.eval()
    with torch.no_grad():
        batch = collate(data.input_ids, data.labels, tokenizer.pad_token_id)
        return [float(x) for x in per_sample_loss(model, batch)]


def membership_auc(member_losses: list[float], non_member_losses: list[float]) -> float:
    """``P(member loss < non-member loss)`` over all pairs, ties ½ (the Mann-Whitney AUC)."""
    wins = sum(1.0 if m < c else 0.5 if m == c else 0.0 for m in member_losses for c in non_member_losses)
    return wins / (len(member_losses) * len(non_member_losses))


def _train_without_dp(model, data, pad_id: int) -> None:
    """Plain minibatch AdamW on the same examples, steps and learning rate as the DP run."""
    generator = random.Random(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    model.train()
    n = len(data.input_ids)
    for _ in range(STEPS):
        chosen = generator.sample(range(n), BATCH)
        batch = collate([data.input_ids[i] for i in chosen], [data.labels[i] for i in chosen], pad_id)
        loss = per_sample_loss(model, batch).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _train_with_dp(model, data, pad_id: int, epsilon: float) -> dict:
    n = len(data.input_ids)
    params = dp_params(epsilon, training={"batch_size": BATCH, "gradient_accumulation_steps": 1})
    resolved = dataclasses.replace(resolved_for(params, n), num_input_records_to_sample=STEPS * BATCH)
    trainer = DPTrainer.plan(params, resolved, n)
    assert trainer.steps == STEPS
    trainer.noise_seed = 0  # replayable noise: the test gives the same AUC on every run
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE, weight_decay=0.0
    )
    outcome = trainer.train(model, optimizer, data, pad_id, "cpu")
    return outcome.ledger


def test_canaries_are_memorised_without_dp_and_not_with_dp():
    ordinary, canaries, controls = _strings(seed=3)
    results = {}
    for label in ("no DP", "DP eps=1"):
        model, tokenizer = tiny_model(seed=0, hidden=64, layers=2)
        lines = ordinary + canaries
        data = tokenize_lines(tokenizer, lines)
        if label == "no DP":
            _train_without_dp(model, data, tokenizer.pad_token_id)
        else:
            ledger = _train_with_dp(model, data, tokenizer.pad_token_id, epsilon=1.0)
            assert ledger["epsilon_spent"] <= 1.0 and ledger["steps"] == STEPS
        results[label] = membership_auc(
            _losses(model, tokenizer, canaries), _losses(model, tokenizer, controls)
        )
    print(
        f"canary membership AUC: without DP {results['no DP']:.3f}, with DP (eps=1) {results['DP eps=1']:.3f}"
    )
    assert results["no DP"] >= 0.9, results
    assert abs(results["DP eps=1"] - 0.5) < 0.25, results
    assert results["no DP"] - results["DP eps=1"] >= 0.3, results


def test_membership_auc_is_the_pairwise_win_rate():
    assert membership_auc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert membership_auc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert membership_auc([0.1, 0.3], [0.2, 0.3]) == 0.625  # (1 + 1 + 0 + 0.5) / 4
