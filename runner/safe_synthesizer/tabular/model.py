"""The field-token decoder: an autoregressive masked network over a record's token positions.

A record is ``P`` token positions (:attr:`FieldTokenizer.positions`), position ``q`` drawing from
its column's vocabulary slice. The decoder computes every conditional ``p(x_q | x_<q)`` in one pass
(a MADE-style masked network, as in MOSTLY AI's TabularARGN, rather than a transformer: for records
of one token per column it needs about a tenth of the arithmetic of a transformer of the same width,
which is the whole cost on a CPU)::

    e    = [E(x_1) ‖ E(x_2) ‖ … ‖ E(x_P)]                       E: token embedding (dim d), by position
    h_1  = GELU((M_1 ⊙ W_1) e + b_1)                             hidden unit k has a degree m_k ∈ [1, P−1]
    h_l  = h_{l−1} + GELU((M_l ⊙ W_l) h_{l−1} + b_l)              M_1[k, (q,·)] = [m_k ≥ q], M_l[k, j] = [m_k ≥ m_j]
    z_q  = (M_out ⊙ W_out)[slice_q] h_L + b_out[slice_q]          M_out[(q,·), k] = [q > m_k]
    p(x_q | x_<q) = softmax(z_q)                                  over position q's vocabulary slice only

so the output of position ``q`` depends on positions ``< q`` only (the first position's output is its
bias: the marginal), and positions are column positions (the concatenation order is the column
order). No normalisation across hidden units (its statistics would mix in later positions). Every
record decoded by :mod:`.generate` is valid by construction.

Sizing from the data (``rows`` training records, ``P`` positions)::

    hidden = 128 if rows < 5,000; 256 if rows < 100,000; else 512   (GPU: twice that; DP: half)
    layers = 2;  embedding d = 16
    dropout = 0.3 up to 10,000 rows, 0.1 from 20,000, linear between (0 under DP)

Dropout is higher for smaller tables because they overfit sooner: on birds (8,700 training rows)
the conditionals of ``height`` and ``speed`` scored 2.1 nats on training rows and 2.5 on unseen
ones at the early-stopping point with 0.1, and TSTR AUC rose from 0.84 to 0.89 with 0.3 (loans, 5,000
rows: 0.824 to 0.829, SDMetrics quality 0.920 to 0.937; Adult, 24,000 rows: no gain, 0.916 vs 0.914).

DP-SGD: :meth:`FieldDecoder.clipped_gradient_sum` clips every record's gradient over all weights
without materialising it (ghost clipping, formula there), so a DP step costs about 4/3 of a plain
one; tests check it against opacus' per-sample gradients. The masked layers also carry their own
per-sample gradient rule for opacus (the mask applied to ``backprops ⊗ activations``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .tokenizer import FieldTokenizer


@dataclass
class ModelShape:
    """Decoder dimensions."""

    hidden: int
    layers: int
    embed: int = 16
    dropout: float = 0.1
    text_units: int = 2  # hidden units per free-text position, on top of ``hidden`` (hidden_degrees)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def size_model(rows: int, positions: int, device: str = "cpu", dp: bool = False) -> ModelShape:
    """Dimensions from the data size (rule in the module docstring)."""
    hidden = 128 if rows < 5_000 else 256 if rows < 100_000 else 512
    if dp:  # per-sample gradients scale with the weights, and so does the noise's total norm
        hidden = max(64, hidden // 2)
    if device == "cuda":
        hidden *= 2
    return ModelShape(hidden=hidden, layers=2, embed=16, dropout=0.0 if dp else dropout_for(rows))


def dropout_for(rows: int) -> float:
    """0.3 up to 10,000 rows, 0.1 from 20,000, linear between (module docstring)."""
    share = min(1.0, max(0.0, (rows - 10_000) / 10_000))
    return round(0.3 - 0.2 * share, 3)


def text_positions(layout: list[tuple[int, int]]) -> list[bool]:
    """Whether each position belongs to a free-text column (a run of positions sharing one slice)."""
    n = len(layout)
    return [
        (q > 0 and layout[q] == layout[q - 1]) or (q + 1 < n and layout[q] == layout[q + 1]) for q in range(n)
    ]


def position_weights(layout: list[tuple[int, int]]) -> list[float]:
    """Loss weight of every position: 1, and ``1/k`` for each of the ``k`` positions of a text column.

    Every column then weighs the same in the loss and in the validation loss that stops training:
    summed over its ~48 positions, one free-text column outweighed 16 tabular columns together, and
    its over-fitting (training loss 56 against validation 86 after 7 epochs on a 1,000-row table)
    stopped training before the tabular columns had learned their relations.
    """
    weights, q, text = [], 0, text_positions(layout)
    while q < len(layout):
        run = 1
        if text[q]:
            while q + run < len(layout) and layout[q + run] == layout[q]:
                run += 1
        weights += [1.0 / run] * run
        q += run
    return weights


def hidden_degrees(layout: list[tuple[int, int]], shape: ModelShape) -> list[int]:
    """The degree ``m_k`` of every hidden unit: ``shape.hidden`` units over the tabular positions, plus
    ``shape.text_units`` units for each free-text position.

    A unit of degree ``m`` sees positions ``1..m`` and feeds outputs ``> m``. Spread evenly over
    every degree, the ~48 positions of one free-text column (last in the order) would take three
    quarters of the units, leaving the tabular columns' conditionals a quarter of the width (on a
    17-column table with one text column, the synthetic target lost its links to the other
    columns). So the tabular degrees share ``hidden`` units as on a table without text, and each
    text degree gets a few units of its own (enough to carry the previous words forward).
    Text positions are the runs of positions that share one vocabulary slice.
    """
    positions = len(layout)
    if positions < 2:
        return [1] * shape.hidden
    is_text = text_positions(layout)
    # degree d (1-based) ends its context at position d; degrees run 1..P-1
    tabular = [d for d in range(1, positions) if not is_text[d - 1]]
    text = [d for d in range(1, positions) if is_text[d - 1]]
    if not tabular or not text:
        return [k % (positions - 1) + 1 for k in range(shape.hidden)]
    degrees = [tabular[k % len(tabular)] for k in range(shape.hidden)]
    return degrees + [d for d in text for _ in range(shape.text_units)]


def position_runs(layout: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """``(first position, count, slice size)`` of the maximal runs of consecutive positions whose
    slices have one size (a free-text column's positions form one run)."""
    runs: list[tuple[int, int, int]] = []
    for q, (_, size) in enumerate(layout):
        if runs and runs[-1][2] == size and runs[-1][0] + runs[-1][1] == q:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, size)
        else:
            runs.append((q, 1, size))
    return runs


