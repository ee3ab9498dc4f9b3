"""SIGTERM (Kubernetes stopping the pod) costs no work: the runner publishes what it has.

The real CLI runs as a child process on a slice of the demo data; the test watches its progress
events in ``logs.jsonl`` and sends SIGTERM once training, or generation with some records made, is
under way. The run must exit 0 with status ``partial``, the reason in ``summary.json`` and the
termination message, and the adapter (and, during generation, the valid records) published.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
COLUMNS = ["age", "workclass", "education", "sex", "hours_per_week", "income"]
CLI = Path(sys.executable).parent / "safe-synthesizer"


def _start(tmp: Path, records_to_sample: int, num_records: int) -> tuple[subprocess.Popen, Path]:
    pd.read_csv(DEMO)[COLUMNS].head(300).to_csv(tmp / "data.csv", index=False)
    config = {
        "enable_replace_pii": False,
        "evaluation": {"enabled": True},
        "data": {"holdout": 0.1, "random_state": 3},
        "training": {
            "pretrained_model": "builtin:tiny-llama",
            "num_input_records_to_sample": records_to_sample,
            "batch_size": 16,
            "gradient_accumulation_steps": 1,
            "learning_rate": 0.004,
        },
        "generation": {"num_records": num_records, "use_structured_generation": True},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "SAFE_SYNTH_TERMINATION_LOG": str(tmp / "termination-log"),
        "SAFE_SYNTH_CACHE": str(tmp / "cache"),
    }
    (tmp / "termination-log").write_text("")
    command = [str(CLI), "run", "--quiet", "--config", str(tmp / "config.yaml")]
    command += [
        "--data-source",
        str(tmp / "data.csv"),
        "--output",
        str(tmp / "out"),
        "--work-dir",
        str(tmp / "work"),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return process, tmp / "work" / "out" / "logs.jsonl"


def _wait_for(process: subprocess.Popen, logs: Path, done) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()[-2000:]
        if logs.exists():
            events = [json.loads(line) for line in logs.read_text().splitlines() if line.strip()]
            if any(e.get("event") == "progress" and done(e) for e in events):
                return
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the run never reached the expected stage")


def _finish(process: subprocess.Popen, tmp: Path) -> tuple[dict, dict]:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 0, output[-3000:]
    summary = json.loads((tmp / "out" / "summary.json").read_text())
    termination = json.loads((tmp / "termination-log").read_text())
    return summary, termination


@pytest.mark.skipif(not CLI.exists(), reason="the safe-synthesizer entry point is not installed")
def test_sigterm_during_generation_publishes_the_records_made(tmp_path):
    process, logs = _start(tmp_path, records_to_sample=320, num_records=100_000)
    _wait_for(process, logs, lambda e: e["stage"] == "generate" and (e.get("step") or 0) > 0)
    summary, termination = _finish(process, tmp_path)
    assert summary["status"] == "partial" and "termination requested" in summary["partial_reason"]
    assert termination["status"] == "partial" and "termination requested" in termination["message"]
    synthetic = pd.read_csv(tmp_path / "out" / "synthetic_data.csv")
    assert 0 < len(synthetic) < 100_000 and list(synthetic.columns) == COLUMNS
    assert summary["rows_out"] == len(synthetic)
    assert (tmp_path / "out" / "adapter" / "dataset_schema.json").exists()
    assert "evaluate" not in summary.get("timings_seconds", {})  # skipped to publish within the grace period


@pytest.mark.skipif(not CLI.exists(), reason="the safe-synthesizer entry point is not installed")
def test_sigterm_during_training_publishes_the_adapter(tmp_path):
    process, logs = _start(tmp_path, records_to_sample=200_000, num_records=50)
    _wait_for(process, logs, lambda e: e["stage"] == "train" and (e.get("step") or 0) >= 2)
    summary, termination = _finish(process, tmp_path)
    assert summary["status"] == "partial" and "during training" in summary["partial_reason"]
    assert summary["training"]["interrupted"] is True
    assert 2 <= summary["training"]["steps"] < 200_000 // 16
    assert (tmp_path / "out" / "adapter" / "dataset_schema.json").exists()
    assert not (tmp_path / "out" / "synthetic_data.csv").exists()
    assert termination["status"] == "partial"
