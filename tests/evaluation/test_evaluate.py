"""End-to-end golden tests of evaluate(): identical data, shuffled columns, copied training data,
independent samples, odd and wide tables, the configuration switches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_tables import population, with_text

from safe_synthesizer.config.parameters import EvaluationParameters
from safe_synthesizer.evaluation import EvaluationResult, PiiReplayInput, evaluate
from safe_synthesizer.progress import ProgressHub

DEMO = Path(__file__).resolve().parents[2] / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"


@pytest.fixture(scope="module")
def results(tables) -> dict[str, EvaluationResult]:
    """evaluate() once per scenario, shared by the tests of this module."""
    cfg = EvaluationParameters(target_column="group")
    train, holdout, fresh = tables["train"], tables["holdout"], tables["fresh"]
    rng = np.random.default_rng(9)
    shuffled = fresh.apply(lambda s: pd.Series(rng.permutation(s.to_numpy()), name=s.name))
    return {
        "identical": evaluate(train, holdout, train.copy(), cfg),
        "copy": evaluate(train, holdout, train.sample(frac=1.0, random_state=4), cfg),
        "fresh": evaluate(train, holdout, fresh, cfg),
        "holdout": evaluate(train, holdout, holdout.copy(), cfg),
        "shuffled": evaluate(train, holdout, shuffled, cfg),
    }


def _q(result: EvaluationResult, name: str) -> float | None:
    return result.metrics["quality"][name]["score"]


def _p(result: EvaluationResult, name: str) -> dict:
    return result.metrics["privacy"][name]


def test_identical_data_scores_ten_on_quality(results):
    r = results["identical"]
    assert r.sqs == 10.0
    for name in ("column_distribution_stability", "column_correlation_stability", "deep_structure_stability"):
        assert _q(r, name) == 10.0
    assert r.metrics["sqs_grade"] == "Excellent"


def test_shuffled_columns_lose_correlation(results):
    fresh, shuffled = results["fresh"], results["shuffled"]
    assert _q(shuffled, "column_correlation_stability") < _q(fresh, "column_correlation_stability") - 3
    # marginals are kept by a column-wise shuffle
    assert _q(shuffled, "column_distribution_stability") >= 8.0
    assert shuffled.sqs < fresh.sqs


def test_training_copy_has_low_membership_protection_and_too_good_warning(results):
    r = results["copy"]
    mia = _p(r, "membership_inference_protection")
    assert mia["score"] <= 3.0
    assert mia["auc"] >= 0.95 and mia["auc_ci95"][0] > 0.9
    assert mia["tpr_at_1pct_fpr"] >= 0.9
    dcr = _p(r, "dcr")
    assert dcr["share_closer_to_train"] >= 0.7 and dcr["share_ci95"][0] > 0.5
    assert _p(r, "exact_copies")["synthetic_rows_copying_train"] == 1200
    assert any(w.startswith("too good to be true") for w in r.metrics["warnings"])
    flags = [c.get("too_good_to_be_true") for c in r.metrics["real_data_reference"]["components"].values()]
    assert any(flags)
    assert r.dps < results["fresh"].dps - 3


def test_independent_samples_score_high_on_quality_and_privacy(results):
    for key in ("fresh", "holdout"):
        r = results[key]
        assert r.sqs >= 8.0, key
        assert r.dps >= 8.0, key
        assert _p(r, "membership_inference_protection")["score"] >= 8.0
        assert not any(w.startswith("too good to be true") for w in r.metrics["warnings"]), key
    fresh = results["fresh"]
    lo, hi = _p(fresh, "membership_inference_protection")["auc_ci95"]
    assert lo <= 0.5 <= hi
    lo, hi = _p(fresh, "dcr")["share_ci95"]
    assert lo <= 0.5 <= hi
    assert _p(fresh, "exact_copies")["synthetic_rows_copying_train"] == 0
    # the synthetic score sits within the real-data reference's range
    ref = fresh.metrics["real_data_reference"]
    assert ref["reference_sqs"] >= 8.0
    for comp in ref["components"].values():
        lo, hi = comp["reference_score_ci95"]
        assert lo <= comp["reference_score"] <= hi


def test_utility_tstr(results):
    u = results["fresh"].metrics["utility"]
    assert u["task"] == "classification" and u["target"] == "group"
    assert u["train_synthetic_test_real"]["auc"] > 0.75
    assert 0.9 <= u["utility_ratio"] <= 1.1
    shuffled = results["shuffled"].metrics["utility"]
    assert shuffled["train_synthetic_test_real"]["auc"] < 0.65


def test_result_is_json_ready_without_records(results, tables):
    r = results["fresh"]
    text = r.to_json()
    data = json.loads(text)
    assert data["sqs"] == r.sqs and data["dps"] == r.dps
    for key in (
        "quality",
        "privacy",
        "real_data_reference",
        "utility",
        "timings_seconds",
        "dataset",
        "charts",
    ):
        assert key in data
    assert data["dataset"]["rows"] == {"train": 1200, "holdout": 600, "synthetic": 1200}
    # no raw numeric cell of the training data leaks into the metrics
    assert f"{tables['train']['income'].iloc[0]}" not in text


def test_regression_target_and_progress(tables):
    events = []
    hub = ProgressHub([events.append])
    cfg = EvaluationParameters(
        target_column="income", mia_enabled=False, aia_enabled=False, pii_replay_enabled=False
    )
    r = evaluate(tables["train"], tables["holdout"], tables["fresh"], cfg, progress=hub)
    u = r.metrics["utility"]
    assert u["task"] == "regression" and u["train_real_test_real"]["r2"] > 0.1
    assert {e.stage for e in events} == {"evaluate"}
    assert events[-1].step == events[-1].total and events[-1].message == "done"
    privacy = r.metrics["privacy"]
    assert privacy["membership_inference_protection"]["notes"] == ["skipped: mia_enabled is false"]
    assert privacy["attribute_inference_protection"]["score"] is None
    assert privacy["pii_replay"]["skipped"] is True
    assert r.dps is None


def test_no_holdout_means_dps_is_aia_only(tables, config):
    r = evaluate(tables["train"], None, tables["fresh"], config)
    assert r.dps == r.metrics["privacy"]["attribute_inference_protection"]["score"]
    assert r.metrics["privacy"]["membership_inference_protection"]["score"] is None
    assert any("no holdout" in w for w in r.metrics["warnings"])
    assert r.metrics["real_data_reference"] == {"skipped": "no holdout"}


def test_pii_replay_in_evaluate(tables, config):
    train = tables["train"].assign(email=[f"user{i}@example.com" for i in range(1200)])
    syn = tables["fresh"].assign(
        email=[f"user{i}@example.com" if i < 7 else f"new{i}@example.org" for i in range(1200)]
    )
    r = evaluate(train, tables["holdout"].assign(email="h@example.com"), syn, config, pii_replay=None)
    assert r.metrics["privacy"]["pii_replay"]["notes"] == ["skipped: PII stage did not run"]
    pii = PiiReplayInput(column_entities={"email": "email_address"})
    r = evaluate(train, None, syn, config, pii_replay=pii)
    row = r.metrics["privacy"]["pii_replay"]["rows"][0]
    assert (row["entity"], row["unique_synth"], row["total_synth"]) == ("email_address", 7, 7)
    assert any("PII replay" in w for w in r.metrics["warnings"])
    assert "user3@example.com" not in r.to_json()


def test_dp_ledger_is_reported(tables, config):
    ledger = {
        "epsilon_spent": 7.93,
        "delta": 1e-5,
        "noise_multiplier": 0.8,
        "accountant": "prv",
        "steps": 120,
    }
    r = evaluate(tables["train"], tables["holdout"], tables["fresh"], config, dp_ledger=ledger)
    dp = r.metrics["differential_privacy"]
    assert dp["enabled"] and dp["epsilon_spent"] == 7.93 and dp["accountant"] == "prv"


def test_row_and_column_limits_are_honoured(config):
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(400, 30)), columns=[f"c{i}" for i in range(30)])
    cfg = EvaluationParameters(sqs_report_rows=150, sqs_report_columns=8, mandatory_columns=2)
    r = evaluate(wide, wide.iloc[:100], wide.iloc[100:], cfg)
    ds = r.metrics["dataset"]
    assert ds["rows_evaluated"] == {"train": 150, "holdout": 100, "synthetic": 150}
    assert ds["columns"]["evaluated"] == 8
    names = [c["name"] for c in r.metrics["columns"]]
    assert names[:2] == ["c0", "c1"] and len(names) == 8


def test_disabled_evaluation(tables):
    r = evaluate(tables["train"], None, tables["fresh"], EvaluationParameters(enabled=False))
    assert r.sqs is None and r.dps is None and r.metrics["skipped"] == "evaluation is disabled"


def odd_table(n: int, seed: int) -> pd.DataFrame:
    """All-null, constant, ID, date, boolean, mixed-type, free-text, inf and list-valued columns."""
    rng = np.random.default_rng(seed)
    df = population(n, seed)
    df["empty"] = None
    df["const"] = "same"
    df["uid"] = [f"U{seed}-{i:06d}" for i in range(n)]
    df["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10_000, n), unit="h")
    df["when_str"] = df["when"].dt.strftime("%Y-%m-%d %H:%M")
    df["flag"] = rng.random(n) > 0.4
    df["flag_str"] = np.where(rng.random(n) > 0.5, "yes", "no")
    df["mixed"] = np.where(rng.random(n) > 0.5, rng.integers(0, 5, n).astype(str), "unknown")
    df["mostly_num"] = [str(v) if i % 50 else "n/a" for i, v in enumerate(rng.integers(0, 100, n))]
    df["with_inf"] = np.where(rng.random(n) > 0.95, np.inf, rng.normal(size=n))
    df["sparse"] = np.where(rng.random(n) > 0.9, rng.normal(size=n), np.nan)
    df["lists"] = [[1, 2]] * n
    df[42] = rng.integers(0, 3, n)  # a non-string column name
    return with_text(df, seed)


def test_odd_data_does_not_crash_and_explains_skips(config, monkeypatch):
    # Also the path without the offline embedding model: text semantic similarity is skipped, not faked.
    monkeypatch.setattr("safe_synthesizer.evaluation.core.get_embedder", lambda: None)
    train, holdout, syn = odd_table(400, 1), odd_table(200, 2), odd_table(400, 3)
    syn = syn.drop(columns=["sparse"]).assign(extra=1)
    syn["age"] = syn["age"].astype(object)
    syn.loc[:5, "age"] = "not a number"
    r = evaluate(train, holdout, syn, EvaluationParameters(target_column="flag"))
    kinds = {c["name"]: c["kind"] for c in r.metrics["columns"]}
    assert kinds["empty"] == "empty" and kinds["const"] == "constant" and kinds["uid"] == "identifier"
    assert kinds["when"] == "datetime" and kinds["when_str"] == "datetime"
    assert kinds["flag"] == "binary" and kinds["flag_str"] == "binary" and kinds["mostly_num"] == "numeric"
    assert kinds["notes"] == "text" and kinds["42"] == "numeric" and kinds["lists"] == "constant"
    skipped = r.metrics["skipped_columns"]
    assert "skipped because" in skipped["empty"] and "identifier" in skipped["uid"]
    assert any("missing from the synthetic" in w for w in r.metrics["warnings"])
    assert r.sqs is not None and r.dps is not None
    assert r.metrics["quality"]["text_structure_similarity"]["score"] is not None
    semantic = r.metrics["quality"]["text_semantic_similarity"]
    assert semantic["score"] is None and "not installed" in semantic["notes"][0]
    json.loads(r.to_json())


def test_wide_table_250_plus_columns(config):
    rng = np.random.default_rng(0)
    n, k = 300, 260
    base = rng.normal(size=(n, k))
    train = pd.DataFrame(base, columns=[f"f{i}" for i in range(k)])
    for i in range(0, k, 10):
        train[f"f{i}"] = np.where(base[:, i] > 0, "p", "n")
    syn = train.sample(frac=1.0, random_state=1).reset_index(drop=True)
    syn.iloc[:, 1] = rng.permutation(syn.iloc[:, 1].to_numpy())
    r = evaluate(train, train.iloc[:100], syn, config)
    assert r.metrics["dataset"]["columns"]["evaluated"] == 250
    assert r.metrics["charts"]["correlation"]["note"].startswith("the 40 of")
    assert r.sqs is not None


def _demo_split() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    df = pd.read_csv(DEMO)
    train = df.sample(frac=0.6, random_state=0)
    rest = df.drop(train.index)
    return train, rest.iloc[: len(rest) // 2], rest.iloc[len(rest) // 2 :]


@pytest.mark.skipif(not DEMO.exists(), reason="demo data not present")
def test_demo_data_fresh_sample_scores_high(monkeypatch):
    monkeypatch.setattr("safe_synthesizer.evaluation.core.get_embedder", lambda: None)  # fast path
    train, holdout, fresh = _demo_split()
    r = evaluate(train, holdout, fresh, EvaluationParameters(sqs_report_rows=2000, target_column="income"))
    assert r.sqs >= 7.0 and r.dps >= 7.0
    assert r.metrics["utility"]["train_synthetic_test_real"]["auc"] > 0.75
    copy = evaluate(train, holdout, train.copy(), EvaluationParameters(sqs_report_rows=2000))
    assert copy.dps < r.dps and any(w.startswith("too good") for w in copy.metrics["warnings"])


@pytest.mark.heavy
@pytest.mark.skipif(not DEMO.exists(), reason="demo data not present")
def test_demo_data_with_text_embeddings():
    train, holdout, fresh = _demo_split()
    r = evaluate(train, holdout, fresh, EvaluationParameters(sqs_report_rows=2000))
    assert r.metrics["quality"]["text_semantic_similarity"]["score"] >= 7.0
    assert r.sqs >= 7.0


@pytest.mark.parametrize(
    "case",
    ["empty_synthetic", "tiny", "one_column", "no_shared_column", "all_null_synthetic", "constant_text"],
)
def test_degenerate_inputs_do_not_crash(case, tables):
    from safe_synthesizer.evaluation import render_report

    train, holdout = tables["train"], tables["holdout"]
    inputs = {
        "empty_synthetic": (train, holdout, train.iloc[:0]),
        "tiny": (train.iloc[:5], holdout.iloc[:3], tables["fresh"].iloc[:4]),
        "one_column": (train[["x"]], holdout[["x"]], tables["fresh"][["x"]]),
        "no_shared_column": (train, holdout, pd.DataFrame({"zzz": [1, 2, 3]})),
        "all_null_synthetic": (train, holdout, train.map(lambda v: None)),
        "constant_text": (
            pd.DataFrame({"t": ["a b c d e f"] * 30}),
            None,
            pd.DataFrame({"t": ["x y z"] * 30}),
        ),
    }[case]
    r = evaluate(*inputs, EvaluationParameters(target_column="group"))
    json.loads(r.to_json())
    assert "<html" in render_report(r, case)
    if case in ("empty_synthetic", "no_shared_column"):
        assert r.sqs is None and r.dps is None
        assert r.metrics["warnings"][-1].startswith("nothing to evaluate")


def test_tstr_leaves_out_a_feature_the_synthetic_data_generated_all_missing(tables):
    """A small DP run can generate one feature column entirely missing: TSTR still scores.

    scikit-learn's binner raises on a feature with no value (the CI failure of 2026-12-02 that
    cost a DP run its whole report); the utility fit now leaves such a feature out and says so.
    """
    train, holdout, fresh = tables["train"], tables["holdout"], tables["fresh"].copy()
    numeric = [c for c in fresh.columns if c != "group" and pd.api.types.is_numeric_dtype(fresh[c])]
    assert numeric, "the evaluation tables need a numeric feature"
    fresh[numeric[0]] = np.nan
    r = evaluate(train, holdout, fresh, EvaluationParameters(target_column="group"))
    tstr = r.metrics["utility"]["train_synthetic_test_real"]
    assert tstr["auc"] is not None and tstr["features_all_missing"] == 1
    assert "features_all_missing" not in r.metrics["utility"]["train_real_test_real"]