def layout_of(tokenizer: FieldTokenizer) -> list[tuple[int, int]]:
    """``(first token id, slice size)`` of every position."""
    return [(p.start, p.end - p.start) for p in tokenizer.positions]


def _torch_classes() -> tuple[Any, Any]:
    """The torch modules, defined on first use so that importing this module needs no torch."""
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    import torch
    import torch.nn.functional as F
    from torch import nn

    class MaskedLinear(nn.Linear):
        """``y = (M ⊙ W) x + b`` with a fixed 0/1 mask ``M`` (a buffer)."""

        def __init__(self, in_features: int, out_features: int, mask: Any) -> None:
            super().__init__(in_features, out_features)
            # Not a buffer: opacus refuses trainable layers with buffers. The mask follows the module
            # through .to()/.float() via _apply, and is rebuilt from the layout when loading.
            self.mask = mask.float()

        def _apply(self, fn: Any, recurse: bool = True) -> Any:
            super()._apply(fn, recurse)
            self.mask = fn(self.mask)
            return self

        def forward(self, x: Any) -> Any:
            return F.linear(x, self.weight * self.mask, self.bias)

    try:  # per-sample gradients for opacus: the linear rule, masked
        from opacus.grad_sample import register_grad_sampler

        @register_grad_sampler(MaskedLinear)
        def _masked_grad_sample(layer: Any, activations: list[Any], backprops: Any) -> dict[Any, Any]:
            a = activations[0]
            if a.dim() == 2:  # (records, features): a batched outer product, masked in place
                weight = torch.bmm(backprops.unsqueeze(2), a.unsqueeze(1)).mul_(layer.mask)
                bias = backprops
            else:
                weight = torch.einsum("n...i,n...j->nij", backprops, a) * layer.mask
                bias = torch.einsum("n...k->nk", backprops)
            grads = {layer.weight: weight}
            if layer.bias is not None:
                grads[layer.bias] = bias
            return grads
    except ImportError:  # opacus is only needed for DP
        pass

    class FieldDecoder(nn.Module):
        """The masked autoregressive network of the module docstring."""

        def __init__(self, vocab_size: int, layout: list[tuple[int, int]], shape: ModelShape) -> None:
            super().__init__()
            positions = len(layout)
            self.layout = layout
            self.shape = shape
            degrees = torch.tensor(hidden_degrees(layout, shape), dtype=torch.long)
            width = len(degrees)
            in_degree = torch.arange(1, positions + 1).repeat_interleave(shape.embed)
            self.embed = nn.Embedding(vocab_size, shape.embed)
            self.first = MaskedLinear(positions * shape.embed, width, degrees[:, None] >= in_degree[None, :])
            self.hidden = nn.ModuleList(
                MaskedLinear(width, width, degrees[:, None] >= degrees[None, :])
                for _ in range(shape.layers - 1)
            )
            out_position = torch.cat(
                [torch.full((size,), q + 1, dtype=torch.long) for q, (_, size) in enumerate(layout)]
            )
            self.out = MaskedLinear(width, len(out_position), out_position[:, None] > degrees[None, :])
            self.dropout = nn.Dropout(shape.dropout)
            offsets = [0]
            for _, size in layout:
                offsets.append(offsets[-1] + size)
            self.offsets = offsets
            self.runs = position_runs(layout)
            starts = torch.tensor([start for start, _ in layout], dtype=torch.long)
            self.register_buffer("starts", starts)
            weights = torch.tensor(position_weights(layout), dtype=torch.float32)
            self.register_buffer("weights", weights / weights.sum(), persistent=False)

        def hidden_state(self, tokens: Any) -> Any:
            """``h_L`` for ``tokens`` ``(B, P)`` (token ids of the positions, without BOS)."""
            e = self.embed(tokens).reshape(tokens.shape[0], -1)
            return self.rest(self.first(self.dropout(e)))

        def rest(self, pre: Any) -> Any:
            """``h_L`` from the first layer's pre-activation."""
            h = F.gelu(pre)
            for layer in self.hidden:
                h = h + F.gelu(layer(self.dropout(h)))
            return h

        def first_layer_block(self, q: int, tokens_q: Any) -> Any:
            """Position ``q``'s contribution to the first layer's pre-activation (generation)."""
            d = self.shape.embed
            weight = (self.first.weight * self.first.mask)[:, q * d : (q + 1) * d]
            return F.linear(self.embed(tokens_q), weight)

        def forward(self, tokens: Any) -> Any:
            """Logits of every position's slice, concatenated ``(B, Σ slice sizes)``."""
            return self.out(self.hidden_state(tokens))

        def position_logits(self, h: Any, q: int) -> Any:
            """Logits of position ``q`` only (generation)."""
            a, b = self.offsets[q], self.offsets[q + 1]
            weight = self.out.weight[a:b] * self.out.mask[a:b]
            return F.linear(h, weight, self.out.bias[a:b])

        def per_record_loss(self, tokens: Any) -> Any:
            """``− Σ_q w_q log p(x_q | x_<q)`` for each record ``(B,)`` (``w``: :func:`position_weights`,
            normalised to sum 1: every column weighs the same)."""
            return self._loss_from_logits(self.forward(tokens), tokens)

        def clipped_gradient_sum(self, tokens: Any, max_norm: float) -> Any:
            """Add ``Σ_i min(1, C/‖g_i‖) g_i`` to every parameter's ``.grad``; returns ``‖g_i‖`` ``(B,)``.

            ``g_i`` is record ``i``'s gradient of :meth:`per_record_loss` over all weights. Computed
            without materialising any ``g_i`` (ghost clipping): one forward, one backward to the layer
            outputs only, then for every masked layer with inputs ``a_i`` and output gradients ``b_i``
            (per record, as no layer mixes records)::

                ‖g_i(W)‖² = Σ_jk b_ij² a_ik² M_jk = ((b_i²)ᵀ M) · a_i²        ‖g_i(bias)‖² = ‖b_i‖²
                Σ_i c_i g_i(W) = ((c ⊙ b)ᵀ a) ⊙ M

            and for the embedding, whose record gradient adds up the rows of equal tokens (the
            positions of one text column share a vocabulary)::

                ‖g_i(E)‖² = Σ_{q,r} [x_iq = x_ir] ⟨e'_iq, e'_ir⟩    (e'_iq: gradient at position q's embedding)

            Needs dropout 0 (every DP model has it). About 4 matmul passes where plain training
            takes 3, against opacus' per-record weight copies.
            """
            if self.training and self.shape.dropout > 0:
                raise ValueError("per-sample clipping needs a model without dropout")
            batch = tokens.shape[0]
            e = self.embed(tokens)  # (B, P, d)
            flat = e.reshape(batch, -1)
            layers = [self.first, *self.hidden, self.out]
            inputs, outputs = [flat], []
            pre = self.first(flat)
            outputs.append(pre)
            h = F.gelu(pre)
            for layer in self.hidden:
                inputs.append(h)
                pre = layer(h)
                outputs.append(pre)
                h = h + F.gelu(pre)
            inputs.append(h)
            logits = self.out(h)
            outputs.append(logits)
            losses = self._loss_from_logits(logits, tokens)
            grads = torch.autograd.grad(losses.sum(), [e, *outputs])
            e_grad, out_grads = grads[0].detach(), [g.detach() for g in grads[1:]]
            inputs = [a.detach() for a in inputs]
            with torch.no_grad():
                same = (tokens[:, :, None] == tokens[:, None, :]).to(e_grad.dtype)
                sq = (torch.bmm(e_grad, e_grad.transpose(1, 2)) * same).sum(dim=(1, 2))
                for layer, a, b in zip(layers, inputs, out_grads, strict=True):
                    sq = sq + ((b * b) @ layer.mask * (a * a)).sum(dim=1) + (b * b).sum(dim=1)
                norms = sq.clamp(min=0).sqrt()
                factor = (max_norm / (norms + 1e-6)).clamp(max=1.0)
                for layer, a, b in zip(layers, inputs, out_grads, strict=True):
                    cb = b * factor[:, None]
                    _add_grad(layer.weight, (cb.t() @ a) * layer.mask)
                    _add_grad(layer.bias, cb.sum(dim=0))
                rows = (e_grad * factor[:, None, None]).reshape(-1, e_grad.shape[-1])
                embed_grad = torch.zeros_like(self.embed.weight).index_add_(0, tokens.reshape(-1), rows)
                _add_grad(self.embed.weight, embed_grad)
            return norms

        def _loss_from_logits(self, logits: Any, tokens: Any) -> Any:
            # One split of the logits into runs of positions with the same slice size, each run
            # reshaped to (B, k, size): slicing every position out of the (B, Σ sizes) logits
            # instead made backward zero-fill and add a full-size gradient per position, 80 % of a
            # step on a 54-position table with 17,395 logits per record (profiled).
            local = tokens - self.starts[None, :]
            total = torch.zeros(tokens.shape[0], device=tokens.device)
            chunks = torch.split(logits, [k * size for _, k, size in self.runs], dim=1)
            for (q, k, size), z in zip(self.runs, chunks, strict=True):
                z = z.reshape(-1, k, size)
                nll = torch.logsumexp(z, dim=2) - z.gather(2, local[:, q : q + k, None]).squeeze(2)
                total = total + (nll * self.weights[q : q + k]).sum(dim=1)
            return total

    def _add_grad(param: Any, value: Any) -> None:
        param.grad = value.clone() if param.grad is None else param.grad.add_(value)

    _CLASSES = (MaskedLinear, FieldDecoder)
    return _CLASSES


_CLASSES: tuple[Any, Any] | None = None


def build_model(tokenizer: FieldTokenizer, shape: ModelShape, seed: int) -> Any:
    """A randomly initialised decoder over the tokenizer's positions."""
    import torch

    _, decoder = _torch_classes()
    torch.manual_seed(seed)
    return decoder(tokenizer.vocab_size, layout_of(tokenizer), shape)


def save_model(model: Any, directory: Path) -> None:
    """Weights (safetensors) and shape."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(
        json.dumps(
            {"shape": model.shape.to_dict(), "layout": model.layout, "vocab_size": model.embed.num_embeddings}
        ),
        encoding="utf-8",
    )


def load_model(directory: Path, device: str) -> Any:
    """Inverse of :func:`save_model`, in eval mode on ``device``."""
    from safetensors.torch import load_file

    _, decoder = _torch_classes()
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    model = decoder(config["vocab_size"], [tuple(x) for x in config["layout"]], ModelShape(**config["shape"]))
    model.load_state_dict(load_file(str(directory / "model.safetensors")))
    return model.to(device).eval()
