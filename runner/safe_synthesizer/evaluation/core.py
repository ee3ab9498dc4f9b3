"""The evaluation entry point: quality (SQS), privacy (DPS) and diagnostics in one JSON-ready result.

``train`` is the training split *before* PII replacement, ``holdout`` the raw holdout split (None
when the job had none), ``synthetic`` the generated table. Sampling: the SQS columns are the
columns shared by train and synthetic, at most ``sqs_report_columns`` (the first
``mandatory_columns`` always kept, the rest drawn with seed 2112); each table is sampled to at most
``sqs_report_rows`` rows (seed 424242). Privacy metrics use their own samples (see
:mod:`.membership_inference`, :mod:`.dcr`, :mod:`.attribute_inference`).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..autoconfig import DEFAULT_SEED
from ..config.parameters import EvaluationParameters
from . import column_distribution as cd
from . import correlation as corr
from . import deep_structure as ds
from . import text_semantic as tsem
from . import text_structure as tstr
from ._distance import RecordEncoder, nn_distances
from ._frame import (
    BINARY,
    CATEGORICAL,
    CONSTANT,
    DATETIME,
    NUMERIC,
    TABULAR_KINDS,
    TEXT,
    ColumnProfile,
    EncodedFrame,
    Encoding,
    encode_frames,
    profile_column,
    sample_rows,
    select_columns,
)
from .attribute_inference import attribute_inference
from .component import Component, skipped
from .dcr import dcr_share, exact_copies
from .dps import aggregate_dps
from .embeddings import MODEL_PACKAGE, get_embedder
from .grading import (
    clip_score,
    correlation_score,
    deep_structure_score,
    distribution_score,
    privacy_grade,
    quality_grade,
    text_structure_score,
)
from .membership_inference import membership_inference
from .pii_replay import PiiReplayInput
from .pii_replay import pii_replay as pii_replay_table
from .sqs import Z_WARN, aggregate_sqs, prediction_range, score_range, size_factor
from .utility import utility

COLUMN_SEED = 2112
ROW_SEED = 424242
TEXT_MAX_ROWS = 1000
PRIVACY_MAX_HOLDOUT = 5000
PRIVACY_MAX_MEMBERS = 10_000
PRIVACY_MAX_SYNTHETIC = 20_000
DCR_MAX_QUERIES = 5000
REFERENCE_BUDGET_S = 12.0
REFERENCE_MIN_BOOT, REFERENCE_MAX_BOOT = 5, 30
HEATMAP_MAX_COLUMNS = 40
QUALITY_COMPONENTS = (
    cd.NAME,
    corr.NAME,
    ds.NAME,
    tsem.NAME,
    tstr.NAME,
)
DISTANCE_TO_SCORE: dict[str, Callable[[float], float]] = {
    cd.NAME: distribution_score,
    corr.NAME: correlation_score,
    ds.NAME: deep_structure_score,
    tstr.NAME: text_structure_score,
}


@dataclass
class EvaluationResult:
    """Scores and every metric behind them (JSON-ready: aggregates only, no records)."""

    sqs: float | None
    dps: float | None
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self, indent: int | None = 2) -> str:
        """The whole result as JSON (NaN and inf become null)."""
        return json.dumps(_jsonable({"sqs": self.sqs, "dps": self.dps, **self.metrics}), indent=indent)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


class _Steps:
    """Progress reporting and timings."""

    NAMES = (
        "prepare",
        "column distribution",
        "correlation",
        "deep structure",
        "text",
        "real-data reference",
        "privacy distances",
        "attribute inference",
        "pii replay",
        "utility",
    )

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self.done = 0
        self._t = time.perf_counter()
        self._name: str | None = None

    def start(self, name: str) -> None:
        self._close()
        self._name = name
        self._t = time.perf_counter()
        if self.progress is not None:
            self.progress.update("evaluate", step=self.done, total=len(self.NAMES), message=name)

    def _close(self) -> None:
        if self._name is not None:
            self.timings[self._name.replace(" ", "_")] = round(time.perf_counter() - self._t, 3)
            self.done += 1
            self._name = None

    def finish(self, **metrics: float | int | str) -> None:
        self._close()
        if self.progress is not None:
            self.progress.update(
                "evaluate", step=len(self.NAMES), total=len(self.NAMES), message="done", **metrics
            )


def _text_embeddings(
    text_cols: list[str], frames: dict[str, EncodedFrame], seed: int, notes: list[str]
) -> dict[str, dict[str, np.ndarray]]:
    """Unit embeddings of up to TEXT_MAX_ROWS non-missing texts per table and text column."""
    embedder = get_embedder()
    if embedder is None:
        notes.append(
            f"text semantic similarity skipped: the offline embedding model ({MODEL_PACKAGE}) is not installed"
        )
        return {}
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for col in text_cols:
        per: dict[str, list[str]] = {}
        for key, frame in frames.items():
            texts = [t for t in frame.texts[col] if t]
            if len(texts) > TEXT_MAX_ROWS:
                texts = [texts[i] for i in sorted(rng.choice(len(texts), TEXT_MAX_ROWS, replace=False))]
            per[key] = texts
        n_real = len(per.get("train", [])) + len(per.get("holdout", []))
        if n_real < tsem.MIN_TEXTS:
            notes.append(
                f"text semantic similarity skipped for {col!r}: fewer than {tsem.MIN_TEXTS} real texts"
            )
            continue
        if n_real < tsem.WARN_TEXTS:
            notes.append(f"text semantic similarity for {col!r} rests on only {n_real} real texts")
        n = min(len(per["train"]), len(per["synthetic"]))
        per["train"], per["synthetic"] = per["train"][:n], per["synthetic"][:n]
        out[col] = {key: embedder.encode(texts) for key, texts in per.items()}
    return out


@dataclass
class _Quality:
    """Everything the SQS components need for one (reference, other) comparison."""

    profiles: list[ColumnProfile]
    corr_cols: list[ColumnProfile]
    ref: EncodedFrame
    enc: Encoding
    ref_matrix: np.ndarray | None
    ref_unique: dict[str, float]
    text_stats_ref: dict[str, np.ndarray]

    def components(
        self, other: EncodedFrame, text_stats_other: dict[str, np.ndarray]
    ) -> tuple[dict[str, Component], np.ndarray | None]:
        """The four distance-based components (text semantic is separate)."""
        comps = {cd.NAME: cd.column_distribution(self.profiles, self.ref, other, self.enc)}
        c, mat = corr.column_correlation(self.corr_cols, self.ref_matrix, other, self.ref_unique)
        comps[corr.NAME] = c
        comps[ds.NAME] = ds.deep_structure(self.profiles, self.ref, other)
        if self.text_stats_ref:
            comps[tstr.NAME] = tstr.text_structure(self.text_stats_ref, text_stats_other)
        return comps, mat


def _take_stats(stats: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in stats.items()}


def _real_data_reference(
    q: _Quality,
    synthetic_comps: dict[str, Component],
    n_synthetic: int,
    holdout: EncodedFrame,
    stats_hold: dict[str, np.ndarray],
    embeddings: dict[str, dict[str, np.ndarray]],
    seed: int,
    warnings_out: list[str],
) -> dict[str, Any]:
    """Holdout-vs-train scores with 95% ranges, and the too-good-to-be-true check of the synthetic
    distances against the range rescaled to the synthetic sample size."""
    rng = np.random.default_rng(seed + 11)
    m = holdout.n_rows
    if m < 20 or n_synthetic < 1:
        return {"skipped": "needs at least 20 holdout rows"}
    ref_comps, _ = q.components(holdout, stats_hold)
    boots: dict[str, list[float]] = {k: [] for k in ref_comps}
    t0 = time.perf_counter()
    n_boot = REFERENCE_MAX_BOOT
    b = 0
    while b < n_boot:
        idx = rng.integers(0, m, m)
        comps, _ = q.components(holdout.take(idx), _take_stats(stats_hold, idx))
        for k, c in comps.items():
            if c.raw is not None:
                boots[k].append(c.raw)
        b += 1
        if b == 1:
            per = max(time.perf_counter() - t0, 1e-6)
            n_boot = int(min(REFERENCE_MAX_BOOT, max(REFERENCE_MIN_BOOT, REFERENCE_BUDGET_S // per)))
    factor = size_factor(m, n_synthetic, q.ref.n_rows)
    out: dict[str, Any] = {
        "rows": m,
        "synthetic_rows": n_synthetic,
        "size_factor": round(factor, 4),
        "bootstrap_replicates": b,
        "components": {},
    }
    for name, rc in ref_comps.items():
        sc = synthetic_comps.get(name)
        if rc.raw is None or rc.score is None:
            out["components"][name] = {"skipped": "; ".join(rc.notes) or "not computable"}
            continue
        to_score = DISTANCE_TO_SCORE[name]
        sd = float(np.std(boots[name], ddof=1)) if len(boots[name]) > 1 else 0.0
        lo, hi = prediction_range(rc.raw, sd)
        # The reference at the synthetic sample size: sampling-noise distances scale with f.
        d_n, lo_n, hi_n = rc.raw * factor, lo * factor, hi * factor
        threshold = prediction_range(rc.raw, sd, Z_WARN)[0] * factor
        syn_raw = None if sc is None else sc.raw
        too_good = syn_raw is not None and (
            (threshold > 0 and syn_raw < threshold) or (syn_raw <= 1e-9 and rc.raw > 1e-6)
        )
        entry: dict[str, Any] = {
            "reference_score": clip_score(to_score(d_n)),
            "reference_distance": round(d_n, 6),
            "reference_score_ci95": score_range(lo_n, hi_n, to_score),
            "reference_distance_ci95": [round(lo_n, 6), round(hi_n, 6)],
            "holdout_score": rc.score,
            "holdout_distance": rc.raw,
            "holdout_distance_ci95": [round(lo, 6), round(hi, 6)],
            "bootstrap_sd": round(sd, 6),
            "too_good_threshold_distance": round(threshold, 6),
            "synthetic_distance": syn_raw,
            "too_good_to_be_true": bool(too_good),
        }
        out["components"][name] = entry
        if entry["too_good_to_be_true"]:
            warnings_out.append(
                f"too good to be true: {name.replace('_', ' ')} of the synthetic data (distance "
                f"{syn_raw:.4g}) is closer to the training data than real unseen data gets "
                f"(holdout {rc.raw:.4g}, 95% range {lo:.4g}–{hi:.4g}; alarm below {threshold:.4g} at the "
                "synthetic sample size); the synthetic data may copy training records"
            )
    # Text semantic reference: one half of the holdout's texts plays "synthetic", the other "test".
    sem_ref: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for col, emb in embeddings.items():
        h = emb.get("holdout")
        if h is None or len(h) < 20:
            continue
        perm = rng.permutation(len(h))
        half = len(h) // 2
        sem_ref[col] = (emb["train"], h[perm[:half]], h[perm[half:]])
    if sem_ref:
        rc = tsem.text_semantic(sem_ref)
        subs = []
        for _ in range(10):
            sub = {}
            for col, (tr, sy, te) in sem_ref.items():
                pick = lambda a: a[rng.choice(len(a), max(2, int(0.8 * len(a))), replace=False)]  # noqa: E731
                sub[col] = (pick(tr), pick(sy), pick(te))
            c = tsem.text_semantic(sub)
            if c.score is not None:
                subs.append(c.score)
        ci = (
            [round(float(np.quantile(subs, 0.025)), 2), round(float(np.quantile(subs, 0.975)), 2)]
            if subs
            else None
        )
        out["components"][tsem.NAME] = {
            "reference_score": rc.score,
            "reference_score_ci95": ci,
            "method": "holdout split in halves (synthetic/test); 80% subsampling interval",
        }
    return out


def evaluate(
    train: pd.DataFrame,
    holdout: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    config: EvaluationParameters,
    *,
    pii_replay: PiiReplayInput | None = None,
    dp_ledger: dict | None = None,
    seed: int = DEFAULT_SEED,
    progress: Any = None,
) -> EvaluationResult:
    """Score ``synthetic`` against ``train`` (and ``holdout``) for quality and privacy.

    BLAS/OpenMP run single-threaded here (small matrices; spinning threads on a busy CPU cost up
    to 10x); the large nearest-neighbour products use every core (:func:`._distance.nn_distances`).
    """
    with threadpool_limits(limits=1), np.errstate(all="ignore"), warnings.catch_warnings():
        # Degenerate tables (empty, constant, all missing) make numpy warn; the metrics handle them.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _evaluate(
            train,
            holdout,
            synthetic,
            config,
            pii=pii_replay,
            dp_ledger=dp_ledger,
            seed=seed,
            progress=progress,
        )


def _evaluate(
    train: pd.DataFrame,
    holdout: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    config: EvaluationParameters,
    *,
    pii: PiiReplayInput | None,
    dp_ledger: dict | None,
    seed: int,
    progress: Any,
) -> EvaluationResult:
    t_start = time.perf_counter()
    warnings_out: list[str] = []
    notes: list[str] = []
    steps = _Steps(progress)
    metrics: dict[str, Any] = {"config": config.model_dump(mode="json")}
    if not config.enabled:
        steps.finish()
        return EvaluationResult(None, None, {**metrics, "skipped": "evaluation is disabled"})

    # ---------------------------------------------------------------- prepare
    steps.start("prepare")
    train = train.reset_index(drop=True)
    synthetic = synthetic.reset_index(drop=True)
    train.columns = [str(c) for c in train.columns]
    synthetic.columns = [str(c) for c in synthetic.columns]
    shared = [c for c in train.columns if c in set(synthetic.columns)]
    missing_in_syn = [c for c in train.columns if c not in set(synthetic.columns)]
    extra_in_syn = [c for c in synthetic.columns if c not in set(train.columns)]
    if missing_in_syn:
        warnings_out.append(f"{len(missing_in_syn)} training column(s) missing from the synthetic data")
    if extra_in_syn:
        warnings_out.append(f"{len(extra_in_syn)} synthetic column(s) not in the training data (ignored)")
    if holdout is not None:
        holdout = holdout.reset_index(drop=True)
        holdout.columns = [str(c) for c in holdout.columns]
        lacking = [c for c in shared if c not in set(holdout.columns)]
        if lacking or len(holdout) == 0:
            warnings_out.append("holdout lacks columns or rows: evaluated without a holdout")
            holdout = None
    if holdout is None:
        warnings_out.append(
            "no holdout: membership inference, DCR, the real-data reference and utility are skipped; "
            "DPS is the attribute inference score alone"
        )
    if len(synthetic) == 0 or not shared or len(train) == 0:
        reason = (
            "the synthetic data has no rows"
            if len(synthetic) == 0
            else "the training data has no rows"
            if len(train) == 0
            else "the synthetic data shares no column with the training data"
        )
        warnings_out.append(f"nothing to evaluate: {reason}")
        steps.finish()
        return EvaluationResult(
            None,
            None,
            _jsonable({**metrics, "skipped": reason, "warnings": warnings_out, "notes": notes}),
        )
    columns = select_columns(shared, config.sqs_report_columns, config.mandatory_columns, COLUMN_SEED)
    if len(columns) < len(shared):
        notes.append(
            f"{len(columns)} of {len(shared)} columns evaluated (sqs_report_columns={config.sqs_report_columns})"
        )
    rows = config.sqs_report_rows
    tr_df = sample_rows(train[columns], rows, ROW_SEED)
    sy_df = sample_rows(synthetic[columns], rows, ROW_SEED)
    ho_df = sample_rows(holdout[columns], rows, ROW_SEED) if holdout is not None else None
    profiles = [profile_column(tr_df[c]) for c in columns]
    frames, enc = encode_frames(profiles, {"train": tr_df, "synthetic": sy_df, "holdout": ho_df})
    tr, sy, ho = frames["train"], frames["synthetic"], frames["holdout"]
    assert tr is not None and sy is not None
    kinds = pd.Series([p.kind for p in profiles]).value_counts().to_dict() if profiles else {}
    metrics["dataset"] = {
        "rows": {
            "train": len(train),
            "holdout": 0 if holdout is None else len(holdout),
            "synthetic": len(synthetic),
        },
        "rows_evaluated": {
            "train": tr.n_rows,
            "holdout": 0 if ho is None else ho.n_rows,
            "synthetic": sy.n_rows,
        },
        "columns": {
            "train": train.shape[1],
            "synthetic": synthetic.shape[1],
            "shared": len(shared),
            "evaluated": len(columns),
        },
        "missing_columns_in_synthetic": len(missing_in_syn),
        "extra_columns_in_synthetic": len(extra_in_syn),
        "missing_cell_fraction": {
            "train": round(float(train[shared].isna().mean().mean()) if shared else 0.0, 4),
            "synthetic": round(float(synthetic[shared].isna().mean().mean()) if shared else 0.0, 4),
        },
        "column_kinds": {str(k): int(v) for k, v in kinds.items()},
    }
    skipped_cols = {p.name: p.note for p in profiles if p.note and "skipped" in p.note}
    text_cols = [p.name for p in profiles if p.kind == TEXT]

    # ---------------------------------------------------------------- SQS components
    steps.start("column distribution")
    corr_cols = corr.correlation_columns(profiles)
    ref_unique = corr.unique_shares(corr_cols)
    stats = {
        key: {c: tstr.text_statistics(f.texts[c]) for c in text_cols}
        for key, f in frames.items()
        if f is not None
    }
    comps: dict[str, Component] = {cd.NAME: cd.column_distribution(profiles, tr, sy, enc)}
    steps.start("correlation")
    ref_matrix = corr.correlation_matrix(corr_cols, tr, ref_unique) if len(corr_cols) >= 2 else None
    comps[corr.NAME], syn_matrix = corr.column_correlation(corr_cols, ref_matrix, sy, ref_unique)
    excluded = [p.name for p in profiles if p not in corr_cols]
    if excluded and not comps[corr.NAME].skipped:
        comps[corr.NAME].notes.append(
            f"{len(excluded)} column(s) not in the matrix (constant, empty, identifier or text)"
        )
    steps.start("deep structure")
    comps[ds.NAME] = ds.deep_structure(profiles, tr, sy)
    steps.start("text")
    embeddings: dict[str, dict[str, np.ndarray]] = {}
    if text_cols:
        comps[tstr.NAME] = tstr.text_structure(stats["train"], stats["synthetic"])
        if ho is None:
            comps[tsem.NAME] = skipped(tsem.NAME, "needs a holdout")
        else:
            sem_notes: list[str] = []
            embeddings = _text_embeddings(
                text_cols, {"train": tr, "synthetic": sy, "holdout": ho}, seed, sem_notes
            )
            if embeddings:
                comps[tsem.NAME] = tsem.text_semantic(
                    {c: (e["train"], e["synthetic"], e["holdout"]) for c, e in embeddings.items()}
                )
                comps[tsem.NAME].notes.extend(sem_notes)
            else:
                comps[tsem.NAME] = skipped(
                    tsem.NAME, "; ".join(sem_notes) or "no text column with enough texts"
                )
    else:
        comps[tstr.NAME] = skipped(tstr.NAME, "no text columns")
        comps[tsem.NAME] = skipped(tsem.NAME, "no text columns")

    n_tab = sum(1 for p in profiles if p.kind in (NUMERIC, DATETIME, BINARY, CATEGORICAL, CONSTANT))
    n_text = len(comps[tstr.NAME].details.get("per_column", {})) if not comps[tstr.NAME].skipped else 0
    sqs_raw = aggregate_sqs({k: c.score for k, c in comps.items()}, n_tab, n_text)
    sqs = clip_score(sqs_raw)

    # ---------------------------------------------------------------- real-data reference
    steps.start("real-data reference")
    quality = _Quality(profiles, corr_cols, tr, enc, ref_matrix, ref_unique, stats["train"])
    if ho is not None:
        reference = _real_data_reference(
            quality, comps, sy.n_rows, ho, stats["holdout"], embeddings, seed, warnings_out
        )
        ref_scores = {
            k: v.get("reference_score")
            for k, v in reference.get("components", {}).items()
            if isinstance(v, dict)
        }
        reference["reference_sqs"] = clip_score(aggregate_sqs(ref_scores, n_tab, n_text))
        holdout_scores = {
            k: v.get("holdout_score", v.get("reference_score"))
            for k, v in reference.get("components", {}).items()
            if isinstance(v, dict)
        }
        reference["holdout_sqs"] = clip_score(aggregate_sqs(holdout_scores, n_tab, n_text))
    else:
        reference = {"skipped": "no holdout"}

    # ---------------------------------------------------------------- privacy
    steps.start("privacy distances")
    privacy: dict[str, Any] = {}
    priv_cols = [p for p in profiles if p.kind in TABULAR_KINDS]
    pcomps: dict[str, Component] = {}
    if not priv_cols:
        notes.append("privacy distances skipped: no numeric or categorical columns")
    n_h = min(len(holdout), PRIVACY_MAX_HOLDOUT) if holdout is not None else 0
    n_members = min(
        len(train), PRIVACY_MAX_MEMBERS if holdout is None else max(n_h, min(10 * n_h, PRIVACY_MAX_MEMBERS))
    )
    ptr_df = sample_rows(train[columns], n_members, seed + 1)
    psy_df = sample_rows(synthetic[columns], PRIVACY_MAX_SYNTHETIC, seed + 2)
    pho_df = sample_rows(holdout[columns], n_h, seed + 3) if holdout is not None else None
    pframes, _ = encode_frames(priv_cols, {"train": ptr_df, "synthetic": psy_df, "holdout": pho_df})
    ptr, psy, pho = pframes["train"], pframes["synthetic"], pframes["holdout"]
    assert ptr is not None and psy is not None
    if config.mia_enabled:
        if pho is None:
            pcomps["membership_inference_protection"] = skipped(
                "membership_inference_protection", "needs a holdout"
            )
        elif priv_cols and psy.n_rows > 0:
            encoder = RecordEncoder(priv_cols).fit(ptr, pho)
            x_tr, x_sy, x_ho = encoder.transform(ptr), encoder.transform(psy), encoder.transform(pho)
            d_mem, _ = nn_distances(x_tr, x_sy)
            d_non, _ = nn_distances(x_ho, x_sy)
            pcomps["membership_inference_protection"] = membership_inference(d_mem[:, 0], d_non[:, 0], seed=1)
            rng = np.random.default_rng(seed + 4)
            n_eq = min(pho.n_rows, ptr.n_rows)
            q_idx = rng.choice(len(x_sy), min(len(x_sy), DCR_MAX_QUERIES), replace=False)
            t_idx = rng.choice(len(x_tr), n_eq, replace=False)
            h_idx = rng.choice(len(x_ho), n_eq, replace=False)
            d_t, _ = nn_distances(x_sy[q_idx], x_tr[t_idx])
            d_h, _ = nn_distances(x_sy[q_idx], x_ho[h_idx])
            privacy["dcr"] = {**dcr_share(d_t[:, 0], d_h[:, 0]), "n_per_side": int(n_eq)}
            if privacy["dcr"]["share_ci95"] and privacy["dcr"]["share_ci95"][0] > 0.5:
                warnings_out.append(
                    f"DCR: {privacy['dcr']['share_closer_to_train']:.0%} of synthetic records are closer to "
                    "the training sample than to an equal-size holdout sample (0.5 expected without memorisation)"
                )
        else:
            pcomps["membership_inference_protection"] = skipped(
                "membership_inference_protection", "no numeric or categorical columns"
            )
    else:
        pcomps["membership_inference_protection"] = skipped(
            "membership_inference_protection", "mia_enabled is false"
        )
    if "dcr" not in privacy:
        privacy["dcr"] = {"skipped": "needs a holdout, mia_enabled and tabular columns"}
    privacy["exact_copies"] = exact_copies(train, synthetic, holdout, shared)
    copies = privacy["exact_copies"]
    # Rows common in the population recur in any sample: the holdout's copy rate is the baseline.
    expected = copies.get("share_holdout_copying_train", 0.0) * len(synthetic)
    if (
        copies["synthetic_rows_copying_train"] > max(2.0 * expected, 0.0)
        and copies["synthetic_rows_copying_train"]
    ):
        warnings_out.append(
            f"{copies['synthetic_rows_copying_train']} synthetic row(s) are exact copies of training rows "
            f"(about {expected:.0f} expected from the holdout's rate)"
        )

    steps.start("attribute inference")
    if config.aia_enabled:
        aia_syn = psy
        pcomps["attribute_inference_protection"] = attribute_inference(
            priv_cols, ptr, aia_syn, config.quasi_identifier_count
        )
    else:
        pcomps["attribute_inference_protection"] = skipped(
            "attribute_inference_protection", "aia_enabled is false"
        )

    steps.start("pii replay")
    if config.pii_replay_enabled:
        text_like = [p.name for p in profiles if p.kind == TEXT]
        privacy["pii_replay"] = pii_replay_table(
            train,
            synthetic,
            pii,
            text_like,
            entities=config.pii_replay_entities,
            columns=config.pii_replay_columns,
        )
        replayed = privacy["pii_replay"].get("total_unique_replayed", 0)
        if replayed:
            warnings_out.append(
                f"PII replay: {replayed} distinct training PII value(s) reappear in the synthetic data"
            )
    else:
        privacy["pii_replay"] = {
            "rows": [],
            "notes": ["skipped: pii_replay_enabled is false"],
            "skipped": True,
        }

    dps = clip_score(aggregate_dps({k: c.score for k, c in pcomps.items()}))

    # ---------------------------------------------------------------- utility
    steps.start("utility")
    if config.target_column:
        util = utility(config.target_column, profiles, tr, sy, ho, enc, seed=seed)
        utility_out = {**util.details, "notes": util.notes}
        if util.notes and not util.details:
            utility_out["skipped"] = util.notes[0]
    else:
        utility_out = {"skipped": "no target_column configured"}

    # ---------------------------------------------------------------- DP
    dp: dict[str, Any]
    if dp_ledger:
        dp = {"enabled": True, **{k: dp_ledger.get(k) for k in _DP_KEYS if k in dp_ledger}}
    else:
        dp = {"enabled": False}

    # ---------------------------------------------------------------- charts (aggregates only)
    pii_cols = set(pii.column_entities) if pii is not None else set()
    charts: dict[str, Any] = {"columns": {}}
    for p in profiles:
        chart = cd.column_chart(p, tr, sy, enc, show_labels=p.name not in pii_cols)
        if chart is not None:
            charts["columns"][p.name] = chart
    if ref_matrix is not None and syn_matrix is not None:
        names = [p.name for p in corr_cols]
        keep = np.arange(len(names))
        if len(names) > HEATMAP_MAX_COLUMNS:
            diff = np.abs(ref_matrix - syn_matrix)
            keep = np.sort(np.argsort(-(diff.sum(0) + diff.sum(1)))[:HEATMAP_MAX_COLUMNS])
        sub = np.ix_(keep, keep)
        charts["correlation"] = {
            "columns": [names[i] for i in keep],
            "reference": ref_matrix[sub].round(3).tolist(),
            "synthetic": syn_matrix[sub].round(3).tolist(),
            "difference": np.abs(ref_matrix - syn_matrix)[sub].round(3).tolist(),
            "note": None
            if len(names) <= HEATMAP_MAX_COLUMNS
            else f"the {HEATMAP_MAX_COLUMNS} of {len(names)} columns with the largest differences",
        }
    proj = ds.project(profiles, tr, sy)
    if proj is not None:
        charts["pca"] = ds.density_grid(*proj)
    charts["text_structure"] = {
        c: tstr.structure_chart(stats["train"][c], stats["synthetic"][c]) for c in text_cols
    }
    steps.finish(sqs=sqs if sqs is not None else -1, dps=dps if dps is not None else -1)

    column_table = []
    per_js = comps[cd.NAME].details.get("per_column_js", {})
    for p in profiles:
        row = p.to_dict()
        row["distribution_js"] = per_js.get(p.name)
        row["pii_entity"] = pii.column_entities.get(p.name) if pii is not None else None
        column_table.append(row)

    metrics.update(
        {
            "sqs_grade": quality_grade(sqs),
            "dps_grade": privacy_grade(dps),
            "quality": {k: comps[k].to_dict() for k in QUALITY_COMPONENTS if k in comps},
            "real_data_reference": reference,
            "privacy": {
                **{k: c.to_dict() for k, c in pcomps.items()},
                **privacy,
            },
            "utility": utility_out,
            "differential_privacy": dp,
            "columns": column_table,
            "skipped_columns": skipped_cols,
            "warnings": warnings_out,
            "notes": notes,
            "timings_seconds": {**steps.timings, "total": round(time.perf_counter() - t_start, 3)},
            "charts": charts,
            "seed": seed,
        }
    )
    return EvaluationResult(sqs, dps, _jsonable(metrics))


_DP_KEYS = (
    "epsilon_spent",
    "epsilon_training",
    "epsilon_preprocessing",
    "delta",
    "noise_multiplier",
    "sampling_rate",
    "steps",
    "accountant",
)
