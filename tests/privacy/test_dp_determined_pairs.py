"""Determined pairs under DP: a code and its label (``education`` / ``education_num``) found from a
noisy joint histogram, applied to generated rows, and accounted in the schema's budget."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from safe_synthesizer.config import SafeSynthesizerParameters
from safe_synthesizer.privacy.accounting import LENGTH_SIGMA_FACTOR, schema_epsilon_for
from safe_synthesizer.privacy.schema import (
    MAX_PAIR_HISTOGRAMS,
    candidate_pairs,
    determined_map,
    dp_schema,
    noisy_joint_counts,
    related_names,
    reserved_pair_histograms,
)
from safe_synthesizer.schema import ColumnSchema, TableSchema, apply_determined_columns

LEVELS = [f"level-{i:02d}" for i in range(12)]


def params(epsilon: float = 4.0) -> SafeSynthesizerParameters:
    return SafeSynthesizerParameters.model_validate({"privacy": {"dp_enabled": True, "epsilon": epsilon}})


def coded_table(n: int = 20_000, seed: int = 3) -> pd.DataFrame:
    """A label with a skewed distribution, its 1:1 integer code, a country most rows share and an
    unrelated category: only (label, code) is determined."""
    rng = np.random.default_rng(seed)
    weights = np.geomspace(1.0, 0.04, len(LEVELS))
    label_idx = rng.choice(len(LEVELS), n, p=weights / weights.sum())
    return pd.DataFrame(
        {
            "grade_label": [LEVELS[i] for i in label_idx],
            "grade_code": label_idx + 1,
            "country": rng.choice(["US", "MX", "CA", "DE"], n, p=[0.9, 0.04, 0.03, 0.03]),
            "colour": rng.choice(["red", "green", "blue", "cyan", "pink"], n),
            "amount": rng.gamma(2.0, 100.0, n).round(2),
        }
    )


def test_related_names_share_a_word_in_any_naming_style():
    assert related_names("education", "education_num")
    assert related_names("stateCode", "state_name")
    assert not related_names("marital_status", "relationship")


def test_candidates_come_from_names_and_dp_value_sets_only():
    columns = [
        ColumnSchema("grade_label", "categorical", categories=LEVELS),
        ColumnSchema("grade_code", "integer", minimum=1, maximum=13),  # 13 values: within 20 %
        ColumnSchema("colour", "categorical", categories=["r", "g", "b", "c", "p"]),
        ColumnSchema("size", "integer", minimum=1, maximum=5),
        ColumnSchema("amount", "number", minimum=0, maximum=1e4),
    ]
    assert candidate_pairs(columns, 2) == [("grade_label", "grade_code"), ("colour", "size")]
    assert candidate_pairs(columns, 1) == [("grade_label", "grade_code")]
    # an integer never determines: the categorical side is the determinant
    assert candidate_pairs(list(reversed(columns)), 1) == [("grade_label", "grade_code")]


def test_a_noisy_one_to_one_grid_is_determined_and_a_skewed_column_is_not():
    rng = np.random.default_rng(0)
    sigma = 30.0
    counts = np.diag([4000, 2000, 900, 400, 250])
    noisy = counts + np.rint(rng.normal(0, sigma, counts.shape)).astype(int)
    domain_a, domain_b = list("abcde"), [1, 2, 3, 4, 5]
    assert determined_map(noisy, domain_a, domain_b, sigma) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    # every level's rows mostly share one country value: by rows "determined", by columns not
    skewed = np.zeros((5, 5), dtype=int)
    skewed[:, 0] = [4000, 2000, 900, 400, 250]
    skewed[:, 1] = [40, 20, 9, 4, 2]
    assert determined_map(skewed, domain_a, domain_b, sigma) is None
    # a grid that is noise only is never determined
    assert (
        determined_map(np.rint(rng.normal(0, sigma, (5, 5))).astype(int), domain_a, domain_b, sigma) is None
    )


def test_noisy_joint_counts_match_the_exact_grid_without_noise_and_skip_values_outside_it():
    a = pd.Series(["x", "y", "x", None, "z"])
    b = pd.Series([1.0, 2.0, 1.0, 1.0, 2.0])
    grid = noisy_joint_counts(a, b, ["x", "y"], [1, 2], 0.0, np.random.default_rng(0))
    assert grid.tolist() == [[2, 0], [0, 1]]


def test_dp_schema_finds_the_code_of_a_label_and_nothing_else():
    table = coded_table()
    schema, ledger = dp_schema(table, params(), seed=11)
    by_name = {c.name: c for c in schema.columns}
    code = by_name["grade_code"]
    assert code.determined_by == "grade_label"
    assert code.determined_map and all(
        code.determined_map[lbl] == LEVELS.index(lbl) + 1 for lbl in code.determined_map
    )
    assert len(code.determined_map) >= 8  # the rarest levels may stay below the threshold
    assert by_name["country"].determined_by is None and by_name["colour"].determined_by is None
    pairs = ledger["pairs"]
    assert pairs["histograms"] == reserved_pair_histograms(3, 2) == MAX_PAIR_HISTOGRAMS
    assert {
        "columns": ["grade_label", "grade_code"],
        "determined": True,
        "levels_mapped": len(code.determined_map),
    } in pairs["tested"]
    # the reserved joint histograms are in the accounted total, and the total stays in budget
    per_column = sum(m["histograms"] for m in ledger["columns"].values())
    assert ledger["histograms"] + ledger["length_histograms"] == per_column + pairs["histograms"]
    assert ledger["length_histograms"] == 3  # one per text column, at the coarser noise
    assert ledger["length_sigma"] == ledger["sigma"] * LENGTH_SIGMA_FACTOR
    spent = schema_epsilon_for(
        ledger["sigma"],
        ledger["histograms"],
        ledger["delta_gaussian"],
        coarse_histograms=ledger["length_histograms"],
    )
    assert spent <= ledger["epsilon_reserved"] * (1 + 1e-9)
    # the map survives the adapter's dataset_schema.json
    assert TableSchema.from_json(schema.to_json()).columns[1].determined_map == code.determined_map


def test_generated_rows_take_the_determined_value_and_unmapped_levels_keep_theirs():
    schema = TableSchema(
        [
            ColumnSchema("grade_label", "categorical", categories=["a", "b", "c"]),
            ColumnSchema(
                "grade_code", "integer", determined_by="grade_label", determined_map={"a": 1, "b": 2}
            ),
        ]
    )
    generated = pd.DataFrame({"grade_label": ["a", "b", "c", None, "a"], "grade_code": [2, 2, 7, 5, 1]})
    out, changed = apply_determined_columns(generated, schema)
    assert out["grade_code"].tolist() == [1, 2, 7, 5, 1]
    assert changed == {"grade_code": 1}
    assert out["grade_code"].dtype == generated["grade_code"].dtype
    assert generated["grade_code"].tolist() == [2, 2, 7, 5, 1]  # the input is not modified


def test_without_dp_nothing_is_determined():
    from safe_synthesizer.schema import infer_schema

    schema: Any = infer_schema(coded_table(2000))
    assert all(c.determined_by is None for c in schema.columns)
