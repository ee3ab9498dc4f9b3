"""Sampling records from the field-token decoder.

Positions are sampled in order. The first layer's pre-activation is built incrementally (position
``q`` adds its block ``(M_1 ⊙ W_1)[:, q] E(x_q)`` once sampled), so a batch costs one embedding block
and the hidden layers per position. At position ``q`` only that position's slice of the output layer
is computed: the logits are over the column's own vocabulary, so every record is valid by
construction (this is the structured generation of this engine). Logits are divided by the
temperature and cut to the top-p nucleus. In a free-text column, once the end token is drawn the
remaining positions of that column are forced to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..progress import NullProgress, Progress
from .tokenizer import BOS, END_LABEL, FieldTokenizer

# A DP-trained model leaves a little probability on every token of the data-independent vocabulary
# (the noise never lets the never-seen ones reach zero): on UCI Adult at ε = 4, 1.6 % of ages fell
# beyond 90 inside the DP range [8, 256] and a few education years beyond 16, which scorers that bin
# numbers over the synthetic range punish hard. Not drawing tokens below this probability is
# post-processing of the DP model (no privacy cost); rare real values below it are lost, which
# under DP they mostly are anyway.
DP_MIN_PROB = 0.002


@dataclass
class FieldGenerationResult:
    """Generated records and the measurements."""

    data: pd.DataFrame
    seconds: float
    records_per_second: float
    stopped_early: bool = False
    stop_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (no records)."""
        out = asdict(self)
        out.pop("data")
        out["records"] = int(len(self.data))
        out["valid_fraction"] = 1.0  # masked decoding: every record parses
        return out


def _sample(logits: Any, temperature: float, top_p: float, generator: Any, min_prob: float = 0.0) -> Any:
    import torch

    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if min_prob > 0:  # tokens below min_prob are not drawn; the most likely one always stays
        keep = probs >= min_prob
        keep.scatter_(-1, probs.argmax(dim=-1, keepdim=True), True)
        probs = probs * keep
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        keep = sorted_probs.cumsum(dim=-1) - sorted_probs < top_p
        sorted_probs = sorted_probs * keep
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


MATCH_ITERATIONS = 50


def match_marginal(logits: Any, target: Any, iterations: int = MATCH_ITERATIONS) -> Any:
    """A shift of ``logits`` (rows: records, columns: one position's tokens) after which the batch's
    mean softmax puts ``target``'s share of the constrained tokens' mass on each of them.

    ``target``: shares over the constrained tokens (summing to 1), ``NaN`` on free tokens, whose
    mean mass stays as it was. Fixed-point iteration ``s ← s + log(t · m) − log p̄`` with ``p̄`` the
    batch-mean probability and ``m`` the constrained tokens' mean mass before the shift (as in
    :func:`~safe_synthesizer.tabular.train.calibrate_output_bias`); a token with target 0 is never
    drawn. Each record keeps its own conditional ordering: only the marginal moves.
    """
    import torch

    constrained = ~torch.isnan(target)
    share = torch.where(constrained, target, torch.zeros_like(target))
    shift = torch.zeros_like(target)
    shift[constrained & (share <= 0)] = float("-inf")
    active = constrained & (share > 0)
    if not bool(active.any()):
        return shift
    mass = torch.softmax(logits, dim=-1).mean(dim=0)[constrained].sum().clamp(min=1e-12)
    log_goal = torch.log(share[active]) + torch.log(mass)
    for _ in range(iterations):
        mean = torch.softmax(logits + shift, dim=-1).mean(dim=0)
        step = log_goal - torch.log(mean[active].clamp(min=1e-12))
        shift[active] += step
        if float(step.abs().max()) < 1e-3:
            break
    return shift


