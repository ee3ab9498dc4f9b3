"""The field-token engine through the real CLI: default engine choice, PII columns generated, reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from safe_synthesizer.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("field")
    frame = pd.read_csv(DEMO).head(600)
    # a code column that its label determines (one thing coded twice): generation must keep the pair
    codes = {level: f"E{i:02d}" for i, level in enumerate(sorted(frame["education"].dropna().unique()))}
    frame["education_code"] = frame["education"].map(codes)
    data = tmp / "data.csv"
    frame.to_csv(data, index=False)
    config = tmp / "config.yaml"
    # NeMo-style defaults otherwise: only the size of the run is set
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"random_state": 3},
                "training": {"num_input_records_to_sample": 6000},
                "generation": {"num_records": 300},
                "evaluation": {"enabled": False},
            }
        )
    )
    out = tmp / "out"
    code = cli_main(
        [
            "run",
            "--device",
            "cpu",
            "--config",
            str(config),
            "--data-source",
            str(data),
            "--output",
            str(out),
            "--quiet",
        ]
    )
    return {"code": code, "out": out, "input": frame, "tmp": tmp, "config": config, "data": data}


def test_default_engine_is_field_tokens_and_every_record_is_valid(run):
    assert run["code"] == 0
    summary = json.loads((run["out"] / "summary.json").read_text())
    assert summary["engine"]["kind"] == "field_tokens"
    assert summary["status"] == "succeeded"
    synthetic = pd.read_csv(run["out"] / "synthetic_data.csv")
    assert len(synthetic) == 300
    assert list(synthetic.columns) == list(run["input"].columns)
    real = run["input"]
    for column in ("workclass", "education", "sex", "income", "relationship"):
        assert set(synthetic[column].dropna()) <= set(real[column].dropna())
    assert synthetic["age"].between(real["age"].min(), real["age"].max()).all()
    # the engine's own defaults replaced NeMo's LoRA ones (batch 1 x 8, lr 5e-4, temperature 0.9)
    assert summary["resolved_config"]["batch_size"] > 8
    assert summary["resolved_generation"]["temperature"] == 1.0


def test_a_code_and_its_label_agree_in_every_generated_row(run):
    summary = json.loads((run["out"] / "summary.json").read_text())
    assert summary["generation"]["determined_columns"]["education_code"]["determined_by"] == "education"
    real, synthetic = run["input"], pd.read_csv(run["out"] / "synthetic_data.csv")
    pairs = dict(zip(real["education"], real["education_code"], strict=True))
    counts = real["education"].value_counts()
    frequent = synthetic["education"].map(counts).fillna(0) >= 5  # levels rarer than that are not mapped
    assert frequent.mean() > 0.9
    agree = synthetic.loc[frequent, "education"].map(pairs) == synthetic.loc[frequent, "education_code"]
    assert agree.all(), synthetic.loc[frequent & ~agree, ["education", "education_code"]].head()


def test_pii_columns_look_real_are_row_consistent_and_new(run):
    synthetic = pd.read_csv(run["out"] / "synthetic_data.csv")
    real = run["input"]
    assert synthetic["email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}").all()
    # both sides are Faker-style "first.last@freemail" addresses: a few coincide by chance, never many
    assert synthetic["email"].isin(set(real["email"])).mean() < 0.05
    assert not set(synthetic["ssn"]) & set(real["ssn"])
    assert synthetic["ssn"].str.fullmatch(r"\d{3}-\d{2}-\d{4}").all()

    # the email is built from the row's own name
    def shares_name(row) -> bool:
        local = row["email"].split("@")[0].lower()
        return any(part.lower() in local for part in str(row["name"]).split() if len(part) > 2)

    assert synthetic.apply(shares_name, axis=1).mean() > 0.8
    summary = json.loads((run["out"] / "summary.json").read_text())
    assert {"name", "email", "ssn"} <= set(summary["pii_columns_generated"]["columns"])


def test_generation_only_reuses_the_field_model(run):
    out2 = run["tmp"] / "out2"
    code = cli_main(
        [
            "run",
            "generate",
            "--device",
            "cpu",
            "--config",
            str(run["config"]),
            "--data-source",
            str(run["data"]),
            "--output",
            str(out2),
            "--adapter",
            str(run["out"]),
            "--quiet",
        ]
    )
    assert code == 0
    again = pd.read_csv(out2 / "synthetic_data.csv")
    assert len(again) == 300 and list(again.columns) == list(run["input"].columns)
