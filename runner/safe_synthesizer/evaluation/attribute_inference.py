"""Attribute Inference Protection (DPS component, 0–10).

The attacker knows q quasi-identifiers (QI) of a training record and reads the rest off the k = 5
nearest synthetic records on those QIs. Attack set: ``max(200, 1% of train)`` training records
(at most 2000), each with its own random QI set of ``q = min(quasi_identifier_count, ncols − 1)``
columns (seed 5). Distance on the QIs: Σ |F(x) − F(y)| over numeric QIs (F: the training ECDF;
missing vs present counts 1) + Σ [x ≠ y] over nominal QIs; ties broken at random.

Prediction for every non-QI column c: numeric = mean of the neighbours' values, nominal = their
mode. Correct when nominal values are equal, or ``|pred − true| ≤ 0.01·|true|`` for numbers (a
true 0 needs an exact 0), ``|pred − true| ≤ 0.01·(max − min)`` of the training column for datetimes
(a relative tolerance on epoch seconds would be months wide); missing true values are not scored. ``acc_c`` = share correct.

Weights from the Shannon entropy H_c of each column in the training data (numeric columns over
Doane bins): ``w_c = (H_c − min H) / (max H − min H)`` normalised to sum 1 — equal weights when all
entropies are equal (the reference then gave every column weight 0 and a perfect score).

``acc'_c = min(0.7, acc_c · w_c · ncols)``, ``score_c = (0.7 − acc'_c) / 0.7 · 10``,
``AIA = mean_c score_c``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._frame import ColumnProfile, EncodedFrame
from ._stats import entropy_of_counts, histogram_with_missing, shared_edges
from .component import Component, skipped
from .grading import clip_score

NAME = "attribute_inference_protection"
K_NEIGHBOURS = 5
MAX_ATTACKS = 2000


def column_entropy(p: ColumnProfile, frame: EncodedFrame) -> float:
    """Shannon entropy of one training column (numbers over Doane bins + a missing bin)."""
    if p.is_number:
        x = frame.numbers[p.name]
        return entropy_of_counts(histogram_with_missing(x, shared_edges(x, x)))
    return entropy_of_counts(np.bincount(frame.codes[p.name]).astype(float))


def attribute_inference(
    cols: list[ColumnProfile],
    train: EncodedFrame,
    synthetic: EncodedFrame,
    quasi_identifier_count: int,
    *,
    seed: int = 5,
) -> Component:
    """The component; ``cols`` are the tabular columns the attacker may know or infer."""
    ncols = len(cols)
    if ncols < 2:
        return skipped(NAME, "needs at least two numeric or categorical columns")
    if train.n_rows < 2 or synthetic.n_rows < K_NEIGHBOURS:
        return skipped(NAME, f"needs at least {K_NEIGHBOURS} synthetic records")
    q = min(quasi_identifier_count, ncols - 1)
    rng = np.random.default_rng(seed)
    n_att = min(train.n_rows, MAX_ATTACKS, max(200, int(np.ceil(0.01 * train.n_rows))))
    attack = rng.choice(train.n_rows, n_att, replace=False)

    # QI distance features: ECDF in [0, 1] for numbers, codes for nominal columns.
    feat_tr: dict[str, np.ndarray] = {}
    feat_sy: dict[str, np.ndarray] = {}
    for p in cols:
        if p.is_number:
            ref = np.sort(train.numbers[p.name][np.isfinite(train.numbers[p.name])])
            for src, dst in ((train, feat_tr), (synthetic, feat_sy)):
                x = src.numbers[p.name]
                u = np.full(len(x), np.nan)
                fin = np.isfinite(x)
                if len(ref):
                    u[fin] = np.searchsorted(ref, x[fin], "right") / len(ref)
                dst[p.name] = u
        else:
            feat_tr[p.name] = train.codes[p.name]
            feat_sy[p.name] = synthetic.codes[p.name]

    span = {}
    for p in cols:
        if p.is_number:
            fin = train.numbers[p.name][np.isfinite(train.numbers[p.name])]
            span[p.name] = float(fin.max() - fin.min()) if len(fin) else 0.0
    combos: dict[tuple[int, ...], list[int]] = {}
    for row in attack:
        combos.setdefault(tuple(sorted(rng.choice(ncols, q, replace=False).tolist())), []).append(int(row))

    num_idx = [i for i, p in enumerate(cols) if p.is_number]
    nom_idx = [i for i, p in enumerate(cols) if not p.is_number]

    def finite_block(frame: EncodedFrame) -> np.ndarray:
        if not num_idx:
            return np.zeros((frame.n_rows, 0))
        block = np.column_stack([frame.numbers[cols[i].name] for i in num_idx])
        return np.where(np.isfinite(block), block, np.nan)

    s_num, t_num = finite_block(synthetic), finite_block(train)
    s_nom = np.column_stack([synthetic.codes[cols[i].name] for i in nom_idx]) if nom_idx else None
    t_nom = np.column_stack([train.codes[cols[i].name] for i in nom_idx]) if nom_idx else None
    is_dt = np.array([cols[i].kind == "datetime" for i in num_idx], dtype=bool)
    dt_tol = np.array([0.01 * span.get(cols[i].name, 0.0) for i in num_idx])

    correct = np.zeros(ncols)
    scored = np.zeros(ncols)
    for combo, rows_list in combos.items():
        rows = np.asarray(rows_list)
        dist = rng.random((len(rows), synthetic.n_rows)) * 1e-9
        for ci in combo:
            p = cols[ci]
            a, b = feat_tr[p.name][rows][:, None], feat_sy[p.name][None, :]
            if p.is_number:
                diff = np.abs(a - b)
                both_nan = np.isnan(a) & np.isnan(b)
                dist += np.where(both_nan, 0.0, np.nan_to_num(diff, nan=1.0))
            else:
                dist += a != b
        nn = np.argpartition(dist, K_NEIGHBOURS - 1, axis=1)[:, :K_NEIGHBOURS]
        known = set(combo)
        if num_idx:
            true = t_num[rows]  # (g, m)
            with warnings.catch_warnings(), np.errstate(invalid="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                pred = np.nanmean(s_num[nn], axis=1)  # (g, k, m) → (g, m)
                tol = np.where(is_dt[None, :], dt_tol[None, :], 0.01 * np.abs(true))
                ok = np.isfinite(true)
                hit = ok & np.isfinite(pred) & (np.abs(pred - true) <= tol)
            for j, ci in enumerate(num_idx):
                if ci not in known:
                    correct[ci] += hit[:, j].sum()
                    scored[ci] += ok[:, j].sum()
        if nom_idx and s_nom is not None and t_nom is not None:
            neigh = s_nom[nn]  # (g, k, m)
            votes = (neigh[:, :, None, :] == neigh[:, None, :, :]).sum(axis=2)  # (g, k, m)
            pick = votes.argmax(axis=1)  # first most frequent neighbour value
            pred = np.take_along_axis(neigh, pick[:, None, :], axis=1)[:, 0, :]
            hit = pred == t_nom[rows]
            for j, ci in enumerate(nom_idx):
                if ci not in known:
                    correct[ci] += hit[:, j].sum()
                    scored[ci] += len(rows)

    acc = np.divide(correct, scored, out=np.zeros(ncols), where=scored > 0)
    ent = np.array([column_entropy(p, train) for p in cols])
    span = ent.max() - ent.min()
    w = (ent - ent.min()) / span if span > 1e-12 else np.ones(ncols)
    w = w / w.sum() if w.sum() > 0 else np.full(ncols, 1.0 / ncols)
    acc_adj = np.minimum(0.7, acc * w * ncols)
    col_scores = (0.7 - acc_adj) / 0.7 * 10.0
    used = scored > 0
    per_column = {
        p.name: {
            "accuracy": round(float(acc[i]), 4),
            "weight": round(float(w[i]), 4),
            "score": clip_score(float(col_scores[i])),
            "attacks": int(scored[i]),
        }
        for i, p in enumerate(cols)
        if used[i]
    }
    if not per_column:
        return skipped(NAME, "no column could be attacked")
    score = float(np.mean(col_scores[used]))
    return Component(
        NAME,
        clip_score(score),
        round(float(np.mean(acc[used])), 4),
        {
            "per_column": per_column,
            "quasi_identifiers": q,
            "n_attacks": int(n_att),
            "k_neighbours": K_NEIGHBOURS,
            "n_synthetic": int(synthetic.n_rows),
        },
    )
