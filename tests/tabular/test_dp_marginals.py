"""DP marginal matching: the DP schema keeps its released noisy counts, they become per-position
targets, and generation matches each batch's marginal to them (post-processing of DP releases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from safe_synthesizer.config import SafeSynthesizerParameters
from safe_synthesizer.privacy.schema import dp_schema
from safe_synthesizer.schema import ColumnSchema, TableSchema, infer_schema
from safe_synthesizer.tabular.generate import match_marginal, sample_token_rows
from safe_synthesizer.tabular.marginals import (
    categorical_target,
    marginal_targets,
    numeric_target,
    numeric_value_masses,
    released_units,
)
from safe_synthesizer.tabular.model import build_model, size_model
from safe_synthesizer.tabular.tokenizer import NA_LABEL, fit_tokenizer
from safe_synthesizer.tabular.train import init_output_bias_from_targets


def _domains(schema: TableSchema) -> dict:
    """The tokenizer domains of a DP schema (as the engine builds them)."""
    from safe_synthesizer.tabular.engine import dp_domains_from_schema

    return dp_domains_from_schema(schema)


def _dp_params() -> SafeSynthesizerParameters:
    return SafeSynthesizerParameters.model_validate({"privacy": {"dp_enabled": True, "epsilon": 4.0}})


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 20_000
    return pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], size=n, p=[0.6, 0.3, 0.1]),
            "age": np.clip(rng.normal(40, 12, n).round(), 17, 90).astype(int),
            "amount": rng.lognormal(5, 1, n).round(2),
        }
    )


def test_the_dp_schema_keeps_noisy_counts_and_the_plain_schema_none(table):
    schema, _ = dp_schema(table, _dp_params(), seed=11)
    by = {c.name: c for c in schema.columns}
    counts = dict((k, c) for k, c in by["color"].noisy_counts)
    true = table["color"].value_counts()
    assert set(counts) == {"red", "green", "blue"}
    # noisy (σ ≈ 30 here), not the raw counts, but close to them
    assert any(counts[k] != true[k] for k in counts)
    assert all(abs(counts[k] - true[k]) < 300 for k in counts)
    age = by["age"]
    assert age.noisy_buckets and age.noisy_integers
    values = [v for v, _ in age.noisy_integers]
    assert values == list(range(int(age.minimum), int(age.maximum) + 1))
    assert by["amount"].noisy_buckets and by["amount"].noisy_integers is None
    total = sum(c for *_, c in by["amount"].noisy_buckets)
    assert abs(total - len(table)) < 2_000  # the buckets in range hold about every record
    plain = infer_schema(table)
    assert all(c.noisy_counts is None and c.noisy_buckets is None for c in plain.columns)
    # it survives the schema's JSON round trip (dataset_schema.json, read back at generation)
    again = TableSchema.from_json(schema.to_json())
    assert again.columns[1].noisy_integers == age.noisy_integers


def test_categorical_target_clips_negative_counts_and_zeroes_what_was_not_released():
    codec = fit_tokenizer(
        pd.DataFrame({"c": ["a", "b", "c"]}), dp_domains={"c": {"categories": ["a", "b", "c"]}}
    )
    codec = codec.columns[0]
    column = ColumnSchema(
        "c", "categorical", categories=["a", "b", "c"], noisy_counts=[["a", 300], ["b", -5], [None, 100]]
    )
    target = categorical_target(codec, column)
    shares = dict(zip(codec.labels, target, strict=True))
    assert shares["a"] == pytest.approx(0.75) and shares[NA_LABEL] == pytest.approx(0.25)
    assert shares["b"] == 0 and shares["c"] == 0  # negative noisy count; not released
    assert categorical_target(codec, ColumnSchema("c", "categorical")) is None


def test_records_of_dropped_levels_go_to_the_missing_token():
    """Training encodes a level the DP schema dropped as missing; its records' mass (the released
    table size, the median of the categorical columns' sums, less the column's sum) goes there."""
    codecs = fit_tokenizer(
        pd.DataFrame({"edu": ["hs", "ba"], "race": ["x", "y"]}),
        dp_domains={"edu": {"categories": ["ba", "hs"]}, "race": {"categories": ["x", "y"]}},
    ).columns
    codec = codecs[0]
    edu = ColumnSchema("edu", "categorical", categories=["ba", "hs"], noisy_counts=[["hs", 600], ["ba", 300]])
    full = [
        ColumnSchema(
            name, "categorical", categories=["x", "y"], noisy_counts=[["x", 500], ["y", total - 500]]
        )
        for name, total in (("sex", 1000), ("race", 1010), ("kind", 990))
    ]
    schema = TableSchema([edu, *full])
    assert released_units(schema) == 995  # median of 900, 1000, 1010, 990
    shares = dict(zip(codec.labels, categorical_target(codec, edu, released_units(schema)), strict=True))
    assert shares[NA_LABEL] == pytest.approx(95 / 995)  # 995 - 900 records of dropped levels
    assert shares["hs"] == pytest.approx(600 / 995) and shares["ba"] == pytest.approx(300 / 995)
    # a column whose counts already cover the table gets no missing mass from it
    race = dict(
        zip(codecs[1].labels, categorical_target(codecs[1], full[1], released_units(schema)), strict=True)
    )
    assert race[NA_LABEL] == 0
    assert released_units(TableSchema([ColumnSchema("n", "integer")])) is None


def test_numeric_masses_spread_buckets_over_their_integers_by_the_noisy_integer_counts():
    column = ColumnSchema(
        "n",
        "integer",
        minimum=8,
        maximum=12,
        noisy_buckets=[[8.0, 9.51, 100.0], [9.51, 11.31, 50.0], [11.31, 13.45, 40.0]],
        noisy_integers=[[8, 30], [9, 90], [10, -4], [11, 20], [12, 10]],
    )
    values, masses = numeric_value_masses(column, integer=True)
    got = dict(zip(values.tolist(), masses.tolist(), strict=True))
    # bucket [8, 9.51): 100 split 30:90; [9.51, 11.31): 50 all on 11 (10's count is negative);
    # [11.31, 13.45): integers 12 and 13, 13 outside the range: 40 on 12
    assert got == pytest.approx({8.0: 25.0, 9.0: 75.0, 10.0: 0.0, 11.0: 50.0, 12.0: 40.0})


def test_numeric_target_sums_the_masses_per_coarse_token_and_leaves_missing_free(table):
    schema, _ = dp_schema(table, _dp_params(), seed=2)
    tokenizer = fit_tokenizer(table, dp_domains=_domains(schema))
    by = {c.name: c for c in schema.columns}
    age_codec = next(c for c in tokenizer.columns if c.name == "age")
    target = numeric_target(age_codec, by["age"])
    assert np.isnan(target[-1]) and np.nansum(target) == pytest.approx(1.0)
    # the target is close to the real distribution of the coarse tokens (noise of a few per cent)
    q_age = next(q for q, p in enumerate(tokenizer.positions) if tokenizer.columns[p.column].name == "age")
    tokens = np.asarray(tokenizer.encode(table))[:, 1 + q_age] - age_codec.start
    real = np.bincount(tokens, minlength=age_codec.coarse_size) / len(table)
    assert 0.5 * np.abs(np.nan_to_num(target) - real).sum() < 0.05
    targets = marginal_targets(tokenizer, schema)
    firsts = {p.column: q for q, p in reversed(list(enumerate(tokenizer.positions)))}
    assert set(targets) == set(firsts.values())  # one target per column, on its first position


def test_match_marginal_moves_the_batch_mean_to_the_target_and_keeps_free_mass():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 5, generator=gen) * 2
    target = torch.tensor([0.5, 0.2, 0.0, 0.3, float("nan")])
    free_before = torch.softmax(logits, dim=-1)[:, 4].mean()
    shifted = logits + match_marginal(logits, target)
    mean = torch.softmax(shifted, dim=-1).mean(dim=0)
    constrained = 1 - float(mean[4])
    assert float(mean[4]) == pytest.approx(float(free_before), abs=1e-3)
    assert mean[[0, 1, 3]].tolist() == pytest.approx(
        [0.5 * constrained, 0.2 * constrained, 0.3 * constrained], abs=1e-3
    )
    assert float(mean[2]) == 0.0  # a zero target is never drawn
    # the order of each record's preferences is kept (a shift per token, the same for every record)
    diff = shifted[:, 0] - shifted[:, 1] - (logits[:, 0] - logits[:, 1])
    assert torch.allclose(diff, diff[0].expand_as(diff), atol=1e-5)


def test_generation_matches_a_deliberately_wrong_model_to_the_targets(table):
    """An untrained model (biases at a wrong marginal) samples the targets' marginals once they are
    given, and not without them: the matching, not the model, sets them."""
    schema, _ = dp_schema(table, _dp_params(), seed=4)
    tokenizer = fit_tokenizer(table, dp_domains=_domains(schema))
    model = build_model(tokenizer, size_model(len(table), len(tokenizer.positions), "cpu", dp=True), seed=0)
    targets = marginal_targets(tokenizer, schema)
    color_q = next(
        q for q, p in enumerate(tokenizer.positions) if tokenizer.columns[p.column].name == "color"
    )
    wrong = np.array([0.05, 0.05, 0.85, 0.05])  # blue, green, red, missing
    init_output_bias_from_targets(model, {color_q: wrong})

    def color_shares(with_targets: bool) -> np.ndarray:
        rows = sample_token_rows(
            model,
            tokenizer,
            20_000,
            temperature=1.0,
            top_p=1.0,
            generator=torch.Generator().manual_seed(1),
            device="cpu",
            targets=targets if with_targets else None,
        )
        frame = tokenizer.decode(rows, np.random.default_rng(0))
        return (
            frame["color"]
            .value_counts(normalize=True, dropna=False)
            .reindex(["blue", "green", "red"])
            .fillna(0)
            .to_numpy()
        )

    goal = np.array([targets[color_q][i] for i in range(3)])
    matched, unmatched = color_shares(True), color_shares(False)
    assert np.abs(matched - goal).max() < 0.02
    assert np.abs(unmatched - goal).max() > 0.1


def test_under_dp_a_column_without_missing_values_may_still_generate_them():
    """Whether a column has a missing value is not released under DP: the codec allows the missing
    token for every column (its marginal target sets how often), not only for those that had one."""
    frame = pd.DataFrame({"edu": ["hs", "ba", "hs"], "flag": [True, False, True]})
    tokenizer = fit_tokenizer(frame, dp_domains={"edu": {"categories": ["ba", "hs"]}})
    assert all(codec.nullable for codec in tokenizer.columns)
    assert all(tokenizer.forbidden(position) == [] for position in tokenizer.positions)
    plain = fit_tokenizer(frame)
    assert not any(codec.nullable for codec in plain.columns)
