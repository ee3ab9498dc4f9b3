"""Machine-learning utility: train on synthetic, test on real (TSTR).

For ``target_column`` y and the other numeric/datetime/nominal columns X, two
``HistGradientBoosting`` models (100 iterations, nominal columns as native categorical features)
are trained: one on the synthetic sample (TSTR) and one on the training sample (TRTR, the
real-data reference); both are scored on the holdout, which neither saw.

* nominal y → classification: accuracy and ROC AUC (binary: AUC of the positive class; more
  classes: macro one-vs-rest AUC over classes present in the holdout and known to the model);
* numeric y → regression: R² = 1 − SS_res / SS_tot.

``utility_ratio = metric_TSTR / metric_TRTR`` (AUC for classification, R² for regression).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from threadpoolctl import threadpool_limits

from ..autoconfig import DEFAULT_SEED
from ._frame import MISSING_LABEL, ColumnProfile, EncodedFrame, Encoding
from .component import Component, skipped

NAME = "utility"
MAX_CATEGORIES = 250


def _matrix(cols: list[ColumnProfile], frame: EncodedFrame, top: dict[str, np.ndarray]) -> np.ndarray:
    parts = []
    for p in cols:
        if p.is_number:
            x = frame.numbers[p.name]
            parts.append(np.where(np.isfinite(x), x, np.nan))  # ±inf → missing
        else:
            parts.append(top[p.name][frame.codes[p.name]].astype(float))
    return np.column_stack(parts) if parts else np.zeros((frame.n_rows, 0))


def _auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float | None:
    present = [i for i, c in enumerate(classes) if 0 < (y == c).sum() < len(y)]
    if not present:
        return None
    if len(classes) == 2:
        return float(roc_auc_score(y == classes[1], proba[:, 1]))
    return float(np.mean([roc_auc_score(y == classes[i], proba[:, i]) for i in present]))


def utility(
    target: str,
    profiles: list[ColumnProfile],
    train: EncodedFrame,
    synthetic: EncodedFrame,
    holdout: EncodedFrame | None,
    enc: Encoding,
    *,
    seed: int = DEFAULT_SEED,
) -> Component:
    """TSTR vs TRTR on the holdout for one target column."""
    prof = {p.name: p for p in profiles}.get(target)
    if holdout is None:
        return skipped(NAME, "needs a holdout to test on")
    if prof is None:
        return skipped(NAME, f"target column {target!r} is not among the evaluated columns")
    if not (prof.is_number or prof.kind in ("binary", "categorical")):
        return skipped(NAME, f"target column {target!r} is {prof.kind}, not numeric or categorical")
    feats = [
        p for p in profiles if p.name != target and p.kind in ("numeric", "datetime", "binary", "categorical")
    ]
    if not feats:
        return skipped(NAME, "no feature columns besides the target")
    top: dict[str, np.ndarray] = {}
    for p in feats:
        if p.is_nominal:
            n_cat = len(enc.categories[p.name])
            lookup = np.full(n_cat, float(MAX_CATEGORIES))
            counts = np.bincount(train.codes[p.name], minlength=n_cat)
            order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
            lookup[order] = np.arange(len(order))
            top[p.name] = lookup
    mask = [p.is_nominal for p in feats]
    classification = prof.is_nominal

    def xy(frame: EncodedFrame) -> tuple[np.ndarray, np.ndarray]:
        x = _matrix(feats, frame, top)
        if classification:
            y = frame.codes[target]
            missing_code = (
                enc.categories[target].index(MISSING_LABEL) if MISSING_LABEL in enc.categories[target] else -1
            )
            keep = y != missing_code
        else:
            y = frame.numbers[target]
            keep = np.isfinite(y)
        return x[keep], y[keep]

    x_syn, y_syn = xy(synthetic)
    x_tr, y_tr = xy(train)
    x_te, y_te = xy(holdout)
    if len(y_te) < 10 or len(y_syn) < 10:
        return skipped(NAME, "too few rows with a target value")
    results: dict[str, dict] = {}
    # One OpenMP thread: these tables are small, and spinning threads on a busy CPU cost 10x.
    with threadpool_limits(limits=1, user_api="openmp"):
        _fit_both(
            results,
            classification,
            mask,
            seed,
            x_te,
            y_te,
            (("synthetic", x_syn, y_syn), ("real", x_tr, y_tr)),
        )
    key = "auc" if classification else "r2"
    syn_m = results.get("synthetic", {}).get(key)
    real_m = results.get("real", {}).get(key)
    ratio = round(syn_m / real_m, 4) if syn_m is not None and real_m not in (None, 0) else None
    comp = Component(
        NAME,
        None,
        ratio,
        {
            "target": target,
            "task": "classification" if classification else "regression",
            "metric": key,
            "train_synthetic_test_real": results.get("synthetic"),
            "train_real_test_real": results.get("real"),
            "utility_ratio": ratio,
            "n_features": len(feats),
            "n_test": int(len(y_te)),
        },
    )
    return comp


def _fit_both(
    results: dict[str, dict],
    classification: bool,
    mask: list[bool],
    seed: int,
    x_te: np.ndarray,
    y_te: np.ndarray,
    tables: tuple[tuple[str, np.ndarray, np.ndarray], ...],
) -> None:
    for label, x_all, y in tables:
        # A feature with no value at all in this table (a synthetic column generated all-missing)
        # carries nothing to learn, and scikit-learn's binner fails on it: leave it out of this fit.
        usable = np.isfinite(x_all).any(axis=0)
        if not usable.any():
            results[label] = {"note": "every feature column is missing in the training table"}
            continue
        x, x_test = x_all[:, usable], x_te[:, usable]
        kept_mask = [m for m, keep in zip(mask, usable, strict=True) if keep]
        dropped = int((~usable).sum())
        if classification:
            if len(np.unique(y)) < 2:
                results[label] = {"note": "only one class in the training table"}
                continue
            model = HistGradientBoostingClassifier(
                max_iter=100, random_state=seed, categorical_features=kept_mask
            )
            model.fit(x, y)
            proba = model.predict_proba(x_test)
            pred = model.classes_[proba.argmax(1)]
            auc = _auc(y_te, proba, model.classes_)
            results[label] = {
                "accuracy": round(float(accuracy_score(y_te, pred)), 4),
                "auc": None if auc is None else round(auc, 4),
            }
        else:
            model = HistGradientBoostingRegressor(
                max_iter=100, random_state=seed, categorical_features=kept_mask
            )
            model.fit(x, y)
            results[label] = {"r2": round(float(r2_score(y_te, model.predict(x_test))), 4)}
        if dropped:
            results[label]["features_all_missing"] = dropped
