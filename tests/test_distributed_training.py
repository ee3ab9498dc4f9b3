"""Data-parallel training of the LLM engine in several processes (safe_synthesizer.distributed).

No GPU here: two CPU processes on torch.distributed's gloo backend stand in for two GPUs (the pod
uses NCCL, one GPU per process; that path is untested on real GPUs). The real runner trains the
built-in tiny Llama (3 M parameters, from scratch) with ``--train-processes 2``:

* both ranks train, on disjoint shards of the same shuffled examples, for the same number of steps;
* their weights are bitwise equal afterwards (gradients averaged by DistributedDataParallel; the
  shards differ, so unsynchronised ranks would differ), and equal to the one adapter rank 0 published;
* generation from that adapter writes valid records; no worker process is left.

A worker killed with SIGKILL while it trains (as the kernel's OOM killer would) fails the run with
exit code 3 (transient, retried) and a published summary that names the process.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from safe_synthesizer.cli import main as cli_main
from safe_synthesizer.distributed import (
    STATUS_FILE,
    Session,
    TrainingProcessError,
    plan_processes,
    weights_digest,
    worker_failure,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"


def _inputs(tmp: Path) -> tuple[Path, Path]:
    data = tmp / "data.csv"
    pd.read_csv(DEMO)[["age", "sex", "income"]].head(300).to_csv(data, index=False)
    config = {
        "enable_replace_pii": False,
        "evaluation": {"enabled": False},
        "data": {"holdout": 0, "random_state": 7},
        "training": {
            "pretrained_model": "builtin:tiny-llama",
            "num_input_records_to_sample": 1600,
            "batch_size": 16,
            "gradient_accumulation_steps": 1,
            "learning_rate": 0.006,
            "warmup_ratio": 0.05,
        },
        "generation": {"num_records": 30, "temperature": 0.7},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, data


def _workers_of_this_process() -> list[int]:
    """PIDs of this process's children that are training workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"safe_synthesizer.distributed" in cmdline:
            found.append(int(entry.name))
    return found


def _run(tmp: Path, *extra: str) -> int:
    config, data = _inputs(tmp)
    return cli_main(
        [
            "run",
            "--config",
            str(config),
            "--data-source",
            str(data),
            "--output",
            str(tmp / "out"),
            "--work-dir",
            str(tmp / "work"),
            "--device",
            "cpu",
            "--quiet",
            *extra,
        ]
    )


@pytest.mark.slow
def test_two_gloo_processes_train_disjoint_shards_to_equal_weights_and_publish_one_adapter(tmp_path) -> None:
    from transformers import AutoModelForCausalLM

    assert _run(tmp_path, "--train-processes", "2") == 0
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    training = summary["training"]
    assert training["world_size"] == 2
    dist = training["distributed"]
    assert dist["backend"] == "gloo" and dist["per_rank_batch_size"] == 16 and dist["global_batch_size"] == 32
    ranks = dist["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert ranks[0]["steps"] == ranks[1]["steps"] == training["steps"] > 10
    # gradients synchronised: both ranks hold the same weights after training on different data
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    # disjoint shards of the same examples, together all of them (less what no rank could take evenly)
    full = json.loads((tmp_path / "work" / "distributed" / STATUS_FILE).read_text())
    shards = [set(r["example_ids"]) for r in full["ranks"]]
    assert len(shards[0]) == len(shards[1]) == ranks[0]["examples"] > 0
    assert not shards[0] & shards[1]
    assert len(shards[0] | shards[1]) == training["examples"] - dist["examples_left_out"]
    assert training["records_seen"] == ranks[0]["records"] + ranks[1]["records"]
    assert summary["status"] == "succeeded"
    # one adapter, rank 0's, with the synchronised weights
    assert [r["id"] for r in summary["results"]].count("adapter") == 1
    published = AutoModelForCausalLM.from_pretrained(out / "adapter")
    assert weights_digest(published) == ranks[0]["weights_sha256"]
    # generation from it: valid records, the requested number
    synthetic = pd.read_csv(out / "synthetic_data.csv")
    assert len(synthetic) == summary["rows_out"] == 30
    assert list(synthetic.columns) == ["age", "sex", "income"]
    assert set(synthetic["sex"]) <= {"Male", "Female"}
    assert set(synthetic["income"]) <= {"<=50K", ">50K"}
    assert _workers_of_this_process() == []


@pytest.mark.slow
def test_a_worker_killed_while_training_fails_the_run_as_transient(tmp_path, capsys) -> None:
    payload = tmp_path / "work" / "distributed" / "payload.pkl"
    killed: list[int] = []

    def kill_when_training() -> None:  # rank 0 deletes the payload once every worker has joined
        deadline = time.time() + 120
        seen = False
        while time.time() < deadline:
            seen = seen or payload.exists()
            workers = _workers_of_this_process()
            if seen and not payload.exists() and workers:
                time.sleep(1.0)
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_training, daemon=True)
    killer.start()
    code = _run(tmp_path, "--train-processes", "2")
    killer.join(5)
    assert killed, "the worker was never seen training"
    assert code == 3
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "training process 1 of 2 was killed by signal 9" in json.dumps(summary["failure"])
    assert "exit code 3" in capsys.readouterr().err
    assert _workers_of_this_process() == []


