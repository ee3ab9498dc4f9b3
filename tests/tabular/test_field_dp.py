"""DP-SGD with the field-token engine through the CLI: ledger, DP vocabularies, valid output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from safe_synthesizer.cli import main as cli_main
from safe_synthesizer.privacy.accounting import epsilon_for

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
COLUMNS = ["age", "education", "sex", "hours_per_week", "capital_gain", "income"]
EPSILON = 4.0


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("field-dp")
    pd.read_csv(DEMO)[COLUMNS].to_csv(tmp / "data.csv", index=False)
    config = {
        "enable_replace_pii": False,
        "data": {"holdout": 0.1, "random_state": 5},
        "privacy": {
            "dp_enabled": True,
            "epsilon": EPSILON,
            "public_domains": {
                "sex": {"values": ["Female", "Male"]},
                "income": {"values": ["<=50K", ">50K"]},
            },
        },
        "training": {"num_input_records_to_sample": 9000},  # 5 epochs: a short test
        "generation": {"num_records": 400},
        "evaluation": {"enabled": False},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    code = cli_main(
        [
            "run",
            "--device",
            "cpu",
            "--config",
            str(tmp / "config.yaml"),
            "--data-source",
            str(tmp / "data.csv"),
            "--output",
            str(tmp / "out"),
            "--quiet",
        ]
    )
    return {"code": code, "out": tmp / "out"}


def test_dp_field_run_spends_at_most_the_budget(dp_run):
    assert dp_run["code"] == 0
    summary = json.loads((dp_run["out"] / "summary.json").read_text())
    assert summary["engine"]["kind"] == "field_tokens"
    ledger = summary["privacy"]
    assert ledger["epsilon_spent"] <= EPSILON
    assert ledger["sampling"] == "poisson" and ledger["steps"] > 30
    # the reported training epsilon is what an independent computation gives for (σ, q, T, δ)
    again = epsilon_for(
        ledger["noise_multiplier"], ledger["sampling_rate"], ledger["steps"], ledger["delta_training"]
    )
    assert again == pytest.approx(ledger["epsilon_training"], rel=1e-3, abs=1e-3)
    # training-loss figures are statistics of the raw data: withheld
    assert summary["training"]["train_loss"] is None and summary["training"]["validation_loss"] is None


def test_dp_vocabularies_come_from_the_dp_schema(dp_run):
    tokenizer = json.loads((dp_run["out"] / "adapter" / "field_tokenizer.json").read_text())
    for codec in tokenizer["columns"]:
        assert codec["rare_levels"] == []  # no raw level frequencies
        if codec["kind"] == "numeric" and codec["coarse_edges"]:
            widths = pd.Series(codec["coarse_edges"]).diff().dropna().round(6)
            assert widths.nunique() == 1  # equal width between the DP bounds, not raw quantiles


def test_dp_output_is_valid_and_keeps_some_signal(dp_run):
    synthetic = pd.read_csv(dp_run["out"] / "synthetic_data.csv")
    assert list(synthetic.columns) == COLUMNS and len(synthetic) == 400
    real = pd.read_csv(DEMO)
    assert set(synthetic["sex"].dropna()) <= set(real["sex"])  # declared public domain
    assert synthetic["age"].dropna().map(float.is_integer).all()
    # the majority class survives the noise
    assert synthetic["income"].value_counts().index[0] == real["income"].value_counts().index[0]


def test_dp_generation_matches_the_marginals_the_dp_schema_released(dp_run, monkeypatch):
    """The published adapter carries the DP schema's noisy counts, and generation from it passes
    their targets to the sampler (a non-DP adapter passes none)."""
    import numpy as np

    from safe_synthesizer.schema import TableSchema
    from safe_synthesizer.tabular import engine
    from safe_synthesizer.tabular.marginals import marginal_targets
    from safe_synthesizer.tabular.tokenizer import FieldTokenizer

    adapter = dp_run["out"] / "adapter"
    schema = TableSchema.from_json((adapter / "dataset_schema.json").read_text())
    education = next(c for c in schema.columns if c.name == "education")
    assert education.noisy_counts and all(len(pair) == 2 for pair in education.noisy_counts)
    seen = {}

    def capture(*args, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("captured")

    monkeypatch.setattr(engine, "generate_field_records", capture)
    with pytest.raises(RuntimeError, match="captured"):
        engine.generate_field_engine(adapter, 10, temperature=1.0, top_p=1.0, seed=0, device="cpu")
    tokenizer = FieldTokenizer.from_dict(json.loads((adapter / "field_tokenizer.json").read_text()))
    expected = marginal_targets(tokenizer, schema)
    assert seen["targets"] and set(seen["targets"]) == set(expected)
    for q, target in expected.items():
        assert np.array_equal(seen["targets"][q], target, equal_nan=True)
    # the same adapter marked non-DP passes no targets
    card = json.loads((adapter / "model_card.json").read_text())
    (adapter / "model_card.json").write_text(json.dumps({**card, "dp": False}))
    try:
        seen.clear()
        with pytest.raises(RuntimeError, match="captured"):
            engine.generate_field_engine(adapter, 10, temperature=1.0, top_p=1.0, seed=0, device="cpu")
        assert seen["targets"] is None
    finally:
        (adapter / "model_card.json").write_text(json.dumps(card, indent=2))
