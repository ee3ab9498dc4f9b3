"""``enable_synthesis: false`` (PII replacement only) says so in its summary and surfaces PII warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from safe_synthesizer.cli import main as cli_main

DEMO = Path(__file__).resolve().parents[1] / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"


def test_replace_only_run_is_not_called_full(tmp_path):
    frame = pd.read_csv(DEMO)[["name", "email", "ssn", "age", "income"]].head(60)
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"enable_synthesis": False}))
    code = cli_main(
        [
            "run",
            "--config",
            str(tmp_path / "config.yaml"),
            "--data-source",
            str(tmp_path / "data.csv"),
            "--output",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["mode"] == "replace_pii"
    out = pd.read_csv(tmp_path / "out" / "synthetic_data.csv")
    assert not set(out["email"]) & set(frame["email"])