def test_plan_processes_keeps_dp_and_missing_gpus_to_what_works() -> None:
    warnings: list[str] = []
    assert plan_processes(1, "cuda", dp=False, warnings=warnings, visible_gpus=8) == 1
    assert plan_processes(4, "cuda", dp=False, warnings=warnings, visible_gpus=8) == 4
    assert plan_processes(2, "cpu", dp=False, warnings=warnings) == 2  # the gloo stand-in
    assert warnings == []
    assert plan_processes(4, "cuda", dp=True, warnings=warnings, visible_gpus=8) == 1
    assert "differential privacy" in warnings[-1]
    assert plan_processes(4, "cuda", dp=False, warnings=warnings, visible_gpus=2) == 2
    assert "sees 2 GPU(s)" in warnings[-1]


class _Exited:
    def __init__(self, code: int | None) -> None:
        self.returncode = code

    def poll(self) -> int | None:
        return self.returncode


def test_worker_failure_keeps_the_workers_own_exit_code_and_prefers_the_first_cause(tmp_path) -> None:
    session = Session(0, 3, "gloo", "cpu", [_Exited(3), _Exited(1)], work_dir=tmp_path)  # type: ignore[list-item]
    # rank 1 only saw the group break; rank 2 had bad input: rank 2's failure is the run's
    (tmp_path / "rank-1.failure.json").write_text(
        json.dumps(
            {"exit_code": 3, "reason": "Transient", "retryable": True, "message": "gloo", "secondary": True}
        )
    )
    (tmp_path / "rank-2.failure.json").write_text(
        json.dumps({"exit_code": 1, "reason": "InvalidInput", "retryable": False, "message": "no model"})
    )
    failure = worker_failure(session)
    assert isinstance(failure, TrainingProcessError)
    assert (failure.exit_code, failure.reason, failure.retryable) == (1, "InvalidInput", False)
    assert "training process 2 of 3" in str(failure)
    (tmp_path / "rank-2.failure.json").unlink()
    session.workers = [_Exited(0), _Exited(-9)]  # type: ignore[list-item]
    killed = worker_failure(session)
    assert killed is not None and killed.exit_code == 3 and "signal 9" in str(killed)
    session.workers = [_Exited(0), _Exited(None)]  # type: ignore[list-item]
    (tmp_path / "rank-1.failure.json").unlink()
    assert worker_failure(session) is None


