"""The pipeline end to end on CPU: S3 in and out, generation-only reuse, partial results, bad input.

One module-scoped run trains the tiny offline model on a narrow slice of the demo data read from a
real S3-protocol server on loopback (moto) and publishes to an S3 prefix; the other tests reuse its
adapter, so the module costs one short training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from safe_synthesizer.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
COLUMNS = ["age", "workclass", "education", "sex", "hours_per_week", "income"]
BUCKET = "pipeline-test"


def _config(tmp: Path, **overrides) -> Path:
    config = {
        "enable_replace_pii": False,
        "evaluation": {"enabled": False},
        "data": {"holdout": 0.1, "random_state": 7},
        "training": {
            "pretrained_model": "builtin:tiny-llama",
            "num_input_records_to_sample": 4000,
            "batch_size": 32,
            "gradient_accumulation_steps": 1,
            "learning_rate": 0.004,
            "warmup_ratio": 0.05,
        },
        "generation": {"num_records": 40, "temperature": 0.8},
    }
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def trained(s3_server, tmp_path_factory):
    """Train once: input from s3://pipeline-test/in/data.csv, results to s3://pipeline-test/run1/."""
    from s3_server import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY

    tmp = tmp_path_factory.mktemp("pipeline")
    frame = pd.read_csv(DEMO)[COLUMNS].head(400)
    local_csv = tmp / "data.csv"
    frame.to_csv(local_csv, index=False)
    with pytest.MonkeyPatch.context() as env:
        for key, value in {
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": s3_server.endpoint_url,
            "SAFE_SYNTH_CACHE": str(tmp / "cache"),
        }.items():
            env.setenv(key, value)
        s3_server.reset()
        client = s3_server.client()
        client.create_bucket(Bucket=BUCKET)
        client.upload_file(str(local_csv), BUCKET, "in/data.csv")
        code = cli_main(
            [
                "run",
                "--config",
                str(_config(tmp)),
                "--data-source",
                f"s3://{BUCKET}/in/data.csv",
                "--output",
                f"s3://{BUCKET}/run1/",
                "--quiet",
            ]
        )
        assert code == 0
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="run1/")["Contents"]}
        local_out = tmp / "run1"
        for key in keys:
            target = local_out / key.removeprefix("run1/")
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(BUCKET, key, str(target))
    return {"train_csv": local_csv, "frame": frame, "keys": keys, "out": local_out, "tmp": tmp}


def test_s3_run_publishes_everything(trained):
    keys = trained["keys"]
    for name in (
        "synthetic_data.csv",
        "synthetic_data.parquet",
        "summary.json",
        "results.json",
        "logs.jsonl",
    ):
        assert f"run1/{name}" in keys
    assert any(k.startswith("run1/adapter/") for k in keys)
    out = trained["out"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] in ("succeeded", "partial")
    assert summary["rows_in"] == 400 and summary["resolved_config"]["seed"] == 7
    assert set(summary["timings_seconds"]) >= {"load", "split", "train", "generate", "publish"}
    index = json.loads((out / "results.json").read_text())
    canonical = [r for r in index["results"] if r["canonical"]]
    assert [r["url"] for r in canonical] == [f"s3://{BUCKET}/run1/synthetic_data.csv"]
    assert all(r["url"].startswith(f"s3://{BUCKET}/run1/") for r in index["results"])
    logs = [json.loads(line) for line in (out / "logs.jsonl").read_text().splitlines()]
    assert any(entry.get("stage") == "train" for entry in logs)


def test_synthetic_records_follow_the_training_schema(trained):
    synthetic = pd.read_csv(trained["out"] / "synthetic_data.csv")
    summary = json.loads((trained["out"] / "summary.json").read_text())
    frame = trained["frame"]
    assert list(synthetic.columns) == COLUMNS
    assert len(synthetic) == summary["rows_out"] > 0
    for column in ("workclass", "education", "sex", "income"):
        assert set(synthetic[column].dropna()) <= set(frame[column].dropna())
    assert synthetic["age"].between(frame["age"].min(), frame["age"].max()).all()
    assert summary["generation"]["valid_fraction"] > 0


def test_generate_only_reuses_the_adapter(trained, tmp_path):
    out = tmp_path / "gen"
    code = cli_main(
        [
            "run",
            "generate",
            "--config",
            str(_config(tmp_path, generation={"num_records": 15})),
            "--data-source",
            str(trained["train_csv"]),
            "--adapter",
            str(trained["out"]),
            "--output",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "generate" and summary["training"] == {}
    assert len(pd.read_csv(out / "synthetic_data.csv")) == summary["rows_out"] <= 15


def test_early_stop_publishes_partial_results(trained, tmp_path):
    out = tmp_path / "partial"
    config = _config(
        tmp_path, generation={"num_records": 400, "invalid_fraction_threshold": 0.0, "patience": 1}
    )
    code = cli_main(
        [
            "run",
            "generate",
            "-c",
            str(config),
            "--data-source",
            str(trained["train_csv"]),
            "--adapter",
            str(trained["out"]),
            "-o",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "partial" and "stopped early" in summary["partial_reason"]
    assert summary["generation"]["stopped_early"] is True
    rows = len(pd.read_csv(out / "synthetic_data.csv"))
    assert 0 < rows < 400 and rows == summary["rows_out"]


def test_missing_s3_object_is_a_clear_input_error(s3_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env.endpoint_url)
    s3_env.client().create_bucket(Bucket="empty")
    code = cli_main(
        [
            "run",
            "-c",
            str(_config(tmp_path)),
            "--data-source",
            "s3://empty/nothing.csv",
            "-o",
            str(tmp_path / "o"),
            "-q",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "s3://empty/nothing.csv does not exist" in err and "spec.dataSource" in err


def test_wrong_credentials_are_a_clear_input_error(s3_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env.endpoint_url)
    s3_env.client().create_bucket(Bucket="locked")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    with s3_env.iam_auth():
        code = cli_main(
            [
                "run",
                "-c",
                str(_config(tmp_path)),
                "--data-source",
                "s3://locked/data.csv",
                "-o",
                str(tmp_path / "o"),
                "-q",
            ]
        )
    assert code == 1
    err = capsys.readouterr().err
    assert "credentialsSecret" in err or "AWS_ACCESS_KEY_ID" in err


def test_missing_group_column_is_named(tmp_path, capsys):
    data = tmp_path / "d.csv"
    pd.read_csv(DEMO)[COLUMNS].head(250).to_csv(data, index=False)
    config = _config(tmp_path, data={"group_training_examples_by": "customer_id"})
    code = cli_main(["run", "-c", str(config), "--data-source", str(data), "-o", str(tmp_path / "o"), "-q"])
    assert code == 1
    assert "customer_id" in capsys.readouterr().err
