"""The holdout split: sizes, caps, seeds, grouped splits and the errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from safe_synthesizer.config import DataParameters
from safe_synthesizer.errors import UserInputError
from safe_synthesizer.holdout import (
    DEFAULT_SEED,
    MIN_HOLDOUT,
    MIN_ROWS_FOR_HOLDOUT,
    HoldoutError,
    holdout_size,
    min_rows_required,
    split_holdout,
)


def table(n: int = 1000, groups: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"row_id": np.arange(n), "value": rng.normal(size=n), "label": rng.choice(["a", "b"], n)}
    )
    if groups:
        df["user"] = [f"u{i % groups:04d}" for i in range(n)]
    return df


def check_partition(df: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame) -> None:
    assert set(train["row_id"]).isdisjoint(holdout["row_id"])
    assert sorted([*train["row_id"], *holdout["row_id"]]) == sorted(df["row_id"])
    assert list(train.columns) == list(df.columns) == list(holdout.columns)
    assert train["row_id"].is_monotonic_increasing and holdout["row_id"].is_monotonic_increasing


def test_default_ratio_and_seed():
    df = table(1000)
    original = df.copy()
    train, holdout, info = split_holdout(df, DataParameters())
    assert len(holdout) == 50 and len(train) == 950
    check_partition(df, train, holdout)
    assert info.seed == DEFAULT_SEED == 42 and info.seed_source == "default"
    assert info.holdout_rows == 50 and info.train_rows == 950 and info.enabled
    pd.testing.assert_frame_equal(df, original)  # input untouched
    assert list(train.index) == list(range(950))
    json.dumps(info.as_dict())


def test_deterministic_per_seed():
    df = table(1000)
    first = split_holdout(df, DataParameters(random_state=7))[1]["row_id"].tolist()
    again = split_holdout(df, DataParameters(random_state=7))[1]["row_id"].tolist()
    other = split_holdout(df, DataParameters(random_state=8))[1]["row_id"].tolist()
    assert first == again
    assert first != other
    _, _, info = split_holdout(df, DataParameters(random_state=7), seed=3)
    assert info.seed == 3 and info.seed_source == "argument"
    assert split_holdout(df, DataParameters(random_state=7))[2].seed_source == "random_state"


def test_count_and_cap():
    df = table(1000)
    assert len(split_holdout(df, DataParameters(holdout=30))[1]) == 30
    train, holdout, info = split_holdout(df, DataParameters(holdout=0.5, max_holdout=120))
    assert len(holdout) == 120 and info.target_rows == 120
    check_partition(df, train, holdout)


@pytest.mark.parametrize("params", [DataParameters(holdout=0), DataParameters(max_holdout=0)])
def test_no_holdout(params):
    df = table(50)  # below the 200-row minimum: fine without a holdout
    train, holdout, info = split_holdout(df, params)
    assert len(train) == 50 and len(holdout) == 0
    assert list(holdout.columns) == list(df.columns)
    assert not info.enabled and info.seed == DEFAULT_SEED


def test_holdout_below_minimum():
    with pytest.raises(HoldoutError, match=f"needs at least {MIN_HOLDOUT}") as info:
        split_holdout(table(300), DataParameters(holdout=0.02))  # 6 records
    assert "config.data.holdout" in str(info.value)
    assert isinstance(info.value, UserInputError)
    with pytest.raises(HoldoutError, match="max_holdout 5"):
        split_holdout(table(300), DataParameters(max_holdout=5))


def test_too_few_rows_for_holdout():
    with pytest.raises(HoldoutError, match=f"199 rows; a holdout needs at least {MIN_ROWS_FOR_HOLDOUT}"):
        split_holdout(table(199), DataParameters())


def test_holdout_count_leaves_no_training_rows():
    with pytest.raises(HoldoutError, match="leave none for training"):
        holdout_size(250, 250, 2000)


def test_min_rows_required():
    assert min_rows_required(DataParameters())[0] == 200
    assert min_rows_required(DataParameters(holdout=0)) == (1, "")


def test_grouped_split_keeps_groups_whole():
    df = table(1200, groups=97)  # groups of 12 or 13 rows
    train, holdout, info = split_holdout(df, DataParameters(group_training_examples_by="user"))
    check_partition(df, train, holdout)
    assert set(train["user"]).isdisjoint(holdout["user"])
    assert abs(len(holdout) - 60) <= 13, "within one group of the 5% target"
    assert info.holdout_groups == holdout["user"].nunique()
    assert info.train_groups == train["user"].nunique()
    assert info.holdout_groups + info.train_groups == 97
    again = split_holdout(df, DataParameters(group_training_examples_by="user"))[1]
    pd.testing.assert_frame_equal(holdout, again)


def test_grouped_split_respects_max_holdout():
    df = table(1000, groups=50)  # groups of 20
    _, holdout, _ = split_holdout(
        df, DataParameters(group_training_examples_by="user", holdout=0.5, max_holdout=70)
    )
    assert 0 < len(holdout) <= 70 and len(holdout) % 20 == 0


def test_grouped_groups_too_large():
    df = table(1000, groups=4)  # groups of 250 rows, max_holdout 100
    with pytest.raises(HoldoutError, match=r"whole groups of 'user'.*smallest group 250"):
        split_holdout(df, DataParameters(group_training_examples_by="user", max_holdout=100))


def test_grouped_single_group():
    df = table(300, groups=1)
    with pytest.raises(HoldoutError, match="single group"):
        split_holdout(df, DataParameters(group_training_examples_by="user"))


def test_group_column_missing():
    with pytest.raises(HoldoutError, match=r"column 'customer' is not in the input \(columns: 'row_id'"):
        split_holdout(table(300), DataParameters(group_training_examples_by="customer"))


def test_group_column_with_nulls_names_rows_not_values():
    df = table(300, groups=30)
    df.loc[[4, 9], "user"] = None
    with pytest.raises(HoldoutError, match=r"'user' is empty in 2 row\(s\) \(data rows 5, 10\)") as info:
        split_holdout(df, DataParameters(group_training_examples_by="user"))
    assert "u00" not in str(info.value)