@pytest.mark.slow
def test_lora_on_a_pretrained_model_trains_in_two_gloo_processes(tmp_path) -> None:
    """The pretrained (LoRA) path: the tiny Llama saved as a plain model directory, RoPE factor 2 and
    eager attention repeated in the worker; only the LoRA weights train, equal on both ranks."""
    from safe_synthesizer.config import SafeSynthesizerParameters
    from safe_synthesizer.models import BUILTIN_TINY_LLAMA, load_base_model
    from safe_synthesizer.pipeline import RunOptions, run_pipeline

    base = load_base_model(BUILTIN_TINY_LLAMA, device="cpu", seed=1)
    model_dir = tmp_path / "tiny"
    base.model.save_pretrained(model_dir)
    base.tokenizer.save_pretrained(model_dir)
    data = tmp_path / "in.csv"
    pd.read_csv(DEMO)[["age", "sex", "income"]].head(40).to_csv(data, index=False)
    params = SafeSynthesizerParameters.model_validate(
        {
            "enable_replace_pii": False,
            "evaluation": {"enabled": False},
            "data": {"holdout": 0, "random_state": 3},
            "training": {
                "pretrained_model": str(model_dir),
                "num_input_records_to_sample": 400,
                "batch_size": 1,
                "gradient_accumulation_steps": 2,
                "lora_r": 4,
                "rope_scaling_factor": 2,
                "attn_implementation": "eager",
            },
        }
    )
    out = tmp_path / "out"
    options = RunOptions(
        data_source=str(data),
        output=str(out),
        mode="train",
        device="cpu",
        train_processes=2,
        work_dir=tmp_path / "w",
    )
    assert run_pipeline(params, options).status == "succeeded"
    summary = json.loads((out / "summary.json").read_text())
    training = summary["training"]
    dist = training["distributed"]
    assert training["world_size"] == 2 and dist["global_batch_size"] == 1 * 2 * 2
    assert dist["ranks"][0]["steps"] == dist["ranks"][1]["steps"] == training["steps"] > 1
    assert dist["ranks"][0]["weights_sha256"] == dist["ranks"][1]["weights_sha256"]
    assert (out / "adapter" / "adapter_config.json").exists()  # a LoRA adapter, not a full model
    assert 0 < training["trainable_parameters"] < sum(p.numel() for p in base.model.parameters())
    assert summary["resolved_config"]["rope_scaling_factor"] == 2
    assert _workers_of_this_process() == []


def test_the_field_engine_trains_in_one_process_with_a_warning(tmp_path) -> None:
    """--train-processes 2 with the field-token engine: one process, a warning, no worker started."""
    data = tmp_path / "in.csv"
    pd.read_csv(DEMO)[["age", "sex", "income"]].head(60).to_csv(data, index=False)
    from safe_synthesizer.config import SafeSynthesizerParameters
    from safe_synthesizer.pipeline import RunOptions, run_pipeline

    params = SafeSynthesizerParameters.model_validate(
        {
            "enable_replace_pii": False,
            "evaluation": {"enabled": False},
            "data": {"holdout": 0},
            "training": {"engine": "field_tokens", "num_input_records_to_sample": 120},
            "generation": {"num_records": 5},
        }
    )
    out = tmp_path / "out"
    options = RunOptions(
        data_source=str(data), output=str(out), mode="train", device="cpu", train_processes=2
    )
    assert run_pipeline(params, options).status == "succeeded"
    summary = json.loads((out / "summary.json").read_text())
    assert any("field-token engine is small and trains in one process" in w for w in summary["warnings"])
    assert "distributed" not in summary["training"]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_sigterm_to_rank_0_stops_every_rank_at_the_same_step_and_publishes_the_adapter(tmp_path) -> None:
    """Kubernetes signals the container's main process (rank 0) only: rank 0 tells the worker to
    stop after the same step, saves the adapter, and the run is partial (exit code 0)."""
    import subprocess
    import sys

    config, data = _inputs(tmp_path)
    settings = yaml.safe_load(config.read_text())
    settings["training"]["num_input_records_to_sample"] = 200_000
    config.write_text(yaml.safe_dump(settings))
    cli = Path(sys.executable).parent / "safe-synthesizer"
    work = tmp_path / "work"
    command = [str(cli), "run", "--quiet", "--config", str(config), "--data-source", str(data)]
    command += ["--output", str(tmp_path / "out"), "--work-dir", str(work), "--device", "cpu"]
    command += ["--train-processes", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    logs = work / "out" / "logs.jsonl"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()[-3000:]
        if logs.exists():
            events = [json.loads(line) for line in logs.read_text().splitlines() if line.strip()]
            if any(
                e.get("event") == "progress" and e["stage"] == "train" and (e.get("step") or 0) >= 2
                for e in events
            ):
                break
        time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError("training never reached step 2")
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 0, output[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "partial" and "during training" in summary["partial_reason"]
    training = summary["training"]
    assert training["interrupted"] is True and training["world_size"] == 2
    ranks = training["distributed"]["ranks"]
    assert ranks[0]["steps"] == ranks[1]["steps"] == training["steps"] >= 2
    assert training["steps"] < 200_000 // 32
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    assert (tmp_path / "out" / "adapter" / "dataset_schema.json").exists()
    assert _processes_mentioning(str(work / "distributed")) == []
