"""A DP run of the whole pipeline on the demo data (small settings), as a user runs it: the CLI.

Checks what a user and the operator read after a DP run: the ledger in ``summary.json`` (training
and schema ε, δ, σ, q, steps, accountant, its cross-check), the DP section of the report and the
metrics, and ``epsilonSpent`` in the termination message the operator copies into the CR status.
"""

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
COLUMNS = ["age", "workclass", "education", "sex", "hours_per_week", "income"]
EPSILON = 8.0


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dp-run")
    pd.read_csv(DEMO)[COLUMNS].head(400).to_csv(tmp / "data.csv", index=False)
    config = {
        "enable_replace_pii": False,
        "data": {"holdout": 0.1, "random_state": 5},
        "privacy": {
            "dp_enabled": True,
            "epsilon": EPSILON,
            "public_domains": {"sex": {"values": ["Female", "Male"]}, "age": {"minimum": 17, "maximum": 90}},
        },
        "training": {
            "pretrained_model": "builtin:tiny-llama",
            "num_input_records_to_sample": 1440,
            "batch_size": 24,
            "gradient_accumulation_steps": 1,
            "learning_rate": 0.004,
        },
        "generation": {"num_records": 30, "temperature": 0.8, "use_structured_generation": True},
        "evaluation": {"target_column": "income", "mia_enabled": True, "aia_enabled": True},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    termination = tmp / "termination-log"
    termination.write_text("")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SAFE_SYNTH_TERMINATION_LOG", str(termination))
        env.setenv("SAFE_SYNTH_CACHE", str(tmp / "cache"))
        code = cli_main(
            [
                "run",
                "--config",
                str(tmp / "config.yaml"),
                "--data-source",
                str(tmp / "data.csv"),
                "--output",
                str(tmp / "out"),
                "--quiet",
            ]
        )
    return {"code": code, "out": tmp / "out", "termination": json.loads(termination.read_text())}


def test_dp_run_completes_with_structured_records(dp_run):
    assert dp_run["code"] == 0
    synthetic = pd.read_csv(dp_run["out"] / "synthetic_data.csv")
    assert list(synthetic.columns) == COLUMNS and len(synthetic) > 0
    # the declared domains bound the output (structured generation follows the schema)
    assert set(synthetic["sex"].dropna()) <= {"Female", "Male"}
    assert synthetic["age"].dropna().between(17, 90).all()


def test_summary_holds_the_ledger(dp_run):
    summary = json.loads((dp_run["out"] / "summary.json").read_text())
    ledger = summary["privacy"]
    print(
        "DP ledger: "
        + ", ".join(
            f"{k}={ledger[k]}"
            for k in (
                "epsilon_spent",
                "epsilon_training",
                "epsilon_preprocessing",
                "noise_multiplier",
                "steps",
            )
        )
    )
    assert ledger["epsilon_target"] == EPSILON
    assert 0 < ledger["epsilon_spent"] <= EPSILON
    assert ledger["epsilon_spent"] == pytest.approx(
        ledger["epsilon_training"] + ledger["epsilon_preprocessing"], abs=2e-4
    )
    assert ledger["privacy_unit"] == "record" and ledger["n_units"] == 360  # 400 rows, 10 % holdout
    assert ledger["sampling"] == "poisson" and ledger["noise_source"] == "OS entropy"
    assert ledger["steps"] == ledger["steps_planned"] == 1440 // 24
    # the reported ε is the accountant's for the recorded σ, q, T (recomputed independently here)
    recomputed = epsilon_for(
        ledger["noise_multiplier"], ledger["sampling_rate"], ledger["steps"], ledger["delta_training"]
    )
    assert ledger["epsilon_training"] == pytest.approx(recomputed, rel=1e-3)
    assert abs(ledger["epsilon_training_opacus_prv"] - recomputed) / recomputed < 0.01
    # the schema's own spend stays within its reserved share; declared public domains cost nothing
    schema = ledger["schema"]
    assert 0 < schema["epsilon"] <= ledger["epsilon_preprocessing"] + 1e-9
    for column in ("sex", "age"):
        assert schema["columns"][column] == {
            "mechanism": "declared public domain",
            "histograms": 0,
            "delta": 0.0,
        }
    paying = [c for c in COLUMNS if c not in ("sex", "age")]
    assert all(schema["columns"][c]["histograms"] > 0 for c in paying)
    assert all(schema["columns"][c]["sigma"] == schema["sigma"] > 0 for c in paying)
    # plus the joint histograms reserved for code <-> label pairs (privacy/schema.py)
    pairs = schema["pairs"]["histograms"]
    # (a text column's length histogram is counted apart, at its coarser noise)
    released = schema["histograms"] + schema["length_histograms"]
    assert released == sum(schema["columns"][c]["histograms"] for c in paying) + pairs
    # nothing computed on raw records without the budget
    assert summary["training"]["train_loss"] is None and summary["training"]["tokens_seen"] == 0


def test_report_metrics_and_status_carry_the_epsilon(dp_run):
    summary = json.loads((dp_run["out"] / "summary.json").read_text())
    spent = summary["privacy"]["epsilon_spent"]
    assert "evaluation_error" not in summary, summary.get("warnings")
    metrics = json.loads((dp_run["out"] / "evaluation_metrics.json").read_text())
    assert metrics["differential_privacy"]["epsilon_spent"] == spent
    html = (dp_run["out"] / "evaluation_report.html").read_text()
    assert "DP-SGD ledger" in html and f"{spent:.3g}" in html
    assert dp_run["termination"]["epsilonSpent"] == spent
    assert dp_run["termination"]["status"] in ("succeeded", "partial")