def sample_token_rows(
    model: Any,
    tokenizer: FieldTokenizer,
    batch: int,
    *,
    temperature: float,
    top_p: float,
    generator: Any,
    device: str,
    min_prob: float = 0.0,
    targets: dict[int, Any] | None = None,
) -> list[list[int]]:
    """Token ids of ``batch`` records (BOS first, as :meth:`FieldTokenizer.decode` reads them).

    ``targets`` (DP runs, :func:`~safe_synthesizer.tabular.marginals.marginal_targets`): at those
    positions the batch's marginal is matched to the target (:func:`match_marginal`) and the
    ``min_prob`` floor does not apply (the target already says which tokens are drawn)."""
    import torch

    positions = tokenizer.positions
    end_of = {
        i: tokenizer.columns[i].start + tokenizer.columns[i].labels.index(END_LABEL)
        for i in tokenizer.text_columns
    }
    biases = []
    for pos in positions:
        bias = torch.zeros(pos.end - pos.start, device=device)
        bias[tokenizer.forbidden(pos)] = float("-inf")
        biases.append(bias)
    matched = {
        q: torch.as_tensor(np.asarray(t, dtype=np.float32), device=device) for q, t in (targets or {}).items()
    }
    tokens = torch.empty((batch, len(positions)), dtype=torch.long, device=device)
    pre = model.first.bias.detach().expand(batch, -1).clone()
    with torch.no_grad():
        for q, pos in enumerate(positions):
            h = model.rest(pre)
            logits = model.position_logits(h, q).float() + biases[q]
            if q in matched and temperature > 0:
                scaled = logits / temperature
                scaled = scaled + match_marginal(scaled, matched[q])
                local = _sample(scaled, 1.0, top_p, generator, 0.0)
            else:
                local = _sample(logits, temperature, top_p, generator, min_prob)
            chosen = local + pos.start
            if pos.column in end_of and q > 0 and positions[q - 1].column == pos.column:
                ended = tokens[:, q - 1] == end_of[pos.column]
                chosen = torch.where(ended, torch.full_like(chosen, end_of[pos.column]), chosen)
            tokens[:, q] = chosen
            pre = pre + model.first_layer_block(q, chosen)
    bos = torch.full((batch, 1), BOS, dtype=torch.long, device=device)
    return torch.cat([bos, tokens], dim=1).tolist()


def generate_field_records(
    model: Any,
    tokenizer: FieldTokenizer,
    num_records: int,
    *,
    temperature: float,
    top_p: float,
    seed: int,
    device: str,
    batch_size: int | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    min_prob: float = 0.0,
    targets: dict[int, Any] | None = None,
) -> FieldGenerationResult:
    """``num_records`` records as a DataFrame (columns in the training order); tokens whose
    probability is below ``min_prob`` are not drawn (see :data:`DP_MIN_PROB`); ``targets``: the
    marginals to match per batch (DP runs, :func:`sample_token_rows`)."""
    import torch

    progress = progress or NullProgress()
    started = time.time()
    batch = batch_size or (16384 if device == "cuda" else 2048)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    rng = np.random.default_rng(seed)
    frames: list[pd.DataFrame] = []
    made = 0
    stopped, reason = False, None
    progress.update("generate", 0, num_records, "generating records")
    model.eval()
    while made < num_records:
        if should_stop is not None and should_stop():
            stopped, reason = True, "termination requested"
            break
        size = min(batch, num_records - made)
        rows = sample_token_rows(
            model,
            tokenizer,
            size,
            temperature=temperature,
            top_p=top_p,
            generator=generator,
            device=device,
            min_prob=min_prob,
            targets=targets,
        )
        frames.append(tokenizer.decode(rows, rng))
        made += size
        progress.update("generate", made, num_records, "generating records")
    data = pd.concat(frames, ignore_index=True) if frames else tokenizer.decode([], rng)
    seconds = time.time() - started
    return FieldGenerationResult(
        data=data,
        seconds=round(seconds, 2),
        records_per_second=round(len(data) / max(seconds, 1e-9), 1),
        stopped_early=stopped,
        stop_reason=reason,
    )
