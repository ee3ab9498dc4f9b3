"""Sharded generation (``generation.shards``): sizes, seeds and merging (pure functions), the config
rules, and the real runner's ``run generate --shards N --shard-index i`` + ``run merge`` on local
folders (one short field-engine training shared by the module)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from safe_synthesizer.cli import main as cli_main
from safe_synthesizer.config import ConfigError, SafeSynthesizerParameters
from safe_synthesizer.contract import ShardReport, TerminationMessage, parse_termination_message
from safe_synthesizer.sharding import (
    duplicate_seeds,
    merge_frames,
    plan_shard,
    shard_output,
    shard_seed,
    shard_sizes,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
COLUMNS = ["age", "workclass", "education", "sex", "hours_per_week", "income"]


@pytest.mark.parametrize("total,shards", [(10, 4), (1000, 3), (7, 7), (100_000_000, 100), (5, 1)])
def test_shard_sizes_add_up_and_differ_by_at_most_one(total, shards):
    sizes = shard_sizes(total, shards)
    assert len(sizes) == shards
    assert sum(sizes) == total
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)  # the larger shares first


def test_shard_sizes_refuse_empty_shards():
    with pytest.raises(ValueError, match="non-empty"):
        shard_sizes(3, 4)
    with pytest.raises(ValueError, match="at least 1"):
        shard_sizes(3, 0)


@pytest.mark.parametrize("base", [0, 1, 42, 2**32 - 1, 123_456_789_012])
def test_shard_seeds_are_distinct_and_reproducible(base):
    seeds = [shard_seed(base, i) for i in range(100)]
    assert len(set(seeds)) == 100
    assert all(0 <= s < 2**32 for s in seeds)
    assert seeds == [shard_seed(base, i) for i in range(100)]
    assert duplicate_seeds(seeds) == []
    assert duplicate_seeds([1, 2, 1]) == [1]


def test_plan_shard_and_output():
    shard = plan_shard(10, 4, 3, base_seed=7)
    assert (shard.index, shard.count, shard.num_records) == (3, 4, 2)
    assert shard.seed == shard_seed(7, 3)
    assert shard.to_summary() == {"index": 3, "count": 4, "num_records": 2, "seed": shard.seed}
    with pytest.raises(ValueError, match="outside 0..3"):
        plan_shard(10, 4, 4, base_seed=7)
    assert shard_output("s3://b/out/", 2) == "s3://b/out/shards/2/"
    assert shard_output("s3://b/out", 0) == "s3://b/out/shards/0/"


def test_merge_frames_keeps_index_order_and_cuts_to_the_requested_count():
    frames = [pd.DataFrame({"a": [i * 10 + j for j in range(n)]}) for i, n in enumerate([3, 3, 2])]
    merged, shortfall = merge_frames(frames, 8)
    assert merged["a"].tolist() == [0, 1, 2, 10, 11, 12, 20, 21]
    assert shortfall == 0
    merged, shortfall = merge_frames(frames, 6)
    assert len(merged) == 6 and shortfall == 0
    merged, shortfall = merge_frames(frames[:2], 8)
    assert len(merged) == 6 and shortfall == 2
    assert merge_frames([], 5)[1] == 5


def test_config_rules():
    assert SafeSynthesizerParameters().generation.shards == 1
    ok = SafeSynthesizerParameters.model_validate(
        {"generation": {"shards": 4, "num_records": 10}, "privacy": {"dp_enabled": True, "epsilon": 4}}
    )
    assert ok.generation.shards == 4  # DP: generation is post-processing
    for bad, match in [
        ({"generation": {"shards": 11, "num_records": 10}}, "at most num_records"),
        ({"generation": {"shards": 0}}, "greater than or equal to 1"),
        ({"generation": {"shards": 101}}, "less than or equal to 100"),
        (
            {
                "generation": {"shards": 2},
                "time_series": {"is_timeseries": True, "timestamp_column": "t"},
            },
            "time-series",
        ),
        ({"generation": {"shards": 2}, "enable_synthesis": False}, "enable_synthesis"),
    ]:
        with pytest.raises(ValueError, match=match):
            SafeSynthesizerParameters.model_validate(bad)


def test_termination_message_carries_the_shard_only_when_set():
    plain = TerminationMessage(status="succeeded", message="10 records")
    assert "shard" not in plain.to_text()
    sharded = TerminationMessage(
        status="succeeded", message="3 records", shard=ShardReport(index=2, count=4, seed=9, records=3)
    )
    parsed = parse_termination_message(sharded.to_text())
    assert parsed is not None and parsed.shard == ShardReport(index=2, count=4, seed=9, records=3)
    assert parse_termination_message('{"status": "succeeded", "shard": {"index": -1}}').shard is None


# -- the real runner on local folders --------------------------------------------------------------


def _config(tmp: Path, **generation) -> Path:
    config = {
        "enable_replace_pii": False,
        "data": {"holdout": 0.1, "random_state": 11},
        "training": {"num_input_records_to_sample": 2000},
        "generation": {"num_records": 23, "shards": 3, **generation},
        "evaluation": {"enabled": True},
    }
    path = tmp / f"config-{len(list(tmp.glob('config-*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sharded")
    data = tmp / "data.csv"
    pd.read_csv(DEMO)[COLUMNS].head(300).to_csv(data, index=False)
    out = tmp / "out"
    code = cli_main(
        ["run", "train", "-c", str(_config(tmp)), "--data-source", str(data), "-o", str(out), "-q"]
    )
    assert code == 0
    assert (out / "adapter").is_dir()
    return tmp, data, out


def test_shards_then_merge_publish_exactly_num_records(trained, monkeypatch, tmp_path):
    tmp, data, out = trained
    config = _config(tmp)
    termination = tmp_path / "termination"
    monkeypatch.setenv("SAFE_SYNTH_TERMINATION_LOG", str(termination))
    for index in range(3):  # the index from the Indexed Job's environment, as in a pod
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        argv = ["run", "generate", "-c", str(config), "--data-source", str(data), "-o", str(out), "-q"]
        assert cli_main([*argv, "--shards", "3"]) == 0
        message = parse_termination_message(termination.read_text())
        assert message is not None and message.shard is not None
        assert (message.shard.index, message.shard.count, message.shard.records) == (
            index,
            3,
            [8, 8, 7][index],
        )
    summaries = [json.loads((out / "shards" / str(i) / "summary.json").read_text()) for i in range(3)]
    seeds = [s["shard"]["seed"] for s in summaries]
    assert len(set(seeds)) == 3
    assert [s["resolved_config"]["seed"] for s in summaries] == seeds
    assert [s["rows_out"] for s in summaries] == [8, 8, 7]
    assert not (out / "shards" / "0" / "adapter").exists()  # the adapter is not copied per shard
    assert not (out / "shards" / "0" / "evaluation_report.html").exists()  # evaluated once, on merge
    shard_rows = [pd.read_csv(out / "shards" / str(i) / "synthetic_data.csv") for i in range(3)]
    assert not shard_rows[0].equals(shard_rows[1].iloc[: len(shard_rows[0])])  # distinct seeds, distinct rows

    monkeypatch.delenv("JOB_COMPLETION_INDEX")
    assert (
        cli_main(["run", "merge", "-c", str(config), "--data-source", str(data), "-o", str(out), "-q"]) == 0
    )
    merged = pd.read_csv(out / "synthetic_data.csv")
    assert len(merged) == 23
    pd.testing.assert_frame_equal(merged, pd.concat(shard_rows, ignore_index=True))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["mode"] == "merge"
    assert [s["seed"] for s in summary["shards"]] == seeds
    assert summary["training"]["adapter_dir"].rstrip("/").endswith("adapter")  # from the train step
    assert summary["scores"]["sqs"] is not None
    index = json.loads((out / "results.json").read_text())
    ids = [r["id"] for r in index["results"]]
    assert {"synthetic_data", "evaluation_report", "adapter", "summary"} <= set(ids)
    assert (out / "evaluation_report.html").is_file()


def test_merge_refuses_when_a_shard_is_missing(trained, tmp_path, capsys):
    tmp, data, _ = trained
    out = tmp_path / "out"
    (out / "shards" / "0").mkdir(parents=True)
    code = cli_main(
        ["run", "merge", "-c", str(_config(tmp)), "--data-source", str(data), "-o", str(out), "-q"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot merge: shard(s) 0 (nothing published), 1 (nothing published), 2" in err
    assert "--shard-index" in err
    assert json.loads((out / "summary.json").read_text())["failure"]["reason"] == "InvalidInput"


def test_shard_command_line_errors(trained, monkeypatch, capsys):
    tmp, data, out = trained
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    base = ["-c", str(_config(tmp)), "--data-source", str(data), "-o", str(out), "-q"]
    assert cli_main(["run", "generate", *base, "--shards", "3"]) == 1
    assert "--shard-index" in capsys.readouterr().err
    assert cli_main(["run", "generate", *base, "--shards", "3", "--shard-index", "3"]) == 1
    assert "outside 0..2" in capsys.readouterr().err
    assert cli_main(["run", "train", *base, "--shard-index", "0"]) == 1
    assert "generate phase" in capsys.readouterr().err


def test_config_error_is_a_config_error():
    assert issubclass(ConfigError, ValueError)


def test_crd_stores_unsharded_jobs_unchanged_and_checks_the_count():
    from safe_synthesizer.crd import spec_schema

    generation = spec_schema()["properties"]["config"]["properties"]["generation"]
    shards = generation["properties"]["shards"]
    assert "default" not in shards  # a job without shards is stored and handed to its pod as before
    assert (shards["minimum"], shards["maximum"]) == (1, 100)
    assert "Safe Synthesizer extension (not in NeMo)" in shards["description"]
    assert any(
        "self.shards <= self.num_records" in rule["rule"] for rule in generation["x-kubernetes-validations"]
    )
