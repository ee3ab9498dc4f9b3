"""The pure parts of ``make bench-quality`` (scripts/bench_quality_metrics.py): numpy/pandas only,
so these run in the project venv without the bench venv."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_quality_metrics as bqm  # noqa: E402


def population(n: int, seed: int) -> pd.DataFrame:
    """Mixed table: correlated numbers, categories (with missing values), an ISO date."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    job = rng.choice(["a", "b", "c", "d", "e"], n).astype(object)
    job[rng.random(n) < 0.05] = None
    return pd.DataFrame(
        {
            "age": np.round(40 + 10 * z + rng.normal(size=n), 0),
            "income": np.round(np.exp(10 + 0.3 * z + 0.2 * rng.normal(size=n)), 2),
            "job": job,
            "flag": np.where(z + rng.normal(size=n) > 0, "yes", "no"),
            "day": (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")).strftime(
                "%Y-%m-%d"
            ),
        }
    )


def test_split_is_deterministic_and_halves() -> None:
    df = population(1001, 1)
    tr1, ho1 = bqm.split_train_holdout(df, 42)
    tr2, ho2 = bqm.split_train_holdout(df, 42)
    pd.testing.assert_frame_equal(tr1, tr2)
    pd.testing.assert_frame_equal(ho1, ho2)
    assert (len(tr1), len(ho1)) == (501, 500)
    assert len(pd.concat([tr1, ho1]).drop_duplicates()) == len(df.drop_duplicates())
    tr3, _ = bqm.split_train_holdout(df, 7)
    assert not tr3.equals(tr1)


def test_dcr_share_fresh_sample_is_about_half_copy_is_one() -> None:
    df = population(4000, 2)
    train, holdout = bqm.split_train_holdout(df, 0)
    fresh = population(2000, 3)
    share_fresh = bqm.dcr_share(train, holdout, fresh)["dcr_share"]
    assert share_fresh == pytest.approx(0.5, abs=0.06)
    share_copy = bqm.dcr_share(train, holdout, bqm.copy_of_train(train, 2000))["dcr_share"]
    assert share_copy > 0.97


def test_exact_copies_and_references() -> None:
    df = population(2000, 4)
    train, holdout = bqm.split_train_holdout(df, 0)
    copy = bqm.copy_of_train(train, 500, seed=1)
    assert bqm.exact_copies(train, copy) == 500
    # a CSV round trip (ints read back as floats, strings as objects) changes nothing
    as_text = copy.astype({"age": int}).astype(str).replace({"None": None})
    assert bqm.exact_copies(train, as_text) == 500
    assert bqm.exact_copies(train, holdout) <= 2  # continuous income: no accidental matches
    marg = bqm.independent_marginals(train, 700, seed=1)
    assert list(marg.columns) == list(train.columns) and len(marg) == 700
    assert set(marg["flag"]) <= set(train["flag"])
    # both halves of one row are changed: a copy with one value altered is no longer exact
    altered = copy.copy()
    altered.loc[:99, "income"] += 1.0
    assert bqm.exact_copies(train, altered) == 400


def test_tstr_classes_are_fixed_from_the_real_training_split() -> None:
    target = pd.Series(["a"] * 30 + ["b"] * 20 + ["c"] * 19 + [None] * 40 + [1] * 25, dtype=object)
    assert bqm.tstr_classes(target) == ["1", "a", "b"]  # "c" has 19 rows, missing values are no class
    assert bqm.tstr_classes(target, min_rows=19) == ["1", "a", "b", "c"]


def test_tstr_auc_leaves_rows_of_classes_outside_the_task_out_of_fit_and_test() -> None:
    """The scorer (bench venv code; sklearn is in the project venv too): a class outside the task
    changes nothing, in the synthetic fit set or in the holdout."""
    pytest.importorskip("sklearn")
    import bench_quality_peer as peer

    rng = np.random.default_rng(5)

    def table(n: int) -> pd.DataFrame:
        x = rng.normal(size=n)
        y = np.where(x + 0.5 * rng.normal(size=n) > 0, "up", "down").astype(object)
        return pd.DataFrame({"x": x, "colour": rng.choice(["r", "g"], n), "y": y})

    fit, test = table(600), table(400)
    tiny = pd.DataFrame({"x": [5.0, 6.0, -7.0], "colour": ["r", "g", "r"], "y": ["odd"] * 3})
    classes = bqm.tstr_classes(pd.concat([fit, tiny])["y"])
    assert classes == ["down", "up"]
    plain = peer.tstr_auc(fit, test, "y", classes)
    assert 0.7 < plain < 1.0
    with_tiny = peer.tstr_auc(
        pd.concat([fit, tiny], ignore_index=True), pd.concat([test, tiny]), "y", classes
    )
    assert with_tiny == plain
    # the same rows inside the task do change the fit: the filter is what keeps them out
    assert peer.tstr_auc(pd.concat([fit, tiny]), pd.concat([test, tiny]), "y", [*classes, "odd"]) != plain
